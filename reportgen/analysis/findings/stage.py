"""Pipeline stage ``findings``: the roofline stage's estimate (it keeps every precision's op rows),
the scaling probe (from the scaling stage or re-traced), then every registered finder.
"""

from __future__ import annotations

from typing import Any

from reportgen.analysis.counting.axes import AXES
from reportgen.analysis.findings.finders import find_bottlenecks
from reportgen.analysis.findings.models import ScalingProbe
from reportgen.analysis.prediction.baseline import as_estimate
from reportgen.analysis.stage import Context, StageResult
from reportgen.text import msg


def probe_from_scaling(scaling: Any, budget_s: float | None) -> ScalingProbe | None:
    """The scaling stage's first size sweep (not batch) as a ScalingProbe, or None."""
    sweeps = getattr(scaling, "sweeps", None) or []
    sw = next((x for x in sweeps if x.axis != "batch_size"), None)
    if sw is None or "flops" not in sw.fits:
        return None
    ok = [p for p in sw.points if p.ok]
    if len(ok) < 2:
        return None
    lo = min(ok, key=lambda p: abs(p.value - sw.base_value))
    hi = max(ok, key=lambda p: p.value)
    pred = sw.fits.get("predicted")
    meas = sw.fits.get("measured")
    k = meas.exponent if meas is not None else (pred.exponent if pred is not None else None)
    brk = next((b for b in sw.breaks if b.constraint == "latency_ms"), None)
    return ScalingProbe(axis=sw.axis, size=sw.base_value, factor=hi.value / lo.value if lo.value else 1.0,
                        macs=lo.macs, macs_scaled=hi.macs, latency_s=lo.predicted_latency_s,
                        latency_scaled_s=hi.predicted_latency_s,
                        macs_exponent=sw.fits["flops"].exponent, latency_exponent=k,
                        linear=AXES[sw.axis].linear,
                        budget_size=brk.first_fail_value if brk is not None and budget_s else None,
                        r2=(meas or pred or sw.fits["flops"]).r2,
                        origin="measured" if meas is not None else "predicted")


def stage(ctx: Context, result: StageResult) -> None:
    """Pipeline stage "findings": needs costs; uses the roofline, measurements and scaling when
    present and says what is missing otherwise."""
    from reportgen.analysis.findings.probe import scaling_probe

    trace = ctx.products.baseline_trace or ctx.products.trace
    platform = ctx.products.platform
    est = as_estimate(result.roofline)  # the roofline stage's, with every precision's op rows
    budget = ctx.spec.constraints.latency_ms
    probe = probe_from_scaling(result.scaling, budget) if result.scaling is not None else None
    if probe is None:
        try:
            probe = scaling_probe(ctx, result, est, platform)
        except Exception as e:  # the probe is optional: a model that cannot re-trace is noted
            result.warning_msgs.append(msg("warning.probe_skipped", error=f"{type(e).__name__}: "
                                           f"{str(e).splitlines()[0] if str(e) else ''}"))
    result.findings = find_bottlenecks(trace, result.costs, est, platform, ctx.spec.constraints,
                                       measurements=result.measurements, probe=probe)


