"""Every torchvision classification model: MACs match torchvision's own weights metadata
(`_ops`, "GFLOPS" that are multiply-adds of conv/linear/matmul, 3 decimals) within 0.5% or its
rounding, and parameters match `num_params` exactly. Built and traced on meta tensors."""

from __future__ import annotations

import pytest
import torch
import torchvision
from torchvision.models import get_model_weights, list_models

from reportgen.analysis.counting.trace import trace_forward
from reportgen.models.torchvision_src import build
from reportgen.spec.choices import Domain
from reportgen.spec.inputs import ImageInput, Inputs
from reportgen.spec.sources import TorchvisionSource

# Builder kwargs that the pretrained weights imply (weights=None keeps the defaults otherwise).
_WEIGHTS_KWARGS = {"googlenet": {"aux_logits": False, "init_weights": False},
                   "inception_v3": {"init_weights": False},
                   "vit_h_14": {"image_size": 518}}


def _crop(weights: object) -> int:
    transforms = getattr(weights, "transforms", None)
    kw = getattr(transforms, "keywords", {}) or {}
    return int(kw.get("crop_size", 224))


@pytest.mark.parametrize("name", list_models(module=torchvision.models))
def test_macs_and_params_match_torchvision_metadata(name: str) -> None:
    weights = list(get_model_weights(name))[0]
    meta = weights.meta
    size = _crop(weights)
    loaded = build(TorchvisionSource(source="torchvision", name=name, kwargs=_WEIGHTS_KWARGS.get(name, {})),
                   Inputs(image=ImageInput(height=size, width=size)), Domain.cv, "meta")
    assert next(loaded.module.parameters()).device.type == "meta"  # nothing allocated
    trace, _, _ = trace_forward(loaded.module, (torch.empty(1, 3, size, size, device="meta"),))
    gmacs = sum(r.macs for r in trace.records) / 1e9
    published = meta["_ops"]
    assert abs(gmacs - published) <= max(0.005 * published, 0.0005), (gmacs, published)
    assert trace.params.total == meta["num_params"]
