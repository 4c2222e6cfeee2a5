"""Re-trace the study's model at other inputs on meta tensors (cheap: nothing is allocated):
the scaling probe of the findings stage, and the smaller-input / batching / student hypotheses.

Sizes per domain: cv = pixels (height × width), nlp = tokens (sequence length), speech = seconds
of audio, recsys = samples per batch. Exponents k are of cost ∝ size^k.
"""

from __future__ import annotations

import dataclasses
import math
from pathlib import Path
from typing import Any

from reportgen.analysis.findings import ScalingProbe, thresholds
from reportgen.analysis.records import Trace
from reportgen.analysis.roofline import Efficiency, PlatformEstimate, estimate
from reportgen.spec import Inputs


def efficiency_of(est: PlatformEstimate | None) -> Efficiency | None:
    """The η and overhead the roofline stage used, to predict variants alike."""
    if est is None:
        return None
    a = est.assumptions
    return Efficiency(eta_c=a.eta_c, eta_m=a.eta_m, op_overhead_us=a.op_overhead_us)


def retrace(ctx: Any, inputs: Inputs, resolved: Any = None) -> Trace:
    """Build the (or another resolved) model with ``inputs`` on meta and trace one forward.

    Traces are shared through ``ctx.products["trace_cache"]``: the scaling sweep, the findings'
    probe and the hypotheses often ask for the same input sizes."""
    from reportgen.analysis.trace import trace_forward
    from reportgen.models.build import build

    res = dataclasses.replace(resolved or ctx.products["resolved"], inputs=inputs)
    cache = ctx.products.setdefault("trace_cache", {}) if hasattr(ctx, "products") else {}
    key = (res.source.model_dump_json(), inputs.model_dump_json())
    if key in cache:
        return cache[key]
    base = ctx.spec_path.parent if getattr(ctx, "spec_path", None) else Path.cwd()
    loaded = build(res, device="meta", base_dir=base, allow_code=getattr(ctx, "allow_code", False))
    args, kwargs = loaded.make_inputs("meta")
    if loaded.prepare is not None:
        args, kwargs = loaded.prepare(loaded.module, args, kwargs)
    trace, _, _ = trace_forward(loaded.module, args, kwargs, int_scalar=loaded.meta_int_scalar)
    cache[key] = trace
    return trace


def scaled_inputs(inputs: Inputs, domain: str, factor: float) -> tuple[Inputs, str, float, float]:
    """(inputs with the domain's size × ``factor``, axis, size, achieved factor)."""
    data = inputs.model_dump()
    if domain == "cv" and inputs.image is not None:
        h, w = inputs.image.height, inputs.image.width
        s = math.sqrt(factor)
        h2, w2 = max(8, round(h * s)), max(8, round(w * s))
        data["image"].update(height=h2, width=w2)
        return Inputs.model_validate(data), "pixels", float(h * w), (h2 * w2) / (h * w)
    if domain == "nlp" and inputs.text is not None:
        n = inputs.text.sequence_length
        n2 = max(1, round(n * factor))
        data["text"]["sequence_length"] = n2
        return Inputs.model_validate(data), "tokens", float(n), n2 / n
    if domain == "speech" and inputs.audio is not None:
        sec = inputs.audio.seconds
        data["audio"]["seconds"] = sec * factor
        return Inputs.model_validate(data), "seconds", sec, factor
    b = inputs.batch_size
    b2 = max(1, round(b * factor))
    data["batch_size"] = b2
    return Inputs.model_validate(data), "batch", float(b), b2 / b


def scaling_probe(ctx: Any, result: Any, est: PlatformEstimate | None,
                  platform: Any) -> ScalingProbe | None:
    """Cost at the spec's input and at ``scaling_factor`` × its size (re-traced on meta)."""
    trace = ctx.products.get("trace")
    resolved = ctx.products.get("resolved")
    if trace is None or resolved is None:
        return None
    factor = float(thresholds()["findings"]["scaling_factor"])
    inputs2, axis, size, achieved = scaled_inputs(resolved.inputs, resolved.domain.value, factor)
    trace2 = retrace(ctx, inputs2)
    macs1 = sum(r.macs for r in trace.records)
    macs2 = sum(r.macs for r in trace2.records)
    lf = math.log(achieved) if achieved > 1 else None
    kmacs = math.log(macs2 / macs1) / lf if lf and macs1 and macs2 else 1.0
    probe = ScalingProbe(axis=axis, size=size, factor=achieved, macs=macs1, macs_scaled=macs2,
                         macs_exponent=kmacs, origin="counted")
    if est is not None and platform is not None:
        from reportgen.analysis.findings import baseline_precision

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
