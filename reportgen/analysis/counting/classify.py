"""How an op record is classified for the memory-bound findings: depthwise convolutions, rows of
activations, and its category (embedding, conv / depthwise, softmax / normalisation, weight
streaming vs matmul, or its op kind)."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

from reportgen.analysis.counting.records import OpKind, OpRecord

if TYPE_CHECKING:
    pass

def depthwise(r: OpRecord) -> bool:
    """A grouped conv whose weight has one input channel per group (depthwise)."""
    if r.kind != OpKind.conv or len(r.input_shapes) < 2 or len(r.input_shapes[1]) < 3:
        return False
    return r.input_shapes[1][1] == 1 and len(r.input_shapes[0]) > 1 and r.input_shapes[0][1] > 1


def activation_rows(r: OpRecord) -> int:
    """Rows of a matmul's activation operand (batch × tokens); large for GEMM, 1 for GEMV."""
    if not r.input_shapes:
        return 0
    shapes = [s for s in r.input_shapes if s]
    act = shapes[0] if r.op.startswith(("aten.mm", "aten.bmm", "aten.matmul", "aten.linear")) \
        else (shapes[1] if r.op.startswith("aten.addmm") and len(shapes) > 1 else shapes[0])
    return math.prod(act[:-1]) if len(act) > 1 else 1


def memory_category(r: OpRecord, decode_rows: int) -> str:
    if r.kind == OpKind.embedding:
        return "embedding"
    if r.kind == OpKind.conv:
        return "depthwise" if depthwise(r) else "conv"
    if r.kind == OpKind.normalization:
        return "softmax" if "softmax" in r.op else "normalization"
    if r.kind in (OpKind.matmul, OpKind.attention):
        return "weight_streaming" if r.weight_bytes and activation_rows(r) <= decode_rows \
            else "matmul"
    return r.kind.value  # elementwise, reduction, data_movement, other


