"""Acceleration hypotheses with computed effects: every hypothesis re-runs the cost model and the
roofline under its transformation (``transforms.py``, or a re-trace on meta) and reports
latency, memory and energy before → after on the target. No constant speed-ups.

Units: seconds, bytes, millijoules per sample; ratios are after / before (speed-up is
before / after). The seven classes are the course's. Generators live in ``methods.py``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from enum import StrEnum, unique
from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel, Field

from reportgen.analysis.findings import (
    Arg,
    FindingsReport,
    as_estimate,
    baseline_precision,
    thresholds,
)
from reportgen.analysis.records import Trace
from reportgen.analysis.roofline import Efficiency, PlatformEstimate, Verdict, estimate

if TYPE_CHECKING:
    from reportgen.catalog.platforms import Platform
    from reportgen.spec import Constraints

Level = Literal["low", "medium", "high"]


@unique
class MethodClass(StrEnum):
    distillation = "distillation"
    quantization = "quantization"
    pruning = "pruning"
    architectural = "architectural"
    hardware = "hardware"
    inference = "inference"
    combined = "combined"


class Prediction(BaseModel):
    """One predicted configuration (roofline on a catalog platform)."""

    platform_id: str
    platform_name: str
    unit: str = ""
    precision: str
    sparse: bool = False
    status: str = "ok"
    latency_s: float | None = Field(None, description="predicted latency per batch, s")
    lower_bound: bool = False
    throughput_per_s: float | None = None
    macs: int = 0
    weight_bytes: float = 0
    peak_activation_bytes: float = 0
    memory_bytes: float = Field(0, description="weights + peak activations at the precision, B")
    storage_bytes: float = Field(0, description="bytes of the stored model (weights), B")
    energy_mj: float | None = Field(None, description="per sample, mJ")
    fits: Verdict = "unknown"
    peak_op_per_s: float | None = None
    batch_size: int = 1


class ConstraintOutcome(BaseModel):
    name: str
    unit: str
    requirement: float | str | None
    before: float | None
    after: float | None
    verdict_before: Verdict
    verdict_after: Verdict


class Hypothesis(BaseModel):
    id: str
    method: str = Field(description="key in thresholds.yaml hypotheses.methods and the catalog")
    cls: MethodClass
    rank: int = 0
    title_args: dict[str, Arg] = Field(default_factory=dict)
    mechanism_args: dict[str, Arg] = Field(default_factory=dict)
    targets: list[str] = Field(default_factory=list, description="finding ids it addresses")
    applicable: bool = True
    not_applicable_key: str | None = None
    before: Prediction
    after: Prediction | None = None
    speedup: float | None = Field(None, description="before latency / after latency")
    throughput_gain: float | None = None
    memory_ratio: float | None = Field(None, description="after / before (weights + activations)")
    storage_ratio: float | None = None
    energy_ratio: float | None = None
    constraints: list[ConstraintOutcome] = Field(default_factory=list)
    meets_all: bool | None = Field(None, description="every constraint passes after (None: "
                                                     "some cannot be judged)")
    gap_closed: float | None = Field(None, description="worst closure of the failing "
                                                       "constraints' gaps; 1 = closed")
    prerequisites: list[str] = Field(default_factory=list, description="catalog keys")
    risk: Level = "medium"
    risk_args: dict[str, Arg] = Field(default_factory=dict)
    effort: Level = "medium"
    maintenance: Level = "medium"
    portability: int = Field(0, description="catalog platforms that can use it")
    components: list[str] = Field(default_factory=list)
    notes: list[str] = Field(default_factory=list, description="catalog keys")


class HypothesesReport(BaseModel):
    baseline: Prediction
    latency_budget_s: float | None = None
    platforms_in_catalog: int = 0
    items: list[Hypothesis] = Field(default_factory=list)
    alone_meet: list[str] = Field(default_factory=list, description="ids that alone meet every "
                                                                    "constraint")
    recommended: str | None = None
    baseline_meets: bool | None = Field(None, description="the baseline already meets every "
                                                          "constraint (None: cannot be judged)")
    missing: list[str] = Field(default_factory=list)

    def get(self, hid: str) -> Hypothesis | None:
        return next((h for h in self.items if h.id == hid), None)


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
    ctx: Any = None
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
    key = (id(v.trace), v.platform.id + "/" + v.platform.default_unit, v.precision, v.sparse,
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
                   energy_mj=pe.energy_per_sample_mj, fits=pe.fits,
                   peak_op_per_s=pe.peak_op_per_s, batch_size=batch)
    s.cache[key] = (p, est)
    return p, est


def _ratio(a: float | None, b: float | None) -> float | None:
    return a / b if a is not None and b else None


def _outcomes(s: Study, before: PlatformEstimate, after: PlatformEstimate, bp: Prediction,
              ap: Prediction, after_platform: Platform) -> list[ConstraintOutcome]:
    from reportgen.analysis.verdicts import constraint_verdicts

    vb = {v.name: v for v in constraint_verdicts(s.constraints, before, s.platform, bp.precision)}
    va = {v.name: v for v in constraint_verdicts(s.constraints, after, after_platform, ap.precision)}
    out = [ConstraintOutcome(name=n, unit=b.unit, requirement=b.requirement, before=b.predicted,
                             after=va[n].predicted if n in va else None, verdict_before=b.verdict,
                             verdict_after=va[n].verdict if n in va else "unknown")
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
                      risk=risk or meta.get("risk", "medium"),  # type: ignore[arg-type]
                      effort=meta.get("effort", "medium"),  # type: ignore[arg-type]
                      maintenance=meta.get("maintenance", "medium"),  # type: ignore[arg-type]
                      portability=portability, **kw)


def rank(items: list[Hypothesis]) -> list[Hypothesis]:
    """Meets everything first, then by how much of the worst constraint gap is closed, then by
    speed-up; not applicable last."""
    from reportgen.analysis.methods import changes_task  # methods imports this module

    def key(h: Hypothesis) -> tuple[float, ...]:
        other_task = changes_task(h)  # meets the budget by changing what is asked
        return (0 if h.applicable else 1, 1 if other_task else 0, 0 if h.meets_all else 1,
                1 if h.after is not None and h.after.lower_bound else 0,
                -(h.gap_closed if h.gap_closed is not None else -math.inf),
                -(h.speedup or 0.0))
    out = sorted(items, key=lambda h: (key(h), h.id))
    for i, h in enumerate(out, 1):
        h.rank = i
    return out


def build_study(ctx: Any, result: Any) -> Study | None:
    trace = ctx.products.get("trace")
    platform = ctx.products.get("platform")
    est = as_estimate(result.roofline)
    if trace is None or platform is None:
        return None
    if est is None:
        # the roofline stage did not leave an estimate: predict the spec's precisions here
        est = estimate(trace, platform, [p.value for p in ctx.spec.precisions], keep_ops=False,
                       batch_size=ctx.spec.inputs.batch_size)
    from reportgen.analysis.probe import efficiency_of

    pe = baseline_precision(est, trace.dtype)
    if pe is None:
        return None
    resolved = ctx.products.get("resolved")
    return Study(trace=trace, platform=platform, est=est, precision=pe.precision,
                 eff=efficiency_of(est), constraints=ctx.spec.constraints,
                 findings=result.findings, domain=resolved.domain.value if resolved else "",
                 batch=est.batch_size, card=resolved.card if resolved else None, ctx=ctx)


def generate(s: Study) -> HypothesesReport:
    from reportgen.analysis import methods
    from reportgen.catalog.platforms import load_catalog

    bp, _ = predict(s, Variant(s.trace, s.platform, s.precision))
    rep = HypothesesReport(baseline=bp, platforms_in_catalog=len(load_catalog()),
                           latency_budget_s=s.constraints.latency_ms / 1e3
                           if s.constraints.latency_ms else None)
    items: list[Hypothesis] = []
    for gen in methods.GENERATORS:
        try:
            items += gen(s)
        except Exception as e:  # one method failing must not lose the others
            rep.missing.append(f"{gen.__name__}: {type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''}")
    items = [h for h in items if h.after is not None or not h.applicable]
    combo = methods.combined(s, items)
    if combo is not None:
        items.append(combo)
    rep.items = rank(items)
    rep.alone_meet = [h.id for h in rep.items if h.meets_all and h.cls != MethodClass.combined]
    rep.recommended = methods.recommend(rep.items)
    outcomes = next((h.constraints for h in rep.items if h.constraints), [])
    before = [o.verdict_before for o in outcomes if o.name != "fits" or o.verdict_before != "unknown"]
    if before:
        rep.baseline_meets = None if "unknown" in before else all(x == "pass" for x in before)
    return rep


def stage(ctx: Any, result: Any) -> None:
    """Pipeline stage "hypotheses": needs the trace and the platform."""
    from reportgen.pipeline import StageSkipped

    s = build_study(ctx, result)
    if s is None:
        raise StageSkipped("the hypotheses need the op trace and a platform with a runnable "
                           "precision", hint="check the platform and precisions in the spec",
                           code="hypotheses_need_trace")
    result.hypotheses = generate(s)
    ctx.products["study"] = s
