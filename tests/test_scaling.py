"""Cost vs input size: power-law fits recover known exponents, a quadratic onset is found,
constraints break where they should, and the stage sweeps a real small model on meta."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from reportgen import pipeline
from reportgen.analysis.measurement.scaling import (
    batch_axis,
    domain_axis,
    first_break,
    power_fit,
    run_sweep,
    slope_change,
    with_size,
)
from reportgen.spec.inputs import Inputs
from reportgen.spec.schema import StudySpec


def test_power_fit_recovers_exponent() -> None:
    xs = [16.0, 32, 64, 128, 256, 512]
    f = power_fit(xs, [3.0 * x**1.7 for x in xs])
    assert f is not None
    assert f.exponent == pytest.approx(1.7, abs=1e-9)
    assert f.coefficient == pytest.approx(3.0, rel=1e-9)
    assert f.r2 == pytest.approx(1.0)
    assert power_fit([1.0], [2.0]) is None
    assert power_fit([1.0, 1.0], [2.0, 3.0]) is None  # no spread in x


def test_pure_power_law_has_no_slope_change() -> None:
    xs = [2.0**k for k in range(4, 12)]
    assert slope_change(xs, [x**1.5 for x in xs]) is None


def test_quadratic_onset_is_found() -> None:
    # linear projections plus a quadratic attention term that dominates beyond ~d = 512
    xs = [2.0**k for k in range(4, 15)]  # 16 … 16384 tokens
    ys = [x * 512 + x * x for x in xs]
    c = slope_change(xs, ys)
    assert c is not None
    assert c.slope_before == pytest.approx(1.0, abs=0.2)
    assert c.slope_after == pytest.approx(2.0, abs=0.2)
    assert 128 <= c.at_value <= 2048


def test_first_break_reports_last_ok_point() -> None:
    b = first_break([1, 2, 4, 8], [10.0, 20.0, 40.0, 80.0], 30.0, "memory_mb", "MB")
    assert b is not None and (b.last_ok_value, b.first_fail_value, b.value_at_fail) == (2, 4, 40.0)
    b0 = first_break([1, 2], [50.0, 60.0], 30.0, "latency_ms", "ms")
    assert b0 is not None and b0.last_ok_value is None
    assert first_break([1, 2], [1.0, None], 30.0, "latency_ms", "ms") is None


def _fake_trace(inp: Inputs) -> SimpleNamespace:
    """An attention-like cost: linear work L·d² plus a quadratic L²·d term (d = 256)."""
    n = inp.text.sequence_length * inp.batch_size if inp.text else 1
    d = 256
    macs = n * d * d * 4 + n * n * d
    rec = SimpleNamespace(macs=macs, total_flops=2 * macs, bytes_moved=4 * (n * d + n * n))
    return SimpleNamespace(records=[rec], peak_activation_bytes=4 * n * n, param_bytes=4 * 4 * d * d)


def test_sweep_fits_breaks_and_failed_points() -> None:
    base = Inputs.model_validate({"text": {"sequence_length": 128}})
    axis, unit, b, values = domain_axis("nlp", base)
    assert axis == "sequence_length" and b == 128 and values[0] == 8 and values[-1] == 512

    def predict(tr: SimpleNamespace, batch: int) -> tuple[float, float]:
        return tr.records[0].total_flops / 1e9, float(tr.param_bytes + tr.peak_activation_bytes)

    def trace_fn(inp: Inputs) -> SimpleNamespace:
        if inp.text and inp.text.sequence_length > 4096:
            raise IndexError("position embeddings end at 4096")
        return _fake_trace(inp)

    values = [16.0, 64, 256, 1024, 4096, 8192]
    sw = run_sweep("sequence_length", "tokens", 128, values, base, trace_fn, predict,
                   limits={"memory_mb": 2.0})
    ok = [p for p in sw.points if p.ok]
    assert len(ok) == 5 and not sw.points[-1].ok and "IndexError" in (sw.points[-1].error or "")
    assert 1.0 < sw.fits["flops"].exponent < 2.0
    assert sw.fits["activations"].exponent == pytest.approx(2.0)
    assert "flops" in sw.slope_change and sw.slope_change["flops"].slope_after > 1.5
    mem = sw.breaks[0]
    assert mem.constraint == "memory_mb" and mem.last_ok_value == 256 and mem.first_fail_value == 1024
    assert any("not accepted" in n for n in sw.notes)


def test_with_size_and_batch_axis() -> None:
    inp = Inputs.model_validate({"image": {"height": 224, "width": 448}})
    scaled = with_size(inp, "image_size", 112)
    assert scaled.image is not None and (scaled.image.height, scaled.image.width) == (112, 224)
    assert with_size(inp, "batch_size", 8).batch_size == 8
    axis, _, base, vals = batch_axis(inp)
    assert axis == "batch_size" and base == 1 and vals == [1, 2, 4, 8, 16, 32]
    a_axis, _, a_base, a_vals = domain_axis("speech", Inputs.model_validate({"audio": {"seconds": 2}}))
    assert a_axis == "audio_seconds" and a_base == 2 and a_vals[0] == 0.25


def test_scaling_stage_on_a_small_model_in_snapshot_mode() -> None:
    spec = StudySpec.model_validate({"title": "t", "model": {"card": "ds_cnn_s"},
                                     "platform": "raspberry_pi_5",
                                     "constraints": {"latency_ms": 0.4}})
    names = ("model", "trace", "platform", "measure", "scaling")
    r = pipeline.run(spec, deterministic=True, stages=[s for s in pipeline.STAGES if s.name in names])
    assert r.stage("scaling").state == "ok", r.stage("scaling")
    sc = r.scaling
    assert sc is not None and sc.platform_id == "raspberry_pi_5" and sc.precision
    size, batch = sc.sweeps
    assert size.axis == "audio_seconds" and batch.axis == "batch_size"
    assert batch.fits["flops"].exponent == pytest.approx(1.0, abs=0.01)  # FLOPs ∝ batch, exactly
    assert size.fits["flops"].exponent == pytest.approx(1.0, abs=0.1)
    assert all(p.measured is None for p in size.points)  # snapshot mode: nothing measured
    lat = [p.predicted_latency_s for p in batch.points]
    assert all(v is not None for v in lat) and lat == sorted(lat)
    assert any(b.constraint == "latency_ms" for b in batch.breaks)
