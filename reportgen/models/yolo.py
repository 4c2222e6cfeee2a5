"""YOLO11 — the course lecture's example architecture — built offline from Ultralytics' model
definition (``yolo11n.yaml`` ships inside the ``ultralytics`` package: no weights, no network).

``ultralytics`` is an optional extra: ``pip install reportgen[yolo]``.

The network does not see the spec's image as it is: Ultralytics letterboxes it first (resize
keeping the aspect ratio so that it fits ``imgsz``, then pad). :func:`letterbox_size` gives the
size it reaches; the builder attaches it to the model (``reportgen_network_inputs``) so that the
model is traced, and its published figures compared, at that size.
"""

from __future__ import annotations

import os
import tempfile
from dataclasses import dataclass

import torch
from torch import nn

from reportgen.spec.inputs import ImageInput, Inputs
from reportgen.text import Msg, msg

STRIDE = 32  # the largest stride of the YOLO11 detection head (P5)
LETTERBOX_MODES = ("fixed", "rect")


def letterbox_size(height: int, width: int, imgsz: int = 640, mode: str = "fixed",
                   stride: int = STRIDE) -> tuple[int, int]:
    """(height, width) the network sees after Ultralytics' ``LetterBox`` on a ``height``×``width``
    image: scale r = min(imgsz/height, imgsz/width), unpadded size round(h·r) × round(w·r), then

    * ``fixed``: padded to the square ``imgsz``×``imgsz`` — exported / fixed-shape runtimes
      (TFLite / Edge TPU, ONNX, TensorRT), i.e. what deployments run;
    * ``rect``: padded only up to the next multiple of ``stride`` (PyTorch ``predict`` with
      ``rect=True``, LetterBox ``auto=True``: pad = (imgsz − unpadded) mod stride).
    """
    if mode not in LETTERBOX_MODES:
        raise ValueError(f"letterbox is one of {', '.join(LETTERBOX_MODES)}; got {mode!r}")
    if imgsz <= 0 or imgsz % stride:
        raise ValueError(f"imgsz must be a positive multiple of the stride {stride}; got {imgsz}")
    if mode == "fixed":
        return imgsz, imgsz
    r = min(imgsz / height, imgsz / width)
    h, w = int(round(height * r)), int(round(width * r))
    return h + (imgsz - h) % stride, w + (imgsz - w) % stride


@dataclass(frozen=True)
class Letterbox:
    """The model's own pre-processing, as ``python_src`` asks for it: spec inputs → the inputs the
    network sees, and the sentence saying so (None when the size does not change)."""

    imgsz: int = 640
    mode: str = "fixed"

    def __call__(self, inputs: Inputs) -> tuple[Inputs, Msg | None]:
        img = inputs.image or ImageInput()
        # a camera smaller than imgsz is exported at its own size (rounded up to the stride), not
        # upscaled: that keeps "a smaller input" a real lever (export at a smaller imgsz)
        imgsz = min(self.imgsz, -(-max(img.height, img.width) // 32) * 32)
        h, w = letterbox_size(img.height, img.width, imgsz, self.mode)
        if (h, w) == (img.height, img.width):
            return inputs, None
        note = msg(f"inputs.letterbox_{self.mode}", batch=inputs.batch_size, channels=img.channels,
                   height=img.height, width=img.width, net_height=h, net_width=w, imgsz=imgsz)
        return inputs.model_copy(update={"image": img.model_copy(update={"height": h, "width": w})}), note


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


def yolo11(variant: str = "n", num_classes: int = 80, imgsz: int = 640,
           letterbox: str = "fixed") -> nn.Module:
    """``ultralytics.nn.tasks.DetectionModel("yolo11<variant>.yaml", nc=num_classes)``, eval mode,
    with its letterbox to ``imgsz`` (``fixed`` square or ``rect``: see :func:`letterbox_size`)
    attached as ``reportgen_network_inputs``.

    Always built on the CPU, whatever the default device: Ultralytics runs a forward pass at
    construction to find the strides and initialises the head biases with ``.item()``, which
    meta tensors cannot do. The model is small (2.6M parameters for ``n``); move it with
    ``.to("meta")`` for shape-only analysis.
    """
    if variant not in ("n", "s", "m", "l", "x"):
        raise ValueError(f"YOLO11 variants are n, s, m, l, x; got {variant!r}")
    letterbox_size(imgsz, imgsz, imgsz, letterbox)  # validates imgsz and the mode before building
    detection_model = _detection_model_class()
    with torch.device("cpu"):
        model = detection_model(f"yolo11{variant}.yaml", nc=num_classes, verbose=False)
    _own_cpu_anchors(model)
    model.reportgen_network_inputs = Letterbox(imgsz, letterbox)
    return model.eval()


def _own_cpu_anchors(model: nn.Module) -> None:
    """Give each detection head its own empty CPU ``anchors``/``strides`` (recomputed at the first
    forward), in case the class attributes were created on meta by an earlier import."""
    for m in model.modules():
        for name in ("anchors", "strides"):
            t = getattr(type(m), name, None)
            if isinstance(t, torch.Tensor) and t.device.type == "meta" and name not in vars(m):
                setattr(m, name, torch.empty(0))


def yolo11n(num_classes: int = 80, imgsz: int = 640, letterbox: str = "fixed") -> nn.Module:
    """YOLO11n (nano): depth 0.50, width 0.25, max channels 1024; 80 COCO classes."""
    return yolo11("n", num_classes=num_classes, imgsz=imgsz, letterbox=letterbox)
