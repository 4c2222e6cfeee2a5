"""What every figure module shares: the figure record, the Agg set-up and deterministic saving
(SVG + PNG, metadata stripped).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from reportgen.report.filters import Formatter
from reportgen.report.i18n import Translator
from reportgen.result import StudyResult


@dataclass
class FigureFile:
    id: str
    title: str
    svg: str  # path relative to the study folder
    png: str


def _setup() -> Any:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    plt.rcParams.update({
        "svg.hashsalt": "reportgen", "svg.fonttype": "none", "font.family": "DejaVu Sans",
        "font.size": 9, "axes.spines.top": False, "axes.spines.right": False,
        "figure.dpi": 100,
    })
    return plt


def save(plt: Any, fig: Any, folder: Path, fid: str) -> tuple[str, str]:
    folder.mkdir(parents=True, exist_ok=True)
    svg, png = folder / f"{fid}.svg", folder / f"{fid}.png"
    # the tight box is found once and given to both files: bbox_inches="tight" draws the figure
    # an extra time per file to find it (a third of a build's figure time)
    box = fig.get_tightbbox(fig.canvas.get_renderer()).padded(plt.rcParams["savefig.pad_inches"])
    fig.savefig(svg, format="svg", bbox_inches=box, metadata={"Date": None, "Creator": None})
    fig.savefig(png, format="png", bbox_inches=box, dpi=150, metadata={"Software": None})
    plt.close(fig)
    return f"figures/{svg.name}", f"figures/{png.name}"


FigureFn = Callable[[StudyResult, Translator, Formatter, Any, Path], FigureFile | None]


