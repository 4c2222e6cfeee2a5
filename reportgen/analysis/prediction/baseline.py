"""The one baseline the analysis starts from: the estimate the roofline stage left, its baseline
precision (the traced one when the target runs it) and the efficiencies it used.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from reportgen.analysis.prediction.assumptions import Efficiency
from reportgen.analysis.prediction.estimates import PlatformEstimate, PrecisionEstimate

if TYPE_CHECKING:
    pass

def as_estimate(obj: Any) -> PlatformEstimate | None:
    """The PlatformEstimate inside ``result.roofline`` (model, wrapper or dict), or None."""
    if obj is None:
        return None
    if isinstance(obj, PlatformEstimate):
        return obj
    for attr in ("estimate", "target", "platform_estimate"):
        inner = getattr(obj, attr, None) if not isinstance(obj, dict) else obj.get(attr)
        if inner is not None:
            return as_estimate(inner)
    if isinstance(obj, dict):
        try:
            return PlatformEstimate.model_validate(obj)
        except Exception:
            return None
    return None


DTYPE_PRECISION = {"float32": "fp32", "float16": "fp16", "bfloat16": "bf16"}


def baseline_precision(est: PlatformEstimate, trace_dtype: str) -> PrecisionEstimate | None:
    """The precision the model runs at as traced, if the target runs it; else the best runnable
    (or, failing that, the first with a lower-bound prediction)."""
    native = DTYPE_PRECISION.get(trace_dtype.replace("torch.", ""), "fp32")
    per = {pe.precision: pe for pe in est.per_precision}
    if native in per and per[native].status == "ok" and per[native].predicted_latency_s:
        return per[native]
    if est.best_precision:
        return per[est.best_precision]
    known = [pe for pe in est.per_precision if pe.predicted_latency_s]
    return known[0] if known else None


def efficiency_of(est: PlatformEstimate | None) -> Efficiency | None:
    """The η and overhead the roofline stage used, to predict variants alike."""
    if est is None:
        return None
    a = est.assumptions
    return Efficiency(eta_c=a.eta_c, eta_m=a.eta_m, op_overhead_us=a.op_overhead_us)


