"""Hypothesis data: method classes, predicted effects, constraint outcomes before and after, the
hypotheses report (plan kind, runner-up, what to measure).
"""

from __future__ import annotations

from enum import StrEnum, unique
from typing import Any, Literal

from pydantic import BaseModel, Field, model_validator

from reportgen.analysis.prediction.estimates import Verdict
from reportgen.text import Arg, Msg, Param, msg

Level = Literal["low", "medium", "high"]


@unique
class MethodClass(StrEnum):
    distillation = "distillation"
    quantization = "quantization"
    pruning = "pruning"
    architectural = "architectural"
    hardware = "hardware"
    inference = "inference"
    combined = "combined"


class Prediction(BaseModel):
    """One predicted configuration (roofline on a catalog platform)."""

    platform_id: str
    platform_name: str
    unit: str = ""
    precision: str
    sparse: bool = False
    status: str = "ok"
    latency_s: float | None = Field(None, description="predicted latency per batch, s")
    lower_bound: bool = False
    throughput_per_s: float | None = None
    macs: int = 0
    weight_bytes: float = 0
    peak_activation_bytes: float = 0
    memory_bytes: float = Field(0, description="weights + peak activations at the precision, B")
    storage_bytes: float = Field(0, description="bytes of the stored model (weights), B")
    energy_mj: float | None = Field(None, description="per sample, mJ")
    energy_bound: Literal["typical", "upper", "lower"] | None = Field(
        None, description="what energy_mj is: power × time (typical), at most (upper) or at "
                          "least (lower, e.g. from a latency lower bound)")
    fits: Verdict = "unknown"
    peak_op_per_s: float | None = None
    batch_size: int = 1


SpeedupBound = Literal["value", "upper", "lower", "bounds"]


def speedup_bound(before_lower_bound: bool, after_lower_bound: bool) -> SpeedupBound:
    """What before / after latency is when either latency is only a lower bound: an after
    latency of at least t gives a speed-up of at most before / t."""
    if after_lower_bound:
        return "bounds" if before_lower_bound else "upper"
    return "lower" if before_lower_bound else "value"


def speedup_param(x: float | None, bound: SpeedupBound) -> Arg | Msg:
    """A speed-up as a message parameter, with its bound in words ("up to ×N")."""
    a = Arg(v=x, f="x")
    return a if bound == "value" or x is None else msg(f"findings.speedup_bound.{bound}", x=a)


class ConstraintOutcome(BaseModel):
    name: str
    unit: str
    requirement: float | str | None
    before: float | None
    after: float | None
    verdict_before: Verdict
    verdict_after: Verdict
    bound_before: Literal["value", "upper", "lower"] = Field(
        "value", description="``before`` is the value or an upper / lower bound of it")
    bound_after: Literal["value", "upper", "lower"] = "value"


def hyp_msg(method: str, part: str, **params: Param | Msg) -> Msg:
    """A method's ``part`` sentence (title, mechanism, risk): ``findings.hyp.<method>.<part>``."""
    return msg(f"findings.hyp.{method}.{part}", **params)


class Hypothesis(BaseModel):
    id: str
    method: str = Field(description="key in thresholds.yaml hypotheses.methods and the catalog")
    cls: MethodClass
    rank: int = 0
    title: Msg = Field(description="findings.hyp.<method>.title (filled in when not given)")
    mechanism: Msg = Field(description="findings.hyp.<method>.mechanism (filled in when not given)")
    targets: list[str] = Field(default_factory=list, description="finding ids it addresses")
    applicable: bool = True
    not_applicable_key: str | None = None
    before: Prediction
    after: Prediction | None = None
    speedup: float | None = Field(None, description="before latency / after latency")
    speedup_bound: SpeedupBound = Field(
        "value", description="what ``speedup`` is: value (both latencies predicted), upper (the "
                             "after latency is a lower bound: at most this speed-up), lower (the "
                             "before latency is: at least this), bounds (both are lower bounds: "
                             "a ratio of bounds, neither a value nor a bound)")
    throughput_gain: float | None = None
    memory_ratio: float | None = Field(None, description="after / before (weights + activations)")
    storage_ratio: float | None = None
    energy_ratio: float | None = None
    constraints: list[ConstraintOutcome] = Field(default_factory=list)
    meets_all: bool | None = Field(None, description="every constraint passes after (None: "
                                                     "some cannot be judged)")
    gap_closed: float | None = Field(None, description="worst closure of the failing "
                                                       "constraints' gaps; 1 = closed")
    prerequisites: list[str] = Field(default_factory=list, description="catalog keys")
    risk: Level = "medium"
    risk_note: Msg = Field(description="the accuracy risk in words: findings.hyp.<method>.risk "
                                       "(filled in when not given)")
    effort: Level = "medium"
    maintenance: Level = "medium"
    portability: int = Field(0, description="catalog platforms that can use it")
    components: list[str] = Field(default_factory=list)
    notes: list[str] = Field(default_factory=list, description="catalog keys")

    @model_validator(mode="before")
    @classmethod
    def _method_sentences(cls, data: Any) -> Any:
        """A method's title, mechanism and risk sentences without parameters need not be given."""
        if isinstance(data, dict) and "method" in data:
            data = dict(data)
            for field, part in (("title", "title"), ("mechanism", "mechanism"), ("risk_note", "risk")):
                data.setdefault(field, Msg(code=f"findings.hyp.{data['method']}.{part}"))
        return data


class HypothesesReport(BaseModel):
    baseline: Prediction
    latency_budget_s: float | None = None
    platforms_in_catalog: int = 0
    items: list[Hypothesis] = Field(default_factory=list)
    alone_meet: list[str] = Field(default_factory=list, description="ids that alone meet every "
                                                                    "constraint")
    recommended: str | None = None
    baseline_meets: bool | None = Field(None, description="the baseline already meets every "
                                                          "constraint (None: cannot be judged)")
    missing: list[str] = Field(default_factory=list)
    plan_kind: Literal["none_needed", "measure_first", "software", "power_mode", "other_unit",
                       "new_hardware", "combined", "partial", "none"] = Field(
        "none", description="none_needed: the baseline meets every judged constraint; "
                            "measure_first: it does, but latency or throughput cannot be judged")
    runner_up: str | None = Field(None, description="the next plan in the order of choice")
    runner_up_lost: str | None = Field(None, description="catalog key: why the runner-up lost")
    baseline_fails: list[str] = Field(default_factory=list, description="constraints the "
                                      "baseline fails (judged)")
    to_measure: list[str] = Field(default_factory=list, description="constraints that cannot "
                                  "be judged: they do not decide the plan")

    def get(self, hid: str) -> Hypothesis | None:
        return next((h for h in self.items if h.id == hid), None)


#: message code of a hypothesis that meets the budget by changing the requirement
CHANGES_REQUIREMENT = "findings.note.changes_requirement"
