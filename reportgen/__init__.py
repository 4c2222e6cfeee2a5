"""reportgen — model acceleration studies for PyTorch models.

`reportgen build study.yaml` counts a model's cost exactly on meta tensors, predicts it on a
target platform and writes Markdown/HTML/PDF reports plus ``data.json``.
"""

__version__ = "0.1.0"
