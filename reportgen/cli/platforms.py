"""``reportgen platforms``: list the hardware catalog and show one platform with its sources.

A typer sub-app (``app``) the main CLI mounts with ``app.add_typer(platforms_app, name="platforms")``.
No torch import: ``show host`` prints the unmeasured entry (measurement happens in a build).
"""

from __future__ import annotations

import typer
from rich.console import Console
from rich.table import Table
from rich.text import Text

from reportgen.analysis.prediction.power import is_addon, power_figures
from reportgen.catalog.figures import STATUS_MEANING, Figure
from reportgen.catalog.lookup import get_platform
from reportgen.catalog.parts import PlatformClass
from reportgen.catalog.platforms import platforms_by_class
from reportgen.catalog.schema import Platform
from reportgen.cli.listing import listing_console, print_listing
from reportgen.errors import ReportgenError

app = typer.Typer(help="The hardware platform catalog.", no_args_is_help=False,
                  invoke_without_command=True, add_completion=False)

MARK = {"sourced": "", "derived": " (derived)", "claim_low": " (claim_low: not used)",
        "unsourced": " (unsourced)", "measured": " (measured)", "user": " (given in the spec)"}


def _console() -> Console:
    # catalog text is printed as it is: markup off, or "[nvidia_t4_ds] https://..." would lose
    # its source id (rich reads "[word]" as a style tag); headings are bold through Text
    return listing_console()


def _bold(text: str) -> Text:
    return Text(text, style="bold")


def _fmt(f: Figure | None, unit: str = "") -> str:
    if f is None:
        return "-"
    unit = unit or f.unit
    if f.value is None:
        if f.status == "claim_low" and f.claimed_value is not None:
            return f"? (claimed {f.claimed_value:g} {unit})"
        return "?" if f.status != "sourced" else "n/a"
    return f"{f.value:g} {unit}".strip() + ("*" if f.status in ("derived", "claim_low") else "")


def _best_peak(p: Platform) -> str:
    u = p.unit()
    parts = []
    for prec in ("int8", "fp16", "bf16", "fp32"):
        if prec in u.peak and p.runs(prec):
            parts.append(f"{prec} {_fmt(u.peak[prec].figure())}")
    return ", ".join(parts[:2]) or "?"


def _power(p: Platform) -> str:
    """The power model's figures: the typical draw, else "≤" the upper bound (a supply rating,
    a power mode's budget or a TDP is a bound, not a draw), and "≥" the idle draw."""
    figs = {kind: f for kind, _, f in power_figures(p)}
    parts = []
    if "typical" in figs:
        parts.append(_fmt(figs["typical"]))
    if "upper" in figs:
        parts.append("≤ " + _fmt(figs["upper"]))
    if "lower" in figs and "typical" not in figs:
        parts.append("≥ " + _fmt(figs["lower"]))
    if is_addon(p):
        parts.append("+ host")
    return ", ".join(parts) if [x for x in parts if x != "+ host"] else "?"


@app.callback()
def list_platforms(
    ctx: typer.Context,
    cls: str | None = typer.Option(None, "--class", help="powerful, budget, specialized, fpga, "
                                                         "mcu or cpu"),
) -> None:
    """List catalog platforms (dense peaks; * = derived estimate; ? = unknown)."""
    if ctx.invoked_subcommand is not None:
        return
    try:
        plats = platforms_by_class(cls)
    except ReportgenError as e:
        typer.echo(f"error: {e}", err=True)
        raise typer.Exit(2) from None
    rows = []
    for p in plats:
        rows.append((p.id, p.class_.value, p.name, _best_peak(p), _fmt(p.bandwidth()),
                     _fmt(p.capacity()), _power(p), _fmt(p.price_usd)))
    c = _console()
    print_listing(c, "Hardware platforms" + (f" — class {cls}" if cls else ""),
                  ("id", "class", "name", "peak (dense)", "memory BW", "memory", "power (draw)",
                   "price"), rows)
    c.print("power: typical draw; ≤ upper bound (supply rating, power mode, TDP); "
            "≥ idle draw; + host: an add-on whose host board draws too", soft_wrap=True)
    c.print("* derived (estimate)   ? unknown   classes: "
            + ", ".join(k.value for k in PlatformClass), soft_wrap=True)


@app.command("show")
def show(platform_id: str = typer.Argument(..., help="platform id or alias, e.g. "
                                                    "nvidia_a100_80gb_sxm, a100, rpi5")) -> None:
    """All facts about one platform, each number with its status and sources."""
    try:
        p = get_platform(platform_id, measure_host=False)
    except ReportgenError as e:
        typer.echo(f"error: {e}", err=True)
        raise typer.Exit(2) from None
    c = _console()
    c.print(Text.assemble((p.name, "bold"), f"  ({p.id})"))
    c.print(f"class {p.class_.value} / zoo class {p.zoo_class}; vendor {p.vendor}; "
            f"{p.form_factor}; released {p.release_year}")
    if p.status_note:
        c.print(f"status: {p.status_note}")
    c.print(f"runs the model on: {p.default_unit}; roofline rule: {p.memory_model}")
    t = Table(title="Numbers (dense peaks unless marked sparse)")
    for col in ("field", "value", "status", "sources", "note"):
        t.add_column(col, overflow="fold")
    for path, f in p.figures():
        value = _fmt(f).rstrip("*")
        t.add_row(path, value, f.status + MARK[f.status].replace(f" ({f.status})", ""),
                  ", ".join(f.src), f.derivation or f.note or f.text or "")
    c.print(t)
    for title, items in (("Precisions (vendor)", p.precisions_supported),
                         ("Toolchain", p.toolchain), ("Acceleration methods", p.acceleration_methods),
                         ("Constraints", p.constraints), ("Variants", p.variants)):
        if items:
            c.print(_bold(title))
            for it in items:
                c.print(f"  - {it}")
    if p.required_format:
        c.print(_bold("Required format"), ": " + str(p.required_format), sep="")
    if p.operator_support:
        c.print(_bold("Operator support"), ": " + str(p.operator_support), sep="")
    if p.sparsity:
        c.print(_bold("Sparsity"), ": " + str(p.sparsity), sep="")
    c.print(_bold("Sources"))
    for s in p.sources:
        c.print(f"  [{s.id}] {s.url}  ({s.kind})" + (f" — {s.note}" if s.note else ""))
    c.print("Status: " + "; ".join(f"{k} = {v}" for k, v in STATUS_MEANING.items()))
