"""How a finding is scored and placed, shared by every finder: severity from impact, why a share
of the latency matters against the budget (a ``Msg``), the slowest op of a group, its location,
and a median. No torch.
"""

from __future__ import annotations

from typing import Literal

from reportgen.analysis.counting.records import OpRecord
from reportgen.analysis.findings.models import Location, thresholds
from reportgen.analysis.prediction.estimates import OpEstimate
from reportgen.text import Arg, Msg, msg


def severity_of(impact: float) -> Literal["blocking", "high", "medium", "low"]:
    th = thresholds()["findings"]["severity"]
    if impact > 1:
        return "blocking"
    return "high" if impact >= th["high"] else "medium" if impact >= th["medium"] else "low"


def why_time(time_s: float, total: float | None, budget: float | None, *,
             lower_bound: bool = False) -> Msg:
    """Why a share of the latency matters: against the budget, when there is one.
    ``lower_bound``: ``total`` is only a lower bound, so the gap is at least and the headroom
    at most what it shows (the sentence says so)."""
    args = {"time": Arg(v=time_s, f="ms"), "total": Arg(v=total, f="ms")}
    sfx = "_bound" if lower_bound else ""
    if budget is None or total is None:
        return msg("findings.why.latency_none" + sfx, **args)
    args["budget"] = Arg(v=budget, f="ms")
    if total > budget:
        args["gap"] = Arg(v=total - budget, f="ms")
        args["closes"] = Arg(v=min(1.0, time_s / (total - budget)), f="pct")
        return msg("findings.why.latency_over" + sfx, **args)
    args["headroom"] = Arg(v=(budget - total) / budget, f="pct")
    return msg("findings.why.latency_within" + sfx, **args)


def slowest(ops: list[tuple[OpEstimate, OpRecord]]) -> tuple[OpEstimate, OpRecord]:
    return max(ops, key=lambda p: (p[0].predicted_time_s or 0.0, -p[0].index))


def location_of(r: OpRecord) -> Location:
    return Location(module=r.module or "<model>", op=r.op, layer_type=r.module_type)


def median(xs: list[float]) -> float | None:
    """Median of the positive values (ops without FLOPs do not define an intensity)."""
    xs = sorted(x for x in xs if x is not None and x > 0)
    return xs[len(xs) // 2] if xs else None
