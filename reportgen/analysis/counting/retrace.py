"""Re-trace the study's model at other inputs on meta tensors (cheap: nothing is allocated):
the scaling probe of the findings stage, and the smaller-input / batching / student hypotheses.

The sizes (``scaled_inputs``) are defined once, in ``axes.py``. Exponents k are of cost ∝ size^k.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

from reportgen.analysis.counting.records import Trace
from reportgen.spec.schema import Inputs


def retrace(ctx: Any, inputs: Inputs, resolved: Any = None) -> Trace:
    """Build the (or another resolved) model with ``inputs`` on meta and trace one forward.

    Traces are shared through ``ctx.products["trace_cache"]``: the scaling sweep, the findings'
    probe and the hypotheses often ask for the same input sizes."""
    from reportgen.analysis.counting.trace import trace_forward
    from reportgen.models.build import build

    res = dataclasses.replace(resolved or ctx.products["resolved"], inputs=inputs)
    cache = ctx.products.setdefault("trace_cache", {}) if hasattr(ctx, "products") else {}
    key = (res.source.model_dump_json(), inputs.model_dump_json())
    if key in cache:
        return cache[key]
    base = ctx.spec_path.parent if getattr(ctx, "spec_path", None) else Path.cwd()
    loaded = build(res, device="meta", base_dir=base, allow_code=getattr(ctx, "allow_code", False))
    args, kwargs = loaded.make_inputs("meta")
    if loaded.prepare is not None:
        args, kwargs = loaded.prepare(loaded.module, args, kwargs)
    trace, _, _ = trace_forward(loaded.module, args, kwargs, int_scalar=loaded.meta_int_scalar)
    cache[key] = trace
    return trace



