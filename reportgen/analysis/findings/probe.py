"""Re-trace the study's model at other inputs on meta tensors (cheap: nothing is allocated):
the scaling probe of the findings stage, and the smaller-input / batching / student hypotheses.

Sizes per domain: cv = pixels (height × width), nlp = tokens (sequence length), speech = seconds
of audio, recsys = samples per batch. Exponents k are of cost ∝ size^k.
"""

from __future__ import annotations

import math
from typing import Any

from reportgen.analysis.counting.axes import scaled_inputs
from reportgen.analysis.counting.retrace import retrace
from reportgen.analysis.findings.models import ScalingProbe, thresholds
from reportgen.analysis.prediction.baseline import efficiency_of
from reportgen.analysis.prediction.estimates import PlatformEstimate
from reportgen.analysis.prediction.roofline import estimate
from reportgen.analysis.stage import Context, StageResult


def scaling_probe(ctx: Context, result: StageResult, est: PlatformEstimate | None,
                  platform: Any) -> ScalingProbe | None:
    """Cost at the spec's input and at ``scaling_factor`` × its size (re-traced on meta)."""
    trace = ctx.products.baseline_trace or ctx.products.trace
    resolved = ctx.products.resolved
    if trace is None or resolved is None:
        return None
    factor = float(thresholds()["findings"]["scaling_factor"])
    inputs2, axis, size, achieved = scaled_inputs(resolved.inputs, resolved.domain.value, factor)
    from reportgen.analysis.prediction.runtime import as_deployed

    trace2 = as_deployed(ctx, retrace(ctx, inputs2))
    macs1 = sum(r.macs for r in trace.records)
    macs2 = sum(r.macs for r in trace2.records)
    lf = math.log(achieved) if achieved > 1 else None
    kmacs = math.log(macs2 / macs1) / lf if lf and macs1 and macs2 else 1.0
    probe = ScalingProbe(axis=axis, size=size, factor=achieved, macs=macs1, macs_scaled=macs2,
                         macs_exponent=kmacs, origin="counted")
    if est is not None and platform is not None:
        from reportgen.analysis.prediction.baseline import baseline_precision

        pe = baseline_precision(est, trace.dtype)
        if pe is not None and pe.predicted_latency_s:
            e2 = estimate(trace2, platform, [pe.precision], batch_size=est.batch_size,
                          efficiency=efficiency_of(est), keep_ops=False)
            lat2 = e2.per_precision[0].predicted_latency_s
            probe.latency_s, probe.latency_scaled_s = pe.predicted_latency_s, lat2
            probe.origin = "predicted"
            if lat2 and lf:
                k = math.log(lat2 / pe.predicted_latency_s) / lf
                probe.latency_exponent = k
                budget = ctx.spec.constraints.latency_ms
                if budget and k > 0.05:
                    probe.budget_size = size * (budget / 1e3 / pe.predicted_latency_s) ** (1 / k)
    return probe


