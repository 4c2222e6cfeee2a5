"""The acceleration-method registry: a method generator is one function registered with its
metadata.

``@method(MethodClass.x, order=n, keys=("quant_fp16", ...))`` registers
``fn(study) -> list[Hypothesis]``; ``keys`` are the ``Hypothesis.method`` values it may produce,
each with a row in ``thresholds.yaml`` (``hypotheses.methods``) and catalog text
(``findings.hyp.<key>.*``). The hypotheses stage runs every registered generator in ``order``;
one that raises is recorded in ``missing`` and the others still run. Registering a name twice
raises. No torch.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING

from reportgen.analysis.hypotheses.models import Hypothesis, MethodClass

if TYPE_CHECKING:
    from reportgen.analysis.hypotheses.study import Study

MethodFn = Callable[["Study"], list[Hypothesis]]


@dataclass(frozen=True)
class MethodInfo:
    name: str
    cls: MethodClass
    order: int
    keys: tuple[str, ...]
    fn: MethodFn


_METHODS: dict[str, MethodInfo] = {}


def method(cls: MethodClass, *, order: int, keys: tuple[str, ...],
           name: str | None = None) -> Callable[[MethodFn], MethodFn]:
    """Register a hypothesis generator of class ``cls``; generators run in ascending ``order``."""
    def deco(fn: MethodFn) -> MethodFn:
        key = name or fn.__name__
        if key in _METHODS:
            raise RuntimeError(f"method generator {key!r} is registered already")
        _METHODS[key] = MethodInfo(name=key, cls=cls, order=order, keys=keys, fn=fn)
        return fn
    return deco


def all_methods() -> list[MethodInfo]:
    """Every registered generator, in order (importing ``methods.py`` registers the course's)."""
    return sorted(_METHODS.values(), key=lambda m: (m.order, m.name))


def unregister(name: str) -> None:
    _METHODS.pop(name, None)


@contextmanager
def registered(fn: MethodFn, cls: MethodClass, *, order: int,
               keys: tuple[str, ...]) -> Iterator[None]:
    """``fn`` registered as a method generator for the duration of the block."""
    method(cls, order=order, keys=keys)(fn)
    try:
        yield
    finally:
        unregister(fn.__name__)
