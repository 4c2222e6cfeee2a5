"""Hugging Face transformers models built from a config: never from hub weights, never online."""

from __future__ import annotations

import inspect
import json
import os
from pathlib import Path
from typing import Any

import torch

from reportgen.errors import ModelBuildError
from reportgen.models.base import (
    LoadedModel,
    audio_frames,
    audio_samples,
    construct,
    image_tensor,
    token_ids,
)
from reportgen.spec.choices import Domain
from reportgen.spec.inputs import AudioInput, ImageInput, Inputs, TextInput
from reportgen.spec.sources import TransformersSource
from reportgen.text import Msg, msg

OFFLINE_HINT = ("reportgen never downloads: put the hyper-parameters in the spec (model_type + "
                "config overrides) or point `config_file` at a local config.json")


def _config(src: TransformersSource, base_dir: Path) -> Any:
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    from transformers import AutoConfig

    try:
        if src.config_file:
            path = (base_dir / src.config_file) if not Path(src.config_file).is_absolute() else Path(src.config_file)
            if path.is_dir():
                path = path / "config.json"
            if not path.is_file():
                raise ModelBuildError(f"config_file {src.config_file!r} not found (looked at {path})")
            try:
                data = json.loads(path.read_text(encoding="utf-8"))
            except (ValueError, UnicodeDecodeError) as e:
                raise ModelBuildError(f"config_file {path} is not valid JSON: {e}") from None
            if not isinstance(data, dict):
                raise ModelBuildError(f"config_file {path} must hold a JSON object")
            model_type = src.model_type or data.pop("model_type", None)
            if not model_type:
                raise ModelBuildError(f"config_file {path} has no model_type; add `model_type:` to the spec")
            data.pop("architectures", None)
            return AutoConfig.for_model(model_type, **{**data, **src.config})
        if src.hub_id:
            try:
                cfg = AutoConfig.from_pretrained(src.hub_id, local_files_only=True)
            except Exception:
                raise ModelBuildError(f"hub id '{src.hub_id}' is not in the local cache and "
                                      f"the network is off. {OFFLINE_HINT}") from None
            for k, v in src.config.items():
                setattr(cfg, k, v)
            return cfg
        assert src.model_type is not None  # the spec requires model_type, config_file or hub_id
        return AutoConfig.for_model(src.model_type, **src.config)
    except ModelBuildError:
        raise
    except (ValueError, KeyError, TypeError) as e:
        raise ModelBuildError(f"transformers config for '{src.model_type or src.config_file}': {e}") from None


def build(src: TransformersSource, inputs: Inputs, domain: Domain, device: str,
          base_dir: Path) -> LoadedModel:
    cfg = _config(src, base_dir)
    import transformers

    auto = getattr(transformers, src.auto_class, None)
    if auto is None or not hasattr(auto, "from_config"):
        raise ModelBuildError(f"transformers has no Auto class '{src.auto_class}'")
    def make() -> Any:
        try:
            return auto.from_config(cfg, attn_implementation="sdpa")
        except (ValueError, ImportError):
            return auto.from_config(cfg, attn_implementation="eager")

    try:
        model = construct(make, device, key=f"{src.auto_class}:{cfg.to_json_string(use_diff=False)}")
    except ValueError as e:
        raise ModelBuildError(f"{src.auto_class} cannot build a '{cfg.model_type}' model: {e}") from None
    model.eval()
    recipe = (f"transformers.{src.auto_class}.from_config(AutoConfig.for_model("
              f"{cfg.model_type!r}{''.join(f', {k}={v!r}' for k, v in src.config.items())}))")
    return _with_inputs(model, cfg, inputs, domain, recipe)


def _with_inputs(model: Any, cfg: Any, inputs: Inputs, domain: Domain, recipe: str) -> LoadedModel:
    b = inputs.batch_size
    main = getattr(model, "main_input_name", "input_ids")
    vocab = int(getattr(cfg, "vocab_size", None) or 1000)
    enc_dec = bool(getattr(cfg, "is_encoder_decoder", False))
    t = inputs.text or TextInput()
    notes: list[Msg] = []
    network_msg: Msg | None = None
    windows = 1  # Whisper: 30 s windows per input
    dec_len = (t.decoder_sequence_length if inputs.text else None) or \
        (inputs.audio.decoder_sequence_length if inputs.audio else None) or \
        (t.sequence_length if domain is Domain.nlp else 32)

    if main == "pixel_values":
        img = inputs.image or ImageInput()

        def first(dev: str) -> Any:
            return image_tensor(inputs, dev)
        desc = f"{b}×{img.channels}×{img.height}×{img.width} pixel_values"
    elif main == "input_features":
        a = inputs.audio or AudioInput(representation="log_mel")
        frames = audio_frames(a)
        n_mels = int(getattr(cfg, "num_mel_bins", a.n_mels))
        if cfg.model_type == "whisper":
            # the feature extractor pads or trims every input to one 30 s window: the encoder
            # takes exactly 2 × max_source_positions frames (3000 at a 10 ms hop)
            # longer audio is cut into 30 s windows, each one encoder pass: a batch of windows
            window = 2 * int(cfg.max_source_positions)
            windows = max(1, -(-frames // window))
            if frames != window:
                network_msg = msg("inputs.audio_window", batch=b, seconds=a.seconds, windows=windows,
                                  window=window * a.hop_length / a.sample_rate, mels=n_mels, frames=window)
            frames = window

        rows = b * windows

        def first(dev: str) -> Any:
            return torch.randn(rows, n_mels, frames, device=dev)
        desc = f"{rows}×{n_mels}×{frames} log-mel input_features ({a.seconds:g} s)"
    elif main == "input_values":
        a = inputs.audio or AudioInput()
        n = audio_samples(a)

        def first(dev: str) -> Any:
            return torch.randn(b, n, device=dev)
        desc = f"{b}×{n} raw waveform input_values ({a.seconds:g} s at {a.sample_rate} Hz)"
    else:
        length = t.sequence_length

        def first(dev: str) -> Any:
            return token_ids(b, length, vocab, dev)
        desc = f"{b}×{length} token ids"

    decode = inputs.text is not None and t.mode == "decode" and not enc_dec
    if decode:
        # One new token attending to `sequence_length` cached tokens; the cache is filled by an
        # untraced prefill on the same device.
        def make_decode(dev: str) -> tuple[tuple[Any, ...], dict[str, Any]]:
            return (token_ids(b, 1, vocab, dev),), {"use_cache": True}

        # transformers >= 5.2x names the cache argument `cache` (past_key_values deprecated); read
        # from this model's forward, since `prepare` may be handed a wrapper (an experiment's cast)
        cache_name = "cache" if "cache" in inspect.signature(model.forward).parameters else "past_key_values"

        def prepare(m: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> tuple[tuple[Any, ...], dict[str, Any]]:
            dev = args[0].device.type
            with torch.no_grad():
                out = m(token_ids(b, t.sequence_length, vocab, dev), use_cache=True)
            cache = getattr(out, "cache", None) or getattr(out, "past_key_values", None)
            if cache is None:
                raise ValueError("the prefill returned no KV cache")
            return args, {**kwargs, cache_name: cache}

        notes.append(msg("model_note.decode", tokens=t.sequence_length))
        return LoadedModel(module=model, make_inputs=make_decode, recipe=recipe, notes=notes,
                           input_description=f"{b}×1 token ids + KV cache of {t.sequence_length} tokens",
                           prepare=prepare)

    first_rows = b * windows if main == "input_features" else b

    def make(dev: str) -> tuple[tuple[Any, ...], dict[str, Any]]:
        kwargs: dict[str, Any] = {}
        if enc_dec:
            kwargs["decoder_input_ids"] = token_ids(first_rows, dec_len, vocab, dev)
        if main == "input_ids" or enc_dec:
            kwargs["use_cache"] = False
        return (first(dev),), kwargs

    if enc_dec:
        desc += f" + {b}×{dec_len} decoder token ids"
    return LoadedModel(module=model, make_inputs=make, recipe=recipe, input_description=desc, notes=notes,
                       network_input_msg=network_msg)
