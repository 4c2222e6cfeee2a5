"""Pipeline stage ``findings``: the baseline estimate with its op rows, the scaling probe (from the
scaling stage or re-traced), then every registered finder.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from reportgen.analysis.counting.axes import AXES
from reportgen.analysis.counting.records import Trace
from reportgen.analysis.findings.finders import find_bottlenecks
from reportgen.analysis.findings.models import ScalingProbe
from reportgen.analysis.prediction.baseline import as_estimate, baseline_precision
from reportgen.analysis.prediction.estimates import PlatformEstimate
from reportgen.analysis.stage import Context
from reportgen.text import msg

if TYPE_CHECKING:
    pass

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


def _with_ops(est: PlatformEstimate | None, trace: Trace | None, platform: Any) -> PlatformEstimate | None:
    """``est`` with per-op rows for the baseline precision (the roofline stage keeps them for
    one precision only); re-predicted with the same assumptions when missing."""
    if est is None or trace is None or platform is None:
        return est
    pe = baseline_precision(est, trace.dtype)
    if pe is None or pe.ops or pe.status == "unsupported":
        return est
    from reportgen.analysis.prediction.baseline import efficiency_of
    from reportgen.analysis.prediction.roofline import estimate

    full = estimate(trace, platform, [pe.precision], batch_size=est.batch_size,
                    efficiency=efficiency_of(est)).per_precision[0]
    per = [full if x.precision == pe.precision else x for x in est.per_precision]
    return est.model_copy(update={"per_precision": per})


def stage(ctx: Context, result: Any) -> None:
    """Pipeline stage "findings": needs costs; uses the roofline, measurements and scaling when
    present and says what is missing otherwise."""
    from reportgen.analysis.findings.probe import scaling_probe

    trace = ctx.products.baseline_trace or ctx.products.trace
    platform = ctx.products.platform
    est = _with_ops(as_estimate(result.roofline), trace, platform)
    ctx.products.baseline_estimate = est
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


