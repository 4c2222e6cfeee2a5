"""Build one or many studies: load spec → pipeline.run → write the study folder atomically.

Batch builds never stop at a broken spec: each spec gets an Outcome, the CLI prints a summary.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from rich.console import Console

from reportgen.errors import ReportgenError
from reportgen.spec import StudySpec, load_spec, study_id


@dataclass
class Outcome:
    spec_path: Path
    state: str  # ok / partial / error
    summary: str
    folder: Path | None = None

    def exit_code(self, strict: bool) -> int:
        if self.state == "error":
            return 2
        if self.state == "partial":
            return 1
        if strict and "not available" in self.summary:
            return 1
        return 0


def validate_spec(path: Path) -> str:
    """Load the spec and resolve its card and platform; say what would be built."""
    from reportgen.models.build import resolve

    spec = load_spec(path)
    resolved = resolve(spec, str(path))
    try:
        from reportgen.catalog.platforms import resolve_platform
    except ImportError:
        plat = spec.platform.id
    else:
        plat = resolve_platform(spec.platform).name
    what = resolved.card.id if resolved.card else resolved.source.source
    return f"model {what} ({resolved.domain.value}) on {plat}, study '{study_id(spec, path)}'"


def output_folder(spec: StudySpec, spec_path: Path, output: Path | None) -> Path:
    base = output if output is not None else Path(spec.output.directory)
    return base / study_id(spec, spec_path)


def build_one(path: Path, *, output: Path | None, formats: list[str] | None, deterministic: bool,
              allow_code: bool, template_root: Path | None, console: Console) -> Outcome:
    from reportgen import pipeline
    from reportgen.report.render import write_study

    spec = load_spec(path)
    det = deterministic or spec.deterministic
    folder = output_folder(spec, path, output)
    fmts = formats or [f.value for f in spec.output.formats]
    console.print(f"[bold]{path}[/] → {folder}", highlight=False)

    def progress(stage: str, state: str) -> None:
        if state == "running":
            return
        mark = {"ok": "[green]✓[/]", "failed": "[red]✗[/]", "skipped": "[yellow]–[/]",
                "not_available": "[dim]·[/]"}.get(state, state)
        console.print(f"  {mark} {stage}" + ("" if state == "ok" else f" [dim]({state.replace('_', ' ')})[/]"),
                      highlight=False)

    with console.status("analysing…", spinner="dots"):
        result = pipeline.run(spec, path, deterministic=det, allow_code=allow_code, progress=progress,
                              command=_command(path, det, allow_code))
    with console.status("rendering…", spinner="dots"):
        write_study(result, folder, fmts, template_root=template_root,
                    on_step=lambda s: None)
    failed = [s.name for s in result.stages if s.state in ("failed", "skipped")]
    missing = [s.name for s in result.stages if s.state == "not_available"]
    if failed:
        first = next(s for s in result.stages if s.state in ("failed", "skipped"))
        console.print(f"  [yellow]partial:[/] {first.name}: {first.reason}", highlight=False)
        return Outcome(path, "partial", f"partial ({', '.join(failed)} did not complete)", folder)
    note = f"; not available: {', '.join(missing)}" if missing else ""
    console.print(f"  [green]done[/] {', '.join(str(folder / f'report.{f}') for f in fmts)}", highlight=False)
    return Outcome(path, "ok", "ok" + note, folder)


def _command(path: Path, det: bool, allow_code: bool) -> str:
    parts = ["reportgen", "build", path.name if det else str(path)]
    if det:
        parts.append("--deterministic")
    if allow_code:
        parts.append("--allow-code")
    return " ".join(parts)


def build_many(paths: list[Path], *, output: Path | None = None, formats: list[str] | None = None,
               deterministic: bool = False, allow_code: bool = False,
               template_root: Path | None = None, console: Console | None = None) -> list[Outcome]:
    """Build every spec; with one spec, a spec error is raised, with several it is recorded."""
    console = console or Console(stderr=True)
    outcomes: list[Outcome] = []
    for path in paths:
        try:
            outcomes.append(build_one(path, output=output, formats=formats, deterministic=deterministic,
                                      allow_code=allow_code, template_root=template_root, console=console))
        except ReportgenError as e:
            if len(paths) == 1:
                raise
            console.print(f"error: {e}", markup=False)
            outcomes.append(Outcome(path, "error", str(e).splitlines()[0]))
    return outcomes
