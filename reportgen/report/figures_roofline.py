"""Roofline figures: ops on the target's roofline, and predicted time per block."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from reportgen.report.figures_base import FigureFile, save
from reportgen.report.filters import Formatter
from reportgen.report.i18n import Translator
from reportgen.result import StudyResult


def roofline_chart(result: StudyResult, t: Translator, f: Formatter, plt: Any, folder: Path) -> FigureFile | None:
    est = result.roofline
    if est is None or not est.best_precision:
        return None
    best = est.get(est.best_precision)
    # Identical layers give identical points: merge them (summing their time) so a 32-layer
    # model draws ~30 points, not ~3,000.
    merged: dict[tuple[str, float, float], float] = {}
    for o in best.ops:
        if o.arithmetic_intensity_flop_per_byte and o.predicted_time_s and o.flops > 0:
            key = (o.kind, float(f"{o.arithmetic_intensity_flop_per_byte:.3g}"),
                   float(f"{o.flops / o.predicted_time_s:.3g}"))
            merged[key] = merged.get(key, 0.0) + o.predicted_time_s
    pts = [(ai, perf, t_, kind) for (kind, ai, perf), t_ in sorted(merged.items())]
    if not pts:
        return None
    title = str(t("roofline.figure_roofline"))  # the platform is named where it is introduced
    fig, ax = plt.subplots(figsize=(7, 4.2))
    xs = [p[0] for p in pts]
    lo, hi = min(xs) / 3, max(xs) * 3
    colors = ["#3b6ea8", "#e0a040", "#5a9e5a", "#a84b3b", "#7a5aa8"]
    for i, pe in enumerate(p for p in est.per_precision if p.peak_op_per_s and p.bandwidth_b_per_s):
        assert pe.peak_op_per_s and pe.bandwidth_b_per_s  # filtered above
        ridge = pe.peak_op_per_s / pe.bandwidth_b_per_s
        xr = [lo, ridge, max(hi, ridge * 3)]
        yr = [pe.bandwidth_b_per_s * lo, pe.peak_op_per_s, pe.peak_op_per_s]
        ax.plot(xr, yr, color=colors[i % len(colors)], lw=1.2, label=f"{pe.precision} (ridge {f.sig(ridge, 3)} FLOP/B)")
    total = sum(p[2] for p in pts)
    kinds = sorted({p[3] for p in pts})
    for j, kind in enumerate(kinds):
        sel = [p for p in pts if p[3] == kind]
        ax.scatter([p[0] for p in sel], [p[1] for p in sel],
                   s=[max(4.0, 400 * p[2] / total) for p in sel], alpha=0.55, label=kind,
                   marker="o", edgecolors="none", color=f"C{j}", rasterized=True)
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("FLOP/B")
    ax.set_ylabel("FLOP/s")
    ax.set_title(title)
    ax.legend(fontsize=6, frameon=False, loc="lower right")
    svg, png = save(plt, fig, folder, "roofline")
    return FigureFile("roofline", title, svg, png)
