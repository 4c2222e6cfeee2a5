"""torchvision models, always ``weights=None`` (nothing is downloaded)."""

from __future__ import annotations

import difflib
from typing import Any

import torch
from torch import nn

from reportgen.errors import ModelBuildError
from reportgen.models.base import LoadedModel, construct, generic_inputs
from reportgen.models.bounds import DeclaredBound
from reportgen.models.detection import TwoStageDetectorNetwork, internal_size, two_stage_bounds
from reportgen.spec.choices import Domain
from reportgen.spec.inputs import ImageInput, Inputs
from reportgen.spec.sources import TorchvisionSource
from reportgen.text import Msg, msg


class DetectorNetwork(nn.Module):
    """The network part of a torchvision single-stage detector (SSD / RetinaNet / FCOS):
    backbone + head. Pre-processing (resize) and post-processing (box decoding, NMS) have
    data-dependent shapes and are not part of the counted network; the report says so."""

    def __init__(self, detector: Any) -> None:  # a torchvision detector
        super().__init__()
        self.backbone = detector.backbone
        self.head = detector.head

    def forward(self, x: torch.Tensor) -> Any:
        feats = self.backbone(x)
        feats = list(feats.values()) if isinstance(feats, dict) else [feats]
        return self.head(feats)


def build(src: TorchvisionSource, inputs: Inputs, domain: Domain, device: str) -> LoadedModel:
    import torchvision

    names = torchvision.models.list_models()
    if src.name not in names:
        close = difflib.get_close_matches(src.name, names, n=3)
        hint = f"did you mean {', '.join(close)}?" if close else "see torchvision.models.list_models()"
        raise ModelBuildError(f"torchvision has no model '{src.name}': {hint}")
    kwargs = dict(src.kwargs)
    if "weights" in kwargs or "weights_backbone" in kwargs:
        raise ModelBuildError("weights cannot be set: reportgen builds models offline with weights=None")
    kwargs["weights"] = None
    if src.name in torchvision.models.list_models(module=torchvision.models.detection):
        kwargs.setdefault("weights_backbone", None)
    elif src.name in torchvision.models.list_models(module=torchvision.models.segmentation):
        kwargs.setdefault("weights_backbone", None)
    try:
        model = construct(lambda: torchvision.models.get_model(src.name, **kwargs), device,
                          key=src.model_dump_json())
    except TypeError as e:
        raise ModelBuildError(f"torchvision.models.{src.name}: bad kwargs: {e}") from None
    model.eval()
    notes: list[Msg] = []
    recipe = f"torchvision.models.{src.name}({', '.join(f'{k}={v!r}' for k, v in kwargs.items())})"
    network_msg: Msg | None = None
    bounds: list[DeclaredBound] = []
    transform = getattr(model, "transform", None)
    if transform is not None and hasattr(transform, "min_size"):  # GeneralizedRCNNTransform
        img = inputs.image or ImageInput()
        h, w = internal_size(transform, img.height, img.width)
        if (h, w) != (img.height, img.width):
            network_msg = msg("inputs.resized", batch=inputs.batch_size, channels=img.channels,
                              height=img.height, width=img.width, net_height=h, net_width=w)
            inputs = inputs.model_copy(update={"image": img.model_copy(update={"height": h, "width": w})})
    if hasattr(model, "rpn") and hasattr(model, "roi_heads"):
        proposals, detections, bounds = two_stage_bounds(model)
        model = TwoStageDetectorNetwork(model, proposals, detections)
        notes.append(msg("model_note.two_stage", proposals=proposals, detections=detections))
    elif hasattr(model, "anchor_generator") and hasattr(model, "head"):
        model = DetectorNetwork(model)
        notes.append(msg("model_note.detector"))
    make, desc = generic_inputs(domain if domain else Domain.cv, inputs)
    return LoadedModel(module=model, make_inputs=make, recipe=recipe, input_description=desc, notes=notes,
                       network_input_msg=network_msg, bounds=bounds)
