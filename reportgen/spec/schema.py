"""The study spec: what a user writes (``StudySpec``). Strict pydantic models; YAML errors carry
line:column. This module holds the whole study and its options: the target platform reference,
the deployment's constraints (with a sensor stream's data rate), host profiling, on-host
experiments and the output; the model reference is in ``spec/sources.py``, the inputs in
``spec/inputs.py`` and the enumerations in ``spec/choices.py``.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Annotated, Any

from pydantic import Field, ValidationInfo, field_validator

from reportgen.spec.base import Strict
from reportgen.spec.choices import (
    DEFAULT_SECTIONS,
    Detail,
    Domain,
    Language,
    OutputFormat,
    Precision,
    RuntimeChoice,
    Section,
)
from reportgen.spec.inputs import Inputs
from reportgen.spec.sources import ModelRef

# Precision, Inputs and Domain stay importable from here too: many modules (some of them being
# changed elsewhere) import the spec's vocabulary from this module.


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
