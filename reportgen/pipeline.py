"""Runs the stages of a study, each isolated: a failing stage is recorded on the result with its
reason, stages that need it are skipped, and the report is still built (exit status says partial).
"""

from __future__ import annotations

import datetime as dt
import os
import platform as pyplatform
import sys
import time
import traceback
from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from reportgen.analysis.experiments.stage import stage as experiments_stage
from reportgen.analysis.findings.stage import stage as findings_stage
from reportgen.analysis.hypotheses.stage import stage as hypotheses_stage
from reportgen.analysis.measurement.measure import stage as measure_stage
from reportgen.analysis.measurement.scaling import stage as scaling_stage
from reportgen.analysis.prediction.generation import stage as generation_stage
from reportgen.analysis.stage import Context, Products, StageFn, StageResult, StageSkipped
from reportgen.analysis.tradeoffs import stage as tradeoffs_stage
from reportgen.errors import ReportgenError
from reportgen.result import (
    ConstraintGiven,
    Environment,
    ModelInfo,
    PaperInfo,
    PlatformInfo,
    PublishedComparison,
    Reproduction,
    StageStatus,
    StudyResult,
    TensorInfo,
)
from reportgen.spec.load import study_id
from reportgen.spec.schema import StudySpec
from reportgen.version import __version__

if TYPE_CHECKING:
    from reportgen.catalog.schema import Platform
    from reportgen.models.build import Resolved

    # the analysis stages take the result as a StageResult: StudyResult must have its sections
    _SECTIONS: type[StageResult] = StudyResult

FROZEN_CLOCK = "2000-01-01T00:00:00+00:00"

# Host measurements must never overlap (two timed runs on the same cores measure each other).
# The "measure" stage runs inside ``MEASURE_LOCK()``; batch builds (reportgen.batch) set it in
# each worker process to a factory of one cross-process lock. Default: no lock.
MEASURE_LOCK: Callable[[], AbstractContextManager[Any]] = nullcontext

ProgressFn = Callable[[str, str], None]  # (stage name, state) -> None

_CONSTRAINT_UNITS = {
    "latency_ms": "ms", "throughput_per_s": "1/s", "memory_mb": "MB", "power_w": "W",
    "energy_mj": "mJ", "cost_usd": "USD", "input_bandwidth_mb_s": "MB/s", "connectivity": "",
}


@dataclass
class Stage:
    name: str
    run: StageFn  # (ctx, result: StudyResult) -> None
    needs: tuple[str, ...] = ()
    hint: str | None = None


# --------------------------------------------------------------------------- stages

def _stage_model(ctx: Context, result: StudyResult) -> None:
    from reportgen.models.base import input_summary
    from reportgen.models.build import build, resolve

    # resolved once per build: the caller may have resolved it already (checking the spec)
    resolved = ctx.products.resolved or resolve(ctx.spec, str(ctx.spec_path or "<spec>"))
    base = ctx.spec_path.parent if ctx.spec_path else Path.cwd()
    loaded = build(resolved, device="meta", base_dir=base, allow_code=ctx.allow_code)
    ctx.products.resolved = resolved
    ctx.products.loaded = loaded
    card = resolved.card
    lang = ctx.spec.language.value
    result.model = ModelInfo(
        name=card.name if card else _source_name(resolved.source),
        card=card.id if card else None, domain=resolved.domain.value, task=resolved.task,
        source=resolved.source.source, recipe=loaded.recipe,
        input_description=loaded.input_description,
        description=getattr(card.description, lang) if card else ctx.spec.description,
        architecture=getattr(card.architecture, lang) if card else None,
        paper=PaperInfo(**card.paper.model_dump()) if card else None,
        note_msgs=list(loaded.notes),
        input_msg=input_summary(resolved.domain, resolved.inputs))
    from reportgen.analysis.counting.params import module_params

    result.model.params = module_params(loaded.module)
    result.model.network_input_msg = loaded.network_input_msg


def _source_name(src: Any) -> str:
    for attr in ("name", "builder", "model_type", "callable", "config_file", "hub_id"):
        v = getattr(src, attr, None)
        if v:
            return str(v)
    return "model"


def _stage_trace(ctx: Context, result: StudyResult) -> None:
    from reportgen.analysis.counting.trace import ForwardError, is_data_dependent, trace_forward
    from reportgen.errors import ModelBuildError

    loaded = ctx.products.need_loaded()
    args, kwargs = loaded.make_inputs("meta")
    if loaded.prepare is not None:
        args, kwargs = loaded.prepare(loaded.module, args, kwargs)
    try:
        trace, _, notes = trace_forward(loaded.module, args, kwargs, int_scalar=loaded.meta_int_scalar)
    except ForwardError as e:  # names the module, op and shapes where the forward failed
        if is_data_dependent(e.op):
            # the inputs are fine: the op's output shape depends on values a meta tensor lacks
            err = ModelBuildError(
                f"the model's forward reached the data-dependent op {e.op} in module "
                f"'{e.module or '<model>'}' ({e.module_type}): its output size depends on tensor "
                f"values, which meta tensors do not have; the inputs ({loaded.input_description}) "
                f"are not the cause")
            err.code = "forward_data_dependent"
        else:
            err = ModelBuildError(
                f"the model's forward failed on the spec's inputs ({loaded.input_description}) {e}")
            err.code = "forward_failed"
        err.params = {"op_code": e.op or "?", "module_code": e.module or "<model>",
                      "module_type": e.module_type, "inputs": loaded.input_description,
                      "detail": str(e)}
        raise err from e
    except ReportgenError:
        raise
    except Exception as e:
        raise ModelBuildError(
            f"the model's forward failed on the spec's inputs ({loaded.input_description}): "
            f"{type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''}") from e
    ctx.products.trace = trace
    ctx.products.trace_notes = notes
    resolved = ctx.products.need_resolved()
    ctx.products.trace_cache[(resolved.source.model_dump_json(), resolved.inputs.model_dump_json())] = trace
    if result.model is not None:
        result.model.input_tensors = _tensor_infos(loaded.module, args, kwargs)
        if loaded.bounds:
            from reportgen.analysis.counting.published import scoped_macs

            total = sum(r.macs for r in trace.records)
            parts = []
            for b in loaded.bounds:
                macs = scoped_macs(trace.records, b.modules)
                parts.append(b.model_copy(update={"macs": macs, "mac_share": macs / total if total else 0.0}))
            result.model.data_dependent = parts


def _tensor_infos(module: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> list[TensorInfo]:
    """Name, shape and dtype of each tensor the forward receives (names from its signature)."""
    import inspect

    import torch

    try:
        names = [n for n in inspect.signature(module.forward).parameters if n not in ("self",)]
    except (TypeError, ValueError):
        names = []
    out: list[TensorInfo] = []
    items = [(names[i] if i < len(names) else f"arg{i}", a) for i, a in enumerate(args)]
    items += list(kwargs.items())
    for name, value in items:
        if isinstance(value, torch.Tensor):
            out.append(TensorInfo(name=name, shape=list(value.shape),
                                  dtype=str(value.dtype).removeprefix("torch.")))
    return out


def _stage_costs(ctx: Context, result: StudyResult) -> None:
    from reportgen.analysis.counting.costs import analyse

    result.costs = analyse(ctx.products.need_trace(), ctx.products.trace_notes)
    if result.costs.summary.at_least:
        from reportgen.text import msg

        w = msg("warning.not_counted", share=result.costs.summary.not_counted_bytes_share)
        result.warning_msgs.append(w)


def _stage_published(ctx: Context, result: StudyResult) -> None:
    from reportgen.analysis.counting.published import same_input, scoped_macs, shape_text

    resolved = ctx.products.need_resolved()
    if resolved.card is None:
        raise StageSkipped("no published figures: the model is not from a model card",
                           code="no_published")
    if not resolved.card.published:
        raise StageSkipped(f"model card '{resolved.card.id}' lists no published figures",
                           code="card_without_figures", card=resolved.card.id)
    # parameters need no forward pass: compare them even when the trace failed
    params = result.model.params if result.model is not None else None
    trace = ctx.products.trace
    shapes = [t.shape for t in result.model.input_tensors] if result.model is not None else []
    counted_shape = shapes[0] if shapes else None
    for fig in resolved.card.published:
        scope = fig.modules
        if fig.unit == "params":
            if params is None:
                continue
            c = float(params.total)
        elif trace is None:
            continue
        else:
            macs = scoped_macs(trace.records, scope)
            c = float(macs if fig.unit == "MACs" else 2 * macs)
        rel = (c - fig.value) / fig.value if fig.value else 0.0
        same = same_input(fig.input, counted_shape) if fig.unit != "params" else None
        result.published.append(PublishedComparison(
            quantity=fig.unit, published=fig.value, counted=c, relative_difference=rel,
            tolerance=fig.tolerance, agrees=abs(rel) <= fig.tolerance and same is not False,
            source=fig.source, url=fig.url, convention=fig.convention, input=fig.input, note=fig.note,
            scope=scope, counted_input=shape_text(counted_shape) if counted_shape and fig.unit != "params" else None,
            same_input=same))


def _stage_platform(ctx: Context, result: StudyResult) -> None:
    from reportgen.analysis.prediction.platform_card import platform_card
    from reportgen.catalog.lookup import resolve_platform

    ref = ctx.spec.platform
    if ref.id == "host" and ref.custom is None and ctx.deterministic:
        raise StageSkipped("the 'host' platform is measured on this machine, so it is left out of "
                           "deterministic builds", hint="build without --deterministic, or pick a "
                           "catalog platform", state="failed", code="host_deterministic")
    # resolved once per build: the caller may have resolved it already (checking the spec)
    plat = ctx.products.platform or resolve_platform(ref, filename=str(ctx.spec_path or "<spec>"),
                                                     measure_host=not ctx.deterministic)
    ctx.products.platform = plat
    result.platform = PlatformInfo(id=plat.id, name=plat.name, platform_class=plat.class_.value,
                                   card=platform_card(plat))


def _stage_roofline(ctx: Context, result: StudyResult) -> None:
    from reportgen.analysis.prediction.baseline import baseline_precision
    from reportgen.analysis.prediction.platform_card import block_times
    from reportgen.analysis.prediction.roofline import estimate
    from reportgen.analysis.prediction.runtime import deployed_trace, deployment_runtime, describe
    from reportgen.analysis.prediction.verdicts import (
        constraint_verdicts,
        first_constraint_to_break,
        zoo_comparison,
    )

    traced, plat = ctx.products.need_trace(), ctx.products.need_platform()
    # the baseline is what would ship: the platform's runtime with its free transforms applied
    runtime = deployment_runtime(plat, ctx.spec.runtime)
    trace = deployed_trace(traced, runtime)
    ctx.products.runtime, ctx.products.baseline_trace = runtime, trace
    batch = ctx.products.need_resolved().inputs.batch_size
    est = estimate(trace, plat, ctx.spec.precisions, batch_size=batch)
    base = baseline_precision(est, trace.dtype)
    if base is not None:
        result.baseline = describe(traced, trace, runtime, base.precision)
    # the full estimate (every precision's per-op rows) stays in memory for the later stages;
    # data.json keeps the baseline's rows only (StudyResult.as_written)
    keep = base.precision if base is not None else \
        (est.per_precision[0].precision if est.per_precision else None)
    result.roofline = est
    if keep is not None and result.costs is not None:
        result.block_times = block_times(result.costs.blocks, est.get(keep))
    # judged at the one baseline (precision + runtime) the hypotheses start from
    result.verdicts = constraint_verdicts(ctx.spec.constraints, est, plat, keep)
    result.first_to_break = first_constraint_to_break(result.verdicts)
    if ctx.spec.compare_platforms:
        # each platform as it would ship there: the traced model under that platform's runtime
        result.zoo = zoo_comparison(traced, _compare_platforms(ctx), ctx.spec.precisions,
                                    batch_size=batch, runtime=ctx.spec.runtime)


def _compare_platforms(ctx: Context) -> list[Platform]:
    """The spec's comparison platforms, resolved once: by the caller that checked the spec, else
    here. 'host' is measured on this machine, or left out of a deterministic build."""
    from reportgen.catalog.lookup import get_platform

    given = ctx.products.compare_platforms
    if given is None:  # unknown ids fail here, before any work
        given = tuple(get_platform(pid, measure_host=False) for pid in ctx.spec.compare_platforms)
        ctx.products.compare_platforms = given
    out: list[Platform] = []
    for plat in given:
        if plat.id == "host":
            if ctx.deterministic:
                continue
            plat = get_platform("host")  # the catalog entry holds no figures: measure them
        out.append(plat)
    return out


def _not_yet(what: str, issue: str) -> StageFn:
    def run(ctx: Context, result: StudyResult) -> None:
        raise StageSkipped(f"{what} is not computed yet", hint=f"arrives with the {issue} work",
                           code="not_yet")
    return run


STAGES: list[Stage] = [
    Stage("model", _stage_model, hint="check the model section of the spec"),
    Stage("trace", _stage_trace, needs=("model",),
          hint="check that `inputs:` in the spec match what the model's forward expects"),
    Stage("costs", _stage_costs, needs=("trace",)),
    Stage("published", _stage_published, needs=("model",)),
    Stage("platform", _stage_platform, hint="check `platform:` in the spec; `reportgen platforms` lists ids"),
    Stage("roofline", _stage_roofline, needs=("trace", "platform", "costs")),
    Stage("generation", generation_stage, needs=("trace", "platform")),
    Stage("measure", measure_stage, needs=("trace",),
          hint="`profiling.enabled: false` in the spec skips it; `reportgen profile` measures elsewhere"),
    Stage("scaling", scaling_stage, needs=("trace",)),
    Stage("findings", findings_stage, needs=("costs",)),
    Stage("hypotheses", hypotheses_stage, needs=("findings", "roofline"),
          hint="the hypotheses need the op trace and the target platform"),
    Stage("experiments", experiments_stage, needs=("trace", "hypotheses"),
          hint="`build --experiments` runs it; `experiments.methods` in the spec picks methods"),
    Stage("tradeoffs", tradeoffs_stage, needs=("hypotheses",)),
]


# --------------------------------------------------------------------------- runner

def _environment(deterministic: bool) -> Environment:
    if deterministic:
        return Environment(reportgen=__version__)
    import torch
    import torchvision
    import transformers

    return Environment(reportgen=__version__, python=sys.version.split()[0], torch=torch.__version__,
                       torchvision=torchvision.__version__, transformers=transformers.__version__,
                       platform=pyplatform.platform())


def new_result(spec: StudySpec, spec_path: Path | None, deterministic: bool, command: str) -> StudyResult:
    now = FROZEN_CLOCK if deterministic else dt.datetime.now(dt.UTC).replace(microsecond=0).isoformat()
    spec_file = (spec_path.name if deterministic else str(spec_path)) if spec_path else None
    return StudyResult(
        study_id=study_id(spec, spec_path), title=spec.title, author=spec.author,
        language=spec.language.value, generated_at=now, deterministic=deterministic,
        platform=PlatformInfo(id=spec.platform.id, name=spec.platform.id),
        constraints=[ConstraintGiven(name=k, value=v if not isinstance(v, dict) else str(v),
                                     unit=_CONSTRAINT_UNITS.get(k, ""))
                     for k, v in spec.constraints.given().items() if k != "sensor"],
        precisions=[p.value for p in spec.precisions], environment=_environment(deterministic),
        reproduction=Reproduction(command=command, spec_file=spec_file,
                                  resolved_spec=_resolved(spec)))


def _resolved(spec: StudySpec) -> dict[str, Any]:
    """The spec as built; the experiments block only when they were asked for."""
    data = spec.model_dump(mode="json", exclude_none=True)
    if not spec.experiments.enabled:
        data.pop("experiments", None)
    return data


def run(spec: StudySpec, spec_path: str | Path | None = None, *, deterministic: bool | None = None,
        allow_code: bool = False, progress: ProgressFn | None = None, command: str | None = None,
        fail_stages: frozenset[str] = frozenset(), stages: list[Stage] | None = None,
        measurements: Any | None = None, measurements_path: str | None = None,
        experiment_progress: Callable[[str], None] | None = None, resolved: Resolved | None = None,
        platform: Platform | None = None,
        compare_platforms: Sequence[Platform] | None = None) -> StudyResult:
    """Run every stage of the study; never raises for a stage failure (see ``result.stages``).

    ``measurements``: a checked ``MeasurementsFile`` (``reportgen profile``) merged as measured.
    ``resolved``, ``platform``, ``compare_platforms``: the spec's model, platform and comparison
    platforms when the caller resolved them already (``reportgen.study.check_references``), so
    that a build resolves them once."""
    det = spec.deterministic if deterministic is None else deterministic
    path = Path(spec_path) if spec_path else None
    cmd = command or f"reportgen build {path.name if path else 'SPEC'}" + (" --deterministic" if det else "")
    ctx = Context(spec=spec, spec_path=path, allow_code=allow_code, deterministic=det,
                  fail_stages=fail_stages, products=Products(
                      resolved=resolved, platform=platform,
                      compare_platforms=tuple(compare_platforms) if compare_platforms is not None else None))
    if measurements is not None:
        ctx.products.measurements_file, ctx.products.measurements_path = measurements, measurements_path
    ctx.products.experiment_progress = experiment_progress
    result = new_result(spec, path, det, cmd)
    done_ok: set[str] = set()
    states: dict[str, StageStatus] = {}
    for stage in stages or STAGES:
        missing = [n for n in stage.needs if n not in done_ok]
        if missing:
            dep = states.get(missing[0])
            if dep is not None and dep.state == "not_available":
                # not an error: what this stage needs is simply not computed in this build
                status = StageStatus(name=stage.name, state="not_available",
                                     reason=f"needs '{missing[0]}': {dep.reason}", hint=dep.hint,
                                     code="needs_unavailable", params={"stage": missing[0]})
            else:
                status = StageStatus(
                    name=stage.name, state="skipped",
                    reason=f"needs the '{missing[0]}' stage, which did not complete",
                    hint=next((s.hint for s in STAGES if s.name == missing[0]), None),
                    code="needs_failed", params={"stage": missing[0]})
            result.stages.append(status)
            states[stage.name] = status
            if progress:
                progress(stage.name, status.state)
            continue
        if progress:
            progress(stage.name, "running")
        t0 = time.perf_counter()
        status = StageStatus(name=stage.name, state="ok")
        try:
            if stage.name in ctx.fail_stages:
                raise RuntimeError(f"fault injected into stage '{stage.name}'")
            with MEASURE_LOCK() if stage.name in ("measure", "experiments") else nullcontext():
                stage.run(ctx, result)
            done_ok.add(stage.name)
        except StageSkipped as s:
            status = StageStatus(name=stage.name, state=s.state, reason=s.reason, hint=s.hint,
                                 code=s.code, params=s.params)
        except ReportgenError as e:
            status = StageStatus(name=stage.name, state="failed", reason=str(e), hint=stage.hint,
                                 code=e.code, params=dict(e.params))
        except KeyboardInterrupt:
            raise
        except Exception as e:  # isolate any stage failure: the report is still built
            if os.environ.get("REPORTGEN_DEBUG", "") not in ("", "0"):  # `reportgen --debug`
                print(f"--- stage {stage.name} failed:\n" + "".join(traceback.format_exception(e)),
                      file=sys.stderr, flush=True)
            tb = traceback.extract_tb(e.__traceback__)
            where = f" (at {Path(tb[-1].filename).name}:{tb[-1].lineno})" if tb and not det else ""
            status = StageStatus(name=stage.name, state="failed",
                                 reason=f"{type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''}{where}",
                                 hint=stage.hint or "please report this with the spec attached")
        if not det:
            status.seconds = round(time.perf_counter() - t0, 3)
        result.stages.append(status)
        states[stage.name] = status
        if progress:
            progress(stage.name, status.state)
    return result
