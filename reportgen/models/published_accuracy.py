"""Published ImageNet accuracy of torchvision classification models, read offline from the
weights' metadata that ships with torchvision (``get_model_weights(name)``; nothing is
downloaded). Quantized variants come from ``torchvision.models.quantization`` (registered as
``quantized_<name>``), where they exist. Accuracy in percent, as torchvision publishes it.
"""

from __future__ import annotations

from dataclasses import dataclass

DATASET = "ImageNet-1K"


@dataclass(frozen=True)
class TorchvisionAccuracy:
    """One published figure: top-1/top-5 (%) of named weights, with the recipe that made them."""

    model: str  # torchvision builder name, e.g. resnet50 or quantized_resnet50
    weights: str  # e.g. ResNet50_Weights.IMAGENET1K_V2
    dataset: str
    acc1: float  # %
    acc5: float | None  # %
    source: str  # the recipe URL from the weights' meta ("" when it has none)
    based_on: str | None = None  # quantized weights: the fp32 weights they were quantized from


def torchvision_accuracy(name: str, quantized: bool = False) -> TorchvisionAccuracy | None:
    """The default weights' ImageNet accuracy of ``name`` (or of ``quantized_<name>``);
    None when torchvision has no such classification model or no ImageNet figure."""
    try:
        from torchvision.models import get_model_weights
    except ImportError:
        return None
    reg = f"quantized_{name}" if quantized else name
    try:
        enum = get_model_weights(reg)
    except (ValueError, KeyError):
        return None
    w = getattr(enum, "DEFAULT", None) or next(iter(enum), None)
    if w is None:
        return None
    metrics = (w.meta.get("_metrics") or {}).get(DATASET) or {}
    if "acc@1" not in metrics:
        return None  # detection / segmentation / video weights: not an ImageNet classifier
    base = w.meta.get("unquantized")
    return TorchvisionAccuracy(
        model=reg, weights=str(w), dataset=DATASET, acc1=float(metrics["acc@1"]),
        acc5=float(metrics["acc@5"]) if "acc@5" in metrics else None,
        source=str(w.meta.get("recipe", "")), based_on=str(base) if base is not None else None)
