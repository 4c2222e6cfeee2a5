"""Where a study's model comes from: a model card reference (``CardRef``) or an inline offline
source (torchvision, transformers from a config, torchaudio, user Python code, a built-in
recommender), each with optional local weights. ``ModelRef`` (spec) and ``ModelSource`` (model
cards) are the discriminated unions over them, told apart by ``card:`` or ``source:``.
"""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal

from pydantic import BaseModel, Discriminator, Field, Tag, field_validator, model_validator

from reportgen.spec.base import Strict


class Weighted(Strict):
    """What every model reference shares: optional local weights."""

    weights: str | None = Field(None, description="a local checkpoint (state dict .pt/.pth, or a "
                                "local Hugging Face directory), relative to the spec; loaded offline")


class TorchvisionSource(Weighted):
    """A torchvision model builder, always with ``weights=None`` (no downloads)."""

    source: Literal["torchvision"]
    name: str = Field(description="builder name, e.g. resnet50")
    kwargs: dict[str, Any] = Field(default_factory=dict)


class TransformersSource(Weighted):
    """A Hugging Face transformers model built from a config (never from hub weights)."""

    source: Literal["transformers"]
    model_type: str | None = Field(None, description="AutoConfig.for_model(model_type, **config)")
    config: dict[str, Any] = Field(default_factory=dict, description="config overrides")
    config_file: str | None = Field(None, description="a local config.json")
    hub_id: str | None = Field(None, description="only resolved from a local cache, offline")
    auto_class: str = Field("AutoModel", description="e.g. AutoModel, AutoModelForCausalLM")

    @model_validator(mode="after")
    def _one_origin(self) -> TransformersSource:
        given = [n for n in ("model_type", "config_file", "hub_id") if getattr(self, n)]
        if not given:
            raise ValueError("give one of model_type (with config overrides), config_file or hub_id")
        if len(given) > 1 and not (given == ["model_type", "config_file"]):
            raise ValueError(f"give only one of model_type / config_file / hub_id, got {given}")
        if not re.fullmatch(r"(TF|Flax)?Auto[A-Za-z0-9]+", self.auto_class) or self.auto_class.startswith(("TF", "Flax")):
            raise ValueError(f"auto_class must be a PyTorch transformers Auto class, got {self.auto_class!r}")
        return self


class TorchaudioSource(Weighted):
    """A torchaudio model builder such as ``wav2vec2_base`` or ``conformer``."""

    source: Literal["torchaudio"]
    builder: str
    kwargs: dict[str, Any] = Field(default_factory=dict)


class PythonSource(Weighted):
    """User code: ``module:callable`` returning an ``nn.Module``. Needs ``--allow-code``."""

    source: Literal["python"]
    callable: str = Field(description="module.path:function")
    path: str | None = Field(None, description="directory added to sys.path, relative to the spec")
    kwargs: dict[str, Any] = Field(default_factory=dict)

    @field_validator("callable")
    @classmethod
    def _shape(cls, v: str) -> str:
        if not re.fullmatch(r"[A-Za-z_][\w.]*:[A-Za-z_]\w*", v):
            raise ValueError("must look like 'package.module:function'")
        return v


class RecsysSource(Weighted):
    """A built-in recommender from ``reportgen.models.recsys``."""

    source: Literal["recsys"]
    name: str
    kwargs: dict[str, Any] = Field(default_factory=dict)


class CardRef(Weighted):
    """A model card from ``model_cards/<card>.yaml``."""

    card: str


def _model_tag(v: Any) -> str | None:
    if isinstance(v, dict):
        if "card" in v:
            return "card"
        src = v.get("source")
        return src if isinstance(src, str) else None
    if isinstance(v, BaseModel):
        return "card" if isinstance(v, CardRef) else getattr(v, "source", None)
    return None


ModelSource = Annotated[
    Annotated[TorchvisionSource, Tag("torchvision")]
    | Annotated[TransformersSource, Tag("transformers")]
    | Annotated[TorchaudioSource, Tag("torchaudio")]
    | Annotated[PythonSource, Tag("python")]
    | Annotated[RecsysSource, Tag("recsys")],
    Discriminator(_model_tag, custom_error_type="model_source",
                  custom_error_message="model needs `source:` (torchvision, transformers, "
                                       "torchaudio, python, recsys)"),
]


ModelRef = Annotated[
    Annotated[CardRef, Tag("card")]
    | Annotated[TorchvisionSource, Tag("torchvision")]
    | Annotated[TransformersSource, Tag("transformers")]
    | Annotated[TorchaudioSource, Tag("torchaudio")]
    | Annotated[PythonSource, Tag("python")]
    | Annotated[RecsysSource, Tag("recsys")],
    Discriminator(_model_tag, custom_error_type="model_source",
                  custom_error_message="model needs either `card: <id>` or `source:` (torchvision, "
                                       "transformers, torchaudio, python, recsys)"),
]
