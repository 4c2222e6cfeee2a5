"""How cost grows with input size: sweep the size that matters for the domain (cv: image side;
nlp: sequence length; speech: audio seconds; recsys: candidates) and the batch size, re-tracing on
meta at each point (counted), predicting on the target (roofline at the best precision), and
merging measured latencies from the measure stage where there are some.

Fits: y = c · x^k by least squares in log-log space (k = growth exponent), and a two-segment
fit that finds where the slope changes (e.g. attention's quadratic term taking over). A
constraint breaks at the first point whose predicted memory (weights + peak activations at the
precision) or latency exceeds the spec's ``memory_mb`` / ``latency_ms``, or the platform memory.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from reportgen.analysis.counting.axes import Axis, batch_axis, domain_axis, sorted_unique, with_size
from reportgen.analysis.measurement.models import Machine
from reportgen.analysis.measurement.timing import LatencyStats
from reportgen.analysis.stage import Context, StageResult
from reportgen.spec.schema import Inputs

SLOPE_CHANGE = 0.25  # a change of the log-log slope at least this big is reported
SWEEP_BUDGET_S = 60.0  # safety net only: stop re-tracing after this long (per sweep)
# Points per sweep are thinned by the size of the base trace, not by the clock, so snapshot
# builds stay deterministic: about this many traced ops per sweep, never fewer than 4 points.
SWEEP_OPS_BUDGET = 12_000
MIN_POINTS = 4


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ScalePoint(Strict):
    """One input size. Counted numbers at the traced dtype; predicted at ``Scaling.precision``."""

    value: float = Field(description="the swept size, in the axis unit")
    batch_size: int
    ok: bool = True
    error: str | None = None
    macs: int = 0
    flops: int = Field(0, description="2 × MACs + vector FLOPs")
    bytes_moved: int = Field(0, description="un-fused upper bound, B")
    peak_activation_bytes: int = 0
    weight_bytes: int = 0
    predicted_latency_s: float | None = None
    predicted_memory_bytes: float | None = Field(None, description="weights + peak activations "
                                                                    "at the precision, B")
    measured: LatencyStats | None = None


class PowerFit(Strict):
    """y = coefficient · x^exponent, least squares on log y vs log x."""

    exponent: float
    coefficient: float
    r2: float
    points: int


class SlopeChange(Strict):
    """Two-segment log-log fit: the slope changes at ``at_value``."""

    at_value: float
    slope_before: float
    slope_after: float


class Breaking(Strict):
    """Where a constraint stops holding along the sweep (predicted on the target)."""

    constraint: Literal["memory_mb", "latency_ms", "platform_memory"]
    limit: float
    unit: str
    last_ok_value: float | None
    first_fail_value: float
    value_at_fail: float = Field(description="predicted value at the first failing point")


class Sweep(Strict):
    axis: Axis
    unit: str
    base_value: float
    points: list[ScalePoint]
    fits: dict[str, PowerFit] = Field(default_factory=dict,
                                      description="flops, bytes, activations, predicted, measured")
    slope_change: dict[str, SlopeChange] = Field(default_factory=dict)
    breaks: list[Breaking] = Field(default_factory=list)
    notes: list[str] = Field(default_factory=list)


class Scaling(Strict):
    """The scaling stage's result. Counted: exact; predicted: on ``platform_id``."""

    platform_id: str | None
    platform_name: str | None
    precision: str | None
    sweeps: list[Sweep]
    measured_on: Machine | None = Field(None, description="machine of the measured points")


# ---------------------------------------------------------------------------- fits (pure)

def power_fit(xs: list[float], ys: list[float]) -> PowerFit | None:
    """Least squares of log y = log c + k log x over points with x, y > 0."""
    pts = [(math.log(x), math.log(y)) for x, y in zip(xs, ys, strict=True) if x > 0 and y > 0]
    if len(pts) < 2 or len({p[0] for p in pts}) < 2:
        return None
    n = len(pts)
    mx = sum(p[0] for p in pts) / n
    my = sum(p[1] for p in pts) / n
    sxx = sum((p[0] - mx) ** 2 for p in pts)
    k = sum((p[0] - mx) * (p[1] - my) for p in pts) / sxx
    b = my - k * mx
    ss_tot = sum((p[1] - my) ** 2 for p in pts)
    ss_res = sum((p[1] - (b + k * p[0])) ** 2 for p in pts)
    r2 = 1.0 - ss_res / ss_tot if ss_tot > 0 else 1.0
    return PowerFit(exponent=k, coefficient=math.exp(b), r2=r2, points=n)


def _sse(pts: list[tuple[float, float]]) -> tuple[float, float]:
    """(slope, residual sum of squares) of a straight-line fit."""
    n = len(pts)
    mx = sum(p[0] for p in pts) / n
    my = sum(p[1] for p in pts) / n
    sxx = sum((p[0] - mx) ** 2 for p in pts)
    if sxx == 0:
        return 0.0, 0.0
    k = sum((p[0] - mx) * (p[1] - my) for p in pts) / sxx
    return k, sum((p[1] - (my + k * (p[0] - mx))) ** 2 for p in pts)


def slope_change(xs: list[float], ys: list[float], min_change: float = SLOPE_CHANGE) -> SlopeChange | None:
    """The best two-segment log-log fit (segments share the break point, ≥ 2 points each, so
    ≥ 4 points are needed); reported when the slopes differ by at least ``min_change``."""
    pts = sorted((math.log(x), math.log(y)) for x, y in zip(xs, ys, strict=True) if x > 0 and y > 0)
    if len(pts) < 4:
        return None
    _, sse_one = _sse(pts)
    best: tuple[float, int, float, float] | None = None
    for i in range(1, len(pts) - 1):
        left, right = pts[: i + 1], pts[i:]
        if len(left) < 2 or len(right) < 2:
            continue
        k1, s1 = _sse(left)
        k2, s2 = _sse(right)
        if best is None or s1 + s2 < best[0]:
            best = (s1 + s2, i, k1, k2)
    if best is None:
        return None
    _, i, k1, k2 = best
    if abs(k2 - k1) < min_change or best[0] >= sse_one:
        return None
    return SlopeChange(at_value=float(f"{math.exp(pts[i][0]):.6g}"), slope_before=k1, slope_after=k2)


def first_break(values: list[float], predicted: list[float | None], limit: float,
                constraint: Literal["memory_mb", "latency_ms", "platform_memory"],
                unit: str) -> Breaking | None:
    """The first point (in ascending ``values``) whose prediction exceeds ``limit``."""
    last_ok: float | None = None
    for v, p in sorted(zip(values, predicted, strict=True), key=lambda t: t[0]):
        if p is None:
            continue
        if p > limit:
            return Breaking(constraint=constraint, limit=limit, unit=unit, last_ok_value=last_ok,
                            first_fail_value=v, value_at_fail=p)
        last_ok = v
    return None


# ---------------------------------------------------------------------------- sweep values

def thin(values: list[float], base: float, max_points: int) -> list[float]:
    """At most ``max_points`` of ``values``: the smallest, the base and the largest, then the
    ones nearest to log-evenly spaced sizes between them (sizes the other stages reuse, such as
    the batching hypothesis' batch 8 and half the sequence, fall on such points)."""
    ordered = sorted(values)
    if len(ordered) <= max_points:
        return ordered
    keep = {ordered[0], ordered[-1], base}
    slots = max(0, max_points - len(keep))
    lo, hi = math.log(max(ordered[0], 1e-9)), math.log(max(ordered[-1], 1e-9))
    for i in range(1, slots + 1):
        target = lo + (hi - lo) * i / (slots + 1)
        rest = [v for v in ordered if v not in keep]
        if not rest:
            break
        keep.add(min(rest, key=lambda v: (abs(math.log(max(v, 1e-9)) - target), v)))
    return sorted(v for v in keep if v in ordered)


def measured_values(values: list[float], base: float, count: int = 3) -> list[float]:
    """The few sweep points worth measuring: the smallest, the base and the next one up."""
    ordered = sorted(values)
    picks = [ordered[0], base]
    above = [v for v in ordered if v > base]
    if above:
        picks.append(above[0])
    return sorted_unique(picks)[:count]


# ---------------------------------------------------------------------------- the sweep

TraceFn = Callable[[Inputs], Any]  # Inputs -> Trace (raises on a failing forward)
PredictFn = Callable[[Any, int], tuple[float | None, float | None]]


def run_sweep(axis: Axis, unit: str, base: float, values: list[float], inputs: Inputs,
              trace_fn: TraceFn, predict: PredictFn | None,
              measured: dict[float, LatencyStats] | None = None,
              budget_s: float = SWEEP_BUDGET_S, limits: dict[str, float] | None = None,
              platform_memory_bytes: float | None = None) -> Sweep:
    """Trace every point (bounded by ``budget_s``), fit and find the breaking points."""
    t0 = time.perf_counter()
    points: list[ScalePoint] = []
    notes: list[str] = []
    for v in values:
        if time.perf_counter() - t0 > budget_s:
            notes.append(f"sweep stopped after {budget_s:g} s of tracing; larger sizes not traced")
            break
        inp = with_size(inputs, axis, v)
        try:
            tr = trace_fn(inp)
        except Exception as e:  # a size the model does not accept: recorded, sweep goes on
            msg = str(e).splitlines()[0] if str(e) else ""
            points.append(ScalePoint(value=v, batch_size=inp.batch_size, ok=False,
                                     error=f"{type(e).__name__}: {msg}"[:300]))
            continue
        macs = sum(r.macs for r in tr.records)
        pt = ScalePoint(value=v, batch_size=inp.batch_size, macs=macs,
                        flops=sum(r.total_flops for r in tr.records),
                        bytes_moved=sum(r.bytes_moved for r in tr.records),
                        peak_activation_bytes=tr.peak_activation_bytes, weight_bytes=tr.param_bytes)
        if predict is not None:
            pt.predicted_latency_s, pt.predicted_memory_bytes = predict(tr, inp.batch_size)
        if measured and v in measured:
            pt.measured = measured[v]
        points.append(pt)
    ok = [p for p in points if p.ok]
    failed = [p for p in points if not p.ok]
    if failed:
        notes.append(f"{len(failed)} size(s) not accepted by the model, e.g. {failed[0].value:g} "
                     f"{unit}: {failed[0].error}")
    xs = [p.value for p in ok]
    series: dict[str, list[float | None]] = {
        "flops": [float(p.flops) for p in ok], "bytes": [float(p.bytes_moved) for p in ok],
        "activations": [float(p.peak_activation_bytes) for p in ok],
        "predicted": [p.predicted_latency_s for p in ok],
        "measured": [p.measured.median_s if p.measured else None for p in ok]}
    fits: dict[str, PowerFit] = {}
    changes: dict[str, SlopeChange] = {}
    for name, ys in series.items():
        pairs = [(x, y) for x, y in zip(xs, ys, strict=True) if y is not None and y > 0]
        f = power_fit([p[0] for p in pairs], [p[1] for p in pairs]) if pairs else None
        if f is not None:
            fits[name] = f
        if name in ("flops", "predicted", "activations") and pairs:
            c = slope_change([p[0] for p in pairs], [p[1] for p in pairs])
            if c is not None:
                changes[name] = c
    breaks: list[Breaking] = []
    lim = limits or {}
    mem = [p.predicted_memory_bytes / 1e6 if p.predicted_memory_bytes is not None else None for p in ok]
    if "memory_mb" in lim:
        b = first_break(xs, mem, lim["memory_mb"], "memory_mb", "MB")
        if b:
            breaks.append(b)
    if "latency_ms" in lim:
        lat = [p.predicted_latency_s * 1e3 if p.predicted_latency_s is not None else None for p in ok]
        b = first_break(xs, lat, lim["latency_ms"], "latency_ms", "ms")
        if b:
            breaks.append(b)
    if platform_memory_bytes:
        b = first_break(xs, mem, platform_memory_bytes / 1e6, "platform_memory", "MB")
        if b:
            breaks.append(b)
    return Sweep(axis=axis, unit=unit, base_value=base, points=points, fits=fits,
                 slope_change=changes, breaks=breaks, notes=notes)


# ---------------------------------------------------------------------------- stage

def stage(ctx: Context, result: StageResult) -> None:
    """Pipeline stage ``scaling``: counted/predicted sweeps (also in snapshot mode)."""
    from reportgen.analysis.counting.retrace import retrace
    from reportgen.analysis.prediction.roofline import estimate

    resolved = ctx.products.need_resolved()
    plat = ctx.products.platform
    precisions = [p.value for p in ctx.spec.precisions]

    def trace_fn(inp: Inputs) -> Any:
        return retrace(ctx, inp)  # shared with the findings' probe and the hypotheses

    from reportgen.analysis.prediction.runtime import as_deployed, runtime_kind_of

    best: str | None = None
    if result.baseline is not None:  # one baseline (precision + runtime) for every section
        best = result.baseline.precision
    elif result.roofline is not None:  # the roofline stage already predicted this very trace
        best = result.roofline.best_precision
    elif plat is not None:
        best = estimate(ctx.products.need_trace(), plat, precisions,
                        batch_size=resolved.inputs.batch_size, keep_ops=False,
                        runtime_kind=runtime_kind_of(ctx)).best_precision

    def predict(tr: Any, batch: int) -> tuple[float | None, float | None]:
        if plat is None or best is None:
            return None, None
        pe = estimate(as_deployed(ctx, tr), plat, [best], batch_size=batch,
                      keep_ops=False, runtime_kind=runtime_kind_of(ctx)).get(best)
        if pe.status != "ok":
            return None, None
        return pe.predicted_latency_s, pe.weight_bytes + pe.peak_activation_bytes

    limits: dict[str, float] = {}
    if ctx.spec.constraints.memory_mb:
        limits["memory_mb"] = ctx.spec.constraints.memory_mb
    if ctx.spec.constraints.latency_ms:
        limits["latency_ms"] = ctx.spec.constraints.latency_ms
    cap = None
    if plat is not None:
        fig = plat.capacity()
        cap = fig.value * 1e9 if fig is not None and fig.value else None
    meas = result.measurements
    sized: dict[float, LatencyStats] = {}
    batched: dict[float, LatencyStats] = {}
    if meas is not None:
        sized = {s.value: s.latency for s in meas.run.sizes}
        batched = {float(b.batch_size): b.latency for b in meas.run.batches}
    sweeps = []
    base_ops = max(1, len(ctx.products.need_trace().records))
    max_points = max(MIN_POINTS, SWEEP_OPS_BUDGET // base_ops)
    for axis, unit, base, values in (domain_axis(resolved.domain.value, resolved.inputs),
                                     batch_axis(resolved.inputs)):
        # the batch axis is expected to be linear: 3 points show it; the domain axis keeps 4 so
        # that a change of slope (attention's quadratic term) can be detected
        values = thin(values, base, max_points if axis != "batch_size" else max(3, max_points - 1))
        sweeps.append(run_sweep(axis, unit, base, values, resolved.inputs, trace_fn, predict,
                                measured=batched if axis == "batch_size" else sized,
                                limits=limits, platform_memory_bytes=cap))
    result.scaling = Scaling(platform_id=plat.id if plat else None,
                             platform_name=plat.name if plat else None, precision=best,
                             sweeps=sweeps,
                             measured_on=meas.run.machine if meas is not None else None)
