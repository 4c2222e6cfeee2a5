"""YOLO11 — the course lecture's example architecture — built offline from Ultralytics' model
definition (``yolo11n.yaml`` ships inside the ``ultralytics`` package: no weights, no network).

``ultralytics`` is an optional extra: ``pip install reportgen[yolo]``.
"""

from __future__ import annotations

import os
import tempfile

import torch
from torch import nn


def _detection_model_class() -> type:
    # keep Ultralytics from writing settings into the user's home or going online
    os.environ.setdefault("YOLO_OFFLINE", "1")
    os.environ.setdefault("YOLO_CONFIG_DIR", os.path.join(tempfile.gettempdir(), "reportgen-yolo"))
    try:
        from ultralytics.nn.tasks import DetectionModel
    except ImportError as e:
        raise ImportError(
            f"YOLO models need the optional package 'ultralytics' ({e}): "
            "pip install 'reportgen[yolo]'") from None
    return DetectionModel


def yolo11(variant: str = "n", num_classes: int = 80) -> nn.Module:
    """``ultralytics.nn.tasks.DetectionModel("yolo11<variant>.yaml", nc=num_classes)``, eval mode.

    Always built on the CPU, whatever the default device: Ultralytics runs a forward pass at
    construction to find the strides and initialises the head biases with ``.item()``, which
    meta tensors cannot do. The model is small (2.6M parameters for ``n``); move it with
    ``.to("meta")`` for shape-only analysis.
    """
    if variant not in ("n", "s", "m", "l", "x"):
        raise ValueError(f"YOLO11 variants are n, s, m, l, x; got {variant!r}")
    detection_model = _detection_model_class()
    with torch.device("cpu"):
        model = detection_model(f"yolo11{variant}.yaml", nc=num_classes, verbose=False)
    return model.eval()


def yolo11n(num_classes: int = 80) -> nn.Module:
    """YOLO11n (nano): depth 0.50, width 0.25, max channels 1024; 80 COCO classes."""
    return yolo11("n", num_classes=num_classes)
