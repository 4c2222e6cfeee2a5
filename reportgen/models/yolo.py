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
    os.environ.setdefault("YOLO_VERBOSE", "False")  # no settings banner on reportgen's console
    try:
        # Ultralytics creates tensors at import time (``Detect.anchors = torch.empty(0)``, a class
        # attribute). Imported first inside a meta build, they would be meta tensors forever, and
        # every later CPU model would fail to move ("Cannot copy out of meta tensor").
        with torch.device("cpu"):
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
    _own_cpu_anchors(model)
    return model.eval()


def _own_cpu_anchors(model: nn.Module) -> None:
    """Give each detection head its own empty CPU ``anchors``/``strides`` (recomputed at the first
    forward), in case the class attributes were created on meta by an earlier import."""
    for m in model.modules():
        for name in ("anchors", "strides"):
            t = getattr(type(m), name, None)
            if isinstance(t, torch.Tensor) and t.device.type == "meta" and name not in vars(m):
                setattr(m, name, torch.empty(0))


def yolo11n(num_classes: int = 80) -> nn.Module:
    """YOLO11n (nano): depth 0.50, width 0.25, max channels 1024; 80 COCO classes."""
    return yolo11("n", num_classes=num_classes)
