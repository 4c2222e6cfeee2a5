"""The study spec: what a user writes. Strict pydantic models; YAML errors carry line:column.

A spec names a model (a card from ``model_cards/`` or an inline offline source), its domain and
inputs, a target platform, the deployment's constraints and the precisions to consider.
"""

from __future__ import annotations

import re
from enum import StrEnum, unique
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Discriminator,
    Field,
    Tag,
    ValidationInfo,
    field_validator,
    model_validator,
)


class Strict(BaseModel):
    """Base for every spec part: unknown keys are errors."""

    model_config = ConfigDict(extra="forbid", frozen=False, populate_by_name=True)


@unique
class Domain(StrEnum):
    cv = "cv"
    nlp = "nlp"
    speech = "speech"
    recsys = "recsys"


@unique
class Precision(StrEnum):
    fp32 = "fp32"
    fp16 = "fp16"
    bf16 = "bf16"
    int8 = "int8"
    int4 = "int4"

    @property
    def bytes(self) -> float:
        """Bytes per element at this precision (int4 packs two per byte)."""
        return {"fp32": 4.0, "fp16": 2.0, "bf16": 2.0, "int8": 1.0, "int4": 0.5}[self.value]


@unique
class Language(StrEnum):
    en = "en"
    ru = "ru"


@unique
class RuntimeChoice(StrEnum):
    """Which runtime the baseline assumes: the platform's usual one (auto), eager PyTorch, or a
    compiled runtime that folds BatchNorm and fuses elementwise chains."""

    auto = "auto"
    eager = "eager"
    compiled = "compiled"


@unique
class OutputFormat(StrEnum):
    md = "md"
    html = "html"
    pdf = "pdf"


@unique
class Detail(StrEnum):
    """``full``: the main body and the appendix with every table; ``short``: the main body only."""

    short = "short"
    full = "full"


@unique
class Section(StrEnum):
    """Sections of the main body, in the homework's order (``summary`` is optional)."""

    summary = "summary"
    model = "model"
    platform = "platform"
    complexity = "complexity"
    bottlenecks = "bottlenecks"
    hypotheses = "hypotheses"
    tradeoffs = "tradeoffs"
    conclusion = "conclusion"


DEFAULT_SECTIONS = [Section.model, Section.platform, Section.complexity, Section.bottlenecks,
                    Section.hypotheses, Section.tradeoffs, Section.conclusion]


class Weighted(Strict):
    """What every model reference shares: optional local weights."""

    weights: str | None = Field(None, description="a local checkpoint (state dict .pt/.pth, or a "
                                "local Hugging Face directory), relative to the spec; loaded offline")


class TorchvisionSource(Weighted):
    """A torchvision model builder, always with ``weights=None`` (no downloads)."""

    source: Literal["torchvision"]
    name: str = Field(description="builder name, e.g. resnet50")
    kwargs: dict[str, Any] = Field(default_factory=dict)


class TransformersSource(Weighted):
    """A Hugging Face transformers model built from a config (never from hub weights)."""

    source: Literal["transformers"]
    model_type: str | None = Field(None, description="AutoConfig.for_model(model_type, **config)")
    config: dict[str, Any] = Field(default_factory=dict, description="config overrides")
    config_file: str | None = Field(None, description="a local config.json")
    hub_id: str | None = Field(None, description="only resolved from a local cache, offline")
    auto_class: str = Field("AutoModel", description="e.g. AutoModel, AutoModelForCausalLM")

    @model_validator(mode="after")
    def _one_origin(self) -> TransformersSource:
        given = [n for n in ("model_type", "config_file", "hub_id") if getattr(self, n)]
        if not given:
            raise ValueError("give one of model_type (with config overrides), config_file or hub_id")
        if len(given) > 1 and not (given == ["model_type", "config_file"]):
            raise ValueError(f"give only one of model_type / config_file / hub_id, got {given}")
        if not re.fullmatch(r"(TF|Flax)?Auto[A-Za-z0-9]+", self.auto_class) or self.auto_class.startswith(("TF", "Flax")):
            raise ValueError(f"auto_class must be a PyTorch transformers Auto class, got {self.auto_class!r}")
        return self


class TorchaudioSource(Weighted):
    """A torchaudio model builder such as ``wav2vec2_base`` or ``conformer``."""

    source: Literal["torchaudio"]
    builder: str
    kwargs: dict[str, Any] = Field(default_factory=dict)


class PythonSource(Weighted):
    """User code: ``module:callable`` returning an ``nn.Module``. Needs ``--allow-code``."""

    source: Literal["python"]
    callable: str = Field(description="module.path:function")
    path: str | None = Field(None, description="directory added to sys.path, relative to the spec")
    kwargs: dict[str, Any] = Field(default_factory=dict)

    @field_validator("callable")
    @classmethod
    def _shape(cls, v: str) -> str:
        if not re.fullmatch(r"[A-Za-z_][\w.]*:[A-Za-z_]\w*", v):
            raise ValueError("must look like 'package.module:function'")
        return v


class RecsysSource(Weighted):
    """A built-in recommender from ``reportgen.models.recsys``."""

    source: Literal["recsys"]
    name: str
    kwargs: dict[str, Any] = Field(default_factory=dict)


class CardRef(Weighted):
    """A model card from ``model_cards/<card>.yaml``."""

    card: str


def _model_tag(v: Any) -> str | None:
    if isinstance(v, dict):
        if "card" in v:
            return "card"
        src = v.get("source")
        return src if isinstance(src, str) else None
    if isinstance(v, BaseModel):
        return "card" if isinstance(v, CardRef) else getattr(v, "source", None)
    return None


ModelSource = Annotated[
    Annotated[TorchvisionSource, Tag("torchvision")]
    | Annotated[TransformersSource, Tag("transformers")]
    | Annotated[TorchaudioSource, Tag("torchaudio")]
    | Annotated[PythonSource, Tag("python")]
    | Annotated[RecsysSource, Tag("recsys")],
    Discriminator(_model_tag, custom_error_type="model_source",
                  custom_error_message="model needs `source:` (torchvision, transformers, "
                                       "torchaudio, python, recsys)"),
]


ModelRef = Annotated[
    Annotated[CardRef, Tag("card")]
    | Annotated[TorchvisionSource, Tag("torchvision")]
    | Annotated[TransformersSource, Tag("transformers")]
    | Annotated[TorchaudioSource, Tag("torchaudio")]
    | Annotated[PythonSource, Tag("python")]
    | Annotated[RecsysSource, Tag("recsys")],
    Discriminator(_model_tag, custom_error_type="model_source",
                  custom_error_message="model needs either `card: <id>` or `source:` (torchvision, "
                                       "transformers, torchaudio, python, recsys)"),
]


MAX_BATCH = 65_536


class ImageInput(Strict):
    height: int = Field(224, ge=8, le=16_384)
    width: int = Field(224, ge=8, le=16_384)
    channels: int = Field(3, ge=1, le=64)


class TextInput(Strict):
    sequence_length: int = Field(128, ge=1, le=1_048_576)
    mode: Literal["prefill", "decode"] = Field(
        "prefill", description="prefill: the whole sequence at once; decode: one new token "
                               "attending to sequence_length cached tokens")
    decoder_sequence_length: int | None = Field(None, ge=1, le=1_048_576,
                                                description="encoder-decoder models only")
    generate_tokens: int | None = Field(None, ge=1, le=1_048_576, description=(
        "generation as a workload: prefill over sequence_length prompt tokens, then this many "
        "tokens generated one by one with a KV cache"))


class AudioInput(Strict):
    seconds: float = Field(1.0, gt=0, le=3_600)
    sample_rate: int = Field(16_000, ge=1_000, le=384_000)
    representation: Literal["waveform", "log_mel"] = "waveform"
    n_mels: int = Field(80, ge=1, le=512)
    hop_length: int = Field(160, ge=1, le=100_000)
    decoder_sequence_length: int | None = Field(None, ge=1, le=65_536)
    generate_tokens: int | None = Field(None, ge=1, le=65_536, description=(
        "encoder-decoder speech models: the encoder once, then this many tokens decoded one by "
        "one with a KV cache and the LM head"))


class RecsysInput(Strict):
    dense_features: int = Field(13, ge=0, le=100_000)
    sparse_features: int = Field(26, ge=0, le=100_000)
    ids_per_feature: int = Field(1, ge=1, le=100_000, description="bag size of each sparse feature")
    num_candidates: int = Field(1, ge=1, le=100_000_000, description="items scored per query")


class Inputs(Strict):
    """Example inputs in the domain's own terms. Merged over the model card's defaults."""

    batch_size: int = Field(1, ge=1, le=MAX_BATCH)
    image: ImageInput | None = None
    text: TextInput | None = None
    audio: AudioInput | None = None
    recsys: RecsysInput | None = None

    def section_for(self, domain: Domain) -> str:
        return {"cv": "image", "nlp": "text", "speech": "audio", "recsys": "recsys"}[domain.value]

    def given_sections(self) -> list[str]:
        return [s for s in ("image", "text", "audio", "recsys") if getattr(self, s) is not None]


class PlatformRef(Strict):
    """A platform from the catalog, with optional field overrides, or a custom inline platform."""

    id: str
    overrides: dict[str, Any] = Field(default_factory=dict)
    custom: dict[str, Any] | None = Field(None, description="a whole platform entry, catalog schema")


class SensorStream(Strict):
    """A raw sensor stream; its data rate is width × height × channels × bytes × fps."""

    width: int = Field(ge=1, le=100_000)
    height: int = Field(1, ge=1, le=100_000)
    channels: int = Field(3, ge=1, le=1_024)
    bytes_per_sample: float = Field(1, gt=0, le=16)
    rate_hz: float = Field(gt=0, le=10_000_000, description="frames (or samples) per second")

    @property
    def bytes_per_s(self) -> float:
        return self.width * self.height * self.channels * self.bytes_per_sample * self.rate_hz


class Constraints(Strict):
    """The course's real-world constraints. All optional; each given one gets a verdict."""

    latency_ms: float | None = Field(None, gt=0, le=3_600_000)
    throughput_per_s: float | None = Field(None, gt=0, le=1e9)
    memory_mb: float | None = Field(None, gt=0, le=1e9)
    power_w: float | None = Field(None, gt=0, le=1e6)
    energy_mj: float | None = Field(None, gt=0, le=1e12, description="energy per inference, millijoules")
    cost_usd: float | None = Field(None, gt=0, le=1e9)
    input_bandwidth_mb_s: float | None = Field(None, gt=0, le=1e7, description="sensor data rate, MB/s")
    sensor: SensorStream | None = Field(None, description="derive input bandwidth from a sensor")
    connectivity: str | None = Field(None, max_length=200, description="e.g. offline, LTE uplink 5 Mbit/s")

    def given(self) -> dict[str, Any]:
        return {k: v for k, v in self.model_dump().items() if v is not None}


class Profiling(Strict):
    """Host measurement options (the measurement stage arrives with the profiling issue)."""

    enabled: bool = True
    warmup: int = Field(3, ge=0, le=1_000)
    min_runs: int = Field(10, ge=1, le=100_000)
    max_runs: int = Field(200, ge=1, le=1_000_000)
    time_budget_s: float = Field(20.0, gt=0, le=3_600)
    threads: list[int] | None = None
    batch_sizes: list[int] | None = None


class Experiments(Strict):
    """Apply acceleration methods on this host and measure them (``build --experiments``)."""

    enabled: bool = False
    methods: list[str] | None = Field(None, description="experiment ids; default: all that apply")
    time_budget_s: float = Field(150.0, gt=0, le=3_600, description="all experiments together")
    method_budget_s: float = Field(45.0, gt=0, le=3_600, description="one method: apply + measure")
    fidelity_batches: int = Field(3, ge=1, le=1_000)
    calibration_batches: int = Field(4, ge=1, le=10_000)
    evaluate: str | None = Field(None, description="module:function (model) -> {metric: value} on "
                                 "your data; runs your code: needs --allow-code")
    path: str | None = Field(None, description="directory added to sys.path, relative to the spec")

    @field_validator("evaluate")
    @classmethod
    def _shape(cls, v: str | None) -> str | None:
        if v is not None and not re.fullmatch(r"[A-Za-z_][\w.]*:[A-Za-z_]\w*", v):
            raise ValueError("must look like 'package.module:function'")
        return v


class Output(Strict):
    formats: list[OutputFormat] = Field(default_factory=lambda: [OutputFormat.md, OutputFormat.html, OutputFormat.pdf])
    directory: str = "outputs"
    name: str | None = Field(None, max_length=100, description="study folder name; default: spec file stem")
    detail: Detail = Detail.full
    sections: list[Section] = Field(default_factory=lambda: list(DEFAULT_SECTIONS),
                                    description="main-body sections to show, in this order")

    @field_validator("sections")
    @classmethod
    def _sections(cls, v: list[Section]) -> list[Section]:
        if not v:
            raise ValueError("give at least one section (model, platform, complexity, bottlenecks, "
                             "hypotheses, tradeoffs, conclusion, summary)")
        return list(dict.fromkeys(v))

    @field_validator("formats")
    @classmethod
    def _nonempty(cls, v: list[OutputFormat]) -> list[OutputFormat]:
        if not v:
            raise ValueError("give at least one format (md, html, pdf)")
        return list(dict.fromkeys(v))

    @field_validator("directory")
    @classmethod
    def _inside(cls, v: str) -> str:
        # A spec may come from someone else: it names a folder below the working directory,
        # never an absolute path or one above it (`-o` on the command line can go anywhere).
        p = Path(v)
        if not v.strip() or p.is_absolute() or ".." in p.parts or v.startswith("~") or "\x00" in v:
            raise ValueError("must be a relative folder below the working directory (no '..', "
                             "no absolute path); use `-o DIR` on the command line for elsewhere")
        return v


class StudySpec(Strict):
    """A whole study: what to analyse, on what, under which constraints."""

    title: str = Field(min_length=1, max_length=300)
    author: str | None = Field(None, max_length=200)
    course: str | None = Field(None, max_length=300, description="shown on the title block")
    date: str | None = Field(None, max_length=100, description="shown on the title block")
    notes: dict[Section, Annotated[str, Field(max_length=10_000)]] = Field(default_factory=dict, max_length=20,
                                      description="the author's own Markdown, shown at the end of that section")
    questions: list[Annotated[str, Field(max_length=2_000)]] = Field(
        default_factory=list, max_length=50, description="questions to answer (an instructor's template)")
    language: Language = Language.en
    model: ModelRef
    domain: Domain | None = Field(None, description="default: the model card's domain")
    task: str | None = Field(None, max_length=500)
    description: str | None = Field(None, max_length=5_000)
    inputs: Inputs = Field(default_factory=Inputs)
    platform: PlatformRef
    compare_platforms: list[str] = Field(default_factory=list)
    constraints: Constraints = Field(default_factory=Constraints)
    precisions: list[Precision] = Field(default_factory=lambda: [Precision.fp32, Precision.fp16, Precision.int8])
    runtime: RuntimeChoice = Field(RuntimeChoice.auto,
                                   description="auto: the platform's usual deployment runtime")
    profiling: Profiling = Field(default_factory=Profiling)
    experiments: Experiments = Field(default_factory=Experiments)
    output: Output = Field(default_factory=Output)
    deterministic: bool = False

    @field_validator("platform", mode="before")
    @classmethod
    def _platform_str(cls, v: Any) -> Any:
        return {"id": v} if isinstance(v, str) else v

    @field_validator("precisions")
    @classmethod
    def _precisions(cls, v: list[Precision]) -> list[Precision]:
        if not v:
            raise ValueError("give at least one precision")
        return list(dict.fromkeys(v))

    @field_validator("inputs")
    @classmethod
    def _inputs_match_domain(cls, inputs: Inputs, info: ValidationInfo) -> Inputs:
        # a field validator (not a model one) so the error points at `inputs:` in the file
        domain = info.data.get("domain")
        if domain is not None:
            want = inputs.section_for(domain)
            wrong = [s for s in inputs.given_sections() if s != want]
            if wrong:
                raise ValueError(
                    f"domain '{domain.value}' takes `inputs.{want}`, but the spec gives "
                    f"`inputs.{wrong[0]}`")
        return inputs


