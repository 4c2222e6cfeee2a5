"""The deployment runtime behind the baseline: which one each platform gets, and what it does."""

from __future__ import annotations

import pytest

from reportgen.analysis.prediction.runtime import (
    Runtime,
    RuntimeKind,
    deployed_trace,
    deployment_runtime,
)
from reportgen.catalog.lookup import get_platform


@pytest.mark.parametrize(("pid", "kind", "name"), [
    ("nvidia_jetson_orin_nano_8gb", "compiled", "TensorRT"),
    ("nvidia_t4", "compiled", "TensorRT"),
    ("google_coral_edge_tpu", "compiled", "Edge TPU compiler"),
    ("hailo_8", "compiled", "Hailo Dataflow Compiler"),
    ("apple_m2", "compiled", "Core ML"),
    ("st_stm32h743", "compiled", "STM32Cube.AI"),
    ("raspberry_pi_5", "eager", "eager PyTorch"),
    ("host", "eager", "eager PyTorch"),
])
def test_auto_picks_the_platforms_usual_runtime(pid: str, kind: str, name: str) -> None:
    r = deployment_runtime(get_platform(pid), "auto")
    assert (r.kind.value, r.name) == (kind, name)
    assert r.folds_batchnorm == r.fuses_elementwise == (kind == "compiled")
    assert r.origin == ("platform_toolchain" if kind == "compiled" else "default")
    assert deployment_runtime(get_platform(pid), None) == r


def test_the_spec_overrides_the_platform() -> None:
    pi = get_platform("raspberry_pi_5")
    c = deployment_runtime(pi, "compiled")
    assert c == Runtime(kind=RuntimeKind.compiled, name="ONNX Runtime", folds_batchnorm=True,
                        fuses_elementwise=True, origin="spec")
    e = deployment_runtime(get_platform("nvidia_t4"), "eager")
    assert e.kind is RuntimeKind.eager and e.origin == "spec" and not e.folds_batchnorm
    with pytest.raises(ValueError):
        deployment_runtime(pi, "jit")


def test_deployed_trace_is_the_traced_model_under_eager() -> None:
    from tests.test_transforms import conv_bn_relu

    t = conv_bn_relu(False)
    assert deployed_trace(t, deployment_runtime(get_platform("host"), None)) is t
    d = deployed_trace(t, deployment_runtime(get_platform("nvidia_t4"), None))
    assert [r.kind.value for r in d.records if r.bytes_moved] == ["conv"]


def test_spec_key_runtime(tmp_path) -> None:
    from reportgen.errors import SpecError
    from reportgen.spec.load import load_spec

    p = tmp_path / "s.yaml"
    p.write_text("title: t\nmodel: {card: resnet18}\nplatform: nvidia_t4\nruntime: eager\n",
                 encoding="utf-8")
    assert load_spec(p).runtime.value == "eager"
    p.write_text("title: t\nmodel: {card: resnet18}\nplatform: nvidia_t4\n", encoding="utf-8")
    assert load_spec(p).runtime.value == "auto"
    p.write_text("title: t\nmodel: {card: resnet18}\nplatform: nvidia_t4\nruntime: jit\n",
                 encoding="utf-8")
    with pytest.raises(SpecError):
        load_spec(p)


def test_zoo_predicts_each_platform_with_its_own_runtime() -> None:
    from reportgen.analysis.prediction.roofline import estimate
    from reportgen.analysis.prediction.verdicts import zoo_comparison
    from tests.test_transforms import conv_bn_relu

    t = conv_bn_relu(False)  # the traced model: conv, BN, ReLU as three kernels
    t4, pi = zoo_comparison(t, ["nvidia_t4", "raspberry_pi_5"], ["fp16", "fp32"])
    assert t4.runtime == "TensorRT" and pi.runtime == "eager PyTorch"

    def latency(trace: object, pid: str, prec: str, kind: str = "compiled") -> float | None:
        pe = estimate(trace, get_platform(pid), [prec], keep_ops=False,  # type: ignore[arg-type]
                      runtime_kind=kind).get(prec)
        return pe.predicted_latency_s if pe else None

    fused = deployed_trace(t, deployment_runtime(get_platform("nvidia_t4"), None))
    # the T4 row is the TensorRT-deployed model (one kernel), not the raw three-kernel trace
    assert t4.predicted_latency_s == pytest.approx(latency(fused, "nvidia_t4", t4.best_precision))
    assert latency(t, "nvidia_t4", t4.best_precision) > t4.predicted_latency_s
    # the Pi 5 row is eager PyTorch: the traced model as is
    # (the Pi 5's calibration on ncnn, a compiled runtime, is not applied to it)
    assert pi.predicted_latency_s == pytest.approx(latency(t, "raspberry_pi_5", pi.best_precision, "eager"))
    assert pi.predicted_latency_s != pytest.approx(latency(t, "raspberry_pi_5", pi.best_precision))
    # the spec's runtime choice applies to every row
    eager = zoo_comparison(t, ["nvidia_t4"], ["fp16"], runtime="eager")[0]
    assert eager.runtime == "eager PyTorch"
    assert eager.predicted_latency_s == pytest.approx(latency(t, "nvidia_t4", "fp16", "eager"))


def test_full_estimate_in_memory_trimmed_as_written_and_compare_platforms_resolved_once(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """The roofline stage keeps every precision's op rows for the later stages; what is written
    keeps the baseline's kernels only. Comparison platforms the caller resolved are not looked
    up again."""
    from reportgen import pipeline
    from reportgen.analysis.prediction import verdicts
    from reportgen.catalog import lookup
    from reportgen.result import dump
    from reportgen.spec.load import parse_spec

    spec = parse_spec("title: t\nmodel: {card: ds_cnn_s}\nplatform: raspberry_pi_5\n"
                      "precisions: [fp32, int8]\ncompare_platforms: [nvidia_t4]\n")
    pi5, t4 = get_platform("raspberry_pi_5"), get_platform("nvidia_t4")

    def no_lookup(pid: str, **kw: object) -> object:
        raise AssertionError(f"{pid} looked up again")

    monkeypatch.setattr(lookup, "get_platform", no_lookup)
    monkeypatch.setattr(verdicts, "get_platform", no_lookup)
    names = ("model", "trace", "costs", "platform", "roofline")
    result = pipeline.run(spec, None, deterministic=True, platform=pi5, compare_platforms=[t4],
                          stages=[s for s in pipeline.STAGES if s.name in names])
    assert [s.state for s in result.stages] == ["ok"] * len(names), result.stages
    assert [z.platform_id for z in result.zoo] == ["nvidia_t4"]
    est = result.roofline
    assert est is not None and result.baseline is not None
    assert all(pe.ops for pe in est.per_precision)
    assert any(o.kind == "view" for o in est.get(result.baseline.precision).ops)
    written = dump(result.as_written())["roofline"]["per_precision"]
    for pe in written:
        kinds = {o["kind"] for o in pe["ops"]}
        assert (pe["precision"] == result.baseline.precision) == bool(kinds) and "view" not in kinds
    assert all(pe.ops for pe in est.per_precision)  # in memory, still full
