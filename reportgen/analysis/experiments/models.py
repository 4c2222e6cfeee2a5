"""Results of the experiments stage (part of the StudyResult contract).

Units: seconds, bytes; speed-ups are baseline latency / transformed latency (> 1 = faster);
``ratio`` is measured / predicted speed-up. Everything measured here is measured on this host
with the weights named in ``weights`` (``random``: the model's own initialisation, so fidelity
says how far the transformed arithmetic drifts, not what the task metric does).
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field

from reportgen.analysis.hypotheses.models import SpeedupBound
from reportgen.analysis.measurement.models import Machine
from reportgen.analysis.measurement.timing import LatencyStats
from reportgen.text import Msg

# what the host predictions stand on: this machine's calibrated per-op cost model
# (``reportgen calibrate``) or the roofline with the platform's one η
HostBasis = Literal["host_calibration", "roofline"]
RunState = Literal["ok", "failed", "not_applicable", "unavailable", "budget", "timeout"]
WeightsKind = Literal["random", "given"]


class Fidelity(BaseModel):
    """Transformed outputs vs the baseline's on the same inputs (all floating outputs, flattened)."""

    samples: int = Field(description="input batches compared")
    max_abs_error: float
    mean_abs_error: float
    sqnr_db: float | None = Field(None, description="10·log10(Σref² / Σ(ref−out)²); None: identical")
    cosine: float = Field(description="mean cosine similarity of the per-sample output vectors")
    top1_agreement: float | None = Field(None, description="share of samples with the same arg-max "
                                                           "class (classifier outputs only)")
    topk_agreement: float | None = Field(None, description="share whose baseline top-1 is in the "
                                                           "transformed top-k")
    k: int | None = None


class Metric(BaseModel):
    """A task metric from the user's ``experiments.evaluate`` callable (given weights + data)."""

    name: str
    before: float
    after: float | None = None


class ExperimentRun(BaseModel):
    """One method applied on the host and measured."""

    id: str = Field(description="experiment id, e.g. quant_dynamic_int8")
    family: str = Field(description="the course's method class")
    hypothesis: str | None = Field(None, description="id of the hypothesis it tests")
    state: RunState
    reason: Msg | None = None
    library: str = Field("", description="what applied it, e.g. torch.ao.quantization")
    latency: LatencyStats | None = None
    speedup: float | None = Field(None, description="measured: baseline / transformed median")
    predicted_host_speedup: float | None = Field(None, description="predicted on the host "
                                                 "platform (``predicted_host_uncorrected`` times "
                                                 "``host_correction`` when one applies)")
    predicted_host_uncorrected: float | None = Field(
        None, description="the model's own host prediction (roofline or calibrated cost model of "
                          "the hypothesis's variant), before learning from measured experiments")
    host_correction: float | None = Field(
        None, description="geometric mean of measured / predicted speed-up of this experiment on "
                          "other models measured on this host (None: fewer than 2 of them)")
    host_prediction_notes: list[Msg] = Field(
        default_factory=list, description="how the host prediction was made, corrected or why "
                                          "there is none")
    predicted_target_speedup: float | None = Field(None, description="the hypothesis's "
                                                   "prediction on the target")
    predicted_target_speedup_bound: SpeedupBound = Field(
        "value", description="the hypothesis's speedup_bound: upper when its latency on the "
                             "target is only a lower bound")
    ratio: float | None = Field(None, description="measured / predicted host speed-up (the "
                                                 "corrected one when a correction applies)")
    size_bytes: int | None = Field(None, description="serialized model (state dict or ONNX), B")
    peak_rss_bytes: int | None = Field(None, description="process peak RSS during one forward")
    noisy: bool = Field(False, description="measured, but the baseline's or this run's timing CV "
                                           "is above ``ExperimentsReport.noisy_cv``: the "
                                           "speed-up is not conclusive and is not learned from")
    fidelity: Fidelity | None = None
    metrics: list[Metric] = Field(default_factory=list)
    notes: list[Msg] = Field(default_factory=list)
    seconds: float | None = Field(None, description="wall time of apply + measure, s")


class CalibrationPair(BaseModel):
    """(card, method, predicted, measured) on the host; also kept in this machine's store of
    measured pairs (``learning.py``), from which later builds correct their host predictions."""

    card: str
    method: str
    platform: str = "host"
    predicted_speedup: float = Field(description="uncorrected host prediction")
    measured_speedup: float
    basis: HostBasis = "roofline"
    noisy: bool = Field(False, description="the baseline's or the run's timing CV is above "
                                           "measurement.quality.CV_NOISY: not learned from")


class ExperimentsReport(BaseModel):
    machine: Machine
    weights: WeightsKind = "random"
    target_is_host: bool = False
    budget_s: float
    seconds: float
    baseline: LatencyStats
    baseline_size_bytes: int | None = None
    baseline_peak_rss_bytes: int | None = None
    baseline_metrics: list[Metric] = Field(default_factory=list)
    batchnorm_settled: int = Field(0, description="random weights: BatchNorm layers whose running "
                                                  "statistics were set from the model's own "
                                                  "inputs before the baseline (runner.settle_batchnorm)")
    batchnorm_batches: int = Field(0, description="input batches those statistics came from")
    runs: list[ExperimentRun] = Field(default_factory=list)
    baseline_again: LatencyStats | None = Field(None, description="the baseline timed again "
                                                "after the methods (None: no budget left)")
    baseline_drift: float | None = Field(None, description="larger / smaller median of the two "
                                         "baseline timings")
    drift_threshold: float = Field(1.5, description="a drift above it marks every speed-up "
                                                    "noisy (measurement.quality.BASELINE_DRIFT)")
    noisy_cv: float = Field(0.15, description="timing CV above which a speed-up is marked noisy "
                                              "(measurement.quality.CV_NOISY)")
    pairs: list[CalibrationPair] = Field(default_factory=list)
    prediction_basis: HostBasis | None = None
    prediction_basis_msg: Msg | None = None
    learned_from: int = Field(0, description="measured (model, experiment) pairs of other builds "
                                             "on this host available for corrections")

    def get(self, eid: str) -> ExperimentRun | None:
        return next((r for r in self.runs if r.id == eid), None)

    def for_hypothesis(self, hid: str) -> list[ExperimentRun]:
        return [r for r in self.runs if r.hypothesis == hid]
