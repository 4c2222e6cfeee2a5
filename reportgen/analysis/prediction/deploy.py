"""Trace transforms every deployment runtime applies for free, so the baseline is what would ship.

A compiled runtime (TensorRT, ONNX Runtime, LiteRT, a vendor NPU compiler) folds BatchNorm into the
preceding convolution/linear at export time and fuses elementwise chains (activation, residual add)
into the op that produced their input. Eager PyTorch does neither. Each function returns a NEW
Trace (records copied); the input is never touched. No torch.

Units: MACs and FLOPs are counts, bytes are bytes at the traced dtype.
* ``fold_batchnorm``: an inference BatchNorm directly after a conv/linear becomes a per-channel
  scale and shift of that op's weights and bias: the BN op disappears (its reads, writes, FLOPs
  and its 4 per-channel buffers); the producer gains a bias of C_out elements if it had none.
* ``fuse``: chains of elementwise/normalisation ops directly after a matmul/conv are folded into
  it (intermediates stay on chip: their reads and writes disappear, their FLOPs stay).
"""

from __future__ import annotations

import copy
import dataclasses

from reportgen.analysis.counting.records import OpKind, OpRecord, Trace

MAC_KINDS = (OpKind.matmul, OpKind.conv)
FUSIBLE = (OpKind.elementwise, OpKind.normalization, OpKind.view)


def clone(trace: Trace) -> Trace:
    """A copy whose records and counters can be changed freely. Shapes lists stay shared: no
    transform edits a shape (a deep copy of a 70B trace took seconds)."""
    return dataclasses.replace(trace, records=[copy.copy(r) for r in trace.records],
                               params=copy.copy(trace.params), modules=dict(trace.modules),
                               module_params=dict(trace.module_params))


def is_batchnorm(r: OpRecord) -> bool:
    name = r.op.split(".")[1] if r.op.count(".") >= 1 else r.op
    return r.kind == OpKind.normalization and "batch_norm" in name


def _is_noop(r: OpRecord) -> bool:
    """Allocations and views between a producer and its consumer (aten.empty, aten.view)."""
    return r.kind == OpKind.view or (r.bytes_moved == 0 and not r.total_flops)


def fold_batchnorm(trace: Trace) -> Trace:
    """Fold every BatchNorm that directly follows a conv/linear into it (see module docstring)."""
    t = clone(trace)
    out: list[OpRecord] = []
    producer: OpRecord | None = None
    param_delta = buffer_delta = 0.0  # bytes at the traced dtype
    elem_delta = 0
    for r in t.records:
        if producer is not None and is_batchnorm(r):
            shape = producer.output_shapes[0] if producer.output_shapes else []
            cout = shape[1] if producer.kind == OpKind.conv and len(shape) > 1 else \
                (shape[-1] if shape else 0)
            has_bias = len(producer.input_shapes) >= 3  # convolution(x, w, b) / addmm(b, x, w)
            channels = r.weight_bytes / (4 * r.element_bytes) if r.weight_bytes else 0
            # BN's weight and bias are parameters, running mean/var buffers; all four go, and
            # the producer gains a bias of C_out elements when it had none.
            added = 0 if has_bias else cout
            producer.weight_bytes += int(round(added * producer.element_bytes))
            param_delta += (added - 2 * channels) * r.element_bytes
            buffer_delta -= 2 * channels * r.element_bytes
            elem_delta += int(added - 2 * channels)
            producer = None  # one BN per producer
            continue
        if producer is not None and _is_noop(r):
            out.append(r)
            continue
        producer = r if r.kind in MAC_KINDS and r.macs else None
        out.append(r)
    t.records = out
    t.param_bytes = max(0, int(round(t.param_bytes + param_delta)))
    t.buffer_bytes = max(0, int(round(t.buffer_bytes + buffer_delta)))
    t.params.other = max(0, t.params.other + elem_delta)
    return t


def fuse(trace: Trace) -> Trace:
    """Fold elementwise/normalisation chains into the matmul/conv that produced their input."""
    t = clone(trace)
    out: list[OpRecord] = []
    producer: OpRecord | None = None
    for r in t.records:
        if producer is not None and r.bytes_moved == 0 and not r.total_flops:
            out.append(r)  # allocations and views between producer and consumer (aten.empty)
            continue
        if producer is not None and r.kind in FUSIBLE and r.counted:
            if r.kind != OpKind.view:
                # the chain's other inputs (residuals, scales) are still read; the producer's
                # output is not written and re-read; only the last output is written
                extra = max(0, r.act_bytes_read - producer.bytes_written)
                producer.act_bytes_read += extra
                producer.weight_bytes += r.weight_bytes
                producer.vector_flops += r.total_flops
                producer.bytes_written = r.bytes_written
            continue
        producer = r if r.kind in MAC_KINDS and r.macs else None
        out.append(r)
    t.records = out
    return t
