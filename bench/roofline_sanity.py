"""Roofline sanity checks against back-of-envelope numbers (not run by CI).

1. Llama-2-7B, one fp16 decode step at batch 1 on the A100 80GB: memory-bound; the ideal bound
   should be ≈ weight bytes / bandwidth (≈ 13.2–13.5 GB / 2.039 TB/s ≈ 6.5–6.6 ms per token).
   Hand-made OpRecords: 32 layers × (q, k, v, o 4096×4096; gate, up 4096×11008; down 11008×4096)
   + lm_head 4096×32000; attention over the KV cache and norms are left out (small at short
   context).
2. ResNet-50 int8 on the Coral Edge TPU: ≈ 25.6 MB of int8 weights > 8 MB parameter cache, so
   ≈ 17.6 MB stream over USB 3 every inference. Conv/linear records are taken from torchvision's
   ResNet-50 on the meta device (shapes only; BN/ReLU/add/pool not included).

Run: ``.venv/bin/python bench/roofline_sanity.py``
"""

from __future__ import annotations

import os
import platform
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from reportgen.analysis.counting.records import OpKind, OpRecord, ParamGroup, Trace
from reportgen.analysis.prediction.roofline import estimate


def linear(i: int, name: str, k: int, n: int, m: int = 1, el: float = 2.0) -> OpRecord:
    return OpRecord(index=i, op="aten.mm.default", kind=OpKind.matmul, module=name,
                    module_type="Linear", input_shapes=[[m, k], [k, n]], output_shapes=[[m, n]],
                    dtype="float16", macs=m * k * n, weight_bytes=int(k * n * el),
                    act_bytes_read=int(m * k * el), bytes_written=int(m * n * el),
                    element_bytes=el)


def llama7b_decode() -> Trace:
    d, ff, vocab, layers = 4096, 11008, 32000, 32
    recs: list[OpRecord] = []
    for layer in range(layers):
        for proj in ("q", "k", "v", "o"):
            recs.append(linear(len(recs), f"layers.{layer}.attn.{proj}_proj", d, d))
        recs.append(linear(len(recs), f"layers.{layer}.mlp.gate_proj", d, ff))
        recs.append(linear(len(recs), f"layers.{layer}.mlp.up_proj", d, ff))
        recs.append(linear(len(recs), f"layers.{layer}.mlp.down_proj", ff, d))
    recs.append(linear(len(recs), "lm_head", d, vocab))
    embed = vocab * d  # embedding table: stored, but a decode step reads one row
    params = sum(r.weight_bytes for r in recs) // 2 + embed
    return Trace(records=recs, params=ParamGroup(embedding=embed, other=params - embed),
                 param_bytes=params * 2, buffer_bytes=0, peak_activation_bytes=2 * (d + ff) * 2,
                 peak_activation_op=0, input_bytes=8, output_bytes=vocab * 2, dtype="float16")


def resnet50_records() -> Trace:
    import torch
    import torchvision

    model = torchvision.models.resnet50(weights=None).to("meta").eval()
    recs: list[OpRecord] = []

    def hook(mod: torch.nn.Module, inp: tuple[torch.Tensor, ...], out: torch.Tensor) -> None:
        x = inp[0]
        w = mod.weight
        if isinstance(mod, torch.nn.Conv2d):
            macs = out.numel() * (mod.in_channels // mod.groups) * mod.kernel_size[0] * mod.kernel_size[1]
            kind = OpKind.conv
        else:
            macs = x.shape[0] * mod.in_features * mod.out_features
            kind = OpKind.matmul
        wb = w.numel() * 4 + (mod.bias.numel() * 4 if mod.bias is not None else 0)
        recs.append(OpRecord(index=len(recs), op="aten.convolution.default" if kind == OpKind.conv
                             else "aten.addmm.default", kind=kind, module=type(mod).__name__,
                             module_type=type(mod).__name__, input_shapes=[list(x.shape)],
                             output_shapes=[list(out.shape)], dtype="float32", macs=int(macs),
                             weight_bytes=wb, act_bytes_read=x.numel() * 4,
                             bytes_written=out.numel() * 4, element_bytes=4.0))

    for m in model.modules():
        if isinstance(m, torch.nn.Conv2d | torch.nn.Linear):
            m.register_forward_hook(hook)
    with torch.no_grad():
        model(torch.empty(1, 3, 224, 224, device="meta"))
    n_params = sum(p.numel() for p in model.parameters())
    return Trace(records=recs, params=ParamGroup(other=n_params), param_bytes=n_params * 4,
                 buffer_bytes=0, peak_activation_bytes=2 * 64 * 112 * 112 * 4,
                 peak_activation_op=0, input_bytes=3 * 224 * 224 * 4, output_bytes=1000 * 4,
                 dtype="float32")


def main() -> None:
    print(f"machine: {platform.node()} {platform.processor() or platform.machine()}, "
          f"{os.cpu_count()} cores, Python {platform.python_version()}")
    t = llama7b_decode()
    weights_op = sum(r.weight_bytes for r in t.records)
    est = estimate(t, "nvidia_a100_80gb_sxm", ["fp16", "int8", "int4"])
    pe = est.get("fp16")
    print("\n== Llama-2-7B decode step, batch 1, A100 80GB SXM (2039 GB/s, 312 TFLOPS fp16) ==")
    print(f"weights read per token: {weights_op / 1e9:.3f} GB (all params incl. embedding "
          f"{t.param_bytes / 1e9:.3f} GB)")
    print(f"weights / bandwidth: {weights_op / 2039e9 * 1e3:.3f} ms")
    for p in est.per_precision:
        print(f"{p.precision}: ideal {p.ideal_latency_s * 1e3:.3f} ms, predicted "
              f"{p.predicted_latency_s * 1e3:.3f} ms (η_m={est.assumptions.eta_m}, "
              f"{est.assumptions.op_overhead_us} µs/op), memory-bound ops "
              f"{p.memory_bound_ops}/{len(p.ops)}, {p.throughput_per_s:.1f} tokens/s, "
              f"energy {p.energy_per_sample_mj:.0f} mJ/token ({p.power_basis})")
    ai = max(o.arithmetic_intensity_flop_per_byte or 0 for o in pe.ops)
    print(f"max arithmetic intensity {ai:.2f} op/B vs ridge point {pe.ridge_point_flop_per_byte:.0f}")

    r = resnet50_records()
    est2 = estimate(r, "google_coral_edge_tpu", ["fp32", "int8"])
    q = est2.get("int8")
    print("\n== ResNet-50 (224×224, batch 1), int8, Coral Edge TPU USB ==")
    print(f"conv/linear records: {len(r.records)}, MACs {sum(x.macs for x in r.records) / 1e9:.3f} G")
    print(f"int8 weights: {q.weight_bytes / 1e6:.2f} MB vs cache "
          f"{q.fit_checks[0].available} MB -> {q.fit_checks[0].verdict}")
    print(f"ideal {q.ideal_latency_s * 1e3:.2f} ms, predicted {q.predicted_latency_s * 1e3:.2f} ms,"
          f" of which host link {q.host_link_time_s * 1e3:.2f} ms; "
          f"{q.throughput_per_s:.1f} inferences/s, {q.energy_per_sample_mj:.1f} mJ ({q.power_basis})")
    compute_only = sum(x.total_flops for x in r.records) / 4e12
    print(f"compute alone at 4 TOPS: {compute_only * 1e3:.2f} ms")
    print("notes:", *q.notes, sep="\n  ")
    print("fp32:", est2.get("fp32").status, "-", est2.get("fp32").reason)


if __name__ == "__main__":
    main()
