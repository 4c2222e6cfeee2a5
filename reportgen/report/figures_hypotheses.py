"""Figure: predicted latency of each acceleration hypothesis against the latency budget
(horizontal bars, ms, log scale when the spread is large). Drawn from StudyResult only."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from reportgen.report.figures_base import FigureFile, save
from reportgen.report.filters import Formatter
from reportgen.report.i18n import Translator
from reportgen.result import StudyResult
from reportgen.text import Arg, key_of


def _title(t: Translator, h: Any) -> str:
    # a short label for the chart: shares as whole percents, no Markdown escaping
    args = {k: (t(str(a.v)) if a.f == "key" else f"{a.v:.0%}" if a.f == "pct" and isinstance(a.v, float)
                else str(a.v)) if isinstance(a, Arg) else str(a) for k, a in h.title.params.items()}
    key = key_of(h.title.code)
    text = t(key, **args) if args else t(key)
    return text if len(text) <= 48 else text[:45] + "…"


def hypotheses_latency(result: StudyResult, t: Translator, f: Formatter, plt: Any,
                       folder: Path) -> FigureFile | None:
    H = result.hypotheses
    if H is None or H.baseline.latency_s is None:
        return None
    # latency bars only for methods that claim a latency (batching claims throughput)
    rows = [h for h in H.items if h.applicable and h.after is not None and h.after.latency_s
            and h.speedup is not None]
    if not rows:
        return None
    labels = [t("findings.hyp_figure_baseline")] + [_title(t, h) for h in rows]
    values = [H.baseline.latency_s * 1e3] + [h.after.latency_s * 1e3 for h in rows]  # type: ignore[union-attr, operator]
    lower = [H.baseline.lower_bound] + [h.after.lower_bound for h in rows]  # type: ignore[union-attr]
    budget = H.latency_budget_s * 1e3 if H.latency_budget_s else None
    # green: meets every constraint; red: fails one; blue-grey: cannot be judged (unknowns,
    # lower bounds) — a bar under the latency line is not a pass by itself
    colors = ["#888888"] + ["#a9b4c2" if h.meets_all is None or h.after.lower_bound  # type: ignore[union-attr]
                            else "#3b8a4a" if h.meets_all else "#c0504d" for h in rows]
    title = t("findings.hyp_figure")
    fig, ax = plt.subplots(figsize=(7, 0.3 * len(labels) + 1.3))
    y = list(range(len(labels)))[::-1]
    ax.barh(y, values, color=colors, hatch=None)
    for yi, v, lb in zip(y, values, lower, strict=True):
        ax.text(v, yi, " " + ("≥ " if lb else "") + f.sig(v, 3), va="center", fontsize=7)
    ax.set_yticks(y)
    ax.set_yticklabels(labels, fontsize=7)
    if max(values) / max(min(values), 1e-9) > 50:
        ax.set_xscale("log")
    if budget is not None:
        ax.axvline(budget, color="#000000", linestyle="--", linewidth=1)
        ax.text(budget, len(labels) - 0.4, " " + t("findings.hyp_figure_budget") + " " + f.sig(budget, 3),
                fontsize=7, va="bottom")
    ax.set_xlabel(f"{t('findings.hyp_figure_axis')} ({t('origin.predicted')})")
    ax.set_title(title)
    svg, png = save(plt, fig, folder, "hypotheses_latency")
    return FigureFile("hypotheses_latency", title, svg, png)
