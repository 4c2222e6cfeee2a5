"""The host prediction of each experiment: what the model predicts this machine gains from it.

Each experiment is predicted from its hypothesis's variant (``Study.variants``: the transformed
graph, batch) at the experiment's host precision, on the measured ``host`` platform:

* with this machine's calibrated per-op cost model (``reportgen calibrate``;
  ``host_calibration.load_or_calibrate(measure_if_missing=False)``: a build never calibrates)
  when a reusable calibration exists, basis ``host_calibration``; its η were fitted at fp32 and
  are applied as fractions of the measured peak of the precision predicted;
* else the roofline with the platform's one η and per-op overhead, basis ``roofline``.

FX static int8 (``Method.host_fuses``) is predicted on the graph with BatchNorm folded and
activation chains fused into the conv/linear, as its conversion does.

Dynamic int8 (``Method.host_matmul_precision``) runs the weighted matmuls (Linear layers) as int8
GEMMs and everything else at fp32: the prediction takes those ops' times from the int8 estimate
and the others' from the fp32 one, on the untransformed graph.

A combination (``Method.pieces``) is predicted as one variant when its pieces compose without
overlap: at most one piece changes the graph (its variant's trace) and at most one changes the
precision; the graph of the one is predicted at the precision of the other. Otherwise, or when a
piece has no host prediction, it is not predicted (never the product of the pieces' speed-ups:
they act on the same ops).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from reportgen.analysis.counting.records import OpKind, Trace
from reportgen.analysis.experiments.models import HostBasis
from reportgen.analysis.experiments.registry import Method
from reportgen.text import Msg, msg

if TYPE_CHECKING:
    from reportgen.analysis.hypotheses.study import Study
    from reportgen.catalog.schema import Platform


@dataclass
class HostModel:
    """The measured host and, when a reusable one exists, its calibrated cost model."""

    platform: Platform
    cost_model: Any = None  # costmodel.CostModel | None
    calibrated_at: str | None = None
    # keyed by id(trace): each entry keeps its trace alive, so an id is never reused meanwhile
    cache: dict[tuple[Any, ...], tuple[Trace, float | None]] = field(default_factory=dict)
    fused: dict[int, tuple[Trace, Trace]] = field(default_factory=dict)

    @property
    def basis(self) -> HostBasis:
        return "host_calibration" if self.cost_model is not None else "roofline"

    def basis_msg(self) -> Msg:
        if self.cost_model is not None:
            return msg("experiments.basis.host_calibration", at=self.calibrated_at or "?")
        return msg("experiments.basis.roofline")


def host_model(platform: Platform) -> HostModel:
    """``platform`` with the cached calibration of this machine when it is reusable."""
    try:
        from reportgen.analysis.prediction.host_calibration import load_or_calibrate

        cal = load_or_calibrate(measure_if_missing=False)
    except Exception:  # a broken calibration cache costs the cost model, not the predictions
        cal = None
    if cal is None:
        return HostModel(platform)
    return HostModel(platform, cal.model, cal.model.calibrated_at or cal.measured_at)


@dataclass(frozen=True)
class Rule:
    """How one experiment is predicted on the host."""

    trace: Trace
    precision: str = "fp32"
    matmul_precision: str | None = None  # weighted matmuls at this precision (dynamic int8)
    batch: int | None = None


def _weighted_matmul(r: Any) -> bool:
    return bool(r.kind == OpKind.matmul and r.weight_bytes)


def latency(hm: HostModel, rule: Rule, batch: int) -> float | None:
    """Predicted latency of ``rule`` on the host, s (None: not predictable)."""
    from reportgen.analysis.prediction.roofline import estimate

    b = rule.batch or batch
    key = (id(rule.trace), rule.precision, rule.matmul_precision, b)
    if key in hm.cache and hm.cache[key][0] is rule.trace:
        return hm.cache[key][1]

    def one(prec: str, keep_ops: bool) -> Any:
        if not hm.platform.runs(prec):
            return None
        pe = estimate(rule.trace, hm.platform, [prec], batch_size=b, fallback=None,
                      keep_ops=keep_ops, cost_model=hm.cost_model).per_precision[0]
        ok = pe.status == "ok" and pe.predicted_latency_s and not pe.latency_is_lower_bound
        return pe if ok else None

    out: float | None = None
    if rule.matmul_precision is None:
        pe = one(rule.precision, False)
        out = pe.predicted_latency_s if pe is not None else None
    else:
        base, low = one(rule.precision, True), one(rule.matmul_precision, True)
        if base is not None and low is not None and len(base.ops) == len(rule.trace.records):
            out = sum((lo if _weighted_matmul(r) else hi).predicted_time_s or 0.0
                      for r, hi, lo in zip(rule.trace.records, base.ops, low.ops, strict=True))
    hm.cache[key] = (rule.trace, out)
    return out


def rule_for(hm: HostModel, m: Method | None, hypothesis: str | None, s: Study,
             by_id: dict[str, Method]) -> Rule | Msg:
    """The prediction rule of one experiment, or why it has none."""
    if m is not None and m.pieces:
        return _combined(hm, m, s, by_id)
    if m is not None and m.host_matmul_precision is not None:
        return Rule(s.trace, "fp32", m.host_matmul_precision)
    v = s.variants.get(hypothesis) if hypothesis else None
    if v is None and (m is None or m.host_precision is None):
        return msg("experiments.predict.no_variant")
    prec = (m.host_precision if m is not None else None) or "fp32"
    trace = v.trace if v is not None else s.trace
    if m is not None and m.host_fuses:
        trace = _fused(hm, trace)
    return Rule(trace, prec, None, v.batch if v is not None else None)


def _fused(hm: HostModel, trace: Trace) -> Trace:
    """``trace`` with BatchNorm folded and activation chains fused (one copy per host model)."""
    from reportgen.analysis.prediction.deploy import fold_batchnorm, fuse

    got = hm.fused.get(id(trace))
    if got is None or got[0] is not trace:
        got = hm.fused[id(trace)] = (trace, fuse(fold_batchnorm(trace)))
    return got[1]


def _combined(hm: HostModel, m: Method, s: Study, by_id: dict[str, Method]) -> Rule | Msg:
    rules: list[tuple[str, Rule]] = []
    for pid in m.pieces:
        pm = by_id.get(pid)
        r = rule_for(hm, pm, pm.hypothesis, s, by_id) if pm else None
        if not isinstance(r, Rule):
            return msg("experiments.predict.piece_unpredicted", piece=pid)
        rules.append((pid, r))
    graph = [(pid, r) for pid, r in rules if r.trace is not s.trace]
    prec = [(pid, r) for pid, r in rules if r.precision != "fp32" or r.matmul_precision]
    if len(graph) > 1:
        return msg("experiments.predict.overlap_graph", a=graph[0][0], b=graph[1][0])
    if len(prec) > 1:
        return msg("experiments.predict.overlap_precision", a=prec[0][0], b=prec[1][0])
    trace = graph[0][1].trace if graph else s.trace
    batch = graph[0][1].batch if graph else None
    p = prec[0][1] if prec else Rule(s.trace)
    return Rule(trace, p.precision, p.matmul_precision, batch)


def predict_speedup(hm: HostModel, rule: Rule, s: Study) -> float | None:
    """Host speed-up of ``rule`` over the fp32 baseline (None: not predictable)."""
    base = latency(hm, Rule(s.trace), s.batch)
    after = latency(hm, rule, s.batch)
    return base / after if base and after else None
