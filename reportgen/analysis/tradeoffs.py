"""Engineering trade-offs: the method × speed-up × memory × accuracy risk × effort × portability ×
maintenance table, the recommended plan judged against the course's Research and Production
criteria, the course's five engineering principles applied to this study's numbers, and the
published accuracy of the teacher, its students and int8 (torchvision metadata, read by the
``models`` layer when the stage runs). No torch at import; sentences are ``Msg`` (``findings.crit.*``, ``findings.principle.*``).
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, Field

from reportgen.analysis.findings.models import FindingsReport, thresholds
from reportgen.analysis.hypotheses.models import (
    HypothesesReport,
    Hypothesis,
    Level,
    MethodClass,
    Prediction,
    SpeedupBound,
    speedup_param,
)
from reportgen.analysis.stage import Context, StageResult
from reportgen.text import Arg, Msg, lookup, msg

Rating = Literal["good", "fair", "poor", "unknown"]
RESEARCH = ["depth", "applicability", "novelty", "modularity", "universality", "redundancy",
            "flexibility"]
PRODUCTION = ["reliability", "speed", "completeness", "scalability", "energy", "requirements",
              "satisfaction"]
PRINCIPLES = ["hardware_for_task", "sacrifice", "postponed", "support", "evolves"]


class TradeOffRow(BaseModel):
    hypothesis: str
    method: str
    cls: MethodClass
    applicable: bool
    speedup: float | None = Field(description="before / after latency")
    speedup_bound: SpeedupBound = Field("value", description="value, or upper / lower when a "
                                        "latency is only a lower bound (Hypothesis.speedup_bound)")
    memory_ratio: float | None = Field(description="after / before memory (weights + activations)")
    storage_ratio: float | None = None
    risk: Level
    effort: Level
    portability: int = Field(description="catalog platforms that can use the method")
    portability_total: int
    maintenance: Level
    meets_all: bool | None


Group = Literal["research", "production", "principle"]


class Assessment(BaseModel):
    criterion: str
    group: Group
    rating: Rating
    text: Msg = Field(description="the assessment in words: findings.crit.<criterion>.text[.<variant>] "
                                  "or findings.principle.<criterion>.text[.<variant>]")


class PublishedAccuracy(BaseModel):
    """Published task accuracy of the teacher, a distillation student or the int8 model, from
    torchvision's weights metadata (offline): not measured here, and for the named weights."""

    role: Literal["teacher", "student", "int8"]
    hypothesis: str | None = Field(None, description="the hypothesis the row belongs to")
    model: str = Field(description="torchvision builder name")
    weights: str = Field(description="the weights the figure is published for")
    dataset: str
    acc1_pct: float = Field(description="published top-1 accuracy, % (as torchvision gives it)")
    acc5_pct: float | None = Field(None, description="published top-5 accuracy, %")
    delta_acc1_pp: float | None = Field(None, description="acc1 − the teacher's acc1, percentage "
                                                          "points (both published)")
    source: str = Field(description="the recipe URL of the weights")
    based_on: str | None = Field(None, description="int8: the fp32 weights it was quantized from")
    origin: Literal["published"] = "published"


class TradeOffs(BaseModel):
    rows: list[TradeOffRow]
    accuracy: list[PublishedAccuracy] = Field(default_factory=list,
                                              description="published accuracy rows")
    plan: str | None = Field(None, description="id of the recommended hypothesis")
    plan_components: list[str] = Field(default_factory=list)
    research: list[Assessment] = Field(default_factory=list)
    production: list[Assessment] = Field(default_factory=list)
    principles: list[Assessment] = Field(default_factory=list)


_R = {"low": 0, "medium": 1, "high": 2}


def _rate(x: float | None, good: float, fair: float, higher_better: bool = True) -> Rating:
    if x is None:
        return "unknown"
    if not higher_better:
        x, good, fair = -x, -good, -fair
    return "good" if x >= good else "fair" if x >= fair else "poor"


def _assess(criterion: str, group: Group, rating: Rating, args: dict[str, Arg | Msg] | None = None,
            variant: str = "") -> Assessment:
    """An assessment whose sentence is the criterion's text, or its ``variant`` when the
    criterion has several."""
    base = f"findings.{'principle' if group == 'principle' else 'crit'}.{criterion}.text"
    code = f"{base}.{variant}" if isinstance(lookup(base, "en"), dict) else base
    return Assessment(criterion=criterion, group=group, rating=rating, text=msg(code, **(args or {})))


def _lat(p: Prediction | None) -> Arg | Msg:
    """A predicted latency as a message parameter, '≥' when it is only a lower bound."""
    a = Arg(v=p.latency_s if p else None, f="ms")
    return msg("findings.at_least", v=a) if p is not None and p.lower_bound else a


def _research(plan: Hypothesis, hyps: HypothesesReport, fnd: FindingsReport | None) -> list[Assessment]:
    total = hyps.platforms_in_catalog or 1
    computed = [h for h in hyps.items if h.after is not None]
    classes = {h.cls for h in hyps.items}
    budget = hyps.latency_budget_s
    lat = plan.after.latency_s if plan.after else None
    headroom = (budget - lat) / budget if budget and lat is not None else None
    lat_bound = plan.after is not None and plan.after.lower_bound
    rest = [h for h in hyps.items if h.id not in plan.components and h.id != plan.id
            and h.applicable and (h.speedup or 0) > 1.1]
    n_find = len(fnd.items) if fnd else 0
    return [
        _assess(criterion="depth", group="research", rating=_rate(len(classes), 6, 4),
                   args={"findings": Arg(v=n_find, f="int"), "hyps": Arg(v=len(computed), f="int"),
                         "classes": Arg(v=len(classes), f="int")}),
        _assess(criterion="applicability", group="research",
                   rating="unknown" if plan.meets_all is None else
                   ("good" if plan.meets_all else _rate(plan.gap_closed, 1.0, 0.5)),
                   args={"closed": Arg(v=plan.gap_closed, f="pct")},
                   variant="meets" if plan.meets_all else "gap"),
        _assess(criterion="novelty", group="research", rating="fair", args={
            "platform": Arg(v=plan.after.platform_name if plan.after else "", f="text")}),
        _assess(criterion="modularity", group="research",
                   rating=_rate(len(plan.components) or 1, 1, 3, higher_better=False),
                   args={"steps": Arg(v=len(plan.components) or 1, f="int")}),
        _assess(criterion="universality", group="research",
                   rating=_rate(plan.portability / total, 0.5, 0.2),
                   args={"n": Arg(v=plan.portability, f="int"), "total": Arg(v=total, f="int")}),
        # from a lower-bound latency the headroom is at most this: it grades nothing
        _assess(criterion="redundancy", group="research",
                   rating="unknown" if lat_bound else _rate(headroom, 0.3, 0.0),
                   args={"headroom": Arg(v=headroom, f="pct")},
                   variant=("budget_bound" if lat_bound else "budget") if headroom is not None
                   else "none"),
        _assess(criterion="flexibility", group="research", rating=_rate(len(rest), 3, 1),
                   args={"n": Arg(v=len(rest), f="int")}),
    ]


def _production(plan: Hypothesis, hyps: HypothesesReport, fnd: FindingsReport | None) -> list[Assessment]:
    a = plan.after
    cons = [o for o in plan.constraints if o.name != "fits"]
    passed = sum(o.verdict_after == "pass" for o in cons)
    unknown = sum(o.verdict_after == "unknown" for o in cons)
    sc = fnd.scaling if fnd else None
    k_raw = (sc.latency_exponent or sc.macs_exponent) if sc else None
    k = k_raw / sc.linear if sc and k_raw is not None else None
    # a power law that does not fit the points grades nothing: say so instead
    min_r2 = thresholds()["findings"]["scaling_min_r2"]
    poor_fit = sc is not None and sc.r2 is not None and sc.r2 < min_r2
    rel: Rating = {"low": "good", "medium": "fair", "high": "poor"}[plan.risk]  # type: ignore[assignment]
    if a is not None and a.lower_bound:
        rel = "poor" if rel == "poor" else "fair"
    sat: Rating = "unknown" if plan.meets_all is None else (
        "poor" if not plan.meets_all else ("fair" if plan.risk == "high" else "good"))
    return [
        _assess(criterion="reliability", group="production", rating=rel,
                   args={"risk": Arg(v=f"findings.level.{plan.risk}", f="key")},
                   variant="lower_bound" if a is not None and a.lower_bound else ""),
        # an upper bound on the speed-up (or a ratio of bounds) grades nothing
        _assess(criterion="speed", group="production",
                   rating=_rate(plan.speedup, 2.0, 1.2)
                   if plan.speedup_bound in ("value", "lower") else "unknown",
                   args={"before": _lat(plan.before), "after": _lat(a),
                         "x": speedup_param(plan.speedup, plan.speedup_bound)}),
        _assess(criterion="completeness", group="production",
                   rating="unknown" if not cons else _rate(passed / len(cons), 1.0, 0.5),
                   args={"passed": Arg(v=passed, f="int"), "total": Arg(v=len(cons), f="int"),
                         "unknown": Arg(v=unknown, f="int")},
                   variant="" if cons else "none"),
        _assess(criterion="scalability", group="production",
                   rating="unknown" if poor_fit else _rate(k, 1.15, 1.5, higher_better=False),
                   args={"k": Arg(v=k_raw, f="exp"), "r2": Arg(v=sc.r2 if sc else None, f="num"),
                         "axis": Arg(v=f"findings.axis.{fnd.scaling.axis}" if fnd and fnd.scaling
                                     else "findings.axis.batch", f="key")},
                   variant="poor_fit" if poor_fit and k is not None else
                   ("" if k is not None else "none")),
        _assess(criterion="energy", group="production",
                   rating=_rate(plan.energy_ratio, 0.5, 0.9, higher_better=False),
                   args={"before": Arg(v=plan.before.energy_mj), "after": Arg(v=a.energy_mj if a else None),
                         "ratio": Arg(v=plan.energy_ratio, f="x")},
                   variant="none" if plan.energy_ratio is None else
                   ("upper" if plan.before.energy_bound == "upper" else "")),
        _assess(criterion="requirements", group="production",
                   rating="unknown" if plan.meets_all is None else ("good" if plan.meets_all else "poor"),
                   args={"passed": Arg(v=passed, f="int"), "total": Arg(v=len(cons), f="int")},
                   variant="meets" if plan.meets_all else ("unknown" if plan.meets_all is None else "fails")),
        _assess(criterion="satisfaction", group="production", rating=sat,
                   args={"risk": Arg(v=f"findings.level.{plan.risk}", f="key")},
                   variant="unknown" if plan.meets_all is None else
                   ("meets" if plan.meets_all else "fails")),
    ]


def _principles(plan: Hypothesis, hyps: HypothesesReport, fnd: FindingsReport | None) -> list[Assessment]:
    hw = [h for h in hyps.items if h.cls == MethodClass.hardware and h.after is not None]
    # a lower bound never beats a prediction: it is the fastest only among other bounds
    best_hw = min(hw, key=lambda h: (bool(h.after and h.after.lower_bound),
                                     h.after.latency_s if h.after and h.after.latency_s is not None
                                     else 1e30)) if hw else None
    targeted = set(plan.targets)
    left = [f for f in (fnd.items if fnd else []) if f.id not in targeted]
    a = plan.after
    sc = fnd.scaling if fnd else None
    out = [
        _assess(criterion="hardware_for_task", group="principle", rating="unknown",
                   args={"target": Arg(v=hyps.baseline.platform_name, f="text"),
                         "lat": _lat(hyps.baseline),
                         "device": Arg(v=(best_hw.after.platform_name + " / " + best_hw.after.unit)
                                       if best_hw and best_hw.after else "", f="text"),
                         "lat2": _lat(best_hw.after if best_hw else None)},
                   variant="alt" if best_hw else "none"),
        _assess(criterion="sacrifice", group="principle", rating="unknown",
                   args={"x": speedup_param(plan.speedup, plan.speedup_bound),
                         "risk": Arg(v=f"findings.level.{plan.risk}", f="key"),
                         "effort": Arg(v=f"findings.level.{plan.effort}", f="key"),
                         "mem": Arg(v=plan.memory_ratio, f="x")}),
        _assess(criterion="postponed", group="principle", rating="unknown",
                   args={"n": Arg(v=len(left), f="int"),
                         "types": Arg(v=", ".join(dict.fromkeys(f.type.value for f in left)) or "—",
                                      f="text")},
                   variant="some" if left else "none"),
        _assess(criterion="support", group="principle", rating="unknown",
                   args={"maint": Arg(v=f"findings.level.{plan.maintenance}", f="key"),
                         "platform": Arg(v=a.platform_name if a else "", f="text"),
                         "precision": Arg(v=a.precision if a else "", f="text")}),
        _assess(criterion="evolves", group="principle", rating="unknown",
                   args={"axis": Arg(v=f"findings.axis.{sc.axis}" if sc else "findings.axis.batch", f="key"),
                         "factor": Arg(v=sc.factor if sc else None, f="x"),
                         "lat2": Arg(v=(sc.latency_scaled_s * (a.latency_s or 0) / sc.latency_s)
                                     if sc and sc.latency_s and sc.latency_scaled_s and a and a.latency_s
                                     else None, f="ms"),
                         "budget": Arg(v=hyps.latency_budget_s, f="ms")},
                   variant="scaled" if sc and sc.latency_s and sc.latency_scaled_s and a and a.latency_s
                   else "none"),
    ]
    return out


def build_tradeoffs(hyps: HypothesesReport, fnd: FindingsReport | None) -> TradeOffs:
    total = hyps.platforms_in_catalog
    rows = [TradeOffRow(hypothesis=h.id, method=h.method, cls=h.cls, applicable=h.applicable,
                        speedup=h.speedup, speedup_bound=h.speedup_bound,
                        memory_ratio=h.memory_ratio,
                        storage_ratio=h.storage_ratio, risk=h.risk, effort=h.effort,
                        portability=h.portability, portability_total=total,
                        maintenance=h.maintenance, meets_all=h.meets_all)
            for h in hyps.items]
    out = TradeOffs(rows=rows, plan=hyps.recommended)
    plan = hyps.get(hyps.recommended) if hyps.recommended else None
    if plan is None:
        return out
    out.plan_components = plan.components or [plan.id]
    out.research = _research(plan, hyps, fnd)
    out.production = _production(plan, hyps, fnd)
    out.principles = _principles(plan, hyps, fnd)
    return out


def published_accuracy(teacher: str | None, students: list[tuple[str, str]],
                       int8_hypothesis: str | None, read: Any) -> list[PublishedAccuracy]:
    """Rows for the teacher (torchvision name), the students ((hypothesis id, torchvision name))
    and the teacher's int8 variant; ``read(name, quantized)`` returns a
    ``models.published_accuracy.TorchvisionAccuracy`` or None. No teacher figure: no rows."""
    t = read(teacher, False) if teacher else None
    if t is None:
        return []

    def row(role: Literal["teacher", "student", "int8"], hyp: str | None, a: Any) -> PublishedAccuracy:
        return PublishedAccuracy(role=role, hypothesis=hyp, model=a.model,
                                 weights=a.weights, dataset=a.dataset, acc1_pct=a.acc1,
                                 acc5_pct=a.acc5, delta_acc1_pp=None if role == "teacher" else a.acc1 - t.acc1,
                                 source=a.source, based_on=a.based_on)
    out = [row("teacher", None, t)]
    for hid, name in students:
        a = read(name, False)
        if a is not None and a.dataset == t.dataset:
            out.append(row("student", hid, a))
    q = read(teacher, True)
    if q is not None and q.dataset == t.dataset:
        out.append(row("int8", int8_hypothesis, q))
    return out


def _torchvision_name(source: Any) -> str | None:
    """The builder name of a torchvision source built as published (no kwargs changing it)."""
    if getattr(source, "source", None) != "torchvision" or getattr(source, "kwargs", None):
        return None
    return str(source.name)


def _accuracy_rows(ctx: Context, hyps: HypothesesReport) -> list[PublishedAccuracy]:
    from reportgen.catalog.cards import load_card
    from reportgen.models.published_accuracy import torchvision_accuracy

    resolved = ctx.products.resolved
    teacher = _torchvision_name(resolved.source) if resolved is not None else None
    if teacher is None:
        return []
    students: list[tuple[str, str]] = []
    for h in hyps.items:
        if h.method != "distillation" or not h.id.startswith("distill_") or h.id == "distill_half_depth":
            continue
        try:
            name = _torchvision_name(load_card(h.id.removeprefix("distill_")).build)
        except Exception:  # not a card: no published row
            name = None
        if name is not None:
            students.append((h.id, name))
    int8 = "quant_int8" if hyps.get("quant_int8") is not None else None
    return published_accuracy(teacher, students, int8, torchvision_accuracy)


def stage(ctx: Context, result: StageResult) -> None:
    """Pipeline stage "tradeoffs": needs the hypotheses."""
    from reportgen.analysis.stage import StageSkipped

    if result.hypotheses is None:
        raise StageSkipped("no hypotheses to weigh", code="no_hypotheses")
    result.tradeoffs = build_tradeoffs(result.hypotheses, result.findings)
    result.tradeoffs.accuracy = _accuracy_rows(ctx, result.hypotheses)
