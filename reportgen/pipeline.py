"""Runs the stages of a study, each isolated: a failing stage is recorded on the result with its
reason, stages that need it are skipped, and the report is still built (exit status says partial).
"""

from __future__ import annotations

import os
import sys
import time
import traceback
from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from reportgen.analysis.counting.stage import stage as costs_stage
from reportgen.analysis.experiments.stage import stage as experiments_stage
from reportgen.analysis.findings.stage import stage as findings_stage
from reportgen.analysis.hypotheses.stage import stage as hypotheses_stage
from reportgen.analysis.measurement.measure import stage as measure_stage
from reportgen.analysis.measurement.scaling import stage as scaling_stage
from reportgen.analysis.prediction.generation import stage as generation_stage
from reportgen.analysis.prediction.stage import stage as roofline_stage
from reportgen.analysis.stage import Context, Products, StageFn, StageResult, StageSkipped
from reportgen.analysis.tradeoffs import stage as tradeoffs_stage
from reportgen.errors import ReportgenError
from reportgen.header import new_result
from reportgen.result import StageStatus, StudyResult
from reportgen.spec.schema import StudySpec
from reportgen.stages import model_stage, platform_stage, published_stage, trace_stage

if TYPE_CHECKING:
    from reportgen.catalog.schema import Platform
    from reportgen.models.build import Resolved

    # the analysis stages take the result as a StageResult: StudyResult must have its sections
    _SECTIONS: type[StageResult] = StudyResult

# Host measurements must never overlap (two timed runs on the same cores measure each other).
# The "measure" stage runs inside ``MEASURE_LOCK()``; batch builds (reportgen.batch) set it in
# each worker process to a factory of one cross-process lock. Default: no lock.
MEASURE_LOCK: Callable[[], AbstractContextManager[Any]] = nullcontext

ProgressFn = Callable[[str, str], None]  # (stage name, state) -> None


@dataclass
class Stage:
    name: str
    run: StageFn  # (ctx, result: StudyResult) -> None
    needs: tuple[str, ...] = ()
    hint: str | None = None


STAGES: list[Stage] = [
    Stage("model", model_stage, hint="check the model section of the spec"),
    Stage("trace", trace_stage, needs=("model",),
          hint="check that `inputs:` in the spec match what the model's forward expects"),
    Stage("costs", costs_stage, needs=("trace",)),
    Stage("published", published_stage, needs=("model",)),
    Stage("platform", platform_stage, hint="check `platform:` in the spec; `reportgen platforms` lists ids"),
    Stage("roofline", roofline_stage, needs=("trace", "platform", "costs")),
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
