"""Trace transformations for acceleration hypotheses. Each returns a NEW Trace (records copied),
so the roofline can be re-run on it; the original is never touched. No torch.

MACs are counts, bytes are bytes at the traced dtype; fractions are in [0, 1].
The models are first-order and say what they keep and drop:
* ``weight_only``: weights stored at another width (dynamic/weight-only quantization), only on
  floating-point weights and, with ``kinds``, only on those op kinds (PyTorch's dynamic int8
  quantizes the Linear weight matrices and nothing else: not embeddings, convs or biases).
* ``prune_channels``: structured pruning of a fraction f of the inner channels/features of every
  conv/linear except the first and last: their MACs, weights and activations × (1 − f); the
  non-MAC ops between them move (1 − f) of their bytes. (The compound effect of pruning both the
  input and output side of a layer, (1 − f)², is not taken: a conservative estimate.)
* ``sparse_weights``: 2:4 / unstructured sparsity: MAC weights × kept fraction + index metadata.
* ``fuse`` (in ``prediction.deploy``, with ``fold_batchnorm``: what a compiled runtime does to
  the baseline): elementwise chains after a matmul/conv fold into it.
* ``depthwise_separable``: k×k convs (groups = 1) → depthwise k×k + pointwise 1×1:
  MACs × (1/C_out + 1/k²).
* ``low_rank``: big linears W[n×m] → rank-r factors: MACs and weight-matrix bytes
  × r(n + m)/(n·m); a bias (addmm's first operand) is kept as it is.
* ``flash_attention``: non-MAC ops inside attention modules keep their FLOPs but move no DRAM
  bytes (scores stay on chip, as in FlashAttention).
* ``hash_embeddings``: embedding tables keep a fraction of their rows (QR / hashing trick).
* ``drop_layers``: every other block of the largest repeated layer list is removed (a
  half-depth student, as DistilBERT halves BERT).
"""

from __future__ import annotations

import copy
import re
from collections import Counter, defaultdict
from collections.abc import Callable

from reportgen.analysis.counting.records import OpKind, OpRecord, Trace
from reportgen.analysis.prediction.deploy import FUSIBLE, MAC_KINDS, clone, fold_batchnorm, fuse

__all__ = ["FUSIBLE", "MAC_KINDS", "clone", "fold_batchnorm", "fuse"]

FLOAT_DTYPES = ("float32", "float16", "bfloat16", "float64")


def _scale(r: OpRecord, *, macs: float = 1.0, weights: float = 1.0, acts: float = 1.0,
           vector: float | None = None) -> None:
    r.macs = int(round(r.macs * macs))
    r.weight_bytes = int(round(r.weight_bytes * weights))
    r.act_bytes_read = int(round(r.act_bytes_read * acts))
    r.bytes_written = int(round(r.bytes_written * acts))
    r.vector_flops = int(round(r.vector_flops * (acts if vector is None else vector)))


def _weight_delta(old: Trace, new: Trace) -> int:
    return sum(r.weight_bytes for r in old.records) - sum(r.weight_bytes for r in new.records)


def _shrink_params(old: Trace, new: Trace) -> None:
    """Lower the unique-parameter bytes by what the records no longer read (never below 0)."""
    delta = _weight_delta(old, new)
    read = sum(r.weight_bytes for r in old.records) or 1
    frac = max(0.0, min(1.0, delta / read))
    new.param_bytes = int(round(old.param_bytes * (1 - frac)))


def weight_matrix(r: OpRecord) -> tuple[int, int, int] | None:
    """(n, m, bytes) of the 2-D weight matrix a matmul reads, or None. The matrix is the largest
    2-D operand that fits in the op's weight bytes; the rest (addmm's bias) is not part of it."""
    if r.kind != OpKind.matmul or not r.weight_bytes:
        return None
    best: tuple[int, int, int] | None = None
    for s in r.input_shapes:
        if len(s) != 2:
            continue
        b = int(round(s[0] * s[1] * r.element_bytes))
        if b <= r.weight_bytes and (best is None or b > best[2]):
            best = (s[0], s[1], b)
    return best


def _params_less(trace: Trace, t: Trace, saved: dict[tuple[str, int], float]) -> None:
    """Unique-parameter bytes less what was saved, counted once per (module, tensor size): a
    layer called several times (an RNN cell, a shared block) stores its weights once."""
    t.param_bytes = max(0, int(round(trace.param_bytes - sum(saved.values()))))


def weight_only(trace: Trace, bytes_per_weight: float,
                kinds: tuple[OpKind, ...] | None = None) -> Trace:
    """Floating-point weights of ``kinds`` (None = every op) stored at ``bytes_per_weight``,
    activations unchanged (dynamic / weight-only schemes). For matmuls only the weight matrix
    changes width; the bias stays. Integer tensors (ids, offsets) are never touched."""
    t = clone(trace)
    saved: dict[tuple[str, int], float] = {}
    emb_scale: float | None = None
    for r in t.records:
        if not r.weight_bytes or r.dtype not in FLOAT_DTYPES or (kinds and r.kind not in kinds):
            continue
        scale = bytes_per_weight / (r.element_bytes or 4.0)
        wm = weight_matrix(r)
        part = wm[2] if wm is not None else r.weight_bytes
        r.weight_bytes = int(round(r.weight_bytes - part * (1 - scale)))
        if r.kind == OpKind.embedding:
            emb_scale = scale  # a lookup reads gathered rows: the tables are handled below
        else:
            saved[(r.module, part)] = part * (1 - scale)
    if emb_scale is not None:
        emb_bytes = trace.param_bytes * trace.params.embedding / (trace.params.total or 1)
        saved[("<embedding tables>", 0)] = emb_bytes * (1 - emb_scale)
    _params_less(trace, t, saved)
    return t


def mac_positions(trace: Trace) -> list[int]:
    return [i for i, r in enumerate(trace.records) if r.kind in MAC_KINDS and r.macs]


def prune_channels(trace: Trace, fraction: float) -> Trace:
    """Structured pruning of ``fraction`` of inner channels (see module docstring)."""
    t = clone(trace)
    pos = mac_positions(t)
    if len(pos) < 3:
        return t
    keep = 1.0 - fraction
    first, last = pos[0], pos[-1]
    for i in range(first + 1, last):
        r = t.records[i]
        if r.kind in MAC_KINDS and r.macs:
            _scale(r, macs=keep, weights=keep, acts=keep)
        elif r.kind != OpKind.view:
            _scale(r, weights=keep, acts=keep)
    _shrink_params(trace, t)
    t.peak_activation_bytes = int(round(t.peak_activation_bytes * keep))
    return t


def sparse_weights(trace: Trace, kept: float, metadata_bits_per_kept: float) -> Trace:
    """MAC-op weights × kept fraction plus index metadata (bits per kept weight)."""
    t = clone(trace)
    for r in t.records:
        if r.kind in MAC_KINDS and r.weight_bytes:
            bits = r.element_bytes * 8
            r.weight_bytes = int(round(r.weight_bytes * kept * (1 + metadata_bits_per_kept / bits)))
    _shrink_params(trace, t)
    return t


def depthwise_separable(trace: Trace) -> Trace:
    """Standard k×k convolutions → depthwise + pointwise (see module docstring)."""
    t = clone(trace)
    for r in t.records:
        if r.kind != OpKind.conv or len(r.input_shapes) < 2 or len(r.input_shapes[1]) != 4:
            continue
        cout, cin_g, kh, kw = r.input_shapes[1]
        cin = r.input_shapes[0][1] if len(r.input_shapes[0]) > 1 else cin_g
        if kh * kw <= 1 or cin_g != cin or cout <= 1:
            continue
        f = 1 / cout + 1 / (kh * kw)
        r.macs = int(round(r.macs * f))
        r.weight_bytes = int(round(r.weight_bytes * f))
        r.bytes_written += r.act_bytes_read  # the depthwise output is written and re-read
        r.act_bytes_read *= 2
    _shrink_params(trace, t)
    return t


def low_rank(trace: Trace, rank_fraction: float, min_weight_bytes: float) -> Trace:
    """Big linears (weight matrix ≥ ``min_weight_bytes``) → two rank-r factors; the bias stays."""
    t = clone(trace)
    saved: dict[tuple[str, int], float] = {}
    for r in t.records:
        wm = weight_matrix(r)
        if wm is None or wm[2] < min_weight_bytes:
            continue
        n, m, wb = wm
        rank = max(1, int(rank_fraction * min(n, m)))
        f = rank * (n + m) / (n * m)
        if f >= 1:
            continue
        r.macs = int(round(r.macs * f))
        r.weight_bytes = int(round(r.weight_bytes - wb * (1 - f)))
        saved[(r.module, wb)] = wb * (1 - f)
    _params_less(trace, t, saved)
    return t


def _in_attention(r: OpRecord) -> bool:
    return r.kind == OpKind.attention or "attention" in r.module_type.lower() or \
        "attn" in r.module_type.lower()


def attention_score_bytes(trace: Trace) -> int:
    """Bytes moved by non-MAC ops inside attention modules (scores, softmax, masks)."""
    return sum(r.bytes_moved for r in trace.records
               if _in_attention(r) and r.kind in (OpKind.elementwise, OpKind.normalization))


def flash_attention(trace: Trace) -> Trace:
    t = clone(trace)
    for r in t.records:
        if _in_attention(r) and r.kind in (OpKind.elementwise, OpKind.normalization):
            r.act_bytes_read = r.bytes_written = r.weight_bytes = 0
    return t


def hash_embeddings(trace: Trace, rows_kept: float) -> Trace:
    t = clone(trace)
    for r in t.records:
        if r.kind == OpKind.embedding:
            r.weight_bytes = int(round(r.weight_bytes * rows_kept))
    emb_params = trace.params.embedding
    total = trace.params.total or 1
    t.param_bytes = int(round(trace.param_bytes * (1 - (1 - rows_kept) * emb_params / total)))
    return t


_LAYER = re.compile(r"^(.*?)\.(\d+)(?:\.|$)")


def repeated_layers(trace: Trace) -> tuple[str, list[str]] | None:
    """The layer list (prefix, children) holding the most MACs, e.g. ('model.layers', [...])."""
    macs: dict[str, Counter[str]] = defaultdict(Counter)
    for r in trace.records:
        m = _LAYER.match(r.module)
        if m:
            macs[m.group(1)][m.group(2)] += r.macs
    cands = [(sum(c.values()), p, c) for p, c in macs.items() if len(c) >= 4]
    if not cands:
        return None
    _, prefix, c = max(cands)
    return prefix, sorted(c, key=int)


def drop_layers(trace: Trace, keep_every: int = 2) -> Trace:
    """A half-depth student: keep every ``keep_every``-th block of the main layer list."""
    t = clone(trace)
    found = repeated_layers(trace)
    if found is None:
        return t
    prefix, idx = found
    dropped = {i for n, i in enumerate(idx) if n % keep_every}
    pre = prefix + "."

    def gone(name: str) -> bool:
        if not name.startswith(pre):
            return False
        return name[len(pre):].split(".", 1)[0] in dropped

    t.records = [r for r in t.records if not gone(r.module)]
    removed = sum(n for m, n in trace.module_params.items() if gone(m))
    total = trace.params.total or 1
    t.param_bytes = int(round(trace.param_bytes * (1 - removed / total)))
    t.params = copy.deepcopy(trace.params)
    t.params.other = max(0, t.params.other - removed)
    return t


def compose(*fns: Callable[[Trace], Trace]) -> Callable[[Trace], Trace]:
    def run(trace: Trace) -> Trace:
        for fn in fns:
            trace = fn(trace)
        return trace
    return run
