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
from reportgen.spec.load import validation_issues
from reportgen.spec.schema import Domain, Inputs, ModelSource, Strict
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


@cache
def load_card(card_id: str) -> ModelCard:
    """Load ``model_cards/<card_id>.yaml``. Unknown ids get did-you-mean suggestions."""
    path = card_path(card_id)
    if "/" in card_id or "\\" in card_id or card_id.startswith(".") or not path.is_file():
        ids = card_ids()
        close = difflib.get_close_matches(card_id, ids, n=3, cutoff=0.5)
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
