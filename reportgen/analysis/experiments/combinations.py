"""Combinations on the host: methods that compose, stacked into one experiment and measured as
one model (each step deep-copies, so the baseline is untouched and the run is isolated like any
other). Structured channel pruning then dynamic int8: pruning shrinks the Linear layers, dynamic
int8 then quantizes what is left (they compose: torch-pruning returns plain ``nn.Linear``).
Channels-last then torch.compile: inductor picks its conv kernels for the NHWC layout."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace

from reportgen.analysis.experiments.inference import _channels_last, _compile, _compiler, _conv2d
from reportgen.analysis.experiments.pruning import _prunable, _structured
from reportgen.analysis.experiments.quantization import _dynamic, _needs_linear
from reportgen.analysis.experiments.registry import Applied, Method, Subject, register
from reportgen.text import Msg

Applies = Callable[[Subject], Msg | None]


def _both(*checks: Applies) -> Applies:
    """Applies when every step applies; else the first step's reason."""
    def applies(s: Subject) -> Msg | None:
        for c in checks:
            na = c(s)
            if na is not None:
                return na
        return None
    return applies


def _prune_then_dynamic(s: Subject, key: str) -> Applied:
    pruned = _structured(s, key)
    q = _dynamic(replace(s, module=pruned.model), key)
    return Applied(q.model, notes=pruned.notes + q.notes)


def _channels_last_then_compile(s: Subject, key: str) -> Applied:
    cl = _channels_last(s, key)
    c = _compile(replace(s, module=cl.model), key)
    return Applied(c.model, notes=cl.notes + c.notes, cleanup=c.cleanup)


register(Method("combo_prune_dynamic_int8", "combined",
                "torch_pruning MetaPruner → torch.ao.quantization.quantize_dynamic",
                _prune_then_dynamic, requires=("torch_pruning",),
                pieces=("prune_structured", "quant_dynamic_int8"),
                applies=_both(_prunable, _needs_linear), order=34))
register(Method("combo_channels_last_compile", "combined",
                "torch.channels_last → torch.compile (inductor)", _channels_last_then_compile,
                pieces=("opt_channels_last", "opt_compile"),
                applies=_both(_conv2d, _compiler), order=92, min_budget_s=45))
