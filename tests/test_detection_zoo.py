"""Every torchvision detection and segmentation model: MACs match torchvision's own weights
metadata (`_ops`: multiply-adds, 3 decimals) within 0.5 %, counted at the size the model's own
transform resizes to, over the part of the network each figure covers; parameters match
`num_params` exactly or differ by the stated BatchNorm convention. Built and traced on meta.

Conventions found in torchvision's figures (each checked to 4 digits here):
- fasterrcnn_mobilenet_v3_large(_320)_fpn: backbone + FPN + RPN head only (no RoI heads);
- fasterrcnn_resnet50_fpn(_v2): the whole network with the RoI box head on 1000 proposals;
- maskrcnn_resnet50_fpn / keypointrcnn_resnet50_fpn: with the box head, without the mask /
  keypoint head; maskrcnn_resnet50_fpn_v2: with the mask head on 100 detections.
- num_params is of the *pretrained* model, whose v1 backbones use FrozenBatchNorm2d (weight and
  bias are buffers); built with weights=None torchvision uses BatchNorm2d, whose 2 × C affine
  values are parameters. The difference is exactly 2 × Σ C over the backbone body's BatchNorms.
"""

from __future__ import annotations

import pytest
import torchvision
from torch import nn
from torchvision.models import get_model_weights, list_models

from reportgen.analysis.counting.published import scoped_macs
from reportgen.analysis.counting.trace import trace_forward
from reportgen.models.torchvision_src import build
from reportgen.spec.choices import Domain
from reportgen.spec.inputs import ImageInput, Inputs
from reportgen.spec.sources import TorchvisionSource

_DENSE = ["backbone", "rpn"]
_BOX = [*_DENSE, "roi_heads.box_roi_pool", "roi_heads.box_head", "roi_heads.box_predictor"]
# module subtrees each published figure covers (None: the whole counted network)
_SCOPE: dict[str, list[str] | None] = {
    "fasterrcnn_mobilenet_v3_large_fpn": _DENSE,
    "fasterrcnn_mobilenet_v3_large_320_fpn": _DENSE,
    "maskrcnn_resnet50_fpn": _BOX,
    "keypointrcnn_resnet50_fpn": _BOX,
}
# v1 detectors whose pretrained backbone uses FrozenBatchNorm2d
_FROZEN_BN = {"fasterrcnn_mobilenet_v3_large_fpn", "fasterrcnn_mobilenet_v3_large_320_fpn",
              "fasterrcnn_resnet50_fpn", "maskrcnn_resnet50_fpn", "keypointrcnn_resnet50_fpn",
              "retinanet_resnet50_fpn", "fcos_resnet50_fpn"}


def _count(name: str, size: int, kwargs: dict[str, object] | None = None) -> tuple[object, object]:
    loaded = build(TorchvisionSource(source="torchvision", name=name, kwargs=kwargs or {}),
                   Inputs(image=ImageInput(height=size, width=size)), Domain.cv, "meta")
    assert next(loaded.module.parameters()).device.type == "meta"  # nothing allocated
    args, kw = loaded.make_inputs("meta")
    trace, _, _ = trace_forward(loaded.module, args, kw)
    return loaded, trace


@pytest.mark.parametrize("name", list_models(module=torchvision.models.detection))
def test_detection_macs_and_params_match_torchvision_metadata(name: str) -> None:
    meta = list(get_model_weights(name))[0].meta
    # 800×800: the default transforms keep a square 800 image at 800 (320 for the 320 variant,
    # fixed 300/320 for SSD), the size torchvision's figures are for
    loaded, trace = _count(name, 800)
    gmacs = scoped_macs(trace.records, _SCOPE.get(name)) / 1e9
    published = meta["_ops"]
    assert abs(gmacs - published) <= max(0.005 * published, 0.0005), (gmacs, published)
    expected = meta["num_params"]
    if name in _FROZEN_BN:
        body = loaded.module.backbone.body
        expected += 2 * sum(m.num_features for m in body.modules() if isinstance(m, nn.BatchNorm2d))
    assert trace.params.total == expected


@pytest.mark.parametrize("name", list_models(module=torchvision.models.segmentation))
def test_segmentation_macs_and_params_match_torchvision_metadata(name: str) -> None:
    meta = list(get_model_weights(name))[0].meta
    kwargs = {} if name.startswith("lraspp") else {"aux_loss": True}  # as the pretrained weights
    _, trace = _count(name, 520, kwargs)  # their transforms resize to 520
    gmacs = sum(r.macs for r in trace.records) / 1e9
    assert abs(gmacs - meta["_ops"]) <= 0.005 * meta["_ops"], (gmacs, meta["_ops"])
    assert trace.params.total == meta["num_params"]
