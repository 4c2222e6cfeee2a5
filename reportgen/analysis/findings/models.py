"""The findings' data: finding types, evidence, locations, the scaling probe and the report;
thresholds come from ``thresholds.yaml``. Sentences are ``Msg`` (codes under ``findings.``), not
text.
"""

from __future__ import annotations

from enum import StrEnum, unique
from functools import lru_cache
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, Field

from reportgen.text import Fmt, Msg

OriginName = Literal["counted", "predicted", "measured", "published", "given"]

THRESHOLDS_PATH = Path(__file__).with_name("thresholds.yaml")


@lru_cache(maxsize=1)
def thresholds() -> dict[str, Any]:
    """``thresholds.yaml`` as a dict (findings and hypotheses sections)."""
    with THRESHOLDS_PATH.open(encoding="utf-8") as fh:
        return yaml.safe_load(fh)


@unique
class FindingType(StrEnum):
    compute_bound = "compute-bound"
    memory_bound = "memory-bound"
    overhead_bound = "overhead-bound"
    capacity = "capacity"
    bandwidth_io = "bandwidth-io"
    scaling = "scaling"
    unsupported = "unsupported"
    uncounted = "uncounted"


class Evidence(BaseModel):
    label: str = Field(description="catalog key under findings.ev")
    value: float | int | str | None
    unit: str = Field(description="s, B, fraction, MAC, FLOP/B, count, exponent, text")
    f: Fmt = "num"
    origin: OriginName
    msg: Msg | None = Field(None, description="a generated sentence (analysis/messages.py) the "
                            "report prints instead of a text value")


class Location(BaseModel):
    module: str | None = None
    op: str | None = None
    layer_type: str | None = None


class Finding(BaseModel):
    """One bottleneck."""

    id: str = Field(description="stable: type:subtype:layer type")
    type: FindingType
    subtype: str = ""
    rank: int = 0
    impact: float = Field(description="share of predicted latency explained; > 1 = blocking")
    severity: Literal["blocking", "high", "medium", "low"]
    location: Location
    time_s: float | None = Field(None, description="predicted time attributable, s")
    summary: Msg = Field(description="what was found (findings.summary.*)")
    why: Msg = Field(description="why it matters (findings.why.*)")
    evidence: list[Evidence] = Field(default_factory=list)


class Insight(BaseModel):
    """What the numbers teach beyond the bottleneck classes (not ranked by latency): where the
    parameters sit against the compute, what dominates memory, weight streaming vs compute."""

    id: str = Field(description="stable: insight:<kind>[:<where>]")
    text: Msg = Field(description="the sentence (findings.insight.*)")
    evidence: list[Evidence] = Field(default_factory=list)


class ScalingProbe(BaseModel):
    """Cost at the spec's input size and at ``factor`` × it (re-traced on meta)."""

    axis: str = Field(description="catalog key of the swept size (pixels, tokens, seconds, batch)")
    size: float
    factor: float
    macs: int
    macs_scaled: int
    latency_s: float | None = None
    latency_scaled_s: float | None = None
    macs_exponent: float
    latency_exponent: float | None = None
    linear: float = Field(1.0, description="the exponent of linear growth on this axis (2 for an "
                                          "image side: cost ∝ pixels)")
    budget_size: float | None = Field(None, description="size at which the latency budget is "
                                                        "reached (power-law extrapolation)")
    origin: Literal["counted", "predicted", "measured"] = "predicted"
    r2: float | None = Field(None, description="R² of the power-law fit behind the exponent "
                                               "(None: two points, an exact fit)")


class FindingsReport(BaseModel):
    """The findings stage's output."""

    platform_id: str | None = None
    precision: str | None = Field(None, description="precision the findings were judged at")
    predicted_latency_s: float | None = None
    latency_budget_s: float | None = None
    items: list[Finding] = Field(default_factory=list)
    insights: list[Insight] = Field(default_factory=list)
    scaling: ScalingProbe | None = None
    missing: list[str] = Field(default_factory=list, description="catalog keys: what could not "
                                                                 "be judged and why")

    def of_type(self, t: FindingType | str) -> list[Finding]:
        return [f for f in self.items if f.type == t]

    @property
    def types(self) -> list[str]:
        return list(dict.fromkeys(f.type.value for f in self.items))


