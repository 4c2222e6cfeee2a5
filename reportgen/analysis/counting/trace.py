"""Dispatcher-level trace of one forward pass on meta tensors → a :class:`Trace`.

``trace_forward`` runs the model on the meta device under the ``recorder`` (so no weight is
allocated and the count does not depend on which eager kernel — fused CPU attention, the MHA fast
path, here switched off — would run), then assembles the Trace: the op records, parameters
(``params.count_params``), input/output bytes and the activation peak, the peak of live
activation storages from each storage's first write to its last read (an ideal arena; eager
PyTorch may hold more). A forward that raises becomes a :class:`ForwardError` naming the module,
op and input shapes; ``is_data_dependent`` tells an op with value-dependent output shapes.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

import torch
from torch import nn

from reportgen.analysis.counting.params import count_params
from reportgen.analysis.counting.recorder import (
    AttentionTagger,
    ModuleStack,
    Recorder,
    nbytes,
    storage_key,
    tensors_in,
)
from reportgen.analysis.counting.records import Trace
from reportgen.errors import ModelBuildError
from reportgen.text import Msg


class ForwardError(ModelBuildError):
    """The model's forward raised while tracing; the message names where and on what.

    ``op`` (e.g. 'aten.nonzero.default'), ``module`` and ``module_type`` say where, so the
    caller can tell a data-dependent op from inputs that do not fit."""

    op: str | None = None
    module: str = ""
    module_type: str = ""


# Ops whose output shape depends on tensor values: they have no output shape on meta tensors.
DATA_DEPENDENT_OPS = ("nonzero", "masked_select", "unique", "_unique2", "unique_consecutive",
                      "nms", "repeat_interleave", "_local_scalar_dense", "argwhere", "bincount")


def is_data_dependent(op: str | None) -> bool:
    """True for 'aten.nonzero.default', 'torchvision.nms.default' and the like."""
    if not op:
        return False
    parts = op.split(".")
    name = parts[1] if len(parts) > 1 else parts[0]
    return name in DATA_DEPENDENT_OPS


def _chain(e: BaseException) -> list[BaseException]:
    out: list[BaseException] = []
    cur: BaseException | None = e
    while cur is not None and all(cur is not x for x in out):
        out.append(cur)
        cur = cur.__cause__ or cur.__context__
    return out


def _failure_message(e: BaseException, model: nn.Module, modules: ModuleStack,
                     recorder: Recorder) -> str:
    """'in module 'layer1.0.conv1' (Conv2d), op aten.convolution.default on (…): RuntimeError: …'"""
    chain = _chain(e)
    root = chain[-1]  # the original exception, if it was wrapped on the way up
    where = next((m for x in chain for exc, m in modules.failures if exc is x), None)
    if where is None:
        where = ("", type(model).__name__)
    name, kind = where
    text = f"in module '{name}' ({kind})" if name else f"in the model's own forward ({kind})"
    op = next((f for x in chain for f in recorder.failed_ops if f[0] is x), None)
    if op is not None:
        text += f", op {op[1]} on inputs ({op[2]})"
    elif recorder.records:
        last = recorder.records[-1]
        shapes = ", ".join("×".join(map(str, s)) or "scalar" for s in last.input_shapes[:6])
        text += f", after op {last.op} on inputs ({shapes or 'no tensors'})"
    detail = str(root).strip().splitlines()[0] if str(root).strip() else ""
    return f"{text}: {type(root).__name__}: {detail}"[:1000]



@contextlib.contextmanager
def _no_fast_paths() -> Iterator[None]:
    """Disable nn.MultiheadAttention / TransformerEncoderLayer fused fast paths while tracing."""
    mha = getattr(torch.backends, "mha", None)
    prev = mha.get_fastpath_enabled() if mha else None
    if mha:
        mha.set_fastpath_enabled(False)
    try:
        yield
    finally:
        if mha and prev is not None:
            mha.set_fastpath_enabled(prev)


def trace_forward(model: nn.Module, args: tuple[Any, ...], kwargs: dict[str, Any] | None = None,
                  *, int_scalar: int | None = None) -> tuple[Trace, Any, list[Msg]]:
    """Trace one forward pass. Model and inputs should be on the meta device.

    Returns the Trace, the model's output (meta tensors) and notes (assumptions made, as messages).
    Raises ForwardError naming the module, op and input shapes if the forward fails.
    """
    kwargs = kwargs or {}
    weight_keys = {storage_key(p) for p in model.parameters()} | {storage_key(b) for b in model.buffers()}
    modules = ModuleStack(model)
    tagger = AttentionTagger()
    recorder = Recorder(modules, tagger, weight_keys, int_scalar)
    in_tensors = tensors_in((args, kwargs))
    try:
        with torch.no_grad(), _no_fast_paths(), modules.active(), tagger, recorder:
            output = model(*args, **kwargs)
    except Exception as e:
        err = ForwardError(_failure_message(e, model, modules, recorder))
        chain = _chain(e)
        failed = next((f for x in chain for f in recorder.failed_ops if f[0] is x), None)
        where = next((m for x in chain for exc, m in modules.failures if exc is x), ("", type(model).__name__))
        err.op = failed[1] if failed else None
        err.module, err.module_type = where
        raise err from e
    out_tensors = tensors_in(output)
    n = len(recorder.records)
    for o in out_tensors:  # outputs live until the end
        k = storage_key(o)
        if k in recorder.born:
            recorder.last_use[k] = n - 1
    peak, peak_at = _peak_live(recorder.born, recorder.last_use, recorder.size, n)
    group, param_bytes, buffer_bytes, per_module = count_params(model)
    ref = next((p for p in model.parameters() if p.dtype.is_floating_point), None)
    trace = Trace(
        records=recorder.records, params=group, param_bytes=param_bytes, buffer_bytes=buffer_bytes,
        peak_activation_bytes=peak, peak_activation_op=peak_at,
        input_bytes=sum(nbytes(t) for t in in_tensors),
        output_bytes=sum(nbytes(t) for t in out_tensors),
        modules={name: type(m).__name__ for name, m in model.named_modules()},
        module_params=per_module,
        input_shapes=[list(t.shape) for t in in_tensors],
        output_shapes=[list(t.shape) for t in out_tensors],
        dtype=str(ref.dtype).removeprefix("torch.") if ref is not None else "float32",
    )
    notes = list({m.model_dump_json(): m for m in recorder.assumed_scalars}.values())
    return trace, output, notes


def _peak_live(born: dict[int, int], last: dict[int, int], size: dict[int, int], n: int) -> tuple[int, int]:
    """Peak over op indices of the summed sizes of live storages, and where it happens."""
    if n == 0:
        return sum(size.values()), 0
    diff = [0] * (n + 1)
    for k, b in born.items():
        start = max(b, 0)
        end = max(last.get(k, start), start)
        diff[start] += size[k]
        diff[end + 1] -= size[k]
    live = peak = 0
    at = 0
    for i in range(n):
        live += diff[i]
        if live > peak:
            peak, at = live, i
    return peak, at
