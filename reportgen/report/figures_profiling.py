"""Figures of section 4: latency distribution, time share by op, cost vs input size (log-log,
with the power-law fit). Each function follows ``figures.FigureFn``."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from reportgen.report.figures_base import FigureFile, save
from reportgen.report.filters import Formatter
from reportgen.report.i18n import Translator
from reportgen.result import StudyResult


def latency_hist(result: StudyResult, t: Translator, f: Formatter, plt: Any, folder: Path) -> FigureFile | None:
    m = result.measurements
    if m is None or len(m.run.latency.samples_s) < 3:
        return None
    lat = m.run.latency
    xs = [s * 1e3 for s in lat.samples_s]
    title = t("profiling.figure_hist")
    fig, ax = plt.subplots(figsize=(6, 2.6))
    ax.hist(xs, bins=min(40, max(5, len(xs) // 3)), color="#3b6ea8")
    for q, style in ((lat.median_s, "-"), (lat.p90_s, "--"), (lat.p99_s, ":")):
        ax.axvline(q * 1e3, color="#e0a040", linestyle=style, linewidth=1)
    ax.set_xlabel(f"{t('profiling.col.median')} / p90 / p99, {t('profiling.ms')} "
                  f"({t('origin.measured')}, n = {lat.runs})")
    ax.set_ylabel(t("profiling.col.runs"))
    ax.set_title(title)
    svg, png = save(plt, fig, folder, "latency_hist")
    return FigureFile("latency_hist", title, svg, png)


def op_share(result: StudyResult, t: Translator, f: Formatter, plt: Any, folder: Path) -> FigureFile | None:
    m = result.measurements
    if m is None or m.run.profile is None or not m.run.profile.ops:
        return None
    ops = m.run.profile.ops[:12]
    rest = max(0.0, 1.0 - sum(o.share for o in ops))
    names = [o.name for o in ops] + ([t("profiling.group.other")] if rest > 0.005 else [])
    shares = [o.share * 100 for o in ops] + ([rest * 100] if rest > 0.005 else [])
    title = t("profiling.figure_ops")
    fig, ax = plt.subplots(figsize=(7, 0.3 * len(names) + 1.2))
    ax.barh(names[::-1], shares[::-1], color="#3b6ea8")
    for y, v in enumerate(shares[::-1]):
        ax.text(v, y, " " + f.sig(v, 3) + " %", va="center", fontsize=7)
    ax.set_xlabel(f"{t('profiling.col.share')}, % ({t('origin.measured')}, torch.profiler)")
    ax.set_title(title)
    svg, png = save(plt, fig, folder, "op_share")
    return FigureFile("op_share", title, svg, png)


def _scaling(result: StudyResult, t: Translator, f: Formatter, plt: Any, folder: Path,
             which: int) -> FigureFile | None:
    sc = result.scaling
    if sc is None or len(sc.sweeps) <= which:
        return None
    sw = sc.sweeps[which]
    pts = [p for p in sw.points if p.ok and p.flops > 0]
    if len(pts) < 2:
        return None
    axis_label = t(f"profiling.axis.{sw.axis}")
    title = t("profiling.figure_scaling", axis=axis_label)
    fig, ax = plt.subplots(figsize=(6.5, 3.2))
    xs = [p.value for p in pts]
    base: dict[str, float]
    base = {"flops": pts[0].flops, "bytes": pts[0].bytes_moved,
            "activations": pts[0].peak_activation_bytes}
    series: list[tuple[str, list[float], str, str]]
    series = [("flops", [p.flops for p in pts], "#3b6ea8", t("profiling.col.flops")),
              ("bytes", [p.bytes_moved for p in pts], "#e0a040", t("profiling.col.bytes")),
              ("activations", [p.peak_activation_bytes for p in pts], "#6a9a3a",
               t("profiling.col.activations"))]
    pred = [v for p in pts if (v := p.predicted_latency_s) is not None and v > 0]
    if len(pred) == len(pts):
        base["predicted"] = pred[0]
        series.append(("predicted", pred, "#a04060", t("profiling.col.pred_latency")))
    meas = [(p.value, p.measured.median_s) for p in pts if p.measured]
    for key, ys, color, label in series:
        if not base.get(key):
            continue
        rel = [y / base[key] for y in ys]
        fit = sw.fits.get(key)
        lab = f"{label} (x^{f.sig(fit.exponent, 3)})" if fit else label
        ax.plot(xs, rel, "o", color=color, markersize=3, label=lab)
        if fit:
            ax.plot(xs, [fit.coefficient * x**fit.exponent / base[key] for x in xs], "-",
                    color=color, linewidth=0.8)
    if len(meas) >= 2:
        # anchored at its smallest point to the predicted (else FLOPs) curve, so slopes compare
        x0, m0 = meas[0]
        anchor = next(p for p in pts if p.value == x0)
        ref_key = "predicted" if "predicted" in base else "flops"
        ref = (anchor.predicted_latency_s or 0.0) if ref_key == "predicted" else float(anchor.flops)
        start = ref / base[ref_key] if base.get(ref_key) else 1.0
        ax.plot([x for x, _ in meas], [y / m0 * start for _, y in meas], "s", color="black",
                markersize=4, fillstyle="none",
                label=f"{t('profiling.col.meas_latency')} ({t('origin.measured')})")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel(axis_label)
    ax.set_ylabel(t("profiling.relative", x=f.sig(xs[0], 3)))
    ax.set_title(title)
    ax.legend(frameon=False, fontsize=7)
    fid = f"scaling_{sw.axis}"
    svg, png = save(plt, fig, folder, fid)
    return FigureFile(fid, title, svg, png)


def scaling_size(result: StudyResult, t: Translator, f: Formatter, plt: Any, folder: Path) -> FigureFile | None:
    return _scaling(result, t, f, plt, folder, 0)


# the input-size sweep only: the batch sweep's table and growth exponent already say what a
# chart would (cost linear in the batch), and the PDF's appendix has a page budget (issue 15)
FIGURES = [latency_hist, op_share, scaling_size]
