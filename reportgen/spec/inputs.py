"""A study's example inputs in the domain's own terms: image size, text sequence length (prefill,
decode, generation), audio seconds and features, recommender features and candidates, and the
batch size (at most ``MAX_BATCH``). ``Inputs`` is merged over the model card's defaults and takes
the one section that matches the domain.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from reportgen.spec.base import Strict
from reportgen.spec.choices import Domain

MAX_BATCH = 65_536


class ImageInput(Strict):
    height: int = Field(224, ge=8, le=16_384)
    width: int = Field(224, ge=8, le=16_384)
    channels: int = Field(3, ge=1, le=64)


class TextInput(Strict):
    sequence_length: int = Field(128, ge=1, le=1_048_576)
    mode: Literal["prefill", "decode"] = Field(
        "prefill", description="prefill: the whole sequence at once; decode: one new token "
                               "attending to sequence_length cached tokens")
    decoder_sequence_length: int | None = Field(None, ge=1, le=1_048_576,
                                                description="encoder-decoder models only")
    generate_tokens: int | None = Field(None, ge=1, le=1_048_576, description=(
        "generation as a workload: prefill over sequence_length prompt tokens, then this many "
        "tokens generated one by one with a KV cache"))


class AudioInput(Strict):
    seconds: float = Field(1.0, gt=0, le=3_600)
    sample_rate: int = Field(16_000, ge=1_000, le=384_000)
    representation: Literal["waveform", "log_mel"] = "waveform"
    n_mels: int = Field(80, ge=1, le=512)
    hop_length: int = Field(160, ge=1, le=100_000)
    decoder_sequence_length: int | None = Field(None, ge=1, le=65_536)
    generate_tokens: int | None = Field(None, ge=1, le=65_536, description=(
        "encoder-decoder speech models: the encoder once, then this many tokens decoded one by "
        "one with a KV cache and the LM head"))


class RecsysInput(Strict):
    dense_features: int = Field(13, ge=0, le=100_000)
    sparse_features: int = Field(26, ge=0, le=100_000)
    ids_per_feature: int = Field(1, ge=1, le=100_000, description="bag size of each sparse feature")
    num_candidates: int = Field(1, ge=1, le=100_000_000, description="items scored per query")


class Inputs(Strict):
    """Example inputs in the domain's own terms. Merged over the model card's defaults."""

    batch_size: int = Field(1, ge=1, le=MAX_BATCH)
    image: ImageInput | None = None
    text: TextInput | None = None
    audio: AudioInput | None = None
    recsys: RecsysInput | None = None

    def section_for(self, domain: Domain) -> str:
        return {"cv": "image", "nlp": "text", "speech": "audio", "recsys": "recsys"}[domain.value]

    def given_sections(self) -> list[str]:
        return [s for s in ("image", "text", "audio", "recsys") if getattr(self, s) is not None]
