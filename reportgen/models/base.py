"""LoadedModel and example-input construction in each domain's own terms."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import nn

from reportgen.models.bounds import DeclaredBound
from reportgen.spec.choices import Domain
from reportgen.spec.inputs import AudioInput, ImageInput, Inputs, RecsysInput, TextInput
from reportgen.text import Msg, msg

# builds (args, kwargs) for a forward pass on the given device
InputFactory = Callable[[str], tuple[tuple[Any, ...], dict[str, Any]]]


@dataclass
class LoadedModel:
    """A built model (on meta or cpu) and how to make inputs that match the spec."""

    module: nn.Module
    make_inputs: InputFactory
    recipe: str  # one line saying how it was built, e.g. "torchvision.models.resnet50(weights=None)"
    input_description: str  # e.g. "1×3×224×224 float32 image"
    notes: list[Msg] = field(default_factory=list)  # localizable (analysis/messages.py)
    # optional step run (untraced) before the traced forward, e.g. an LLM prefill filling a KV cache
    prepare: Callable[[nn.Module, tuple[Any, ...], dict[str, Any]], tuple[tuple[Any, ...], dict[str, Any]]] | None = None
    # answer for integer `.item()` calls on meta tensors (e.g. a max sequence length); None → 0
    meta_int_scalar: int | None = None
    # the input as the network sees it after the model's own pre-processing, when that differs
    # from the spec's (e.g. a detector's resize), as a localizable sentence
    network_input_msg: Msg | None = None
    # data-dependent sizes fixed at declared bounds (two-stage detectors); MACs filled by the trace
    bounds: list[DeclaredBound] = field(default_factory=list)


def image_tensor(inp: Inputs, device: str) -> torch.Tensor:
    img = inp.image or ImageInput()
    return torch.randn(inp.batch_size, img.channels, img.height, img.width, device=device)


def token_ids(batch: int, length: int, vocab: int, device: str) -> torch.Tensor:
    return torch.randint(0, max(vocab, 2), (batch, length), device=device, dtype=torch.long)


def audio_samples(a: AudioInput) -> int:
    return max(1, round(a.seconds * a.sample_rate))


def audio_frames(a: AudioInput) -> int:
    return max(1, audio_samples(a) // a.hop_length)


def generic_inputs(domain: Domain, inp: Inputs, vocab: int = 1000) -> tuple[InputFactory, str]:
    """Inputs for a model with a plain ``forward(x)`` in the given domain."""
    b = inp.batch_size
    if domain is Domain.cv:
        img = inp.image or ImageInput()
        return (lambda dev: ((image_tensor(inp, dev),), {}),
                f"{b}×{img.channels}×{img.height}×{img.width} float32 image")
    if domain is Domain.nlp:
        t = inp.text or TextInput()
        return (lambda dev: ((token_ids(b, t.sequence_length, vocab, dev),), {}),
                f"{b}×{t.sequence_length} token ids")
    if domain is Domain.speech:
        a = inp.audio or AudioInput()
        if a.representation == "log_mel":
            frames = audio_frames(a)
            return (lambda dev: ((torch.randn(b, a.n_mels, frames, device=dev),), {}),
                    f"{b}×{a.n_mels}×{frames} log-mel ({a.seconds:g} s)")
        n = audio_samples(a)
        return (lambda dev: ((torch.randn(b, n, device=dev),), {}),
                f"{b}×{n} waveform ({a.seconds:g} s at {a.sample_rate} Hz)")
    r = inp.recsys or RecsysInput()
    return recsys_inputs(r, b, [1000] * r.sparse_features)


def recsys_inputs(r: RecsysInput, batch: int, table_sizes: list[int]) -> tuple[InputFactory, str]:
    """(dense, sparse) for the shared recommender signature; N = batch × candidates rows."""
    n = batch * r.num_candidates
    sizes = table_sizes or [1000] * r.sparse_features

    def make(dev: str) -> tuple[tuple[Any, ...], dict[str, Any]]:
        dense = torch.randn(n, r.dense_features, device=dev)
        if dev == "meta":
            sparse = torch.empty(n, r.sparse_features, r.ids_per_feature, dtype=torch.long, device=dev)
        else:
            cols = [torch.randint(0, max(1, sizes[i % len(sizes)]), (n, 1, r.ids_per_feature))
                    for i in range(r.sparse_features)]
            sparse = torch.cat(cols, dim=1) if cols else torch.empty(n, 0, r.ids_per_feature, dtype=torch.long)
        return (dense, sparse), {}

    desc = (f"{n} rows ({batch} × {r.num_candidates} candidates): {r.dense_features} dense + "
            f"{r.sparse_features} sparse features × {r.ids_per_feature} ids")
    return make, desc


@contextlib.contextmanager
def _params_to_meta() -> Iterator[None]:
    """Register every new parameter/buffer on the meta device (the rest of __init__ runs on
    CPU). For builders whose __init__ computes with tensors (e.g. torchvision's RegNet), which
    fails under ``torch.device('meta')``. Fresh ``torch.empty`` pages are never touched, so
    nothing real is allocated for long."""
    orig_param = nn.Module.register_parameter
    orig_buffer = nn.Module.register_buffer

    def register_parameter(self: nn.Module, name: str, param: Any) -> None:
        if param is not None and param.device.type != "meta":
            param = nn.Parameter(param.to("meta"), requires_grad=param.requires_grad)
        orig_param(self, name, param)

    def register_buffer(self: nn.Module, name: str, tensor: Any, persistent: bool = True) -> None:
        if tensor is not None and tensor.device.type != "meta":
            tensor = tensor.to("meta")
        orig_buffer(self, name, tensor, persistent)

    nn.Module.register_parameter = register_parameter  # type: ignore[method-assign]
    nn.Module.register_buffer = register_buffer  # type: ignore[method-assign]
    try:
        yield
    finally:
        nn.Module.register_parameter = orig_param  # type: ignore[method-assign]
        nn.Module.register_buffer = orig_buffer  # type: ignore[method-assign]


# Meta modules hold no data and tracing does not change them, so studies that trace the same
# model at several input sizes (scaling sweeps, hypotheses) build it once.
_META_CACHE: dict[str, nn.Module] = {}
_META_CACHE_SIZE = 4


def construct(fn: Callable[[], nn.Module], device: str, key: str | None = None) -> nn.Module:
    """Build a module on ``device``. On meta, builders that compute with tensors in __init__
    are retried with only their parameters and buffers placed on meta. ``key`` (a canonical
    description of the recipe) lets meta builds be reused."""
    if device == "meta" and key is not None:
        cached = _META_CACHE.get(key)
        if cached is None:
            cached = _construct(fn, device)
            if len(_META_CACHE) >= _META_CACHE_SIZE:
                _META_CACHE.pop(next(iter(_META_CACHE)))
            _META_CACHE[key] = cached
        return cached
    return _construct(fn, device)


def _construct(fn: Callable[[], nn.Module], device: str) -> nn.Module:
    try:
        with torch.device(device):
            return fn()
    except (NotImplementedError, RuntimeError) as e:
        if device != "meta" or "meta" not in str(e):
            raise
    with _params_to_meta():
        model = fn()
    return model.to("meta")


def input_summary(domain: Domain, inputs: Inputs) -> Msg:
    """The spec's inputs in the domain's words, as a localizable sentence."""
    b = inputs.batch_size
    if domain is Domain.cv:
        img = inputs.image or ImageInput()
        return msg("inputs.image", batch=b, height=img.height, width=img.width, channels=img.channels)
    if domain is Domain.nlp:
        t = inputs.text or TextInput()
        if t.mode == "decode":
            return msg("inputs.text_decode", batch=b, tokens=t.sequence_length)
        return msg("inputs.text", batch=b, tokens=t.sequence_length)
    if domain is Domain.speech:
        a = inputs.audio or AudioInput()
        code = "inputs.audio_log_mel" if a.representation == "log_mel" else "inputs.audio_waveform"
        return msg(code, batch=b, seconds=a.seconds, rate=a.sample_rate, mels=a.n_mels)
    r = inputs.recsys or RecsysInput()
    return msg("inputs.recsys", batch=b, candidates=r.num_candidates, dense=r.dense_features,
               sparse=r.sparse_features, ids=r.ids_per_feature)
