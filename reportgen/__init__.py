"""reportgen — model acceleration studies for PyTorch models.

`reportgen build study.yaml` counts a model's cost exactly on meta tensors, predicts it on a
target platform and writes Markdown/HTML/PDF reports plus ``data.json``.
"""

from reportgen.version import __version__

__all__ = ["Study", "__version__"]


def __getattr__(name: str) -> object:
    """``reportgen.Study`` without importing torch at ``import reportgen`` (the CLI's --help)."""
    if name == "Study":
        from reportgen.api import Study

        return Study
    raise AttributeError(f"module 'reportgen' has no attribute {name!r}")
