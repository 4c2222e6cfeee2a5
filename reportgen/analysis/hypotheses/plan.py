"""Hypothesis generators, one per class of the course. Each builds a Variant (a transformed or
re-traced Trace on a platform at a precision) and evaluates it with the roofline
(``hypotheses.evaluate``). Catalog keys: ``findings.hyp.<method>.*``."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

from reportgen.analysis.findings.models import Arg
from reportgen.analysis.hypotheses import transforms as tf
from reportgen.analysis.hypotheses.models import CHANGES_REQUIREMENT, Hypothesis, MethodClass
from reportgen.analysis.hypotheses.study import Study, Variant, evaluate, make, predict

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
            scored.append((pr.latency_s, len(comps), v, comps))
    if not scored:
        return None
    budget = s.constraints.latency_ms / 1e3 if s.constraints.latency_ms else None
    meeting = [x for x in scored if budget is not None and x[0] <= budget]
    _, _, v, comps = min(meeting, key=lambda x: (x[1], x[0])) if meeting else min(scored, key=lambda x: x[0])
    fusion = next((h for h in items if h.method == "opt_fusion"), None)
    ids = [h.id for h in comps] + ([fusion.id] if fusion else [])
    risk = max((h.risk for h in comps), key=lambda r: _RISK[r])
    h = make(s, "combined", MethodClass.combined, hid="combined", components=ids, risk=risk,  # type: ignore[arg-type]
             targets=sorted({t for c in comps for t in c.targets}),
             prerequisites=sorted({p for c in comps for p in c.prerequisites}),
             portability=min(c.portability for c in comps),
             mechanism_args={"stack": Arg(v=" + ".join(ids), f="code"),
                             "platform": Arg(v=v.platform.name, f="text"),
                             "precision": Arg(v=v.precision, f="text")})
    return evaluate(s, h, dataclasses.replace(v))





_CHANGES_TASK = (CHANGES_REQUIREMENT, "findings.note.student_other_task")


def changes_task(h: Hypothesis) -> bool:
    """A hypothesis that meets the budget by changing what is asked (less context, lower
    resolution, a student for another task) is only recommended when nothing else works."""
    return any(n in h.notes for n in _CHANGES_TASK)


def recommend(items: list[Hypothesis]) -> str | None:
    """The cheapest single hypothesis that meets every constraint without changing the task;
    else the combined stack; else the top-ranked one."""
    single = [h for h in items if h.meets_all and h.cls != MethodClass.combined and h.applicable
              and (h.speedup or 0) > 1.05 and not changes_task(h)]
    if single:
        return min(single, key=lambda h: (_RISK[h.risk] + _RISK[h.effort] + _RISK[h.maintenance],
                                          h.rank)).id
    combo = next((h for h in items if h.cls == MethodClass.combined), None)
    if combo is not None and combo.applicable:
        return combo.id
    safe = [h for h in items if h.applicable and h.risk != "high" and (h.speedup or 0) > 1.05]
    return safe[0].id if safe else (items[0].id if items else None)


