"""Parameters, buffers and weight bytes from the module alone — no forward pass needed, so a
report has them even when the trace fails (a data-dependent op, inputs that do not fit)."""

from __future__ import annotations

from torch import nn

from reportgen.analysis.counting.costs import ParamSummary
from reportgen.analysis.counting.records import ParamGroup
from reportgen.spec.choices import Precision

_EMBEDDING_TYPES: tuple[type[nn.Module], ...] = (nn.Embedding, nn.EmbeddingBag)


def module_params(model: nn.Module) -> ParamSummary:
    """Unique parameters (tied weights once) split embedding / other, buffers, and the bytes of
    the weights at each precision (elements × bytes per element) and as stored."""
    group, param_bytes, _buffer_bytes, _ = count_params(model)
    return ParamSummary(
        total=group.total, embedding=group.embedding, other=group.other, buffers=group.buffers,
        shared_tensors=group.shared_tensors,
        bytes_at={pr.value: int(group.total * pr.bytes) for pr in Precision},
        stored_bytes=param_bytes)


def count_params(model: nn.Module) -> tuple[ParamGroup, int, int, dict[str, int]]:
    """Unique parameters split embedding / other, buffers; bytes; own params per module."""
    group = ParamGroup()
    seen: set[int] = set()
    names_per_tensor: dict[int, int] = {}
    param_bytes = 0
    per_module: dict[str, int] = {}
    for mod_name, mod in model.named_modules(remove_duplicate=False):
        for _, p in mod.named_parameters(recurse=False):
            names_per_tensor[id(p)] = names_per_tensor.get(id(p), 0) + 1
            if id(p) in seen:
                continue
            seen.add(id(p))
            n = p.numel()
            param_bytes += n * p.element_size()
            per_module[mod_name] = per_module.get(mod_name, 0) + n
            if isinstance(mod, _EMBEDDING_TYPES):
                group.embedding += n
            else:
                group.other += n
    group.shared_tensors = sum(1 for c in names_per_tensor.values() if c > 1)
    buffer_bytes = 0
    seen_b: set[int] = set()
    for b in model.buffers():
        if id(b) in seen_b:
            continue
        seen_b.add(id(b))
        group.buffers += b.numel()
        buffer_bytes += b.numel() * b.element_size()
    return group, param_bytes, buffer_bytes, per_module
