"""torchvision detectors counted as they run: the model's own resize (GeneralizedRCNNTransform)
gives the network's input size, and two-stage detectors get their data-dependent part
(region proposals after NMS, detections per image) at declared bounds from their own config.

On meta tensors NMS, ``nonzero`` and top-k over scores have no values to act on, so the
wrapper replaces them by their *bound*: the RoI heads run on exactly ``post_nms_top_n``
proposals (and mask/keypoint heads on ``detections_per_img`` boxes). Those ops themselves have
no multiply-adds; RoIAlign is run on the finest FPN level for all boxes (its bytes are an
upper bound of the per-level split)."""

from __future__ import annotations

import math
from typing import Any

import torch
from torch import nn

from reportgen.models.bounds import DeclaredBound
from reportgen.text import msg


def internal_size(transform: Any, height: int, width: int) -> tuple[int, int]:
    """(height, width) the network sees after torchvision's GeneralizedRCNNTransform in eval:
    fixed size, or scale so the short side is ``min_size`` and the long one ≤ ``max_size``
    (floor, as ``interpolate(recompute_scale_factor=True)``), then pad to ``size_divisible``."""
    fixed = getattr(transform, "fixed_size", None)
    if fixed is not None:
        h, w = int(fixed[1]), int(fixed[0])
    else:
        min_size = float(transform.min_size[-1])
        max_size = float(transform.max_size)
        scale = min(min_size / min(height, width), max_size / max(height, width))
        h, w = math.floor(height * scale), math.floor(width * scale)
    stride = int(getattr(transform, "size_divisible", 1) or 1)
    return int(math.ceil(h / stride) * stride), int(math.ceil(w / stride) * stride)


class _BoundedRoIAlign(nn.Module):
    """MultiScaleRoIAlign for a declared number of boxes per image, without the value-dependent
    level assignment: every box is pooled from the first (finest) feature map."""

    def __init__(self, pool: Any, boxes_per_image: int) -> None:  # torchvision MultiScaleRoIAlign
        super().__init__()
        size = pool.output_size
        self.output_size = (size, size) if isinstance(size, int) else tuple(size)
        self.sampling_ratio = int(pool.sampling_ratio)
        self.featmap = str(pool.featmap_names[0])
        self.boxes_per_image = boxes_per_image

    def forward(self, features: dict[str, torch.Tensor], image_hw: tuple[int, int]) -> torch.Tensor:
        from torchvision.ops import roi_align

        x = features[self.featmap]
        b = x.shape[0]
        rois = torch.zeros(b * self.boxes_per_image, 5, device=x.device, dtype=x.dtype)
        scale = x.shape[-1] / image_hw[1]
        return roi_align(x, rois, self.output_size, spatial_scale=scale,
                         sampling_ratio=self.sampling_ratio, aligned=False)


class TwoStageDetectorNetwork(nn.Module):
    """Faster / Mask / Keypoint R-CNN at declared bounds: backbone + FPN + RPN head over the
    whole image, then the box head on ``proposals`` RoIs per image, and the mask / keypoint
    heads on ``detections`` boxes per image. Module paths and parameters are torchvision's."""

    def __init__(self, detector: Any, proposals: int, detections: int) -> None:  # a torchvision R-CNN
        super().__init__()
        self.backbone = detector.backbone
        self.rpn = nn.Module()
        self.rpn.head = detector.rpn.head
        src = detector.roi_heads
        self.roi_heads = nn.Module()
        self.roi_heads.box_roi_pool = _BoundedRoIAlign(src.box_roi_pool, proposals)
        self.roi_heads.box_head = src.box_head
        self.roi_heads.box_predictor = src.box_predictor
        self.heads: list[str] = []
        for kind in ("mask", "keypoint"):
            if getattr(src, f"{kind}_roi_pool", None) is not None:
                setattr(self.roi_heads, f"{kind}_roi_pool",
                        _BoundedRoIAlign(getattr(src, f"{kind}_roi_pool"), detections))
                setattr(self.roi_heads, f"{kind}_head", getattr(src, f"{kind}_head"))
                setattr(self.roi_heads, f"{kind}_predictor", getattr(src, f"{kind}_predictor"))
                self.heads.append(kind)

    def forward(self, x: torch.Tensor) -> dict[str, Any]:
        feats = self.backbone(x)
        if isinstance(feats, torch.Tensor):
            feats = {"0": feats}
        hw = (int(x.shape[-2]), int(x.shape[-1]))
        rpn: Any = self.rpn  # submodules set in __init__ under torchvision's names
        objectness, deltas = rpn.head(list(feats.values()))
        rh: Any = self.roi_heads
        box_feats = rh.box_head(rh.box_roi_pool(feats, hw))
        scores, boxes = rh.box_predictor(box_feats)
        out: dict[str, Any] = {"objectness": objectness, "rpn_deltas": deltas,
                               "scores": scores, "boxes": boxes}
        for kind in self.heads:
            pooled = getattr(rh, f"{kind}_roi_pool")(feats, hw)
            out[kind] = getattr(rh, f"{kind}_predictor")(getattr(rh, f"{kind}_head")(pooled))
        return out


def two_stage_bounds(detector: Any) -> tuple[int, int, list[DeclaredBound]]:
    """(proposals, detections) per image from the model's own test-time config, as bounds."""
    rpn = detector.rpn
    top_n = rpn._post_nms_top_n
    proposals = int(top_n["testing"] if isinstance(top_n, dict) else top_n)
    detections = int(detector.roi_heads.detections_per_img)
    bounds = [DeclaredBound(what=msg("bound.proposals"), value=proposals,
                            source="rpn_post_nms_top_n_test (model config)",
                            modules=["roi_heads.box_roi_pool", "roi_heads.box_head",
                                     "roi_heads.box_predictor"])]
    heads = [k for k in ("mask", "keypoint") if getattr(detector.roi_heads, f"{k}_roi_pool", None) is not None]
    if heads:
        bounds.append(DeclaredBound(
            what=msg("bound.detections"), value=detections,
            source="box_detections_per_img (model config)",
            modules=[f"roi_heads.{k}_{part}" for k in heads for part in ("roi_pool", "head", "predictor")]))
    return proposals, detections, bounds
