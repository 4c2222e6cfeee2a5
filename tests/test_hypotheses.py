"""Hypothesis effects in closed form on toy traces, and the distillation student's cost coming
from the pipeline (an independent trace of the student), not from a constant."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
import torchvision

from reportgen.analysis.counting.records import OpKind, OpRecord, ParamGroup, Trace
from reportgen.analysis.counting.trace import trace_forward
from reportgen.analysis.hypotheses import transforms as tf
from reportgen.analysis.hypotheses.methods import pruning, quantization
from reportgen.analysis.hypotheses.study import Study, Variant, predict
from reportgen.analysis.prediction.assumptions import Efficiency
from reportgen.analysis.prediction.roofline import estimate
from reportgen.catalog.lookup import get_platform
from reportgen.spec.schema import Constraints

ONE = Efficiency(eta_c=1.0, eta_m=1.0, op_overhead_us=0.0)


def conv(i: int, cin: int, cout: int, hw: int, k: int = 3, el: float = 2.0) -> OpRecord:
    macs = hw * hw * cout * cin * k * k
    return OpRecord(index=i, op="aten.convolution.default", kind=OpKind.conv, module=f"c{i}",
                    module_type="Conv2d", input_shapes=[[1, cin, hw, hw], [cout, cin, k, k]],
                    output_shapes=[[1, cout, hw, hw]], dtype="float16", macs=macs,
                    weight_bytes=int(cout * cin * k * k * el),
                    act_bytes_read=int(cin * hw * hw * el), bytes_written=int(cout * hw * hw * el),
                    element_bytes=el)


def relu(i: int, n: int, el: float = 2.0) -> OpRecord:
    return OpRecord(index=i, op="aten.relu.default", kind=OpKind.elementwise, module=f"r{i}",
                    module_type="ReLU", input_shapes=[[n]], output_shapes=[[n]], dtype="float16",
                    vector_flops=n, act_bytes_read=int(n * el), bytes_written=int(n * el),
                    element_bytes=el)


def toy_cnn() -> Trace:
    recs = [conv(0, 3, 64, 56), relu(1, 64 * 56 * 56), conv(2, 64, 64, 56), relu(3, 64 * 56 * 56),
            conv(4, 64, 64, 56), conv(5, 64, 10, 56, k=1)]
    wb = sum(r.weight_bytes for r in recs)
    return Trace(records=recs, params=ParamGroup(other=wb // 2), param_bytes=wb, buffer_bytes=0,
                 peak_activation_bytes=2 * 64 * 56 * 56 * 2, peak_activation_op=1,
                 input_bytes=3 * 56 * 56 * 2, output_bytes=10 * 56 * 56 * 2, dtype="float16")


def study(trace: Trace, pid: str, precision: str) -> Study:
    plat = get_platform(pid)
    est = estimate(trace, plat, [precision], efficiency=ONE)
    return Study(trace=trace, platform=plat, est=est, precision=precision, eff=ONE,
                 constraints=Constraints(latency_ms=1.0), findings=None, domain="cv")


def test_int8_halves_bytes_vs_fp16() -> None:
    s = study(toy_cnn(), "nvidia_a100_80gb_sxm", "fp16")
    hyps = {h.id: h for h in quantization(s)}
    h = hyps["quant_int8"]
    assert h.after is not None
    assert h.after.weight_bytes == pytest.approx(h.before.weight_bytes / 2)
    assert h.after.memory_bytes == pytest.approx(h.before.memory_bytes / 2)
    _, e16 = predict(s, Variant(s.trace, s.platform, "fp16"))
    _, e8 = predict(s, Variant(s.trace, s.platform, "int8"))
    assert e8.per_precision[0].total_bytes == pytest.approx(e16.per_precision[0].total_bytes / 2)
    # and the int8 peak (624 TOPS) is twice the fp16 one (312 TFLOPS) on the A100
    assert h.after.peak_op_per_s == pytest.approx(2 * h.before.peak_op_per_s)


def test_structured_pruning_halves_pruned_convs_macs() -> None:
    t = toy_cnn()
    p = tf.prune_channels(t, 0.5)
    convs = [i for i, r in enumerate(t.records) if r.kind == OpKind.conv]
    first, last = convs[0], convs[-1]
    for i in convs:
        want = t.records[i].macs // 2 if first < i < last else t.records[i].macs
        assert p.records[i].macs == want
    assert t.records[2].macs == 56 * 56 * 64 * 64 * 9  # the original is untouched


def test_fusion_folds_relu_into_conv() -> None:
    t = toy_cnn()
    f = tf.fuse(t)
    assert len(f.records) == 4 and all(r.kind == OpKind.conv for r in f.records)
    relu_bytes = sum(r.bytes_moved for r in t.records if r.kind == OpKind.elementwise)
    assert sum(r.bytes_moved for r in f.records) == sum(r.bytes_moved for r in t.records) - relu_bytes
    assert sum(r.total_flops for r in f.records) == sum(r.total_flops for r in t.records)


def test_depthwise_separable_closed_form() -> None:
    t = toy_cnn()
    d = tf.depthwise_separable(t)
    r = t.records[2]
    assert d.records[2].macs == round(r.macs * (1 / 64 + 1 / 9))
    assert d.records[5].macs == t.records[5].macs  # 1×1 conv unchanged


def test_two_four_sparsity_uses_sparse_peak_only_where_it_exists() -> None:
    s = study(toy_cnn(), "nvidia_a100_80gb_sxm", "fp16")
    h = next(h for h in pruning(s) if h.method == "prune_2_4")
    assert h.applicable and h.after is not None and h.after.sparse
    assert h.after.peak_op_per_s == pytest.approx(2 * h.before.peak_op_per_s)
    pi = study(toy_cnn(), "raspberry_pi_5", "fp16")
    h2 = next(h for h in pruning(pi) if h.method == "prune_2_4")
    assert not h2.applicable and h2.not_applicable_key == "findings.na.no_sparse"


def test_unstructured_pruning_saves_storage_not_time() -> None:
    s = study(toy_cnn(), "nvidia_a100_80gb_sxm", "fp16")
    h = next(h for h in pruning(s) if h.method == "prune_unstructured")
    assert h.speedup == pytest.approx(1.0)
    assert h.storage_ratio == pytest.approx(0.5 + 1 / 16)  # half the values + a 1-bit mask


@pytest.fixture(scope="module")
def resnet18_result(tmp_path_factory: pytest.TempPathFactory):
    from reportgen.pipeline import run
    from reportgen.spec.load import load_spec

    d = tmp_path_factory.mktemp("h")
    p = Path(d) / "s.yaml"
    p.write_text("title: t\nmodel: {card: resnet18}\nplatform: raspberry_pi_5\n"
                 "constraints: {latency_ms: 20}\nprofiling: {enabled: false}\n", encoding="utf-8")
    return run(load_spec(p), p, deterministic=True)


def test_distillation_student_cost_comes_from_the_pipeline(resnet18_result) -> None:
    r = resnet18_result
    assert r.hypotheses is not None
    h = r.hypotheses.get("distill_mobilenet_v2")
    assert h is not None and h.after is not None
    with torch.device("meta"):
        m = torchvision.models.mobilenet_v2().eval()
    trace, _, _ = trace_forward(m, (torch.empty(1, 3, 224, 224, device="meta"),))
    assert h.after.macs == sum(x.macs for x in trace.records)  # ≈ 300 M, not a constant
    # predicted as the study's baseline runs: eager PyTorch on the Pi 5 (whose ncnn calibration
    # is for a compiled runtime and is not applied)
    assert r.baseline is not None and r.baseline.runtime.kind.value == "eager"
    est = estimate(trace, get_platform("raspberry_pi_5"), ["fp32"], runtime_kind="eager")
    assert h.after.latency_s == pytest.approx(est.per_precision[0].predicted_latency_s)


def test_all_seven_classes_and_ranking(resnet18_result) -> None:
    H = resnet18_result.hypotheses
    classes = {h.cls.value for h in H.items}
    assert classes >= {"distillation", "quantization", "pruning", "architectural", "hardware",
                       "inference", "combined"}
    assert [h.rank for h in H.items] == list(range(1, len(H.items) + 1))
    assert H.recommended is not None
    for hid in H.alone_meet:
        assert H.get(hid).meets_all


def test_int8_on_the_pi4_is_a_bound_with_the_runtime_overhead_and_reads_as_up_to() -> None:
    """No sourced int8 peak on the Raspberry Pi 4: the int8 latency is a lower bound that still
    pays the runtime's calibrated per-op overhead, so its speed-up is an upper bound ("up to"),
    and it never ranks above a full prediction with a smaller speed-up."""
    from reportgen.analysis.hypotheses.models import HypothesesReport, speedup_param
    from reportgen.analysis.hypotheses.stage import rank
    from reportgen.analysis.prediction.assumptions import efficiency_for
    from reportgen.analysis.prediction.calibration import platform_overhead_us
    from reportgen.analysis.tradeoffs import build_tradeoffs
    from reportgen.report.messages import render
    from reportgen.text import Arg, Msg

    recs = [conv(0, 3, 32, 56, el=4.0), relu(1, 32 * 56 * 56, el=4.0),
            conv(2, 32, 32, 56, el=4.0), relu(3, 32 * 56 * 56, el=4.0),
            conv(4, 32, 10, 56, k=1, el=4.0)]
    wb = sum(r.weight_bytes for r in recs)
    t = Trace(records=recs, params=ParamGroup(other=wb // 4), param_bytes=wb, buffer_bytes=0,
              peak_activation_bytes=2 * 32 * 56 * 56 * 4, peak_activation_op=1,
              input_bytes=3 * 56 * 56 * 4, output_bytes=10 * 56 * 56 * 4, dtype="float32")
    pi4 = get_platform("raspberry_pi_4", measure_host=False)
    eff = efficiency_for(pi4)
    o_s = (platform_overhead_us(pi4) or 0.0) * 1e-6
    assert o_s > 100e-6 and eff.op_overhead_us * 1e-6 == pytest.approx(o_s)
    est = estimate(t, pi4, ["fp32", "int8"], efficiency=eff)
    s = Study(trace=t, platform=pi4, est=est, precision="fp32", eff=eff,
              constraints=Constraints(latency_ms=1.0), findings=None, domain="cv")
    h = {x.id: x for x in quantization(s)}["quant_int8"]
    assert h.after is not None and h.after.lower_bound and not h.before.lower_bound
    assert h.after.latency_s >= len(recs) * o_s  # every op still pays the runtime's overhead
    assert h.speedup == pytest.approx(h.before.latency_s / h.after.latency_s)
    assert h.speedup_bound == "upper"
    up_to = speedup_param(h.speedup, h.speedup_bound)
    assert isinstance(up_to, Msg)
    assert render(up_to, "en").startswith("up to ×") and render(up_to, "ru").startswith("до ×")
    assert speedup_param(2.0, "value") == Arg(v=2.0, f="x")  # a value is shown as it is
    # a full prediction with a smaller speed-up still ranks first
    full = h.model_copy(update={"id": "full", "speedup": 1.05, "speedup_bound": "value",
                                "after": h.after.model_copy(update={"lower_bound": False})})
    assert [x.id for x in rank([h, full])] == ["full", "quant_int8"]
    rows = {r.hypothesis: r for r in build_tradeoffs(
        HypothesesReport(baseline=h.before, items=[h, full]), None).rows}
    assert rows["quant_int8"].speedup_bound == "upper" and rows["full"].speedup_bound == "value"
    # "hardware is chosen for the task" names a device with a prediction, not a faster bound
    from reportgen.analysis.hypotheses.models import MethodClass

    def device(hid: str, name: str, lat: float, lb: bool):  # type: ignore[no-untyped-def]
        return h.model_copy(update={"id": hid, "cls": MethodClass.hardware, "after": h.after.model_copy(
            update={"platform_name": name, "latency_s": lat, "lower_bound": lb})})

    rep = HypothesesReport(baseline=h.before, recommended="full", items=[
        full, device("hw_bound", "Bound", 1e-5, True), device("hw_full", "Full", 1e-3, False)])
    hw = next(a for a in build_tradeoffs(rep, None).principles
              if a.criterion == "hardware_for_task")
    assert hw.text.params["device"].v.startswith("Full")


def test_speedup_bound_follows_which_latency_is_a_bound() -> None:
    from reportgen.analysis.hypotheses.models import speedup_bound

    assert speedup_bound(False, False) == "value"
    assert speedup_bound(False, True) == "upper"  # after ≥ t: speed-up ≤ before / t
    assert speedup_bound(True, False) == "lower"  # before ≥ t: speed-up ≥ t / after
    assert speedup_bound(True, True) == "bounds"  # a ratio of two bounds bounds nothing


def test_a_lower_bound_plan_grades_neither_headroom_nor_speed() -> None:
    """From a latency that is only a lower bound the headroom is at most and the speed-up at most
    what they show: the trade-off criteria say so and do not grade them; the findings' 'why'
    sentence says the budget only may hold."""
    from reportgen.analysis.findings.scoring import why_time
    from reportgen.analysis.hypotheses.models import HypothesesReport, Hypothesis, Prediction
    from reportgen.analysis.tradeoffs import build_tradeoffs
    from reportgen.report.messages import render

    before = Prediction(platform_id="p", platform_name="P", precision="fp32", latency_s=0.05)
    after = before.model_copy(update={"precision": "int8", "latency_s": 0.01, "lower_bound": True})
    h = Hypothesis(id="quant_int8", method="quant_int8", cls="quantization", before=before,
                   after=after, speedup=5.0, speedup_bound="upper")
    T = build_tradeoffs(HypothesesReport(baseline=before, items=[h], recommended="quant_int8",
                                         latency_budget_s=0.1), None)
    crit = {a.criterion: a for a in T.research + T.production}
    assert crit["redundancy"].rating == "unknown"
    assert crit["redundancy"].text.code.endswith("budget_bound")
    assert "at most 90" in render(crit["redundancy"].text, "en")
    assert "не более 90" in render(crit["redundancy"].text, "ru")
    assert crit["speed"].rating == "unknown"
    assert "up to ×5" in render(crit["speed"].text, "en")
    assert "≥" in render(crit["speed"].text, "en")
    within = why_time(0.002, 0.01, 0.1, lower_bound=True)
    assert within.code == "findings.why.latency_within_bound"
    assert "may hold" in render(within, "en") and "at most 90" in render(within, "en")
    assert why_time(0.002, 0.01, 0.1).code == "findings.why.latency_within"
