"""Input-size axes: the one place that says which input field is "the size" of each domain.

cv: image side (px; cost grows with its square), nlp: sequence length (tokens), speech: audio
seconds, recsys: candidates per request, and the batch size. Each axis knows how to read its
value from ``Inputs``, set it, and which sizes a sweep visits. The scaling sweep
(``measurement/scaling.py``) sets absolute sizes (``with_size``); the findings' probe and the
smaller-input / batching hypotheses scale the domain's cost size by a factor
(``scaled_inputs``: pixels, tokens, seconds, or samples per batch when the domain's input is
absent). No torch.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

from reportgen.spec.inputs import AudioInput, ImageInput, Inputs, RecsysInput, TextInput

Axis = Literal["image_size", "sequence_length", "audio_seconds", "num_candidates", "batch_size"]


def sorted_unique(xs: list[float]) -> list[float]:
    return sorted(dict.fromkeys(xs))


def _set_image(inputs: Inputs, value: float) -> Inputs:
    img = inputs.image or ImageInput()
    w = max(8, round(img.width * value / img.height))  # the width keeps the aspect ratio
    return inputs.model_copy(update={"image": img.model_copy(update={"height": int(value), "width": w})})


def _set_text(inputs: Inputs, value: float) -> Inputs:
    t = inputs.text or TextInput()
    return inputs.model_copy(update={"text": t.model_copy(update={"sequence_length": int(value)})})


def _set_audio(inputs: Inputs, value: float) -> Inputs:
    a = inputs.audio or AudioInput()
    return inputs.model_copy(update={"audio": a.model_copy(update={"seconds": float(value)})})


def _set_recsys(inputs: Inputs, value: float) -> Inputs:
    r = inputs.recsys or RecsysInput()
    return inputs.model_copy(update={"recsys": r.model_copy(update={"num_candidates": int(value)})})


def _image_sweep(base: float) -> list[float]:
    vals = [max(32, round(base * s / 32) * 32) for s in (0.25, 0.5, 0.75, 1, 1.5, 2, 3)]
    return sorted_unique([float(v) for v in vals] + [base])  # multiples of 32: strides divide them


def _text_sweep(base: float) -> list[float]:
    return sorted_unique([float(max(1, round(base * s))) for s in (1 / 16, 1 / 8, 1 / 4, 1 / 2, 1, 2, 4)])


def _audio_sweep(base: float) -> list[float]:
    return sorted_unique([round(base * s, 4) for s in (1 / 8, 1 / 4, 1 / 2, 1, 2, 4) if base * s <= 3600])


def _recsys_sweep(base: float) -> list[float]:
    vals = [max(1, round(base * s)) for s in (0.01, 0.1, 1, 10, 100)]
    return sorted_unique([float(v) for v in vals if v <= 10_000_000])


def _batch_sweep(base: float) -> list[float]:
    return sorted_unique([base * s for s in (1, 2, 4, 8, 16, 32)])


@dataclass(frozen=True)
class InputAxis:
    """One input size: its name (catalog key ``findings.axis.<name>``), unit, the exponent of
    linear growth along it (image side: 2, the pixels grow with its square), how to read and set
    it, and the sizes a sweep visits around the spec's value."""

    name: Axis
    unit: str
    linear: float
    get: Callable[[Inputs], float]
    set: Callable[[Inputs, float], Inputs]
    sweep: Callable[[float], list[float]]


AXES: dict[Axis, InputAxis] = {a.name: a for a in (
    InputAxis("image_size", "px", 2.0, lambda i: float((i.image or ImageInput()).height),
              _set_image, _image_sweep),
    InputAxis("sequence_length", "tokens", 1.0,
              lambda i: float((i.text or TextInput()).sequence_length), _set_text, _text_sweep),
    InputAxis("audio_seconds", "s", 1.0, lambda i: (i.audio or AudioInput()).seconds,
              _set_audio, _audio_sweep),
    InputAxis("num_candidates", "items", 1.0,
              lambda i: float((i.recsys or RecsysInput()).num_candidates), _set_recsys,
              _recsys_sweep),
    InputAxis("batch_size", "samples", 1.0, lambda i: float(i.batch_size),
              lambda i, v: i.model_copy(update={"batch_size": int(v)}), _batch_sweep),
)}

#: the size that matters for each domain (recsys and anything else: candidates)
DOMAIN_AXIS: dict[str, Axis] = {"cv": "image_size", "nlp": "sequence_length",
                                "speech": "audio_seconds", "recsys": "num_candidates"}


def axis_of(domain: str) -> InputAxis:
    return AXES[DOMAIN_AXIS.get(domain, "num_candidates")]


def domain_axis(domain: str, inputs: Inputs) -> tuple[Axis, str, float, list[float]]:
    """(axis, unit, base value, sweep values) for the domain's size."""
    ax = axis_of(domain)
    base = ax.get(inputs)
    return ax.name, ax.unit, base, ax.sweep(base)


def batch_axis(inputs: Inputs) -> tuple[Axis, str, float, list[float]]:
    ax = AXES["batch_size"]
    base = ax.get(inputs)
    return ax.name, ax.unit, base, ax.sweep(base)


def with_size(inputs: Inputs, axis: Axis, value: float) -> Inputs:
    """``inputs`` with the axis set to ``value`` (image side scales the width by the same factor)."""
    return AXES[axis].set(inputs, value)


def scaled_inputs(inputs: Inputs, domain: str, factor: float) -> tuple[Inputs, str, float, float]:
    """(inputs with the domain's cost size × ``factor``, size name, size, achieved factor).

    The cost size is what work grows linearly with: pixels (both sides × √factor), tokens,
    seconds of audio; samples per batch when the domain's input is absent (and for recsys).
    The result is validated like a spec's inputs (a size out of range raises)."""
    def valid(i: Inputs) -> Inputs:
        return Inputs.model_validate(i.model_dump())

    if domain == "cv" and inputs.image is not None:
        h, w = inputs.image.height, inputs.image.width
        s = math.sqrt(factor)
        h2, w2 = max(8, round(h * s)), max(8, round(w * s))
        img = inputs.image.model_copy(update={"height": h2, "width": w2})
        return valid(inputs.model_copy(update={"image": img})), "pixels", float(h * w), (h2 * w2) / (h * w)
    if domain == "nlp" and inputs.text is not None:
        n = inputs.text.sequence_length
        n2 = max(1, round(n * factor))
        return valid(with_size(inputs, "sequence_length", n2)), "tokens", float(n), n2 / n
    if domain == "speech" and inputs.audio is not None:
        sec = inputs.audio.seconds
        return valid(with_size(inputs, "audio_seconds", sec * factor)), "seconds", sec, factor
    b = inputs.batch_size
    b2 = max(1, round(b * factor))
    return valid(with_size(inputs, "batch_size", b2)), "batch", float(b), b2 / b
