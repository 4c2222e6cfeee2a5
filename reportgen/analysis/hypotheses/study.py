"""Acceleration hypotheses with computed effects: every hypothesis re-runs the cost model and the
roofline under its transformation (``transforms.py``, or a re-trace on meta) and reports
latency, memory and energy before → after on the target. No constant speed-ups.

Units: seconds, bytes, millijoules per sample; ratios are after / before (speed-up is
before / after). The seven classes are the course's. Generators live in ``methods.py``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from reportgen.analysis.counting.records import Trace
from reportgen.analysis.findings.models import FindingsReport, thresholds
from reportgen.analysis.hypotheses.models import (
    ConstraintOutcome,
    Hypothesis,
    Level,
    MethodClass,
    Prediction,
    speedup_bound,
)
from reportgen.analysis.prediction.assumptions import Efficiency
from reportgen.analysis.prediction.baseline import as_estimate, baseline_precision
from reportgen.analysis.prediction.estimates import PlatformEstimate
from reportgen.analysis.prediction.roofline import estimate
from reportgen.analysis.stage import Context, StageResult

if TYPE_CHECKING:
    from reportgen.catalog.schema import Platform
    from reportgen.spec.schema import Constraints

@dataclass
class Variant:
    """What a hypothesis runs: a trace on a platform at a precision."""

    trace: Trace
    platform: Platform
    precision: str
    sparse: bool = False
    storage_bytes: float | None = None
    batch: int | None = None


@dataclass
class Study:
    """Everything the generators need."""

    trace: Trace
    platform: Platform
    est: PlatformEstimate
    precision: str
    eff: Efficiency | None
    constraints: Constraints
    findings: FindingsReport | None
    domain: str
    batch: int = 1
    card: Any = None
    ctx: Context | None = None
    variants: dict[str, Variant] = field(default_factory=dict)
    cache: dict[tuple[Any, ...], tuple[Prediction, PlatformEstimate]] = \
        field(default_factory=dict)

    def finding_ids(self, *types: str, subtypes: tuple[str, ...] = ()) -> list[str]:
        if self.findings is None:
            return []
        return [f.id for f in self.findings.items if f.type.value in types
                and (not subtypes or f.subtype in subtypes)]


def predict(s: Study, v: Variant) -> tuple[Prediction, PlatformEstimate]:
    batch = v.batch or s.batch
    unit = f"{v.platform.id}/{v.platform.default_unit}/{v.platform.power_mode}"
    key = (id(v.trace), unit, v.precision, v.sparse,
           batch, v.storage_bytes)
    if key in s.cache:
        return s.cache[key]
    eff = s.eff if v.platform.id == s.platform.id else None
    est = estimate(v.trace, v.platform, [v.precision], batch_size=batch, efficiency=eff,
                   sparse=v.sparse, keep_ops=False)
    pe = est.per_precision[0]
    p = Prediction(platform_id=v.platform.id, platform_name=v.platform.name,
                   unit=v.platform.default_unit, precision=v.precision, sparse=v.sparse,
                   status=pe.status, latency_s=pe.predicted_latency_s,
                   lower_bound=pe.latency_is_lower_bound or pe.status == "unknown",
                   throughput_per_s=pe.throughput_per_s,
                   macs=sum(r.macs for r in v.trace.records), weight_bytes=pe.weight_bytes,
                   peak_activation_bytes=pe.peak_activation_bytes,
                   memory_bytes=pe.weight_bytes + pe.peak_activation_bytes,
                   storage_bytes=v.storage_bytes if v.storage_bytes is not None else pe.weight_bytes,
                   energy_mj=pe.energy_per_sample_mj, energy_bound=pe.energy_bound,
                   fits=pe.fits,
                   peak_op_per_s=pe.peak_op_per_s, batch_size=batch)
    s.cache[key] = (p, est)
    return p, est


def _ratio(a: float | None, b: float | None) -> float | None:
    return a / b if a is not None and b else None


def _outcomes(s: Study, before: PlatformEstimate, after: PlatformEstimate, bp: Prediction,
              ap: Prediction, after_platform: Platform) -> list[ConstraintOutcome]:
    from reportgen.analysis.prediction.verdicts import constraint_verdicts

    vb = {v.name: v for v in constraint_verdicts(s.constraints, before, s.platform, bp.precision)}
    from reportgen.analysis.prediction.power import is_addon

    # an add-on accelerator tried on the study's target plugs into it: the target is its host
    host = s.platform if is_addon(after_platform) and after_platform.id != s.platform.id else None
    va = {v.name: v for v in constraint_verdicts(s.constraints, after, after_platform, ap.precision,
                                                 host=host)}
    out = [ConstraintOutcome(name=n, unit=b.unit, requirement=b.requirement, before=b.predicted,
                             after=va[n].predicted if n in va else None, verdict_before=b.verdict,
                             verdict_after=va[n].verdict if n in va else "unknown",
                             bound_before=b.bound,
                             bound_after=va[n].bound if n in va else "value")
           for n, b in vb.items() if b.verdict != "info"]
    out.append(ConstraintOutcome(name="fits", unit="", requirement=None, before=None, after=None,
                                 verdict_before=bp.fits, verdict_after=ap.fits))
    return out


def _closure(o: ConstraintOutcome) -> float | None:
    """How much of a failing constraint's gap the change closes (1 = closed)."""
    if o.name == "fits":
        return 1.0 if o.verdict_after == "pass" else 0.0
    if o.before is None or o.after is None or not isinstance(o.requirement, int | float):
        return None
    gap = o.before - o.requirement
    if gap == 0:
        return 1.0
    return (o.before - o.after) / gap


def evaluate(s: Study, h: Hypothesis, v: Variant) -> Hypothesis:
    """Fill after, ratios, constraint outcomes, gap closure and meets_all from ``v``."""
    s.variants[h.id] = v
    bp, best = predict(s, Variant(s.trace, s.platform, s.precision))
    ap, aest = predict(s, v)
    h.after = ap
    h.speedup = _ratio(bp.latency_s, ap.latency_s)
    h.speedup_bound = speedup_bound(bp.lower_bound, ap.lower_bound)
    h.throughput_gain = _ratio(ap.throughput_per_s, bp.throughput_per_s)
    h.memory_ratio = _ratio(ap.memory_bytes, bp.memory_bytes)
    h.storage_ratio = _ratio(ap.storage_bytes, bp.storage_bytes)
    h.energy_ratio = _ratio(ap.energy_mj, bp.energy_mj)
    h.constraints = _outcomes(s, best, aest, bp, ap, v.platform)
    failing = [o for o in h.constraints if o.verdict_before == "fail"]
    closures = [c for c in (_closure(o) for o in failing) if c is not None]
    h.gap_closed = min(1.0, min(closures)) if closures else None
    verdicts = [o.verdict_after for o in h.constraints if o.name != "fits" or o.verdict_after != "unknown"]
    h.meets_all = None if "unknown" in verdicts else all(x == "pass" for x in verdicts)
    if ap.status == "unsupported" or ap.latency_s is None:
        h.applicable, h.meets_all = False, False
        h.not_applicable_key = h.not_applicable_key or "findings.na.unsupported"
    return h


def method_meta(method: str) -> dict[str, str]:
    return thresholds()["hypotheses"]["methods"].get(method, {})


def make(s: Study, method: str, cls: MethodClass, *, hid: str | None = None,
         targets: list[str] | None = None, prerequisites: list[str] | None = None,
         risk: Level | None = None, portability: int = 0, **kw: Any) -> Hypothesis:
    meta = method_meta(method)
    bp, _ = predict(s, Variant(s.trace, s.platform, s.precision))
    return Hypothesis(id=hid or method, method=method, cls=cls, targets=targets or [],
                      before=bp, prerequisites=prerequisites or [],
                      risk=risk or meta.get("risk", "medium"),
                      effort=meta.get("effort", "medium"),
                      maintenance=meta.get("maintenance", "medium"),
                      portability=portability, **kw)


def build_study(ctx: Context, result: StageResult) -> Study | None:
    trace = ctx.products.baseline_trace or ctx.products.trace
    platform = ctx.products.platform
    est = as_estimate(result.roofline)
    if trace is None or platform is None:
        return None
    if est is None:
        # the roofline stage did not leave an estimate: predict the spec's precisions here
        est = estimate(trace, platform, [p.value for p in ctx.spec.precisions], keep_ops=False,
                       batch_size=ctx.spec.inputs.batch_size)
    from reportgen.analysis.prediction.baseline import efficiency_of

    pe = baseline_precision(est, trace.dtype)
    if pe is None:
        return None
    resolved = ctx.products.resolved
    return Study(trace=trace, platform=platform, est=est, precision=pe.precision,
                 eff=efficiency_of(est), constraints=ctx.spec.constraints,
                 findings=result.findings, domain=resolved.domain.value if resolved else "",
                 batch=est.batch_size, card=resolved.card if resolved else None, ctx=ctx)


