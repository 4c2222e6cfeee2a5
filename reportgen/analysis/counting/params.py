"""Parameters, buffers and weight bytes from the module alone — no forward pass needed, so a
report has them even when the trace fails (a data-dependent op, inputs that do not fit)."""

from __future__ import annotations

from torch import nn

from reportgen.analysis.counting.costs import ParamSummary
from reportgen.analysis.counting.trace import count_params
from reportgen.spec.schema import Precision


def module_params(model: nn.Module) -> ParamSummary:
    """Unique parameters (tied weights once) split embedding / other, buffers, and the bytes of
    the weights at each precision (elements × bytes per element) and as stored."""
    group, param_bytes, _buffer_bytes, _ = count_params(model)
    return ParamSummary(
        total=group.total, embedding=group.embedding, other=group.other, buffers=group.buffers,
        shared_tensors=group.shared_tensors,
        bytes_at={pr.value: int(group.total * pr.bytes) for pr in Precision},
        stored_bytes=param_bytes)
