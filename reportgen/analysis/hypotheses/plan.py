"""Hypothesis generators, one per class of the course. Each builds a Variant (a transformed or
re-traced Trace on a platform at a precision) and evaluates it with the roofline
(``hypotheses.evaluate``). Catalog keys: ``findings.hyp.<method>.*``."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Literal

from reportgen.analysis.hypotheses import transforms as tf
from reportgen.analysis.hypotheses.models import (
    CHANGES_REQUIREMENT,
    Hypothesis,
    MethodClass,
    hyp_msg,
)
from reportgen.analysis.hypotheses.study import Study, Variant, evaluate, make, predict
from reportgen.text import Arg

_RISK = {"low": 0, "medium": 1, "high": 2}


def _best(items: list[Hypothesis], pred: Callable[[Hypothesis], bool], *, need_fit: bool = True,
          by_memory: bool = False) -> Hypothesis | None:
    # lower-bound predictions only count when the baseline itself is one (unsourced peaks)
    lb_ok = any(h.before.lower_bound for h in items)
    ok = [h for h in items if h.applicable and h.after is not None and pred(h)
          and ((h.speedup or 0) > 1.0 or by_memory) and (lb_ok or not h.after.lower_bound)
          and (h.after.fits != "fail" or not need_fit)]
    if by_memory:
        return min(ok, key=lambda h: (h.memory_ratio or 1.0, h.id), default=None)
    return max(ok, key=lambda h: (h.speedup or 0.0, h.id), default=None)


def combined(s: Study, items: list[Hypothesis]) -> Hypothesis | None:
    """A concrete stack: best low/medium-risk structural change + best quantization + fusion,
    with the best other unit/device when it makes the stack faster."""
    capacity = bool(s.findings and s.findings.of_type("capacity"))
    structural = _best(items, lambda h: (h.cls in (MethodClass.distillation, MethodClass.architectural) or
                                         h.method == "prune_structured") and h.risk != "high",
                       need_fit=False, by_memory=capacity)
    quant = _best(items, lambda h: h.cls == MethodClass.quantization and h.risk != "high")
    if quant is None:
        quant = _best(items, lambda h: h.cls == MethodClass.quantization, need_fit=False)
    hw = _best(items, lambda h: h.cls == MethodClass.hardware)
    parts = [h for h in (structural, quant) if h is not None]
    if not parts:
        return None
    base_trace = s.variants[structural.id].trace if structural else s.trace
    trace = tf.fuse(base_trace)
    prec = quant.after.precision if quant and quant.after else s.precision
    options: list[tuple[Variant, list[Hypothesis]]] = []
    if s.platform.runs(prec):
        options.append((Variant(trace, s.platform, prec), parts))
    if hw is not None:
        plat = s.variants[hw.id].platform
        p = prec if plat.runs(prec) else s.variants[hw.id].precision
        options.append((Variant(trace, plat, p), parts + [hw]))
    scored = []
    for v, comps in options:
        pr, _ = predict(s, v)
        if pr.latency_s is not None and pr.status in ("ok", "unknown"):
            scored.append((pr.latency_s, len(comps), v, comps, pr.lower_bound))
    # a lower bound is smaller than any prediction of the same thing: it never wins over one
    scored = [x for x in scored if not x[4]] or scored
    if not scored:
        return None
    budget = s.constraints.latency_ms / 1e3 if s.constraints.latency_ms else None
    meeting = [x for x in scored if budget is not None and x[0] <= budget]
    _, _, v, comps, _ = (min(meeting, key=lambda x: (x[1], x[0])) if meeting
                         else min(scored, key=lambda x: x[0]))
    fusion = next((h for h in items if h.method == "opt_fusion"), None)
    ids = [h.id for h in comps] + ([fusion.id] if fusion else [])
    risk = max((h.risk for h in comps), key=lambda r: _RISK[r])
    h = make(s, "combined", MethodClass.combined, hid="combined", components=ids, risk=risk,
             targets=sorted({t for c in comps for t in c.targets}),
             prerequisites=sorted({p for c in comps for p in c.prerequisites}),
             portability=min(c.portability for c in comps),
             mechanism=hyp_msg("combined", "mechanism", stack=Arg(v=" + ".join(ids), f="code"),
                             platform=Arg(v=v.platform.name, f="text"),
                             precision=Arg(v=v.precision, f="text")))
    return evaluate(s, h, dataclasses.replace(v))





_CHANGES_TASK = (CHANGES_REQUIREMENT, "findings.note.student_other_task")


def changes_task(h: Hypothesis) -> bool:
    """A hypothesis that meets the budget by changing what is asked (less context, lower
    resolution, a student for another task) is only recommended when nothing else works."""
    return any(n in h.notes for n in _CHANGES_TASK)


PlanKind = Literal["none_needed", "measure_first", "software", "power_mode", "other_unit",
                   "new_hardware", "combined", "partial", "none"]

#: constraints the deployment hinges on: when one of them cannot be judged, "no acceleration
#: needed" cannot be said either; the plan is to measure it first
DECIDING = ("latency_ms", "throughput_per_s")


def _tier(h: Hypothesis, target_id: str) -> int:
    """0: software or configuration on the given target; 1: a stack of changes or another unit
    of the same platform; 2: new hardware."""
    if h.after is not None and h.after.platform_id != target_id:
        return 2
    if h.method == "hw_unit" or h.cls == MethodClass.combined:
        return 1
    return 0


def _cost(h: Hypothesis) -> int:
    return _RISK[h.risk] + _RISK[h.effort] + _RISK[h.maintenance]


def closes_every_gap(h: Hypothesis) -> bool:
    """No judged constraint fails after the change (unknown ones are left to measure)."""
    return h.applicable and h.after is not None and all(
        o.verdict_after != "fail" for o in h.constraints)


def _kind(h: Hypothesis, target_id: str) -> PlanKind:
    if h.method == "hw_power_mode":
        return "power_mode"
    if h.cls == MethodClass.combined:
        return "new_hardware" if _tier(h, target_id) == 2 else "combined"
    if h.method == "hw_unit":
        return "other_unit"
    return "new_hardware" if _tier(h, target_id) == 2 else "software"


def settles_power(h: Hypothesis) -> bool:
    """A power mode of the given target under which the power budget passes where the default
    (top) mode leaves it unknown or failing, without breaking another judged constraint."""
    power = next((o for o in h.constraints if o.name == "power_w"), None)
    return (h.method == "hw_power_mode" and power is not None and power.verdict_before != "pass"
            and power.verdict_after == "pass" and closes_every_gap(h))


def _lost(winner: Hypothesis, runner: Hypothesis, target_id: str) -> str:
    """Catalog key: why the runner-up lost to the winner."""
    if settles_power(winner) and not settles_power(runner):
        return "findings.plan2.lost_power"
    if not closes_every_gap(runner) and closes_every_gap(winner):
        return "findings.plan2.lost_gap"
    if runner.after is not None and runner.after.lower_bound and not (
            winner.after is not None and winner.after.lower_bound):
        return "findings.plan2.lost_lower_bound"
    if _tier(runner, target_id) > _tier(winner, target_id):
        return "findings.plan2.lost_hardware" if _tier(runner, target_id) == 2 \
            else "findings.plan2.lost_stack"
    if _cost(runner) > _cost(winner):
        return "findings.plan2.lost_effort"
    return "findings.plan2.lost_slower"


def choose_plan(items: list[Hypothesis], target_id: str
                ) -> tuple[str | None, PlanKind, str | None, str | None]:
    """(recommended id, plan kind, runner-up id, catalog key of why the runner-up lost).

    As a team chooses: if the baseline already meets every constraint that can be judged, no
    acceleration is needed and at most the cheapest software headroom on the target is named;
    but when latency or throughput (what the deployment hinges on) cannot be judged, the plan
    is to measure it first, with the cheapest software change on the target as the fallback.
    When the default (top) power mode leaves the power budget unknown or failing and a lower
    mode of the target passes it and keeps every other judged constraint, the plan is that mode.
    Otherwise, among the plans that close every judged gap: software and configuration on the
    given target before a stack or another unit, before new hardware; then the least effort,
    risk and maintenance; then the fastest. Unknown constraints do not decide. A lower-bound
    prediction never beats a full one; a change of the task is the last resort."""
    if not items:
        return None, "none", None, None
    base_lb = items[0].before.lower_bound
    outcomes = next((h.constraints for h in items if h.constraints), [])
    gaps = [o for o in outcomes if o.verdict_before == "fail"]
    usable = [h for h in items if h.applicable and h.after is not None
              and (base_lb or not h.after.lower_bound)]
    modes = sorted((h for h in usable if settles_power(h)), key=lambda h: (-(h.speedup or 0), h.id))
    if modes:  # the fastest mode whose draw fits the budget and keeps every other constraint
        others = [h for h in usable if h is not modes[0] and closes_every_gap(h)
                  and not changes_task(h) and _tier(h, target_id) == 0]
        others.sort(key=lambda h: (_cost(h), -(h.speedup or 0), h.id))
        runner = modes[1] if len(modes) > 1 else (others[0] if others else None)
        return (modes[0].id, "power_mode", runner.id if runner else None,
                _lost(modes[0], runner, target_id) if runner else None)
    if not gaps:
        headroom = [h for h in usable if _tier(h, target_id) == 0 and (h.speedup or 0) > 1.05
                    and closes_every_gap(h) and not changes_task(h) and h.method != "opt_batching"]
        headroom.sort(key=lambda h: (_cost(h), -(h.speedup or 0), h.id))
        best = headroom[0] if headroom else None
        runner = headroom[1] if len(headroom) > 1 else None
        unjudged = any(o.name in DECIDING and o.verdict_before == "unknown" for o in outcomes)
        return (best.id if best else None, "measure_first" if unjudged else "none_needed",
                runner.id if runner else None,
                _lost(best, runner, target_id) if best and runner else None)
    def key(h: Hypothesis) -> tuple[int, int, float, str]:
        return (_tier(h, target_id), _cost(h), -(h.speedup or 0), h.id)
    closing = sorted((h for h in usable if closes_every_gap(h) and not changes_task(h)), key=key)
    if not closing:
        closing = sorted((h for h in usable if closes_every_gap(h)), key=key)
    if closing:
        best = closing[0]
        others = closing[1:] or sorted((h for h in usable if h is not best),
                                       key=lambda h: (-(h.gap_closed or 0), *key(h)))
        runner = others[0] if others else None
        return (best.id, _kind(best, target_id), runner.id if runner else None,
                _lost(best, runner, target_id) if runner else None)
    partial = sorted((h for h in usable if (h.gap_closed or 0) > 0 and not changes_task(h)),
                     key=lambda h: (-(h.gap_closed or 0), *key(h)))
    if partial:
        runner = partial[1] if len(partial) > 1 else None
        return (partial[0].id, "partial", runner.id if runner else None,
                _lost(partial[0], runner, target_id) if runner else None)
    return None, "none", None, None


def recommend(items: list[Hypothesis], target_id: str | None = None) -> str | None:
    """The recommended hypothesis id (see ``choose_plan``)."""
    target = target_id or (items[0].before.platform_id if items else "")
    return choose_plan(items, target)[0]
