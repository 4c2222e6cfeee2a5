"""StudyResult — the contract between analysis and rendering. ``data.json`` is its dump; the
templates read nothing else. Every number says its unit (field name or ``unit``) and its origin:
counted (exact, from the trace), predicted (roofline, with assumptions), measured (machine,
repetitions, spread), published (with source) or given (by the spec)."""

from __future__ import annotations

import math
from enum import StrEnum, unique
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from reportgen.analysis.counting.costs import CostAnalysis, ParamSummary
from reportgen.analysis.experiments.models import ExperimentsReport
from reportgen.analysis.findings.models import FindingsReport
from reportgen.analysis.hypotheses.models import HypothesesReport
from reportgen.analysis.measurement.models import Measurements
from reportgen.analysis.measurement.scaling import Scaling
from reportgen.analysis.prediction.estimates import PlatformEstimate
from reportgen.analysis.prediction.generation import Generation
from reportgen.analysis.prediction.platform_card import BlockTime, PlatformCard
from reportgen.analysis.prediction.runtime import Baseline
from reportgen.analysis.prediction.verdicts import ConstraintVerdict, ZooRow
from reportgen.analysis.tradeoffs import TradeOffs
from reportgen.models.bounds import DeclaredBound
from reportgen.text import Msg

SCHEMA_VERSION = 3  # 2: generated sentences are Msg only (no English twin fields);
# 3: findings, hypotheses and trade-off sentences are Msg too (summary, why, text, title, ...)


@unique
class Origin(StrEnum):
    counted = "counted"
    predicted = "predicted"
    measured = "measured"
    published = "published"
    given = "given"


class Quantity(BaseModel):
    value: float | None
    unit: str
    origin: Origin
    note: str | None = None


StageState = Literal["ok", "failed", "skipped", "not_available"]


class StageStatus(BaseModel):
    """What happened to one pipeline stage; failed/skipped stages say why and what to do."""

    name: str
    state: StageState
    reason: str | None = None
    hint: str | None = None
    code: str | None = None  # locale key `stage_reason.<code>` (reason/hint in the report's language)
    params: dict[str, str | int | float] = Field(default_factory=dict)
    seconds: float | None = None


class PaperInfo(BaseModel):
    title: str
    authors: str | None = None
    year: int
    url: str | None = None


class TensorInfo(BaseModel):
    """One tensor argument of the traced forward pass."""

    name: str
    shape: list[int]
    dtype: str


class ModelInfo(BaseModel):
    name: str
    card: str | None
    domain: str
    task: str | None
    source: str  # torchvision / transformers / torchaudio / python / recsys
    recipe: str  # how it was built, offline
    input_description: str
    description: str | None = None  # card text in the report's language
    architecture: str | None = None
    paper: PaperInfo | None = None
    note_msgs: list[Msg] = Field(default_factory=list)  # how it was built / traced
    input_msg: Msg | None = None  # the spec's inputs in the domain's words
    input_tensors: list[TensorInfo] = Field(default_factory=list)  # what the forward received
    # counted from the module alone (no forward), so present even when the trace fails
    params: ParamSummary | None = None
    # the input after the model's own pre-processing, when it differs from the spec's
    network_input_msg: Msg | None = None
    # data-dependent part counted at declared bounds (two-stage detectors), MACs at the bound
    data_dependent: list[DeclaredBound] = Field(default_factory=list)



class PublishedComparison(BaseModel):
    """Published vs counted figure, counting like with like (the card states the convention)."""

    quantity: str  # params / MACs / FLOPs
    published: float
    counted: float
    relative_difference: float  # (counted - published) / published
    tolerance: float
    agrees: bool
    source: str
    url: str | None = None
    convention: str
    input: str | None = None
    note: str | None = None
    scope: list[str] | None = None  # module subtrees the figure covers (None: the whole network)
    counted_input: str | None = None  # shape the count was made at, e.g. '1x3x320x320'
    same_input: bool | None = None  # False: published for another input (never 'agrees')


class PlatformInfo(BaseModel):
    """The target platform as the spec names it; ``card`` holds the catalog facts."""

    id: str
    name: str
    platform_class: str | None = None
    card: PlatformCard | None = None


class ConstraintGiven(BaseModel):
    name: str
    value: float | str
    unit: str


class Environment(BaseModel):
    """Versions used; left out in deterministic mode (machine-dependent)."""

    reportgen: str
    python: str | None = None
    torch: str | None = None
    torchvision: str | None = None
    transformers: str | None = None
    platform: str | None = None


class Reproduction(BaseModel):
    command: str
    spec_file: str | None
    resolved_spec: dict[str, Any]


class StudyResult(BaseModel):
    model_config = ConfigDict(extra="forbid")

    schema_version: int = SCHEMA_VERSION
    study_id: str
    title: str
    author: str | None
    language: str
    generated_at: str  # ISO 8601; frozen in deterministic mode
    deterministic: bool
    model: ModelInfo | None = None
    published: list[PublishedComparison] = Field(default_factory=list)
    platform: PlatformInfo
    constraints: list[ConstraintGiven] = Field(default_factory=list)
    precisions: list[str]
    costs: CostAnalysis | None = None
    # Filled by later stages (hardware, measurement, findings issues); None = not computed.
    baseline: Baseline | None = None  # the one precision + runtime every section judges
    # predicted, per precision; in memory with every precision's per-op rows, written with the
    # baseline's only (``as_written``)
    roofline: PlatformEstimate | None = None
    block_times: list[BlockTime] = Field(default_factory=list)  # at the best precision
    verdicts: list[ConstraintVerdict] = Field(default_factory=list)
    first_to_break: ConstraintVerdict | None = None
    zoo: list[ZooRow] = Field(default_factory=list)  # compare_platforms
    generation: Generation | None = None  # prefill + decode steps with a KV cache (counted + predicted)
    measurements: Measurements | None = None  # measured (machine, repetitions, spread)
    scaling: Scaling | None = None  # counted + predicted (+ measured points) vs input size
    findings: FindingsReport | None = None  # ranked bottlenecks (analysis/findings.py)
    hypotheses: HypothesesReport | None = None  # predicted effects (analysis/hypotheses.py)
    experiments: ExperimentsReport | None = None  # measured on the host (build --experiments)
    tradeoffs: TradeOffs | None = None  # analysis/tradeoffs.py
    stages: list[StageStatus] = Field(default_factory=list)
    warning_msgs: list[Msg] = Field(default_factory=list)
    environment: Environment
    reproduction: Reproduction

    def stage(self, name: str) -> StageStatus | None:
        return next((s for s in self.stages if s.name == name), None)

    @property
    def partial(self) -> bool:
        return any(s.state in ("failed", "skipped") for s in self.stages)

    def as_written(self) -> StudyResult:
        """The result as data.json and the report hold it: the roofline's per-op rows for the
        baseline precision only (else the first predicted), without views, to keep data.json
        small; the analysis kept every precision's rows. A shallow copy: its lists (warnings,
        stages) are this result's own, so what the writer adds to them shows here too."""
        est = self.roofline
        if est is None:
            return self
        keep = self.baseline.precision if self.baseline is not None else (
            est.per_precision[0].precision if est.per_precision else None)
        return self.model_copy(update={"roofline": est.with_kernel_rows_of(keep)})


def round_floats(obj: Any, digits: int = 6) -> Any:
    """Round every float to ``digits`` significant digits (deterministic snapshots)."""
    if isinstance(obj, float):
        if obj == 0 or not math.isfinite(obj):
            return obj
        return float(f"{obj:.{digits}g}")
    if isinstance(obj, dict):
        return {k: round_floats(v, digits) for k, v in obj.items()}
    if isinstance(obj, list):
        return [round_floats(v, digits) for v in obj]
    return obj


def dump(result: StudyResult) -> dict[str, Any]:
    data = result.model_dump(mode="json")
    return round_floats(data) if result.deterministic else data
