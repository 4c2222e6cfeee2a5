"""Platform calibration from published points: the two-parameter fit (scale on η, per-op
overhead) recovers known parameters, leave-one-out never uses the point it predicts, η stays
≤ 1, the one-scale fallback, the class band, at most two fitting points. Fake predictors (no
model is traced)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

from reportgen.analysis.prediction.calibration import (
    CalibrationTable,
    LatencyParts,
    calibrate_platform,
    class_band,
    fit_parameters,
)
from reportgen.catalog.lookup import get_platform
from reportgen.catalog.parts import CalibrationPoint

if TYPE_CHECKING:
    from reportgen.analysis.counting.records import Trace

URL = "https://example.invalid/vendor-benchmarks"  # test data only, never shipped


def pt(model: str, ms: float, use: str = "validate") -> CalibrationPoint:
    return CalibrationPoint(model=model, input="1x3x224x224", precision="int8", runtime="R",
                            latency_ms=ms, url=URL, use=use)  # type: ignore[arg-type]


# assumed-η parts: "small" is overhead-bound (many ops, little η-limited time), "big" is
# η-limited (few ops, long transfers); "mid" and "host" lie in between, "host" with 1 ms on a
# fallback host that the calibration does not touch
ASSUMED_US = 2.0
PARTS = {"small": LatencyParts(scaled_s=0.5e-3, ops=150, overhead_us=ASSUMED_US),
         "big": LatencyParts(scaled_s=300e-3, ops=40, overhead_us=ASSUMED_US),
         "mid": LatencyParts(scaled_s=40e-3, ops=200, overhead_us=ASSUMED_US),
         "host": LatencyParts(scaled_s=5e-3, ops=100, overhead_us=ASSUMED_US, fixed_s=1e-3)}
S_TRUE, O_TRUE = 1.5, 20e-6  # η ÷ 1.5, 20 µs per op


def truth_ms(model: str, s: float = S_TRUE, o: float = O_TRUE) -> float:
    p = PARTS[model]
    return (s * p.scaled_s + o * p.ops + p.fixed_s) * 1e3


def coral_like(points: list[CalibrationPoint]):  # type: ignore[no-untyped-def]
    return get_platform("raspberry_pi_5").model_copy(update={"calibration": points})


def test_two_fit_points_recover_the_scale_and_the_overhead() -> None:
    plat = coral_like([pt("small", truth_ms("small"), "fit"), pt("big", truth_ms("big"), "fit"),
                       pt("mid", truth_ms("mid")), pt("host", truth_ms("host"))])
    cal = calibrate_platform(plat, lambda p, c: PARTS[c.model], min_scale=0.7)
    assert cal.calibrated and cal.parameters == 2 and cal.fit_models == ["small", "big"]
    assert cal.scale == pytest.approx(S_TRUE) and cal.overhead_us == pytest.approx(20.0)
    by = {ch.model: ch for ch in cal.checks}
    # validation points are predicted exactly, the fallback-host time passed through unscaled
    assert by["mid"].calibrated_ms == pytest.approx(truth_ms("mid"))
    assert by["host"].calibrated_ms == pytest.approx(truth_ms("host"))
    # the uncalibrated prediction is the assumed one: 150 ops × 2 µs + 0.5 ms = 0.8 ms
    assert by["small"].predicted_ms == pytest.approx(0.8)
    assert cal.band == pytest.approx(1.0) and all(ch.error == pytest.approx(1.0) for ch in cal.checks)


def test_least_squares_on_more_points_recovers_the_parameters() -> None:
    pairs = [(truth_ms(m) / 1e3, PARTS[m]) for m in PARTS]
    f = fit_parameters(pairs, min_scale=0.5)
    assert f.parameters == 2 and f.s == pytest.approx(S_TRUE) and f.o_s == pytest.approx(O_TRUE)


def test_leave_one_out_never_uses_the_point_it_predicts() -> None:
    # every point follows (s, o) except one, measured 3x slower than the truth
    for odd in ("small", "mid"):
        use = {"small": "fit", "big": "fit"}
        pts = [pt(m, truth_ms(m) * (3.0 if m == odd else 1.0), use.get(m, "validate"))
               for m in ("small", "big", "mid", "host")]
        cal = calibrate_platform(coral_like(pts), lambda p, c: PARTS[c.model], min_scale=0.7)
        by = {ch.model: ch for ch in cal.checks}
        # the odd point is predicted from the others alone: the truth, off by exactly ×3
        assert by[odd].calibrated_ms == pytest.approx(truth_ms(odd))
        assert by[odd].error == pytest.approx(3.0)
        assert cal.band == pytest.approx(max(ch.error or 0 for ch in cal.checks))
    # a fit point is refitted on every other point (one fit point cannot fix two parameters)
    only = [pt("small", 1.0, "fit"), pt("big", truth_ms("big"), "fit"),
            pt("mid", truth_ms("mid")), pt("host", truth_ms("host"))]
    cal = calibrate_platform(coral_like(only), lambda p, c: PARTS[c.model], min_scale=0.7)
    assert {ch.model: ch for ch in cal.checks}["small"].calibrated_ms == pytest.approx(truth_ms("small"))


def test_eta_never_above_one_and_overhead_never_negative() -> None:
    # measured faster than the assumed η allows: the free fit wants s = 0.4 < η_m = 0.7
    fast = [(truth_ms(m, s=0.4) / 1e3, PARTS[m]) for m in ("small", "big")]
    f = fit_parameters(fast, min_scale=0.7)
    assert f.s == pytest.approx(0.7) and f.o_s is not None and f.o_s >= 0
    # overhead-free measurements slower on the small model than on its η-limited time alone:
    # a negative overhead would fit better; it is clamped at 0 and the scale refitted
    neg = [(0.2e-3, PARTS["small"]), (450e-3, PARTS["big"])]
    g = fit_parameters(neg, min_scale=0.7)
    assert g.o_s == 0.0 and g.s >= 0.7
    for fit in (f, g):  # η_m / s ≤ 1 for the assumed η_m = 0.7
        assert 0.7 / fit.s <= 1.0 + 1e-12


def test_plain_latency_predictor_gets_one_scale() -> None:
    pred = {"a": 1e-3, "b": 4e-3, "c": 2e-3}  # assumed-η predictions, s (no parts)
    plat = coral_like([pt("a", 2.0, "fit"), pt("b", 8.0, "fit"), pt("c", 6.0)])
    cal = calibrate_platform(plat, lambda p, c: pred[c.model], lambda p, c: pred[c.model] / 4)
    assert cal.calibrated and cal.parameters == 1 and cal.overhead_us is None
    assert cal.scale == pytest.approx(2.0)
    by = {ch.model: ch for ch in cal.checks}
    # c (validation) is predicted by the deployed scale 2.0: 4 ms vs 6 ms → ×1.5
    assert by["c"].calibrated_ms == pytest.approx(4.0) and by["c"].error == pytest.approx(1.5)
    # a (fit) is predicted by a scale refitted on b and c only, so not exactly 2 ms
    assert by["a"].calibrated_ms != pytest.approx(2.0) and by["a"].calibrated_ms > 2.0
    assert not any(ch.below_ideal for ch in cal.checks)


def test_measurement_below_the_ideal_bound_is_flagged() -> None:
    plat = coral_like([pt("a", 0.1, "fit")])
    cal = calibrate_platform(plat, lambda p, c: 1e-3, lambda p, c: 0.5e-3)
    assert cal.checks[0].below_ideal  # 0.1 ms measured < 0.5 ms ideal: the catalog is wrong


def test_uncalibrated_platform_has_no_own_band_and_class_band_uses_s_1() -> None:
    from reportgen.analysis.prediction.calibration import MIN_CLASS_BAND_POINTS

    plat = coral_like([pt("c", 6.0)] + [pt(m, 2.5) for m in "def"])
    cal = calibrate_platform(plat, lambda p, c: 2e-3)
    assert not cal.calibrated and cal.band is None
    band = class_band([cal], {plat.id: plat}, plat.class_.value)
    assert band == pytest.approx(3.0)  # 6 ms measured vs 2 ms predicted
    # fewer measurements than MIN_CLASS_BAND_POINTS give no band for a whole class
    few = calibrate_platform(coral_like([pt("c", 6.0)] * (MIN_CLASS_BAND_POINTS - 1)), lambda p, c: 2e-3)
    assert class_band([few], {plat.id: plat}, plat.class_.value) is None


def test_a_calibration_applies_only_to_predictions_on_its_runtime_kind(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """Points measured on a compiled runtime (BatchNorm folded, ops fused) fit a per-op overhead
    for fewer, larger ops: it does not carry over to an eager prediction of the same board."""
    from reportgen.analysis.prediction import calibration as calmod
    from reportgen.analysis.prediction.assumptions import efficiency_for
    from reportgen.report.messages import render as render_msg

    pi = get_platform("raspberry_pi_5", measure_host=False)
    fit = [pt("small", truth_ms("small"), "fit"), pt("big", truth_ms("big"), "fit"),
           pt("mid", truth_ms("mid"))]
    cal = calibrate_platform(coral_like(fit), lambda p, c: PARTS[c.model])
    assert cal.runtime_kind == "compiled"  # CalibrationPoint's default
    table = CalibrationTable(platforms={pi.id: cal}, class_bands={"budget": 2.5})
    monkeypatch.setattr(calmod, "load_calibration", lambda: table)
    raw = efficiency_for(pi, calibrated=False)
    compiled = efficiency_for(pi, runtime_kind="compiled")
    assert compiled.eta_c == pytest.approx(min(1.0, raw.eta_c / cal.scale))
    assert compiled.op_overhead_us == pytest.approx(cal.overhead_us)
    assert efficiency_for(pi, runtime_kind="eager") == raw  # not applied to eager PyTorch
    assert efficiency_for(pi) == compiled  # no runtime given: applied as fitted
    info = calmod.calibration_info(pi, "eager")
    assert not info.calibrated and info.basis_msg.code == "calibration.other_runtime_band"
    assert info.band == 2.5 and info.band_from == "class"
    en, ru = render_msg(info.basis_msg, "en"), render_msg(info.basis_msg, "ru")
    assert "eager PyTorch" in en and "compiled runtime" in en and "×2.50" in en
    assert "скомпилированная" in ru
    assert calmod.calibration_info(pi, "compiled").calibrated
    # with the same points refitted on the unfused model, an eager prediction uses that refit
    refit = cal.model_copy(update={"scale": 1.2, "overhead_us": 50.0, "band": 1.3,
                                   "runtime_kind": "eager"})
    both = CalibrationTable(platforms={pi.id: cal.model_copy(update={"unfused": refit})},
                            class_bands={"budget": 2.5})
    monkeypatch.setattr(calmod, "load_calibration", lambda: both)
    eager = efficiency_for(pi, runtime_kind="eager")
    assert eager.eta_c == pytest.approx(min(1.0, raw.eta_c / 1.2)) and eager.op_overhead_us == 50.0
    assert efficiency_for(pi, runtime_kind="compiled") == compiled
    info = calmod.calibration_info(pi, "eager")
    assert info.calibrated and info.basis_msg.code == "calibration.unfused" and info.band == 1.3
    assert "may be slower" in render_msg(info.basis_msg, "en")


def test_a_calibration_applies_only_to_predictions_on_its_compute_unit(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """The Core Ultra's published points are its CPU's; its predictions are for the NPU (the
    default unit): the CPU fit is not applied there, and the prediction says why. A prediction
    on the CPU (the zoo's fallback unit) uses it."""
    from reportgen.analysis.prediction import calibration as calmod
    from reportgen.analysis.prediction.assumptions import efficiency_for
    from reportgen.report.messages import render as render_msg

    mtl = get_platform("intel_core_ultra7_155h", measure_host=False)
    assert mtl.default_unit == "npu"
    fit = [pt("small", truth_ms("small"), "fit").model_copy(update={"unit": "cpu"}),
           pt("big", truth_ms("big"), "fit").model_copy(update={"unit": "cpu"}),
           pt("mid", truth_ms("mid")).model_copy(update={"unit": "cpu"})]
    cal = calibrate_platform(mtl.model_copy(update={"calibration": fit}),
                             lambda p, c: PARTS[c.model])
    assert cal.unit == "cpu" and cal.scale == pytest.approx(S_TRUE)
    table = CalibrationTable(platforms={mtl.id: cal}, class_bands={"cpu": 3.0})
    monkeypatch.setattr(calmod, "load_calibration", lambda: table)
    raw = efficiency_for(mtl, calibrated=False)
    assert efficiency_for(mtl) == raw  # the NPU: not calibrated by CPU points
    info = calmod.calibration_info(mtl)
    assert not info.calibrated and info.basis_msg.code == "calibration.other_unit_band"
    assert info.band == 3.0 and info.points == 3
    en, ru = render_msg(info.basis_msg, "en"), render_msg(info.basis_msg, "ru")
    assert "of its cpu" in en and "for its npu" in en and "×3.00" in en
    assert "блоке cpu" in ru
    on_cpu = mtl.model_copy(update={"default_unit": "cpu"})
    assert efficiency_for(on_cpu).eta_c == pytest.approx(min(1.0, raw.eta_c / S_TRUE))
    assert calmod.calibration_info(on_cpu).calibrated


def test_points_of_one_model_carry_the_class_band_for_other_models(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """Two ResNet-50 runs agreeing to ×1.1 say nothing about another model on that GPU: the fit
    is used, the band shown is the class's."""
    from reportgen.analysis.prediction import calibration as calmod
    from reportgen.report.messages import render as render_msg

    t4 = get_platform("nvidia_t4", measure_host=False)
    pts = [pt("small", truth_ms("small"), "fit"), pt("small", 1.1 * truth_ms("small"))]
    cal = calibrate_platform(t4.model_copy(update={"calibration": pts}),
                             lambda p, c: PARTS[c.model])
    assert cal.band is not None and cal.band < 1.2
    monkeypatch.setattr(calmod, "load_calibration",
                        lambda: CalibrationTable(platforms={t4.id: cal},
                                                 class_bands={"powerful": 2.5}))
    info = calmod.calibration_info(t4)
    assert info.calibrated and info.band == 2.5 and info.band_from == "class"
    assert info.basis_msg.code == "calibration.one_model"
    assert "small only" in render_msg(info.basis_msg, "en")
    # a second model among the points: the own leave-one-out band stands
    two = calibrate_platform(t4.model_copy(update={"calibration": [
        pt("small", truth_ms("small"), "fit"), pt("big", truth_ms("big"), "fit"),
        pt("mid", truth_ms("mid"))]}), lambda p, c: PARTS[c.model])
    monkeypatch.setattr(calmod, "load_calibration",
                        lambda: CalibrationTable(platforms={t4.id: two},
                                                 class_bands={"powerful": 2.5}))
    info2 = calmod.calibration_info(t4)
    assert info2.band_from == "own", (two.band, info2.basis_msg.code)


def test_calibration_points_name_one_existing_compute_unit() -> None:
    from reportgen.catalog.schema import Platform

    data = get_platform("intel_core_ultra7_155h").model_dump(by_alias=True)
    data["calibration"] = [dict(pt("a", 1.0, "fit").model_dump(), unit="cpu"),
                           dict(pt("b", 2.0).model_dump(), unit="npu")]
    with pytest.raises(ValueError, match="one compute unit"):
        Platform.model_validate(data)
    data["calibration"] = [dict(pt("a", 1.0, "fit").model_dump(), unit="tpu")]
    with pytest.raises(ValueError, match="unit 'tpu' is not one of the compute units"):
        Platform.model_validate(data)


def test_at_most_two_fitting_points() -> None:
    from reportgen.catalog.schema import Platform

    data = get_platform("raspberry_pi_5").model_dump(by_alias=True)
    data["calibration"] = [pt(m, 1.0, "fit").model_dump() for m in "abc"]
    with pytest.raises(ValueError, match="at most two"):
        Platform.model_validate(data)


def test_coral_is_calibrated_with_a_scale_and_a_per_op_overhead() -> None:
    from reportgen.analysis.prediction.assumptions import efficiency_for
    from reportgen.analysis.prediction.calibration import calibration_info, load_calibration
    from reportgen.report.messages import render as render_msg

    coral = get_platform("google_coral_edge_tpu", measure_host=False)
    cal = load_calibration().platforms[coral.id]
    assert cal.points >= 8 and cal.parameters == 2 and cal.overhead_us is not None
    assert set(cal.fit_models) == {"mobilenet_v2", "vgg16"}  # one small, one link-bound
    assert not any(ch.below_ideal for ch in cal.checks)
    within = sum((ch.error or 99) <= 1.5 for ch in cal.checks) / len(cal.checks)
    assert within >= 0.8  # the benchmark's target
    info = calibration_info(coral)
    assert info.calibrated and info.basis_msg.code == "calibration.own_overhead"
    assert info.overhead_us == pytest.approx(cal.overhead_us)
    eff, raw = efficiency_for(coral), efficiency_for(coral, calibrated=False)
    assert eff.op_overhead_us == pytest.approx(cal.overhead_us)
    assert eff.eta_m == pytest.approx(min(1.0, raw.eta_m / cal.scale)) and eff.eta_m <= 1.0
    assert eff.eta_c <= 1.0
    assert "µs" in render_msg(info.basis_msg, "en") and "мкс" in render_msg(info.basis_msg, "ru")


def test_rejected_points_get_their_own_message_and_the_class_is_translated(
        monkeypatch: pytest.MonkeyPatch) -> None:
    from reportgen.analysis.prediction import calibration as calmod
    from reportgen.report.messages import render as render_msg

    coral = get_platform("google_coral_edge_tpu", measure_host=False)
    own = calmod.load_calibration().platforms[coral.id]
    # a fit whose leave-one-out band is worse than the class's uncalibrated band is not used
    worse = CalibrationTable(platforms={coral.id: own.model_copy(update={"band": 9.0})},
                             class_bands={"specialized": 3.0})
    monkeypatch.setattr(calmod, "load_calibration", lambda: worse)
    assert calmod.platform_scale(coral) == 1.0 and calmod.platform_overhead_us(coral) is None
    info = calmod.calibration_info(coral)
    assert not info.calibrated and info.basis_msg.code == "calibration.rejected"
    assert info.basis_msg.params["points"] == own.points
    ru = render_msg(info.basis_msg, "ru")
    assert "специализированная" in ru and "specialized" not in ru
    assert "no published measurement" not in render_msg(info.basis_msg, "en")


def _fp32_chain(n: int) -> Trace:
    """``n`` fp32 elementwise ops of 1 M values each (4 MB read + 4 MB written per op)."""
    from reportgen.analysis.counting.records import OpKind, OpRecord, ParamGroup, Trace

    recs = [OpRecord(index=i, op="aten.relu.default", kind=OpKind.elementwise, module=f"r{i}",
                     module_type="ReLU", input_shapes=[[1 << 20]], output_shapes=[[1 << 20]],
                     dtype="float32", vector_flops=1 << 20, act_bytes_read=4 << 20,
                     bytes_written=4 << 20, element_bytes=4.0) for i in range(n)]
    return Trace(records=recs, params=ParamGroup(other=0), param_bytes=0, buffer_bytes=0,
                 peak_activation_bytes=8 << 20, peak_activation_op=0, input_bytes=4 << 20,
                 output_bytes=4 << 20, dtype="float32")


def test_an_unsourced_peak_keeps_the_runtimes_calibrated_per_op_overhead() -> None:
    """Raspberry Pi 4: no sourced int8 peak, so int8 is a lower bound. The per-op overhead the
    ncnn fp32 points fitted is the runtime's, not the precision's: the int8 bound carries it
    (N ops × o), while the ideal stays the strict bound (η = 1, no overhead)."""
    from reportgen.analysis.prediction.assumptions import efficiency_for
    from reportgen.analysis.prediction.calibration import platform_overhead_us
    from reportgen.analysis.prediction.roofline import estimate
    from reportgen.report.messages import render as render_msg

    pi4 = get_platform("raspberry_pi_4", measure_host=False)
    o_us = platform_overhead_us(pi4)
    assert o_us is not None and o_us > 100  # the fitted ncnn overhead (≈ 276 µs) is in use
    eff = efficiency_for(pi4)
    assert eff.op_overhead_us == pytest.approx(o_us)
    n = 40
    est = estimate(_fp32_chain(n), pi4, ["fp32", "int8"])
    fp32, int8 = est.get("fp32"), est.get("int8")
    assert fp32.status == "ok" and not fp32.latency_is_lower_bound
    assert int8.status == "unknown" and int8.latency_is_lower_bound
    bw = pi4.bandwidth().si
    assert bw is not None
    mem = n * (2 << 20) / bw  # int8: a quarter of the fp32 bytes
    assert int8.overhead_time_s == pytest.approx(n * o_us * 1e-6)
    assert int8.overhead_time_s == pytest.approx(fp32.overhead_time_s)  # same runtime
    assert int8.predicted_latency_s == pytest.approx(mem / eff.eta_m + n * o_us * 1e-6)
    assert int8.ideal_latency_s == pytest.approx(mem)  # the strict bound: no overhead
    assert int8.ideal_latency_s < int8.predicted_latency_s
    note = render_msg(int8.note_msgs[-1], "en")
    assert "per-op overhead" in note and "strict bound" in note
    assert "накладные расходы" in render_msg(int8.note_msgs[-1], "ru")
