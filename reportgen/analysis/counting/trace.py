"""Dispatcher-level trace of one forward pass on meta tensors → OpRecords.

Runs the model under a ``TorchDispatchMode`` on the meta device, so no weight is allocated and
the count does not depend on which eager kernel (fused CPU attention, MHA fast path) would run.
Module paths come from global forward hooks; ops inside ``F.scaled_dot_product_attention`` are
tagged as attention. Activation memory is the peak of live activation storages, from each
storage's first write to its last read (an ideal arena; eager PyTorch may hold more).
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
from reportgen.analysis.counting.records import OpKind, OpRecord, ParamGroup, Trace
from reportgen.errors import ModelBuildError
from reportgen.text import Msg, msg

aten = torch.ops.aten

_EMBEDDING_TYPES: tuple[type[nn.Module], ...] = (nn.Embedding, nn.EmbeddingBag)


def _tensors(tree: Any) -> list[torch.Tensor]:
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


def _key(t: torch.Tensor) -> int:
    return t.untyped_storage()._cdata


def _nbytes(t: torch.Tensor) -> int:
    return t.numel() * t.element_size()


class _ModuleStack:
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


class _AttentionTagger(TorchFunctionMode):
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


class _Recorder(TorchDispatchMode):
    def __init__(self, modules: _ModuleStack, tagger: _AttentionTagger, weight_keys: set[int],
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
        ins = _tensors((args, kwargs))
        outs = _tensors(out)
        self.keep.append((ins, outs))
        in_keys = {_key(t) for t in ins}
        kind = formulas.classify(name)
        # An op whose output shares storage with an input is a view, unless it is in-place.
        is_alias = bool(outs) and all(_key(o) in in_keys for o in outs)
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
                rows = sum(_nbytes(o) for o in outs)
                idx_bytes = sum(_nbytes(t) for t in ins[1:])
                if _key(table) in self.weight_keys:
                    weight_bytes = rows
                else:
                    act_read = rows
                act_read += idx_bytes
            elif kind is OpKind.embedding and "embedding_bag" in name:
                table, indices = ins[0], ins[1]
                dim = table.shape[-1] if table.dim() == 2 else 1
                gathered = indices.numel() * dim * table.element_size()
                weight_bytes = gathered if _key(table) in self.weight_keys else 0
                act_read = (0 if weight_bytes else gathered) + sum(_nbytes(t) for t in ins[1:])
                in_numel = indices.numel() * dim
            else:
                for t in ins:
                    if _key(t) in self.weight_keys:
                        weight_bytes += _nbytes(t)
                    else:
                        act_read += _nbytes(t)
            written = sum(_nbytes(o) for o in outs)
        vflops = formulas.vector_flops(name, kind, in_numel, out_numel)
        if kind is OpKind.embedding and "embedding_bag" in name:
            vflops = in_numel  # one add per gathered element

        # tensor lifetimes for the activation peak
        for t in ins:
            k = _key(t)
            if k in self.weight_keys:
                continue
            if k not in self.born:
                self.born[k] = -1
                self.size[k] = t.untyped_storage().nbytes()
            self.last_use[k] = idx
        for o in outs:
            k = _key(o)
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


def describe_inputs(tree: Any, limit: int = 6) -> str:
    """Tensor arguments as 'shape dtype' ('1×3×224×224 float32'); other values by type."""
    parts: list[str] = []
    for v in tree_flatten(tree)[0]:
        if isinstance(v, torch.Tensor):
            shape = "×".join(str(d) for d in v.shape) or "scalar"
            parts.append(f"{shape} {str(v.dtype).removeprefix('torch.')}")
    extra = f", … {len(parts) - limit} more" if len(parts) > limit else ""
    return ", ".join(parts[:limit]) + extra if parts else "no tensors"


def _chain(e: BaseException) -> list[BaseException]:
    out: list[BaseException] = []
    cur: BaseException | None = e
    while cur is not None and all(cur is not x for x in out):
        out.append(cur)
        cur = cur.__cause__ or cur.__context__
    return out


def _failure_message(e: BaseException, model: nn.Module, modules: _ModuleStack,
                     recorder: _Recorder) -> str:
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


def _reference_tensor(outs: list[torch.Tensor], ins: list[torch.Tensor]) -> torch.Tensor | None:
    """The tensor whose dtype names the op's precision: first float output, else float input."""
    for group in (outs, ins):
        for t in group:
            if t.dtype.is_floating_point:
                return t
    if outs:
        return outs[0]
    return ins[0] if ins else None


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
    weight_keys = {_key(p) for p in model.parameters()} | {_key(b) for b in model.buffers()}
    modules = _ModuleStack(model)
    tagger = _AttentionTagger()
    recorder = _Recorder(modules, tagger, weight_keys, int_scalar)
    in_tensors = _tensors((args, kwargs))
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
    out_tensors = _tensors(output)
    n = len(recorder.records)
    for o in out_tensors:  # outputs live until the end
        k = _key(o)
        if k in recorder.born:
            recorder.last_use[k] = n - 1
    peak, peak_at = _peak_live(recorder.born, recorder.last_use, recorder.size, n)
    group, param_bytes, buffer_bytes, per_module = count_params(model)
    ref = next((p for p in model.parameters() if p.dtype.is_floating_point), None)
    trace = Trace(
        records=recorder.records, params=group, param_bytes=param_bytes, buffer_bytes=buffer_bytes,
        peak_activation_bytes=peak, peak_activation_op=peak_at,
        input_bytes=sum(_nbytes(t) for t in in_tensors),
        output_bytes=sum(_nbytes(t) for t in out_tensors),
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
