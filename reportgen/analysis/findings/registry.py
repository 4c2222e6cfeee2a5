"""The finder and insight registries: a finder is one function registered with its metadata.

``@finder(FindingType.x, order=n)`` registers ``fn(ctx: FinderContext) -> list[Finding]``;
``find_bottlenecks`` calls every registered finder in ``order`` and ranks the union by impact.
``@insight(order=n)`` does the same for the facts in ``insights.py``
(``fn(ctx) -> list[Insight]``). Registering a name twice raises, as torch's
``register_flop_formula`` does. No torch.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from reportgen.analysis.findings.models import Finding, FindingType, Insight, ScalingProbe

if TYPE_CHECKING:
    from reportgen.analysis.counting.costs import CostAnalysis
    from reportgen.analysis.counting.records import OpRecord, Trace
    from reportgen.analysis.prediction.estimates import (
        OpEstimate,
        PlatformEstimate,
        PrecisionEstimate,
    )
    from reportgen.catalog.schema import Platform
    from reportgen.spec.schema import Constraints


@dataclass
class FinderContext:
    """What every finder may read. ``pe`` is the baseline precision's estimate (None without a
    roofline); ``pairs`` joins its per-op rows with the trace records (empty without them);
    ``budget_s`` is the latency budget in seconds; ``measurements`` only when they may inform
    this platform (``usable_measurements``)."""

    trace: Trace | None
    costs: CostAnalysis | None
    est: PlatformEstimate | None
    platform: Platform | None
    constraints: Constraints | None
    measurements: Any
    probe: ScalingProbe | None
    pe: PrecisionEstimate | None
    pairs: list[tuple[OpEstimate, OpRecord]] = field(default_factory=list)
    budget_s: float | None = None
    precision: str = "fp32"


FinderFn = Callable[[FinderContext], list[Finding]]
InsightFn = Callable[[FinderContext], list[Insight]]


@dataclass(frozen=True)
class FinderInfo:
    name: str
    type: FindingType | None  # None: an insight (a fact, not a bottleneck class)
    order: int
    fn: Callable[[FinderContext], list[Any]]


_FINDERS: dict[str, FinderInfo] = {}
_INSIGHTS: dict[str, FinderInfo] = {}


def _register(table: dict[str, FinderInfo], type_: FindingType | None, order: int,
              name: str | None) -> Callable[[Callable[[FinderContext], list[Any]]],
                                            Callable[[FinderContext], list[Any]]]:
    def deco(fn: Callable[[FinderContext], list[Any]]) -> Callable[[FinderContext], list[Any]]:
        key = name or fn.__name__.lstrip("_")
        if key in table:
            raise RuntimeError(f"{key!r} is registered already")
        table[key] = FinderInfo(name=key, type=type_, order=order, fn=fn)
        return fn
    return deco


def finder(type_: FindingType, *, order: int, name: str | None = None) -> Callable[[FinderFn], FinderFn]:
    """Register a finder producing findings of ``type_``; finders run in ascending ``order``."""
    return _register(_FINDERS, type_, order, name)


def insight(*, order: int, name: str | None = None) -> Callable[[InsightFn], InsightFn]:
    """Register an insight function; insights are listed in ascending ``order``."""
    return _register(_INSIGHTS, None, order, name)


def finders() -> list[FinderInfo]:
    return sorted(_FINDERS.values(), key=lambda f: (f.order, f.name))


def insight_fns() -> list[FinderInfo]:
    return sorted(_INSIGHTS.values(), key=lambda f: (f.order, f.name))


def unregister(name: str) -> None:
    """Remove a finder or insight (tests that register toys clean up with this)."""
    _FINDERS.pop(name, None)
    _INSIGHTS.pop(name, None)


@contextmanager
def registered(fn: FinderFn, type_: FindingType, *, order: int) -> Iterator[None]:
    """``fn`` registered as a finder for the duration of the block."""
    name = fn.__name__.lstrip("_")
    finder(type_, order=order, name=name)(fn)
    try:
        yield
    finally:
        unregister(name)
