"""Re-trace the study's model at other inputs on meta tensors (cheap: nothing is allocated):
the scaling probe of the findings stage, and the smaller-input / batching / student hypotheses.

The sizes (``scaled_inputs``) are defined once, in ``axes.py``. Exponents k are of cost ∝ size^k.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import TYPE_CHECKING

from reportgen.analysis.counting.records import Trace
from reportgen.analysis.stage import Context
from reportgen.spec.inputs import Inputs

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



