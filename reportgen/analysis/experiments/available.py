"""The registered experiment methods: importing the method families registers them (named here,
not found by scanning the folder), so the registry itself imports none of them."""

from __future__ import annotations

from reportgen.analysis.experiments import (  # noqa: F401  (they register on import)
    combinations,
    distillation,
    inference,
    pruning,
    quantization,
)
from reportgen.analysis.experiments.registry import REGISTRY, Method


def methods(only: list[str] | None = None) -> list[Method]:
    """Registered methods in run order (cheap first, compilation last); ``only``: these ids."""
    if only:
        unknown = [i for i in only if i not in REGISTRY]
        if unknown:
            raise KeyError(f"unknown experiment(s): {', '.join(unknown)}; known: "
                           f"{', '.join(sorted(REGISTRY))}")
    out = [m for m in REGISTRY.values() if not only or m.id in only]
    return sorted(out, key=lambda m: (m.order, m.id))
