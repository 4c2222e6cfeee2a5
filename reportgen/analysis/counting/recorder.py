"""The dispatcher-level recorder of one forward pass on meta tensors: :class:`Recorder` (a
``TorchDispatchMode``) turns each aten op into an :class:`OpRecord` — its kind, module path,
shapes, dtype, MACs from ``formulas``, vector FLOPs and bytes (weights read, activations read,
written; embedding lookups read only the gathered rows) — and notes each activation storage's
first write and last read for the activation peak. :class:`ModuleStack` knows the innermost module
running (global forward hooks) and :class:`AttentionTagger` marks ops inside
``F.scaled_dot_product_attention`` as attention. Bytes are bytes; FLOPs = 2 × MACs.
"""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Iterator
from typing import Any

import torch
from torch import nn
from torch.overrides import TorchFunctionMode
from torch.utils._python_dispatch import TorchDispatchMode
from torch.utils._pytree import tree_flatten

from reportgen.analysis.counting import formulas
from reportgen.analysis.counting.records import OpKind, OpRecord
from reportgen.text import Msg, msg

aten = torch.ops.aten


def tensors_in(tree: Any) -> list[torch.Tensor]:
    """Tensors in an op's (args, kwargs): a plain recursion over tuples, lists and dicts
    (pytree's general flatten was the tracer's largest cost on LLM-sized graphs)."""
    out: list[torch.Tensor] = []
    stack = [tree]
    while stack:
        x = stack.pop()
        if isinstance(x, torch.Tensor):
            out.append(x)
        elif isinstance(x, tuple | list):
            stack.extend(reversed(x))
        elif isinstance(x, dict):
            stack.extend(reversed(list(x.values())))
        elif hasattr(x, "__dataclass_fields__") or type(x).__name__.endswith("Output"):
            stack.extend(reversed(tree_flatten(x)[0]))  # model outputs, caches: rare, let pytree
    return out


def storage_key(t: torch.Tensor) -> int:
    return t.untyped_storage()._cdata


def nbytes(t: torch.Tensor) -> int:
    return t.numel() * t.element_size()


class ModuleStack:
    """Tracks the innermost module running, by global forward (pre-)hooks."""

    def __init__(self, model: nn.Module) -> None:
        self.names: dict[int, tuple[str, str]] = {}
        for name, mod in model.named_modules(remove_duplicate=False):
            self.names.setdefault(id(mod), (name, type(mod).__name__))
        self.stack: list[tuple[str, str]] = [("", type(model).__name__)]
        self._handles: list[Any] = []
        # (exception, innermost module it left): filled while a failing forward unwinds
        self.failures: list[tuple[BaseException, tuple[str, str]]] = []

    def _pre(self, mod: nn.Module, args: Any) -> None:
        entry = self.names.get(id(mod))
        self.stack.append(entry if entry else self.stack[-1])

    def _post(self, mod: nn.Module, args: Any, out: Any) -> None:
        exc = sys.exc_info()[1]  # set when torch calls this always_call hook for a raising forward
        if exc is not None and not any(e is exc for e, _ in self.failures):
            self.failures.append((exc, self.names.get(id(mod), self.stack[-1])))
        if len(self.stack) > 1:
            self.stack.pop()

    @contextlib.contextmanager
    def active(self) -> Iterator[None]:
        from torch.nn.modules import module as m

        self._handles = [m.register_module_forward_pre_hook(self._pre),
                         m.register_module_forward_hook(self._post, always_call=True)]
        try:
            yield
        finally:
            for h in self._handles:
                h.remove()

    @property
    def current(self) -> tuple[str, str]:
        return self.stack[-1]


class AttentionTagger(TorchFunctionMode):
    """Marks ops dispatched inside F.scaled_dot_product_attention as attention."""

    def __init__(self) -> None:
        super().__init__()
        self.depth = 0

    def __torch_function__(self, func: Any, types: Any, args: Any = (), kwargs: Any = None) -> Any:
        kwargs = kwargs or {}
        if func is torch.nn.functional.scaled_dot_product_attention:
            self.depth += 1
            try:
                return func(*args, **kwargs)
            finally:
                self.depth -= 1
        return func(*args, **kwargs)


class Recorder(TorchDispatchMode):
    def __init__(self, modules: ModuleStack, tagger: AttentionTagger, weight_keys: set[int],
                 int_scalar: int | None = None) -> None:
        super().__init__()
        self.int_scalar = int_scalar
        self.modules = modules
        self.tagger = tagger
        self.weight_keys = weight_keys
        self.records: list[OpRecord] = []
        self.keep: list[Any] = []  # keeps meta tensors alive so storage keys stay unique
        self.born: dict[int, int] = {}
        self.last_use: dict[int, int] = {}
        self.size: dict[int, int] = {}
        self.assumed_scalars: list[Msg] = []
        # (exception, op, described inputs) for ops that raised; see trace_forward
        self.failed_ops: list[tuple[BaseException, str, str]] = []

    def __torch_dispatch__(self, func: Any, types: Any, args: Any = (), kwargs: Any = None) -> Any:
        kwargs = kwargs or {}
        if func is aten._local_scalar_dense.default and args and args[0].device.type == "meta":
            # `.item()` on a meta tensor has no value (transformers' mask code asks whether a
            # mask is all ones). Answer as for unpadded inputs and record the assumption.
            t = args[0]
            value: Any = True if t.dtype == torch.bool else (
                0.0 if t.dtype.is_floating_point else (self.int_scalar or 0))
            where = self.modules.current[0] or "<model>"
            self.assumed_scalars.append(msg("trace_note.item", module_code=where, value=repr(value)))
            return value
        try:
            out = func(*args, **kwargs)
            self._record(func, args, kwargs, out)
        except Exception as e:  # remember which op failed on which inputs, for the message
            self.failed_ops.append((e, str(func), describe_inputs((args, kwargs))))
            raise
        return out

    def _record(self, func: Any, args: Any, kwargs: Any, out: Any) -> None:
        idx = len(self.records)
        packet = func.overloadpacket
        name = packet.__name__
        ins = tensors_in((args, kwargs))
        outs = tensors_in(out)
        self.keep.append((ins, outs))
        in_keys = {storage_key(t) for t in ins}
        kind = formulas.classify(name)
        # An op whose output shares storage with an input is a view, unless it is in-place.
        is_alias = bool(outs) and all(storage_key(o) in in_keys for o in outs)
        if is_alias and not name.endswith("_") and kind is not OpKind.data_movement:
            kind = OpKind.view
        if self.tagger.depth > 0 and kind in (OpKind.matmul, OpKind.normalization,
                                              OpKind.elementwise, OpKind.other):
            kind = OpKind.attention
        mod_name, mod_type = self.modules.current

        macs = 0
        counted = True
        try:
            fl = formulas.mac_flops(packet, args, kwargs, out)
        except Exception:  # a formula that cannot read these shapes: report, don't guess
            fl = None
            counted = False
        if fl is not None:
            macs = fl // 2
        elif kind is OpKind.other:
            counted = False

        ref = _reference_tensor(outs, ins)
        dtype = str(ref.dtype).removeprefix("torch.") if ref is not None else "none"
        elem = float(ref.element_size()) if ref is not None else 4.0

        weight_bytes = act_read = written = 0
        in_numel = sum(t.numel() for t in ins)
        out_numel = sum(o.numel() for o in outs)
        if kind is not OpKind.view and name not in formulas.ALLOC_ONLY:
            if kind is OpKind.embedding and name in ("embedding", "index_select", "gather", "index", "take"):
                # Lookups read only the gathered rows (= output size) plus the indices.
                table = ins[0]
                rows = sum(nbytes(o) for o in outs)
                idx_bytes = sum(nbytes(t) for t in ins[1:])
                if storage_key(table) in self.weight_keys:
                    weight_bytes = rows
                else:
                    act_read = rows
                act_read += idx_bytes
            elif kind is OpKind.embedding and "embedding_bag" in name:
                table, indices = ins[0], ins[1]
                dim = table.shape[-1] if table.dim() == 2 else 1
                gathered = indices.numel() * dim * table.element_size()
                weight_bytes = gathered if storage_key(table) in self.weight_keys else 0
                act_read = (0 if weight_bytes else gathered) + sum(nbytes(t) for t in ins[1:])
                in_numel = indices.numel() * dim
            else:
                for t in ins:
                    if storage_key(t) in self.weight_keys:
                        weight_bytes += nbytes(t)
                    else:
                        act_read += nbytes(t)
            written = sum(nbytes(o) for o in outs)
        vflops = formulas.vector_flops(name, kind, in_numel, out_numel)
        if kind is OpKind.embedding and "embedding_bag" in name:
            vflops = in_numel  # one add per gathered element

        # tensor lifetimes for the activation peak
        for t in ins:
            k = storage_key(t)
            if k in self.weight_keys:
                continue
            if k not in self.born:
                self.born[k] = -1
                self.size[k] = t.untyped_storage().nbytes()
            self.last_use[k] = idx
        for o in outs:
            k = storage_key(o)
            if k in self.weight_keys or k in self.born:
                continue
            self.born[k] = idx
            self.size[k] = o.untyped_storage().nbytes()
            self.last_use[k] = idx

        self.records.append(OpRecord(
            index=idx, op=str(func), kind=kind, module=mod_name, module_type=mod_type,
            input_shapes=[list(t.shape) for t in ins], output_shapes=[list(o.shape) for o in outs],
            dtype=dtype, macs=macs, vector_flops=vflops, weight_bytes=weight_bytes,
            act_bytes_read=act_read, bytes_written=written, counted=counted, element_bytes=elem))


def describe_inputs(tree: Any, limit: int = 6) -> str:
    """Tensor arguments as 'shape dtype' ('1×3×224×224 float32'); other values by type."""
    parts: list[str] = []
    for v in tree_flatten(tree)[0]:
        if isinstance(v, torch.Tensor):
            shape = "×".join(str(d) for d in v.shape) or "scalar"
            parts.append(f"{shape} {str(v.dtype).removeprefix('torch.')}")
    extra = f", … {len(parts) - limit} more" if len(parts) > limit else ""
    return ", ".join(parts[:limit]) + extra if parts else "no tensors"


def _reference_tensor(outs: list[torch.Tensor], ins: list[torch.Tensor]) -> torch.Tensor | None:
    """The tensor whose dtype names the op's precision: first float output, else float input."""
    for group in (outs, ins):
        for t in group:
            if t.dtype.is_floating_point:
                return t
    if outs:
        return outs[0]
    return ins[0] if ins else None
