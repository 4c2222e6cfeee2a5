"""What the stages share: the study's ``Context``, the typed ``Products`` one stage leaves for
the next, and ``StageSkipped`` (a stage that cannot run for a reason that is not an error).

Every stage has one signature, ``StageFn = (ctx: Context, result) -> None``. ``result`` is the
``reportgen.result.StudyResult`` being filled; result.py sits above the analysis layer, so the
analysis stages name what they use of it through ``StageResult`` (a Protocol: attribute names are
checked, the types of sections made by higher layers are ``Any``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from reportgen.analysis.counting.costs import CostAnalysis
    from reportgen.analysis.counting.records import Trace
    from reportgen.catalog.schema import Platform
    from reportgen.models.base import LoadedModel
    from reportgen.models.build import Resolved
    from reportgen.spec.schema import StudySpec
    from reportgen.text import Msg


class StageSkipped(Exception):
    """Raised by a stage that cannot run for a non-error reason (disabled, not available)."""

    def __init__(self, reason: str, hint: str | None = None, state: str = "not_available",
                 code: str | None = None, **params: str | int | float) -> None:
        super().__init__(reason)
        self.reason = reason
        self.hint = hint
        self.state = state
        self.code = code  # message key under `stage_reason.` in the locale catalogs
        self.params = params


class MissingProduct(RuntimeError):
    """A stage read a product no earlier stage made (its ``needs`` in the stage table are wrong)."""


@dataclass
class Products:
    """What earlier stages made for later ones; ``None`` until the stage that makes it ran.

    Objects of analysis layers above this module are typed ``Any`` (the layer rule forbids
    importing them here); the comment on each names the real type."""

    resolved: Resolved | None = None  # model stage (or given by the caller, resolved once)
    loaded: LoadedModel | None = None  # model stage: the model on meta
    trace: Trace | None = None  # trace stage: the model as traced
    trace_notes: list[Msg] | None = None  # trace stage: assumptions the trace made
    # every trace made in this build, by (source json, inputs json): re-traces are shared
    trace_cache: dict[tuple[str, str], Trace] = field(default_factory=dict)
    platform: Platform | None = None  # platform stage (or given by the caller)
    # the spec's compare_platforms as the caller resolved them when checking the spec (the
    # catalog's 'host' entry unmeasured); None = resolved by the roofline stage
    compare_platforms: tuple[Platform, ...] | None = None
    runtime: Any = None  # roofline stage: prediction.runtime.Runtime (a higher layer)
    baseline_trace: Trace | None = None  # roofline stage: the trace under the baseline runtime
    study: Any = None  # hypotheses stage: hypotheses.study.Study (a higher layer)
    hypotheses_report: Any = None  # experiments stage: hypotheses.models.HypothesesReport
    measurements_file: Any = None  # caller: a checked measurement.models.MeasurementsFile
    measurements_path: str | None = None  # caller: the file name shown in the report
    experiment_progress: Callable[[str], None] | None = None  # caller: experiments' progress

    def need_resolved(self) -> Resolved:
        if self.resolved is None:
            raise MissingProduct("the resolved study is needed: the model stage did not run")
        return self.resolved

    def need_loaded(self) -> LoadedModel:
        if self.loaded is None:
            raise MissingProduct("the built model is needed: the model stage did not run")
        return self.loaded

    def need_trace(self) -> Trace:
        if self.trace is None:
            raise MissingProduct("the op trace is needed: the trace stage did not run")
        return self.trace

    def need_platform(self) -> Platform:
        if self.platform is None:
            raise MissingProduct("the target platform is needed: the platform stage did not run")
        return self.platform


@dataclass
class Context:
    """What stages share: the spec, options and earlier stages' products."""

    spec: StudySpec
    spec_path: Path | None
    allow_code: bool = False
    deterministic: bool = False
    products: Products = field(default_factory=Products)
    # test hook: stage names forced to fail (fault injection)
    fail_stages: frozenset[str] = frozenset()


class StageResult(Protocol):
    """The sections of ``reportgen.result.StudyResult`` the analysis stages read and fill. A
    section whose model lives in a higher layer than this module is ``Any``; the comment names it."""

    costs: CostAnalysis | None
    warning_msgs: list[Msg]
    model: Any  # result.ModelInfo | None
    baseline: Any  # prediction.runtime.Baseline | None
    roofline: Any  # prediction.estimates.PlatformEstimate | None (every precision's op rows)
    block_times: Any  # list[prediction.platform_card.BlockTime]
    verdicts: Any  # list[prediction.verdicts.ConstraintVerdict]
    first_to_break: Any  # prediction.verdicts.ConstraintVerdict | None
    zoo: Any  # list[prediction.verdicts.ZooRow]
    generation: Any  # prediction.generation.Generation | None
    measurements: Any  # measurement.models.Measurements | None
    scaling: Any  # measurement.scaling.Scaling | None
    findings: Any  # findings.models.FindingsReport | None
    hypotheses: Any  # hypotheses.models.HypothesesReport | None
    experiments: Any  # experiments.models.ExperimentsReport | None
    tradeoffs: Any  # tradeoffs.TradeOffs | None


# result: reportgen.result.StudyResult, which is a StageResult (see the module docstring)
StageFn = Callable[[Context, Any], None]
