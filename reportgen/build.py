"""Build one or many studies: load spec → pipeline.run → write the study folder atomically.

Batch builds never stop at a broken spec: each spec gets an Outcome, the CLI prints a summary.
"""

from __future__ import annotations

import traceback
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.markup import escape

from reportgen.errors import RenderError, ReportgenError, SpecIssue
from reportgen.outdir import OutputError, write_failure
from reportgen.spec.load import load_located_spec, study_id
from reportgen.spec.schema import StudySpec
from reportgen.study import Checked


@dataclass
class Outcome:
    spec_path: Path
    state: str  # ok / partial / error
    summary: str
    folder: Path | None = None
    not_available: tuple[str, ...] = ()  # sections this build does not compute (yet)

    def exit_code(self, strict: bool) -> int:
        """2 nothing built (bad input, render failure); 1 partial (a stage or figure failed or
        was skipped; with ``strict`` also any not-available section); 0 complete."""
        if self.state == "error":
            return 2
        if self.state == "partial":
            return 1
        if strict and self.not_available:
            return 1
        return 0


def validate_spec(path: Path) -> tuple[str, list[SpecIssue]]:
    """Load the spec and resolve its card and platform; say what would be built, and the
    warnings (listed precisions the platform cannot run, which ``build`` reports as unsupported)."""
    from reportgen.drybuild import check_precisions, dry_build
    from reportgen.study import check_references

    spec, located = load_located_spec(path)
    checked = check_references(spec, path, allow_code=None, located=located)
    resolved = checked.resolved
    warnings = check_precisions(spec, path, checked.located)  # raises when none of them can run
    # a dry build: the model on meta, traced once on the spec's inputs
    skipped = dry_build(spec, path, resolved, checked.located)
    if checked.platform is not None:
        plat = checked.platform.name
    else:  # the host, measured
        from reportgen.catalog.lookup import resolve_platform

        plat = resolve_platform(spec.platform).name
    what = resolved.card.id if resolved.card else resolved.source.source
    code = ""
    if resolved.source.source == "python" and resolved.card is None:
        code = "; this model runs your code: build it with --allow-code"
    if skipped:
        code += f" ({skipped})"
    summary = f"model {what} ({resolved.domain.value}) on {plat}, study '{study_id(spec, path)}'{code}"
    return summary, warnings


def output_folder(spec: StudySpec, spec_path: Path, output: Path | None) -> Path:
    base = output if output is not None else Path(spec.output.directory)
    return base / study_id(spec, spec_path)


def build_one(path: Path, *, output: Path | None, formats: list[str] | None, deterministic: bool,
              allow_code: bool, template_root: Path | None, console: Console,
              measurements: Path | None = None, experiments: bool = False) -> Outcome:
    from reportgen.outdir import check_writable, study_lock
    from reportgen.report.render import check_replaceable
    from reportgen.study import check_references

    spec, located = load_located_spec(path)
    spec = with_experiments(spec, experiments)
    checked = check_references(spec, path, allow_code=allow_code, located=located)
    det = deterministic or spec.deterministic
    folder = output_folder(spec, path, output)
    check_replaceable(folder)
    check_writable(folder)  # a read-only folder or a file in the way: before the analysis
    fmts = formats or [f.value for f in spec.output.formats]
    measured = _measurements(measurements, checked)
    with study_lock(folder):  # a second build of this study at the same time fails at once
        return _build_locked(path, spec, folder, fmts, det, allow_code, template_root, console,
                             measurements, measured, experiments, checked)


def _build_locked(path: Path, spec: StudySpec, folder: Path, fmts: list[str], det: bool,
                  allow_code: bool, template_root: Path | None, console: Console,
                  measurements: Path | None, measured: object | None,
                  experiments: bool, checked: Checked) -> Outcome:
    from reportgen import pipeline
    from reportgen.report.render import write_study

    console.print(f"[bold]{escape(str(path))}[/] → {escape(str(folder))}", highlight=False)

    def progress(stage: str, state: str) -> None:
        if state == "running":
            return
        mark = {"ok": "[green]✓[/]", "failed": "[red]✗[/]", "skipped": "[yellow]–[/]",
                "not_available": "[dim]·[/]"}.get(state, state)
        console.print(f"  {mark} {stage}" + ("" if state == "ok" else f" [dim]({state.replace('_', ' ')})[/]"),
                      highlight=False)

    with console.status("analysing…", spinner="dots") as status:
        def experiment(step: str) -> None:  # progress of the experiments stage
            status.update(f"experiments: {step}…")
        result = pipeline.run(spec, path, deterministic=det, allow_code=allow_code, progress=progress,
                              command=_command(path, det, allow_code, measurements, experiments),
                              measurements=measured,
                              measurements_path=measurements.name if measurements else None,
                              experiment_progress=experiment, resolved=checked.resolved,
                              platform=checked.platform,
                              compare_platforms=checked.compare_platforms)
    try:
        with console.status("rendering…", spinner="dots"):
            figure_errors = write_study(result, folder, fmts, template_root=template_root,
                                        on_step=lambda s: None)
    except ReportgenError:
        raise
    except OSError as e:  # a full disk, a folder gone read-only: the temp folder is removed
        raise OutputError(write_failure(e, folder)) from None
    except Exception as e:  # any render failure: one screen, the earlier report is kept
        raise RenderError(render_failure(e, folder, template_root)) from None
    failed = [s.name for s in result.stages if s.state in ("failed", "skipped")]
    missing = tuple(s.name for s in result.stages if s.state == "not_available")
    if failed or figure_errors:
        first = next((f"{s.name}: {s.reason}" for s in result.stages
                      if s.state in ("failed", "skipped")), None) or figure_errors[0]
        console.print(f"  [yellow]partial:[/] {escape(first)}", highlight=False)
        what = failed + [f"{len(figure_errors)} figure(s)"] * bool(figure_errors)
        return Outcome(path, "partial", f"partial ({', '.join(what)} did not complete)", folder, missing)
    note = f"; not available: {', '.join(missing)}" if missing else ""
    done = ", ".join(str(folder / f"report.{f}") for f in fmts)
    console.print(f"  [green]done[/] {escape(done)}", highlight=False)
    return Outcome(path, "ok", "ok" + note, folder, missing)


def render_failure(e: BaseException, folder: Path, template_root: Path | None) -> str:
    """One screen on a render failure: what failed, where in which template, what to do."""
    where = ""
    if getattr(e, "lineno", None) and getattr(e, "filename", None):  # TemplateSyntaxError
        where = f" at {e.filename}:{e.lineno}"  # type: ignore[attr-defined]
    else:
        frames = [f for f in traceback.extract_tb(e.__traceback__) if f.filename.endswith(".j2")]
        if frames:
            where = f" at {frames[-1].filename}:{frames[-1].lineno}"
    detail = str(e).strip().splitlines()[0] if str(e).strip() else ""
    hint = ("check your templates (--templates); they are rendered sandboxed"
            if template_root is not None else "please report this with the spec attached")
    return (f"could not render the report: {type(e).__name__}: {detail}{where}\n"
            f"  nothing was written; the earlier report in {folder} (if any) is unchanged ({hint})")


def _measurements(path: Path | None, checked: Checked) -> object | None:
    """The checked measurements file (a ReportgenError, exit 2, when it does not fit)."""
    if path is None:
        return None
    from reportgen.analysis.measurement.file import load

    return load(path, checked.resolved)


def build_measured(paths: list[Path], measurements: Path, **kw: Any) -> list[Outcome]:
    """``build --measurements FILE``: one spec, with the file merged as its measured section."""
    if len(paths) != 1:
        raise ReportgenError("--measurements belongs to one study: give exactly one spec")
    kw["console"] = kw.get("console") or Console(stderr=True)
    return [build_one(paths[0], measurements=measurements, **kw)]


def with_experiments(spec: StudySpec, on: bool) -> StudySpec:
    """``--experiments``: the spec with ``experiments.enabled`` set."""
    if not on:
        return spec
    return spec.model_copy(update={"experiments": spec.experiments.model_copy(update={"enabled": True})})


def _command(path: Path, det: bool, allow_code: bool, measurements: Path | None = None,
             experiments: bool = False) -> str:
    parts = ["reportgen", "build", path.name if det else str(path)]
    if det:
        parts.append("--deterministic")
    if allow_code:
        parts.append("--allow-code")
    if experiments:
        parts.append("--experiments")
    if measurements is not None:
        parts += ["--measurements", measurements.name if det else str(measurements)]
    return " ".join(parts)


def build_many(paths: list[Path], *, output: Path | None = None, formats: list[str] | None = None,
               deterministic: bool = False, allow_code: bool = False,
               template_root: Path | None = None, console: Console | None = None,
               experiments: bool = False) -> list[Outcome]:
    """Build every spec; with one spec, a spec error is raised, with several it is recorded."""
    console = console or Console(stderr=True)
    outcomes: list[Outcome] = []
    for path in paths:
        try:
            outcomes.append(build_one(path, output=output, formats=formats, deterministic=deterministic,
                                      allow_code=allow_code, template_root=template_root, console=console,
                                      experiments=experiments))
        except ReportgenError as e:
            if len(paths) == 1:
                raise
            console.print(f"error: {e}", markup=False)
            outcomes.append(Outcome(path, "error", str(e).splitlines()[0]))
    return outcomes
