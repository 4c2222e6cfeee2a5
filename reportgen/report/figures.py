"""Matplotlib figures drawn from StudyResult (Agg backend; SVG + PNG; metadata stripped so
deterministic builds give byte-identical files). Each figure is one function in FIGURES."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from reportgen.report.figures_base import FigureFile, FigureFn, _setup, save
from reportgen.report.filters import Formatter
from reportgen.report.i18n import Translator
from reportgen.result import StudyResult


def macs_by_block(result: StudyResult, t: Translator, f: Formatter, plt: Any, folder: Path) -> FigureFile | None:
    if result.costs is None:
        return None
    rows = [r for r in result.costs.blocks if r.macs > 0]
    if not rows:
        return None
    rows = rows[:30]
    title = t("complexity.figure_blocks")
    fig, ax = plt.subplots(figsize=(7, 0.28 * len(rows) + 1.2))
    names = [r.name for r in rows][::-1]
    values = [r.macs / 1e9 for r in rows][::-1]
    ax.barh(names, values, color="#3b6ea8")
    ax.set_xlabel(f"{t('col.gmacs')} ({t('origin.counted')})")
    ax.set_title(title)
    for y, v in enumerate(values):
        ax.text(v, y, " " + f.sig(v, 3), va="center", fontsize=7)
    svg, png = save(plt, fig, folder, "macs_by_block")
    return FigureFile("macs_by_block", title, svg, png)


def memory_breakdown(result: StudyResult, t: Translator, f: Formatter, plt: Any, folder: Path) -> FigureFile | None:
    if result.costs is None:
        return None
    c = result.costs
    title = t("complexity.figure_memory")
    labels, weights = [], []
    for prec in ("fp32", "fp16", "int8", "int4"):
        labels.append(prec)
        weights.append(c.params.bytes_at[prec] / 1e6)
    act = c.summary.peak_activation_bytes / 1e6
    fig, ax = plt.subplots(figsize=(6, 2.6))
    ax.bar(labels, weights, color="#3b6ea8", label=t("col.weights"))
    ax.bar(labels, [act] * len(labels), bottom=weights, color="#e0a040",
           label=t("complexity.peak_act") + " (fp32)")
    ax.set_ylabel("MB" if result.language == "en" else "МБ")
    ax.set_title(title)
    ax.legend(frameon=False, fontsize=7)
    svg, png = save(plt, fig, folder, "memory_breakdown")
    return FigureFile("memory_breakdown", title, svg, png)


FIGURES: list[FigureFn] = [macs_by_block, memory_breakdown]


def all_figures() -> list[FigureFn]:
    """FIGURES plus those defined in other report modules (imported lazily: they import this)."""
    from reportgen.report import figures_hypotheses, figures_profiling, figures_roofline

    return (FIGURES + [figures_roofline.roofline_chart]
            + figures_profiling.FIGURES + [figures_hypotheses.hypotheses_latency])


def draw_all(result: StudyResult, folder: Path) -> tuple[dict[str, FigureFile], list[str]]:
    """Draw every figure; a figure that fails is reported, never fatal."""
    plt = _setup()
    t, f = Translator(result.language), Formatter(result.language)
    out: dict[str, FigureFile] = {}
    errors: list[str] = []
    for fn in all_figures():
        try:
            ff = fn(result, t, f, plt, folder)
        except Exception as e:  # a plot that cannot be drawn must not lose the report
            detail = str(e).strip().splitlines()[0] if str(e).strip() else ""
            errors.append(f"figure {fn.__name__} could not be drawn ({type(e).__name__}: {detail}); "
                          "its numbers are in the tables and in data.json — please report this")
            plt.close("all")
            continue
        if ff is not None:
            out[ff.id] = ff
    return out, errors


