"""Re-trace the study's model at other inputs on meta tensors (cheap: nothing is allocated):
the scaling probe of the findings stage, and the smaller-input / batching / student hypotheses.

Sizes per domain: cv = pixels (height × width), nlp = tokens (sequence length), speech = seconds
of audio, recsys = samples per batch. Exponents k are of cost ∝ size^k.
"""

from __future__ import annotations

import dataclasses
import math
from pathlib import Path
from typing import TYPE_CHECKING

from reportgen.analysis.counting.records import Trace
from reportgen.analysis.stage import Context
from reportgen.spec.schema import Inputs

if TYPE_CHECKING:
    from reportgen.models.build import Resolved  # imports torch


def retrace(ctx: Context | None, inputs: Inputs, resolved: Resolved | None = None) -> Trace:
    """Build the (or another resolved) model with ``inputs`` on meta and trace one forward.

    Traces are shared through ``ctx.products.trace_cache``: the scaling sweep, the findings'
    probe and the hypotheses often ask for the same input sizes."""
    from reportgen.analysis.counting.trace import trace_forward
    from reportgen.models.build import build

    if resolved is None:
        if ctx is None:
            raise ValueError("retrace needs the study's context or a resolved model")
        resolved = ctx.products.need_resolved()
    res = dataclasses.replace(resolved, inputs=inputs)
    cache = ctx.products.trace_cache if ctx is not None else {}
    key = (res.source.model_dump_json(), inputs.model_dump_json())
    if key in cache:
        return cache[key]
    base = ctx.spec_path.parent if ctx is not None and ctx.spec_path else Path.cwd()
    loaded = build(res, device="meta", base_dir=base, allow_code=ctx is not None and ctx.allow_code)
    args, kwargs = loaded.make_inputs("meta")
    if loaded.prepare is not None:
        args, kwargs = loaded.prepare(loaded.module, args, kwargs)
    trace, _, _ = trace_forward(loaded.module, args, kwargs, int_scalar=loaded.meta_int_scalar)
    cache[key] = trace
    return trace


def scaled_inputs(inputs: Inputs, domain: str, factor: float) -> tuple[Inputs, str, float, float]:
    """(inputs with the domain's size × ``factor``, axis, size, achieved factor)."""
    data = inputs.model_dump()
    if domain == "cv" and inputs.image is not None:
        h, w = inputs.image.height, inputs.image.width
        s = math.sqrt(factor)
        h2, w2 = max(8, round(h * s)), max(8, round(w * s))
        data["image"].update(height=h2, width=w2)
        return Inputs.model_validate(data), "pixels", float(h * w), (h2 * w2) / (h * w)
    if domain == "nlp" and inputs.text is not None:
        n = inputs.text.sequence_length
        n2 = max(1, round(n * factor))
        data["text"]["sequence_length"] = n2
        return Inputs.model_validate(data), "tokens", float(n), n2 / n
    if domain == "speech" and inputs.audio is not None:
        sec = inputs.audio.seconds
        data["audio"]["seconds"] = sec * factor
        return Inputs.model_validate(data), "seconds", sec, factor
    b = inputs.batch_size
    b2 = max(1, round(b * factor))
    data["batch_size"] = b2
    return Inputs.model_validate(data), "batch", float(b), b2 / b


