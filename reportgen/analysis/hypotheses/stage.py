"""Pipeline stage ``hypotheses``: every registered method's hypotheses for this study, ranked, the
combination of the best compatible ones, and the plan chosen as a team would choose it.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

from reportgen.analysis.hypotheses.models import HypothesesReport, Hypothesis, MethodClass
from reportgen.analysis.hypotheses.study import Study, Variant, build_study, predict
from reportgen.analysis.stage import Context, StageResult

if TYPE_CHECKING:
    pass

def rank(items: list[Hypothesis]) -> list[Hypothesis]:
    """Meets everything first, then by how much of the worst constraint gap is closed, then by
    speed-up; not applicable last."""
    from reportgen.analysis.hypotheses.plan import changes_task

    def key(h: Hypothesis) -> tuple[float, ...]:
        other_task = changes_task(h)  # meets the budget by changing what is asked
        # a lower bound never ranks above a full prediction
        return (0 if h.applicable else 1, 1 if other_task else 0,
                1 if h.after is not None and h.after.lower_bound else 0,
                0 if h.meets_all else 1,
                -(h.gap_closed if h.gap_closed is not None else -math.inf),
                -(h.speedup or 0.0))
    out = sorted(items, key=lambda h: (key(h), h.id))
    for i, h in enumerate(out, 1):
        h.rank = i
    return out


def generate(s: Study) -> HypothesesReport:
    from reportgen.analysis.hypotheses import methods as _registers  # noqa: F401  (registers the course's generators)
    from reportgen.analysis.hypotheses import plan
    from reportgen.analysis.hypotheses.registry import all_methods
    from reportgen.catalog.platforms import load_catalog

    bp, _ = predict(s, Variant(s.trace, s.platform, s.precision))
    rep = HypothesesReport(baseline=bp, platforms_in_catalog=len(load_catalog()),
                           latency_budget_s=s.constraints.latency_ms / 1e3
                           if s.constraints.latency_ms else None)
    items: list[Hypothesis] = []
    for m in all_methods():  # the registry, in each generator's order
        try:
            items += m.fn(s)
        except Exception as e:  # one method failing must not lose the others
            rep.missing.append(f"{m.name}: {type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''}")
    items = [h for h in items if h.after is not None or not h.applicable]
    combo = plan.combined(s, items)
    if combo is not None:
        items.append(combo)
    rep.items = rank(items)
    rep.alone_meet = [h.id for h in rep.items if h.meets_all and h.cls != MethodClass.combined]
    (rep.recommended, rep.plan_kind, rep.runner_up,
     rep.runner_up_lost) = plan.choose_plan(rep.items, s.platform.id)
    outcomes = next((h.constraints for h in rep.items if h.constraints), [])
    before = [o.verdict_before for o in outcomes if o.name != "fits" or o.verdict_before != "unknown"]
    rep.baseline_fails = [o.name for o in outcomes if o.verdict_before == "fail"]
    rep.to_measure = [o.name for o in outcomes if o.verdict_before == "unknown" and o.name != "fits"]
    if before:
        rep.baseline_meets = None if "unknown" in before else all(x == "pass" for x in before)
    return rep


def stage(ctx: Context, result: StageResult) -> None:
    """Pipeline stage "hypotheses": needs the trace and the platform."""
    from reportgen.analysis.stage import StageSkipped

    s = build_study(ctx, result)
    if s is None:
        raise StageSkipped("the hypotheses need the op trace and a platform with a runnable "
                           "precision", hint="check the platform and precisions in the spec",
                           code="hypotheses_need_trace")
    result.hypotheses = generate(s)
    ctx.products.study = s


