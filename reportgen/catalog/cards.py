"""Model cards: one YAML file per model in ``model_cards/`` — description, offline build recipe,
default inputs and published reference figures with their source and counting convention."""

from __future__ import annotations

import difflib
from functools import cache
from pathlib import Path
from typing import Literal

from pydantic import Field, ValidationError

from reportgen.errors import SpecError, SpecIssue, UnknownIdError
from reportgen.paths import model_cards_dir
from reportgen.spec.base import Strict
from reportgen.spec.choices import Domain
from reportgen.spec.inputs import Inputs
from reportgen.spec.load import validation_issues
from reportgen.spec.sources import ModelSource
from reportgen.spec.yamlpos import load_located, read_text


class Bilingual(Strict):
    en: str = Field(min_length=1)
    ru: str = Field(min_length=1)


class Paper(Strict):
    title: str
    authors: str | None = None
    year: int = Field(ge=1950, le=2100)
    url: str | None = None


class PublishedFigure(Strict):
    """A figure from the literature or a library's metadata, with how it was counted."""

    value: float = Field(ge=0)
    unit: Literal["params", "MACs", "FLOPs"]
    source: str = Field(description="where it was published (doc page, paper table)")
    url: str | None = None
    convention: str = Field(description="what it counts, e.g. 'multiply-adds of conv/linear/matmul'")
    input: str | None = Field(None, description="input the figure is for, e.g. 1x3x224x224")
    tolerance: float = Field(0.005, ge=0, le=1.0, description="relative agreement we expect")
    note: str | None = Field(None, description="why counted and published may differ")
    modules: list[str] | None = Field(
        None, description="module subtrees the figure covers, e.g. [backbone, rpn] (default: all)")


class ModelCard(Strict):
    id: str
    name: str
    domain: Domain
    task: str
    paper: Paper
    description: Bilingual
    architecture: Bilingual
    build: ModelSource
    inputs: Inputs
    published: list[PublishedFigure] = Field(default_factory=list)
    requires: list[str] = Field(default_factory=list, description="optional extra packages")
    meta_only: bool = Field(False, description="too big to materialise: analysed on meta only")
    distillation_students: list[str] = Field(default_factory=list, description="card ids")
    fixed_inputs: dict[str, str] = Field(
        default_factory=dict,
        description="input fields the model defines (e.g. 'audio.n_mels'), each with why; a spec "
                    "that sets one to another value is an error, not silently ignored")


def card_path(card_id: str) -> Path:
    return model_cards_dir() / f"{card_id}.yaml"


def card_ids() -> list[str]:
    return sorted(p.stem for p in model_cards_dir().glob("*.yaml"))


# The short names people type for model cards (after lower-casing, '-' and ' ' → '_').
CARD_ALIASES: dict[str, str] = {
    "bert": "bert_base_uncased", "bert_base": "bert_base_uncased",
    "distilbert": "distilbert_base_uncased", "gpt_2": "gpt2", "gpt2_small": "gpt2",
    "llama": "llama_7b", "llama2_7b": "llama_7b", "llama_2_7b": "llama_7b",
    "t5": "t5_small", "vit": "vit_b_16", "vit_b16": "vit_b_16",
    "mobilenetv2": "mobilenet_v2", "mobilenetv3": "mobilenet_v3_large",
    "mobilenet_v3": "mobilenet_v3_large", "resnet_50": "resnet50", "resnet_18": "resnet18",
    "efficientnet": "efficientnet_b0", "convnext": "convnext_tiny",
    "deeplabv3": "deeplabv3_mobilenet_v3_large", "ssdlite": "ssdlite320_mobilenet_v3_large",
    "fasterrcnn": "fasterrcnn_mobilenet_v3_large_fpn", "yolo": "yolo11n", "yolov11n": "yolo11n",
    "yolo11": "yolo11n", "whisper": "whisper_tiny", "wav2vec2": "wav2vec2_base",
    "hubert": "hubert_base", "ds_cnn": "ds_cnn_s", "dcn": "dcn_v2", "dcnv2": "dcn_v2",
    "wide_and_deep": "wide_deep", "widedeep": "wide_deep", "twotower": "two_tower",
}


def canonical_card_id(card_id: str) -> str:
    """The card id ``card_id`` names: itself, its spelling with '-'/case normalised, or an alias
    (``yolo`` → ``yolo11n``). An id that names nothing is returned unchanged."""
    ids = card_ids()
    if card_id in ids:
        return card_id
    norm = card_id.strip().lower().replace("-", "_").replace(" ", "_")
    if norm in ids:
        return norm
    squeezed = norm.replace("_", "")
    by_squeezed = {a.replace("_", ""): i for a, i in CARD_ALIASES.items()}
    by_squeezed.update({i.replace("_", ""): i for i in ids})
    return by_squeezed.get(squeezed, card_id)


def load_card(card_id: str) -> ModelCard:
    """Load the card ``card_id`` (an id or an alias) names. Unknown ids get did-you-mean."""
    return _load_card(canonical_card_id(card_id))


@cache
def _load_card(card_id: str) -> ModelCard:
    path = card_path(card_id)
    if "/" in card_id or "\\" in card_id or card_id.startswith(".") or not path.is_file():
        ids = card_ids()
        norm = card_id.strip().lower().replace("-", "_").replace(" ", "_")
        guesses = difflib.get_close_matches(norm, ids + list(CARD_ALIASES), n=5, cutoff=0.5)
        close = list(dict.fromkeys(CARD_ALIASES.get(g, g) for g in guesses))[:3]
        hint = f"did you mean {', '.join(close)}?" if close else "run `reportgen models` for the list"
        raise UnknownIdError(f"unknown model card '{card_id}': {hint}")
    located = load_located(read_text(path), str(path))
    try:
        card = ModelCard.model_validate(located.data)
    except ValidationError as err:
        raise SpecError(str(path), validation_issues(err, located, ModelCard)) from None
    if card.id != card_id:
        raise SpecError(str(path), [SpecIssue(f"card id '{card.id}' differs from file name '{card_id}'")])
    return card
