"""Each bottleneck type fires on a model built to show it and stays silent on one that does not
(hand-made op records and tiny modules traced on meta)."""

from __future__ import annotations

import torch
from torch import nn

from reportgen.analysis.counting.costs import analyse
from reportgen.analysis.counting.records import OpKind, OpRecord, ParamGroup, Trace
from reportgen.analysis.counting.trace import trace_forward
from reportgen.analysis.findings.finders import find_bottlenecks
from reportgen.analysis.findings.models import ScalingProbe
from reportgen.analysis.prediction.assumptions import Efficiency
from reportgen.analysis.prediction.roofline import estimate
from reportgen.catalog.lookup import get_platform
from reportgen.spec.schema import Constraints

ONE = Efficiency(eta_c=1.0, eta_m=1.0, op_overhead_us=0.0)


def linear(i: int, m: int, k: int, n: int, el: float = 2.0, kind: OpKind = OpKind.matmul,
           counted: bool = True) -> OpRecord:
    return OpRecord(index=i, op="aten.mm.default", kind=kind, module=f"l{i}", module_type="Linear",
                    input_shapes=[[m, k], [k, n]], output_shapes=[[m, n]], dtype="float16",
                    macs=m * k * n if counted else 0, weight_bytes=int(k * n * el),
                    act_bytes_read=int(m * k * el), bytes_written=int(m * n * el),
                    element_bytes=el, counted=counted)


def relu(i: int, n: int, el: float = 2.0) -> OpRecord:
    return OpRecord(index=i, op="aten.relu.default", kind=OpKind.elementwise, module=f"a{i}",
                    module_type="ReLU", input_shapes=[[n]], output_shapes=[[n]], dtype="float16",
                    vector_flops=n, act_bytes_read=int(n * el), bytes_written=int(n * el),
                    element_bytes=el)


def trace_of(records: list[OpRecord], el: float = 2.0, peak_act: int = 0) -> Trace:
    wb = sum(r.weight_bytes for r in records)
    return Trace(records=records, params=ParamGroup(other=int(wb / el)), param_bytes=wb,
                 buffer_bytes=0, peak_activation_bytes=peak_act, peak_activation_op=0,
                 input_bytes=0, output_bytes=0, dtype="float16" if el == 2 else "float32")


def run(trace: Trace, pid: str, precisions: list[str], *, eff: Efficiency = ONE,
        constraints: Constraints | None = None, probe: ScalingProbe | None = None):
    plat = get_platform(pid)
    est = estimate(trace, plat, precisions, efficiency=eff)
    return find_bottlenecks(trace, analyse(trace), est, plat, constraints or Constraints(),
                            probe=probe)


GEMM = trace_of([linear(0, 4096, 4096, 4096)])
GEMV = trace_of([linear(0, 1, 4096, 4096)])


def test_compute_bound_fires_on_gemm_not_on_gemv() -> None:
    rep = run(GEMM, "nvidia_a100_80gb_sxm", ["fp16"])
    hot = rep.of_type("compute-bound")
    assert hot and hot[0].location.layer_type == "Linear" and hot[0].impact == 1.0
    assert not run(GEMV, "nvidia_a100_80gb_sxm", ["fp16"]).of_type("compute-bound")


def test_memory_bound_decode_fires_on_gemv_not_on_gemm() -> None:
    rep = run(GEMV, "nvidia_a100_80gb_sxm", ["fp16"])
    mem = rep.of_type("memory-bound")
    assert [f.subtype for f in mem] == ["weight_streaming"]
    ev = {e.label: e.value for e in mem[0].evidence}
    assert ev["intensity"] < ev["ridge"]  # below the ridge point: memory-bound by definition
    assert not run(GEMM, "nvidia_a100_80gb_sxm", ["fp16"]).of_type("memory-bound")


def test_memory_bound_embedding_from_a_traced_module() -> None:
    class Bag(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.emb = nn.Embedding(1_000_000, 64)
            self.fc = nn.Linear(64, 1)

        def forward(self, ids: torch.Tensor) -> torch.Tensor:
            return self.fc(self.emb(ids).mean(1))

    with torch.device("meta"):
        m = Bag()
    trace, _, _ = trace_forward(m, (torch.zeros(256, 32, dtype=torch.long, device="meta"),))
    rep = run(trace, "nvidia_t4", ["fp32"])
    assert "embedding" in [f.subtype for f in rep.of_type("memory-bound")]


def test_overhead_bound_fires_on_many_tiny_ops_only() -> None:
    tiny = trace_of([relu(i, 64) for i in range(200)])
    eff = Efficiency(eta_c=1.0, eta_m=1.0, op_overhead_us=5.0)
    rep = run(tiny, "nvidia_a100_80gb_sxm", ["fp16"], eff=eff)
    f = rep.of_type("overhead-bound")
    assert f and f[0].summary.params["tiny"].v == 200
    assert not run(GEMM, "nvidia_a100_80gb_sxm", ["fp16"], eff=eff).of_type("overhead-bound")


def test_capacity_fires_when_weights_do_not_fit() -> None:
    big = trace_of([linear(0, 1, 100_000, 100_000)])  # 20 GB of fp16 weights > T4's 16 GB
    f = run(big, "nvidia_t4", ["fp16"]).of_type("capacity")
    assert f and f[0].severity == "blocking" and f[0].rank == 1
    assert not run(GEMV, "nvidia_t4", ["fp16"]).of_type("capacity")
    budget = run(GEMV, "nvidia_t4", ["fp16"], constraints=Constraints(memory_mb=10))
    assert [x.subtype for x in budget.of_type("capacity")] == ["memory_budget"]


def test_bandwidth_io_fires_on_edge_tpu_weight_streaming() -> None:
    big = trace_of([linear(0, 1, 4096, 4096, el=4.0)], el=4.0)  # 16.8 MB at int8 > 8 MB cache
    f = run(big, "google_coral_edge_tpu", ["int8"]).of_type("bandwidth-io")
    assert f and f[0].subtype == "host_link"
    small = trace_of([linear(0, 64, 256, 256, el=4.0)], el=4.0)
    assert not run(small, "google_coral_edge_tpu", ["int8"]).of_type("bandwidth-io")


def test_scaling_fires_on_super_linear_growth_only() -> None:
    quad = ScalingProbe(axis="tokens", size=512, factor=2, macs=1, macs_scaled=4,
                        macs_exponent=2.0, latency_exponent=1.9, latency_s=0.01,
                        latency_scaled_s=0.037, budget_size=700)
    f = run(GEMM, "nvidia_a100_80gb_sxm", ["fp16"], probe=quad,
            constraints=Constraints(latency_ms=20)).of_type("scaling")
    assert f and f[0].why.code == "findings.why.scaling_cross"
    lin = quad.model_copy(update={"macs_exponent": 1.0, "latency_exponent": 1.0})
    assert not run(GEMM, "nvidia_a100_80gb_sxm", ["fp16"], probe=lin).of_type("scaling")
    side = quad.model_copy(update={"axis": "image_size", "macs_exponent": 2.0,
                                   "latency_exponent": 2.0, "linear": 2.0})
    assert not run(GEMM, "nvidia_a100_80gb_sxm", ["fp16"], probe=side).of_type("scaling")


def test_unsupported_precision_and_edge_tpu_fallback() -> None:
    int8 = trace_of([linear(0, 64, 256, 256, el=1.0)], el=1.0)
    rep = run(int8, "google_coral_edge_tpu", ["fp32", "int8"])
    assert [f.subtype for f in rep.of_type("unsupported")] == ["precision"]
    emb = OpRecord(index=1, op="aten.embedding.default", kind=OpKind.embedding, module="emb",
                   module_type="Embedding", input_shapes=[[1000, 64], [64]],
                   output_shapes=[[64, 64]], dtype="int8", weight_bytes=64_000,
                   act_bytes_read=512, bytes_written=4096, element_bytes=1.0)
    fb = run(trace_of([linear(0, 64, 256, 256, el=1.0), emb], el=1.0),
             "google_coral_edge_tpu", ["int8"])
    f = [x for x in fb.of_type("unsupported") if x.subtype == "fallback"]
    assert f and f[0].summary.params["ops"].v == 1
    assert not [x for x in run(int8, "google_coral_edge_tpu", ["int8"]).items
                if x.type == "unsupported"]


def test_uncounted_fires_on_heavy_ops_without_formula() -> None:
    heavy = trace_of([linear(0, 64, 256, 256), linear(1, 4096, 4096, 64, kind=OpKind.other,
                                                      counted=False)])
    f = run(heavy, "nvidia_a100_80gb_sxm", ["fp16"]).of_type("uncounted")
    assert f and f[0].evidence[0].value > 0.5
    assert not run(GEMM, "nvidia_a100_80gb_sxm", ["fp16"]).of_type("uncounted")


def test_without_roofline_findings_say_what_is_missing() -> None:
    rep = find_bottlenecks(GEMM, analyse(GEMM), None, get_platform("nvidia_t4"), Constraints())
    assert "findings.missing.roofline" in rep.missing
    assert not rep.of_type("compute-bound")
