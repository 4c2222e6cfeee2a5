"""The experiment registry: one ``Method`` per way of transforming the model on the host.

A method says which hypothesis it tests, which library applies it, what it needs installed,
when it does not apply (a reason as a ``Msg``) and how to build the transformed model. The
families register themselves from their modules, imported explicitly below (no folder scan).
Every transformed model is an ``nn.Module`` with the baseline's forward signature, so timing,
fidelity and the user's ``evaluate`` callable treat them all alike.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from reportgen.text import Msg

Inputs = tuple[tuple[Any, ...], dict[str, Any]]
# fills the state a stateful forward reads (a decoder's KV cache, by a prefill) with this model:
# (model, args, kwargs) -> (args, kwargs); ``models.base.LoadedModel.prepare``
Prepare = Callable[[Any, tuple[Any, ...], dict[str, Any]], Inputs]


@dataclass
class Student:
    """A smaller model of the same task (a distillation hypothesis), built with random weights."""

    key: str  # card id
    hypothesis: str
    build: Callable[[], Any]  # -> nn.Module on cpu, eval
    make_inputs: Callable[[], Inputs]
    prepare: Prepare | None = None  # its own stateful forward (a decoder student)


@dataclass
class Subject:
    """The baseline an experiment transforms: never mutated (methods deep-copy it)."""

    module: Any  # nn.Module, fp32, cpu, eval
    make_inputs: Callable[[], Inputs]  # fresh inputs (random, or the user's) on cpu
    domain: str
    host_precisions: frozenset[str] = frozenset({"fp32"})
    knobs: dict[str, float] = field(default_factory=dict)  # sparsity, prune_fraction
    students: list[Student] = field(default_factory=list)
    calibration_batches: int = 4
    # a stateful forward (one decode step on a KV cache): each model, baseline or transformed,
    # fills its own state from the same prompt before it is timed or compared
    prepare: Prepare | None = None


@dataclass
class Applied:
    """A transformed model ready to time."""

    model: Any  # nn.Module with the baseline's forward signature
    size_bytes: int | None = None  # serialized size; None: the state dict is measured
    notes: list[Msg] = field(default_factory=list)
    make_inputs: Callable[[], Inputs] | None = None  # own inputs (a student of another input size)
    prepare: Prepare | None = None  # with its own inputs: its own state filler (else the subject's)
    comparable: bool = True  # outputs comparable with the baseline's (fidelity)
    cleanup: Callable[[], None] | None = None


@dataclass(frozen=True)
class Method:
    id: str
    family: str  # the course's method class (MethodClass value)
    library: str
    apply: Callable[[Subject, str], Applied]
    hypothesis: str | None = None  # hypothesis id it tests (None: measured only)
    host_precision: str | None = None  # predict at this precision on the host (None: the variant's)
    # dynamic quantization: the weighted matmuls (Linear layers) compute at this precision on the
    # host, everything else at fp32, on the untransformed graph (None: one precision for all ops)
    host_matmul_precision: str | None = None
    # the library folds BatchNorm and fuses activation chains into the conv/linear (FX static
    # quantization): predicted on the folded, fused graph (``prediction.deploy``)
    host_fuses: bool = False
    pieces: tuple[str, ...] = ()  # a combination: the experiment ids it stacks, in order
    requires: tuple[str, ...] = ()  # importable modules
    applies: Callable[[Subject], Msg | None] = lambda s: None
    instances: Callable[[Subject], list[tuple[str, str | None]]] | None = None  # (key, hypothesis)
    min_budget_s: float = 0.0  # not started with less of the total budget left
    order: int = 50


REGISTRY: dict[str, Method] = {}


def register(m: Method) -> Method:
    if m.id in REGISTRY:
        raise ValueError(f"experiment '{m.id}' registered twice")
    REGISTRY[m.id] = m
    return m


def missing_requirement(m: Method) -> str | None:
    for mod in m.requires:
        if importlib.util.find_spec(mod) is None:
            return mod
    return None


class Unavailable(Exception):  # noqa: N818  (a state, not an error: the run is "unavailable")
    """Raised by ``apply`` when the installed libraries cannot run the method on this host
    (an API or a CPU kernel is missing); the run is recorded as ``unavailable`` with ``reason``."""

    def __init__(self, reason: Msg) -> None:
        super().__init__(reason.code)
        self.reason = reason


def has(module: Any, *types: type) -> bool:
    return any(isinstance(m, types) for m in module.modules())


class CastInputs:
    """Factory of an ``nn.Module`` that casts floating inputs to ``dtype`` (and memory format)."""

    @staticmethod
    def wrap(inner: Any, dtype: Any = None, memory_format: Any = None, out_dtype: Any = None) -> Any:
        import torch
        from torch.utils._pytree import tree_map

        class _Cast(torch.nn.Module):
            def __init__(self) -> None:
                super().__init__()
                self.inner = inner

            def forward(self, *args: Any, **kwargs: Any) -> Any:
                def f(x: Any) -> Any:
                    if isinstance(x, torch.Tensor) and x.is_floating_point():
                        if dtype is not None:
                            x = x.to(dtype)
                        if memory_format is not None and x.dim() == 4:
                            x = x.contiguous(memory_format=memory_format)
                    return x
                out = self.inner(*tree_map(f, args), **tree_map(f, kwargs))
                if out_dtype is None:
                    return out

                def g(x: Any) -> Any:
                    return x.to(out_dtype) if isinstance(x, torch.Tensor) and x.is_floating_point() else x
                # a transformers ModelOutput is a pytree node and keeps its fields (a decoder's KV
                # cache, a leaf here, stays where a prefill looks for it)
                return tree_map(g, out)
        return _Cast()
