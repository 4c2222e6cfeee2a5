"""The roofline's result models: per-op estimates, breakdown by op kind, fit checks, per-precision
and per-platform estimates. Times in seconds, bytes in bytes, rates in op/s and B/s.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from reportgen.analysis.prediction.assumptions import Assumptions, Model
from reportgen.analysis.prediction.calibration import CalibrationInfo
from reportgen.analysis.prediction.costmodel import CostModel
from reportgen.text import Msg

DTYPE_BYTES: dict[str, float] = {
    "float64": 8, "float32": 4, "float16": 2, "bfloat16": 2, "int8": 1, "uint8": 1,
    "float8_e4m3fn": 1, "float8_e5m2": 1, "int32": 4, "int64": 8,
}


Verdict = Literal["pass", "fail", "unknown", "info"]


Bound = Literal["compute", "memory", "none", "unknown"]





class OpEstimate(Model):
    """One op at one precision. Times in seconds; bytes at the precision."""

    index: int
    op: str
    kind: str
    module: str
    flops: int = Field(description="2 × MACs + vector FLOPs, op")
    bytes: float = Field(description="bytes moved at this precision (un-fused upper bound), B")
    arithmetic_intensity_flop_per_byte: float | None
    compute_time_s: float | None = Field(description="F / (η_c · P_peak)")
    memory_time_s: float | None = Field(description="B / (η_m · BW)")
    ideal_time_s: float | None = Field(description="max(F/P_peak, B/BW), η = 1, no overhead")
    predicted_time_s: float | None = Field(description="derated max + per-op overhead")
    bound: Bound
    on_device: bool = Field(True, description="False: falls back to the host CPU")


class KindBreakdown(Model):
    kind: str
    ops: int
    flops: int
    bytes: float
    ideal_time_s: float
    predicted_time_s: float
    share_of_predicted: float = Field(description="fraction of the predicted latency")


class FitCheck(Model):
    """A capacity test: what the model needs vs what the platform has."""

    name_msg: Msg  # what is checked (e.g. "memory")
    required: float | None
    available: float | None
    unit: str
    verdict: Verdict
    note_msgs: list[Msg] = Field(default_factory=list)


class PrecisionEstimate(Model):
    """Totals for one precision. ``origin`` = predicted (roofline with the stated assumptions)."""

    precision: str
    status: Literal["ok", "unsupported", "unknown"]
    origin: Literal["predicted"] = "predicted"
    latency_is_lower_bound: bool = Field(False, description="a term could not be computed "
                                                            "(unknown bandwidth/peak)")
    ideal_latency_s: float | None = None
    predicted_latency_s: float | None = None
    throughput_per_s: float | None = Field(None, description="samples/s = batch / predicted latency")
    power_w: float | None = None
    energy_per_batch_mj: float | None = Field(None, description="power × predicted latency, mJ")
    energy_per_sample_mj: float | None = None
    energy_bound: Literal["typical", "upper", "lower"] | None = Field(
        None, description="typical: power × time estimate; upper: at most (power is a supply "
                          "rating, mode budget or TDP); lower: at least")
    total_flops: int = 0
    total_bytes: float = Field(0, description="sum of per-op bytes at this precision, B")
    weight_bytes: float = Field(0, description="unique parameters at this precision, B")
    peak_activation_bytes: float = Field(0, description="peak live activations at this precision, B")
    peak_op_per_s: float | None = None
    bandwidth_b_per_s: float | None = None
    ridge_point_flop_per_byte: float | None = None
    ideal_cache_bytes: float = Field(0, description="on-chip cache (B) the ideal bound keeps "
                                                    "activations in (and the weights, when they "
                                                    "fit): 0 = every byte at DRAM bandwidth")
    compute_bound_ops: int = 0
    memory_bound_ops: int = 0
    host_link_time_s: float = Field(0, description="weight streaming + input/output transfers "
                                                   "over the host link, predicted")
    fallback_time_s: float | None = Field(None, description="ops run on the host CPU")
    fallback_from_op: int | None = Field(None, description="index of the first op that falls back")
    fallback_ops: int = 0
    fallback_platform: str | None = None
    overhead_time_s: float = 0
    fits: Verdict = "unknown"
    fit_checks: list[FitCheck] = Field(default_factory=list)
    by_kind: list[KindBreakdown] = Field(default_factory=list)
    ops: list[OpEstimate] = Field(default_factory=list)
    # why the precision cannot run, where the power figure comes from, notes on the prediction
    reason_msg: Msg | None = None
    power_basis_msg: Msg | None = None
    note_msgs: list[Msg] = Field(default_factory=list)

    def set_reason(self, m: Msg) -> None:
        self.reason_msg = m

    def set_power_basis(self, m: Msg) -> None:
        self.power_basis_msg = m

    def add_note(self, m: Msg) -> None:
        self.note_msgs.append(m)


class PlatformEstimate(Model):
    """The roofline stage's output for one platform."""

    platform_id: str
    platform_name: str
    platform_class: str
    origin: Literal["predicted"] = "predicted"
    batch_size: int
    assumptions: Assumptions
    per_precision: list[PrecisionEstimate]
    best_precision: str | None = Field(None, description="lowest predicted latency among runnable")
    cost_model: CostModel | None = Field(
        None, description="per-op-regime η and overheads used instead of the one η (e.g. the "
                          "host's calibration); None = the platform's assumptions")
    calibration: CalibrationInfo | None = Field(
        None, description="whether the platform's efficiencies are fitted to published "
                          "measurements, on what, and the error band (PLATFORMS-NOTES.md §10)")

    def get(self, precision: str) -> PrecisionEstimate:
        for pe in self.per_precision:
            if pe.precision == str(precision):
                return pe
        raise KeyError(precision)

    def with_kernel_rows_of(self, precision: str | None) -> PlatformEstimate:
        """A copy with per-op rows for ``precision`` only, its views left out (a view moves no
        data and takes no time): what data.json keeps. The roofline stage's estimate keeps every
        precision's rows in memory for the later stages; this one is left untouched."""
        per = [pe.model_copy(update={"ops": [o for o in pe.ops if o.kind != "view"]
                                     if pe.precision == precision else []})
               for pe in self.per_precision]
        return self.model_copy(update={"per_precision": per})


