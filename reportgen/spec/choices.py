"""The closed choices a study spec offers, as string enums (their values are what a user writes):
the model's domain, numeric precisions (``Precision.bytes``: bytes per element), the report's
language, the baseline runtime, output formats, the level of detail, and the main-body sections
with their default order (``DEFAULT_SECTIONS``).
"""

from __future__ import annotations

from enum import StrEnum, unique


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
