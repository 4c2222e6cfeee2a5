"""torchaudio model builders (``torchaudio.models.<builder>(**kwargs)``), randomly initialised."""

from __future__ import annotations

import difflib
import inspect
from typing import Any

import torch

from reportgen.errors import ModelBuildError
from reportgen.models.base import LoadedModel, audio_frames, construct, generic_inputs
from reportgen.spec.choices import Domain
from reportgen.spec.inputs import AudioInput, Inputs
from reportgen.spec.sources import TorchaudioSource


def build(src: TorchaudioSource, inputs: Inputs, domain: Domain, device: str) -> LoadedModel:
    try:
        import torchaudio.models as tam
    except Exception as e:  # torchaudio wheels can fail to import against a mismatched torch
        raise ModelBuildError(f"torchaudio cannot be imported here ({e}); install the pinned "
                              "torch/torchaudio pair from constraints.txt") from None
    # builder functions (wav2vec2_base, ...) and model classes (Conformer, ...)
    builders = [n for n in dir(tam) if not n.startswith("_") and callable(getattr(tam, n))]
    if src.builder not in builders:
        close = difflib.get_close_matches(src.builder, builders, n=3)
        hint = f"did you mean {', '.join(close)}?" if close else "see torchaudio.models"
        raise ModelBuildError(f"torchaudio.models has no builder '{src.builder}': {hint}")
    fn = getattr(tam, src.builder)
    try:
        model = construct(lambda: fn(**src.kwargs), device, key=src.model_dump_json())
    except TypeError as e:
        raise ModelBuildError(f"torchaudio.models.{src.builder}: bad kwargs: {e}") from None
    model.eval()
    recipe = f"torchaudio.models.{src.builder}({', '.join(f'{k}={v!r}' for k, v in src.kwargs.items())})"
    a = inputs.audio or AudioInput()
    b = inputs.batch_size
    params = list(inspect.signature(model.forward).parameters)
    if "lengths" in params and params[0] == "input" and hasattr(model, "conformer_layers") or \
            type(model).__name__ == "Conformer":
        # torchaudio.models.Conformer: (B, frames, input_dim) features + lengths
        dim = int(src.kwargs.get("input_dim", a.n_mels))
        frames = audio_frames(a)

        def make(dev: str) -> tuple[tuple[Any, ...], dict[str, Any]]:
            x = torch.randn(b, frames, dim, device=dev)
            lengths = torch.full((b,), frames, dtype=torch.long, device=dev)
            return (x, lengths), {}

        return LoadedModel(module=model, make_inputs=make, recipe=recipe, meta_int_scalar=frames,
                           input_description=f"{b}×{frames}×{dim} features ({a.seconds:g} s, hop {a.hop_length})")
    make_generic, desc = generic_inputs(Domain.speech, inputs)
    return LoadedModel(module=model, make_inputs=make_generic, recipe=recipe, input_description=desc)
