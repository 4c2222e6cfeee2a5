"""The ``reportgen`` command line. Imports torch lazily so ``--help`` answers instantly.

Exit status: 0 built; 1 built but partial (a stage or figure failed or was skipped; with
``--strict`` also any section not available); 2 nothing built: bad input (spec, ids, options)
or the report could not be rendered — printed as a one-screen message, never a traceback, and
the earlier report is left as it was; 3 internal error (a bug: one line says so, ``--debug`` prints
the traceback to attach to a bug report); 130 interrupted (Ctrl-C; no temporary folders left).

``--debug`` (anywhere on the command line) also prints the traceback of every failed stage.
"""

from __future__ import annotations

import os
import sys
import traceback
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table
from rich.text import Text

from reportgen.errors import ReportgenError
from reportgen.version import __version__

app = typer.Typer(
    name="reportgen", no_args_is_help=True, add_completion=False, rich_markup_mode=None,
    pretty_exceptions_enable=False,  # main() turns an unexpected exception into one line
    help="Model acceleration studies: exact cost analysis of a PyTorch model, its prediction on "
         "a target platform, bottlenecks and acceleration hypotheses, as Markdown/HTML/PDF reports.")
err = Console(stderr=True, highlight=False)
out = Console(highlight=False)

EXIT_PARTIAL = 1
EXIT_USAGE = 2
EXIT_BUG = 3
DEBUG_ENV = "REPORTGEN_DEBUG"  # set by --debug; inherited by batch worker processes


def _fail(e: ReportgenError) -> None:
    err.print("error: " + str(e), markup=False, soft_wrap=True)
    raise typer.Exit(EXIT_USAGE)


def _version(value: bool) -> None:
    if value:
        out.print(f"reportgen {__version__}")
        raise typer.Exit()


def debugging() -> bool:
    return os.environ.get(DEBUG_ENV, "") not in ("", "0")


@app.callback()
def _main(version: Annotated[bool, typer.Option("--version", callback=_version, is_eager=True,
                                                help="Show the version and exit.")] = False,
          debug: Annotated[bool, typer.Option("--debug", help="Print tracebacks (of failed stages "
                                              "and internal errors) for a bug report.")] = False,
          ) -> None:
    if debug:
        os.environ[DEBUG_ENV] = "1"


def _formats(value: str | None) -> list[str] | None:
    if value is None:
        return None
    items = [v.strip().lower() for v in value.split(",") if v.strip()]
    bad = [v for v in items if v not in ("md", "html", "pdf")]
    if bad or not items:
        raise typer.BadParameter(f"formats are md, html, pdf (comma-separated), got {value!r}")
    return items


@app.command()
def build(
    specs: Annotated[list[Path], typer.Argument(help="Study spec YAML file(s).", show_default=False)],
    output: Annotated[Path | None, typer.Option("-o", "--output", help="Output directory (default: the spec's output.directory, 'outputs').")] = None,
    formats: Annotated[str | None, typer.Option("--format", "-f", help="Comma-separated: md,html,pdf (default: the spec's output.formats).")] = None,
    deterministic: Annotated[bool, typer.Option("--deterministic", help="Snapshot mode: no host measurements, frozen clock, rounded floats.")] = False,
    allow_code: Annotated[bool, typer.Option("--allow-code", help="Allow `source: python` models, which run code from the spec.")] = False,
    strict: Annotated[bool, typer.Option("--strict", help="Treat any section not computed (failed, skipped or not available) as an error (exit 1).")] = False,
    templates: Annotated[Path | None, typer.Option("--templates", help="Your own template directory (rendered sandboxed).")] = None,
    jobs: Annotated[int, typer.Option("-j", "--jobs", min=1, max=64, help="Build up to N specs in parallel (measurements still run one at a time). Several specs also write index.html, a gallery, in the output directory.")] = 1,
    measurements: Annotated[Path | None, typer.Option("--measurements", help="Merge a file from `reportgen profile` (one spec only) as the measured section.")] = None,
    experiments: Annotated[bool, typer.Option("--experiments", help="Apply the acceleration methods on this machine and measure speed-up and output fidelity (same as experiments.enabled in the spec).")] = False,
) -> None:
    """Build the report(s) for one or more study specs."""
    from reportgen.batch import build_batch

    fmts = _formats(formats)
    try:
        if measurements is not None:  # a measurements file belongs to one study
            from reportgen.build import build_measured
            outcomes = build_measured(specs, measurements, output=output, formats=fmts,
                                      deterministic=deterministic, allow_code=allow_code,
                                      template_root=templates, console=err, experiments=experiments)
        else:
            outcomes = build_batch(specs, output=output, formats=fmts, deterministic=deterministic,
                                   allow_code=allow_code, template_root=templates, jobs=jobs, console=err,
                                   experiments=experiments)
    except ReportgenError as e:
        _fail(e)
        return
    except KeyboardInterrupt:
        err.print("interrupted: earlier reports are left as they were", markup=False)
        raise typer.Exit(130) from None
    codes = [o.exit_code(strict) for o in outcomes]
    if len(outcomes) > 1:
        table = Table(title="Batch summary", show_lines=False)
        for col in ("spec", "outcome", "report"):
            table.add_column(col)
        for o in outcomes:
            # user text (paths, error summaries) is never read as rich markup
            table.add_row(Text(str(o.spec_path)), Text(o.summary), Text(str(o.folder or "")))
        err.print(table)
    raise typer.Exit(max(codes) if codes else 0)


@app.command()
def validate(spec: Annotated[Path, typer.Argument(help="Study spec YAML file.")]) -> None:
    """Check a study spec (and its card and platform ids) without building anything."""
    from reportgen.build import validate_spec

    try:
        summary, warnings = validate_spec(spec)
    except ReportgenError as e:
        _fail(e)
        return
    for w in warnings:
        err.print("warning: " + w.format(str(spec)), markup=False, soft_wrap=True)
    out.print(f"{spec}: ok — {summary}", markup=False)


STARTER = """\
# A reportgen study spec. Build it with:  reportgen build {name}
# Every key is documented in the README ("The study spec"). Unknown keys are errors.
title: "ResNet-50 on a Raspberry Pi 5"
author: "Your Name"
# course: "Distillation and acceleration of models"   # shown on the title block
# date: "2026-03-01"                                   # default: the build date
language: en            # en | ru

model:
  card: resnet50        # `reportgen models` lists the cards (aliases work: resnet-50); or a source:
  # source: torchvision
  # name: resnet50
  # kwargs: {{num_classes: 1000}}
  # weights: checkpoints/resnet50.pth   # a local state dict, relative to this file (optional)

task: "image classification for a shelf-monitoring camera"

inputs:
  batch_size: 1
  image: {{height: 224, width: 224, channels: 3}}
  # text: {{sequence_length: 128, generate_tokens: 256}}   # nlp: also count a whole generated answer

platform: raspberry_pi_5   # a catalog id (`reportgen platforms`; aliases work: rpi5, orin_nano, coral)

constraints:
  latency_ms: 100          # per inference
  memory_mb: 512
  power_w: 10
  # throughput_per_s, energy_mj, cost_usd, input_bandwidth_mb_s, connectivity
  # sensor: {{width: 1920, height: 1080, channels: 3, rate_hz: 30}}

precisions: [fp32, fp16, int8]
runtime: auto            # auto (the platform's usual runtime) | eager | compiled (BN folded, fused)

# experiments: {{enabled: true}}   # apply the methods on this machine and measure them
#                                  # (same as `reportgen build --experiments`)

# notes:                           # your own Markdown at the end of a section
#   bottlenecks: "What I saw when I profiled it on the board: ..."
# questions: ["Why does int8 not help on this target?"]   # listed after the main body

output:
  formats: [md, html, pdf]
  directory: outputs
  detail: full             # full: main body + appendix | short: the main body only
  # sections: [model, platform, complexity, bottlenecks, hypotheses, tradeoffs, conclusion]
  #   (add summary; drop or reorder sections)
"""


@app.command()
def init(
    path: Annotated[Path, typer.Argument(help="Where to write the starter spec.")] = Path("study.yaml"),
    force: Annotated[bool, typer.Option("--force", help="Overwrite an existing file.")] = False,
) -> None:
    """Write a commented starter study spec."""
    if path.exists() and not force:
        err.print(f"error: {path} exists; pass --force to overwrite it", markup=False)
        raise typer.Exit(EXIT_USAGE)
    path.write_text(STARTER.format(name=path.name), encoding="utf-8")
    out.print(f"wrote {path}; build it with: reportgen build {path}", markup=False)


@app.command()
def models(
    domain: Annotated[str | None, typer.Option("--domain", "-d", help="cv, nlp, speech or recsys.")] = None,
) -> None:
    """List the model cards."""
    from reportgen.catalog.cards import card_ids, load_card

    if domain is not None and domain not in ("cv", "nlp", "speech", "recsys"):
        err.print(f"error: unknown domain {domain!r}; use cv, nlp, speech or recsys", markup=False)
        raise typer.Exit(EXIT_USAGE)
    from reportgen.cli.listing import listing_console, print_listing

    rows = []
    try:
        for cid in card_ids():
            card = load_card(cid)
            if domain and card.domain.value != domain:
                continue
            rows.append((card.id, card.name, card.domain.value, card.task, card.build.source))
    except ReportgenError as e:
        _fail(e)
    print_listing(listing_console(), "Model cards", ("id", "name", "domain", "task", "source"), rows)


def _register_subcommands() -> None:
    """Commands defined in their own modules (profiling, the platform catalog)."""
    from reportgen.cli.calibrate import register as register_calibrate
    from reportgen.cli.platforms import app as platforms_app
    from reportgen.cli.profile import register as register_profile

    register_profile(app)
    register_calibrate(app)
    app.add_typer(platforms_app, name="platforms")


_register_subcommands()


def main(argv: list[str] | None = None) -> Any:
    """The console script. ``--debug`` may stand anywhere (it is an option of the app, so it is
    moved to the front); any exception that is not a user-facing error is a bug: one line, exit 3,
    and the traceback only with ``--debug``."""
    args = list(sys.argv[1:] if argv is None else argv)
    if "--debug" in args:
        args = ["--debug"] + [a for a in args if a != "--debug"]
    try:
        return app(args=args, prog_name="reportgen", standalone_mode=True)
    except KeyboardInterrupt:
        err.print("interrupted", markup=False)
        sys.exit(130)
    except SystemExit:
        raise
    except Exception as e:
        sys.exit(report_bug(e))


def report_bug(e: BaseException) -> int:
    """Say that reportgen itself failed, in one line (the traceback only when debugging)."""
    if debugging():
        err.print("".join(traceback.format_exception(e)).rstrip(), markup=False, highlight=False)
    detail = str(e).strip().splitlines()[0] if str(e).strip() else ""
    err.print(f"error: internal error: {type(e).__name__}: {detail}", markup=False, soft_wrap=True)
    if not debugging():
        err.print("  this is a bug in reportgen; run the same command with --debug and attach its "
                  "output and the spec to a bug report", markup=False, soft_wrap=True)
    return EXIT_BUG


if __name__ == "__main__":
    main()
