"""Aggregate the op trace: totals, by module tree, by op type, by layer type, not-counted ops.

Every table's rows sum to the totals (rows at a module depth include an "(own ops)" row for ops
run directly by a shallower module), which the tests check.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable
from functools import partial

from pydantic import BaseModel, Field

from reportgen.analysis.counting.records import OpKind, OpRecord, Trace
from reportgen.spec.choices import Precision
from reportgen.text import Msg

# An uncounted share of bytes above this makes totals "at least" figures.
AT_LEAST_BYTES_SHARE = 0.01


class CostRow(BaseModel):
    """One aggregate row. MACs and FLOPs are counts; bytes are at the traced dtype."""

    name: str
    type: str = ""
    ops: int = 0
    params: int | None = None  # parameters owned by this module subtree (modules only)
    macs: int = 0
    flops: int = 0  # 2 × macs
    vector_flops: int = 0
    bytes: int = 0
    weight_bytes: int = 0
    mac_share: float = 0.0  # of total MACs
    bytes_share: float = 0.0  # of total bytes moved
    output_shape: list[int] | None = None


class NotCountedRow(BaseModel):
    op: str
    count: int
    bytes: int
    bytes_share: float
    modules: list[str] = Field(default_factory=list)


class ParamSummary(BaseModel):
    """Unique parameters (tied weights counted once). Counts are elements."""

    total: int
    embedding: int
    other: int
    buffers: int
    shared_tensors: int
    bytes_at: dict[str, int]  # precision -> bytes of weights at that precision
    stored_bytes: int  # at the dtype the model holds them


class CostSummary(BaseModel):
    """Totals of one forward pass. origin: counted on meta tensors."""

    origin: str = "counted"
    dtype: str
    ops: int
    macs: int
    flops: int
    vector_flops: int
    bytes_moved: int
    weight_bytes_read: int
    activation_bytes_read: int
    bytes_written: int
    peak_activation_bytes: int
    peak_activation_at: str  # module where the peak occurs
    input_bytes: int
    output_bytes: int
    arithmetic_intensity: float  # (FLOPs + vector FLOPs) / bytes moved, FLOP/B
    not_counted_bytes_share: float
    at_least: bool  # totals are lower bounds: uncounted ops carry weight


class CostAnalysis(BaseModel):
    summary: CostSummary
    params: ParamSummary
    blocks: list[CostRow]  # architecture overview: blocks / stages
    by_module: dict[int, list[CostRow]]  # depth -> rows (sum to totals)
    by_layer_type: list[CostRow]
    by_op: list[CostRow]
    by_kind: list[CostRow]
    top_ops: list[CostRow]
    not_counted: list[NotCountedRow]
    note_msgs: list[Msg] = Field(default_factory=list)


def _accumulate(records: Iterable[OpRecord], key: Callable[[OpRecord], str]) -> dict[str, CostRow]:
    rows: dict[str, CostRow] = {}
    for r in records:
        k = key(r)
        row = rows.get(k)
        if row is None:
            row = rows[k] = CostRow(name=k)
        row.ops += 1
        row.macs += r.macs
        row.flops += r.flops
        row.vector_flops += r.vector_flops
        row.bytes += r.bytes_moved
        row.weight_bytes += r.weight_bytes
        if r.output_shapes:
            row.output_shape = r.output_shapes[0]
    return rows


def _finish(rows: Iterable[CostRow], total_macs: int, total_bytes: int) -> list[CostRow]:
    out = list(rows)
    for row in out:
        row.mac_share = row.macs / total_macs if total_macs else 0.0
        row.bytes_share = row.bytes / total_bytes if total_bytes else 0.0
    return out


def _prefix(path: str, depth: int) -> str:
    parts = path.split(".") if path else []
    if len(parts) >= depth:
        return ".".join(parts[:depth])
    return (path or "<model>") + " (own ops)"


def subtree_params(trace: Trace, name: str) -> int:
    if not name:
        return trace.params.total
    pre = name + "."
    return sum(n for m, n in trace.module_params.items() if m == name or m.startswith(pre))


def _blocks(trace: Trace, total_macs: int, total_bytes: int, max_rows: int = 40) -> list[CostRow]:
    """Top-level blocks, expanding any block that holds over half the MACs (e.g. an encoder's
    layer list) so the table shows the stages where the cost lives."""
    children: dict[str, list[str]] = defaultdict(list)
    for name in trace.modules:
        if name:
            parent = name.rsplit(".", 1)[0] if "." in name else ""
            children[parent].append(name)
    records = trace.records

    def owner(r: OpRecord, names: set[str]) -> str:
        path = r.module
        while path and path not in names:
            path = path.rsplit(".", 1)[0] if "." in path else ""
        return path or "<model> (own ops)"

    names = list(children[""])
    for _ in range(4):
        rows = _accumulate(records, partial(owner, names=set(names)))
        big = [n for n in names if n in rows and total_macs and rows[n].macs / total_macs > 0.5
               and children.get(n)]
        if not big or len(names) - 1 + len(children[big[0]]) > max_rows:
            break
        i = names.index(big[0])
        names = names[:i] + children[big[0]] + names[i + 1:]
    rows = _accumulate(records, partial(owner, names=set(names)))
    order = {n: i for i, n in enumerate(names)}
    out = []
    for name, row in sorted(rows.items(), key=lambda kv: order.get(kv[0], -1)):
        if name not in trace.modules and row.macs == 0 and row.bytes == 0:
            continue  # e.g. a flatten view run by the root module itself
        row.type = trace.modules.get(name, "")
        row.params = subtree_params(trace, name) if name in trace.modules else 0
        out.append(row)
    return _finish(out, total_macs, total_bytes)


def analyse(trace: Trace, notes: list[Msg] | None = None, max_depth: int = 3) -> CostAnalysis:
    recs = trace.records
    macs = sum(r.macs for r in recs)
    vflops = sum(r.vector_flops for r in recs)
    moved = sum(r.bytes_moved for r in recs)
    uncounted = [r for r in recs if not r.counted]
    unc_bytes = sum(r.bytes_moved for r in uncounted)
    share = unc_bytes / moved if moved else 0.0
    peak_mod = recs[trace.peak_activation_op].module if recs else ""

    summary = CostSummary(
        dtype=trace.dtype, ops=len(recs), macs=macs, flops=2 * macs, vector_flops=vflops,
        bytes_moved=moved, weight_bytes_read=sum(r.weight_bytes for r in recs),
        activation_bytes_read=sum(r.act_bytes_read for r in recs),
        bytes_written=sum(r.bytes_written for r in recs),
        peak_activation_bytes=trace.peak_activation_bytes, peak_activation_at=peak_mod or "<model>",
        input_bytes=trace.input_bytes, output_bytes=trace.output_bytes,
        arithmetic_intensity=(2 * macs + vflops) / moved if moved else 0.0,
        not_counted_bytes_share=share, at_least=share > AT_LEAST_BYTES_SHARE)
    p = trace.params
    params = ParamSummary(
        total=p.total, embedding=p.embedding, other=p.other, buffers=p.buffers,
        shared_tensors=p.shared_tensors,
        bytes_at={pr.value: int(p.total * pr.bytes) for pr in Precision},
        stored_bytes=trace.param_bytes)

    by_module: dict[int, list[CostRow]] = {}
    for d in range(1, max_depth + 1):
        rows = _accumulate(recs, lambda r: _prefix(r.module, d))  # noqa: B023 (called at once)
        for name, row in rows.items():
            row.type = trace.modules.get(name, "")
            row.params = subtree_params(trace, name) if name in trace.modules else None
        by_module[d] = _finish(rows.values(), macs, moved)

    def typed(rows: dict[str, CostRow]) -> list[CostRow]:
        return sorted(_finish(rows.values(), macs, moved), key=lambda r: (-r.macs, -r.bytes, r.name))

    by_layer = typed(_accumulate(recs, lambda r: r.module_type))
    by_op = typed(_accumulate(recs, lambda r: r.op))
    by_kind = typed(_accumulate(recs, lambda r: r.kind.value))
    top = sorted((r for r in recs if r.kind is not OpKind.view), key=lambda r: (-r.macs, -r.bytes_moved, r.index))[:15]
    top_rows = []
    for r in top:
        row = CostRow(name=f"{r.module or '<model>'} · {r.op}", type=r.module_type, ops=1, macs=r.macs,
                      flops=r.flops, vector_flops=r.vector_flops, bytes=r.bytes_moved,
                      weight_bytes=r.weight_bytes, output_shape=r.output_shapes[0] if r.output_shapes else None)
        top_rows.append(row)
    not_counted: dict[str, NotCountedRow] = {}
    for r in uncounted:
        nc = not_counted.setdefault(r.op, NotCountedRow(op=r.op, count=0, bytes=0, bytes_share=0.0))
        nc.count += 1
        nc.bytes += r.bytes_moved
        where = r.module or "<model>"
        if where not in nc.modules and len(nc.modules) < 3:
            nc.modules.append(where)
    for nc in not_counted.values():
        nc.bytes_share = nc.bytes / moved if moved else 0.0
    return CostAnalysis(
        summary=summary, params=params, blocks=_blocks(trace, macs, moved), by_module=by_module,
        by_layer_type=by_layer, by_op=by_op, by_kind=by_kind,
        top_ops=_finish(top_rows, macs, moved),
        not_counted=sorted(not_counted.values(), key=lambda r: -r.bytes),
        note_msgs=list(notes or []))
