"""Helpers for comparing published figures with counted ones like with like: the same part of
the network (a card may say its figure covers only some modules) and the same input."""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence

from reportgen.analysis.counting.records import OpRecord

_SHAPE = re.compile(r"^\s*\d+(\s*[x×]\s*\d+)+\s*$")


def in_scope(module: str, prefixes: Sequence[str]) -> bool:
    """True when ``module`` is one of ``prefixes`` or inside one ('backbone' covers 'backbone.body')."""
    return any(module == p or module.startswith(p + ".") for p in prefixes)


def scoped_macs(records: Iterable[OpRecord], prefixes: Sequence[str] | None) -> int:
    """MACs of the ops run inside the given module subtrees (all ops when ``prefixes`` is None)."""
    return sum(r.macs for r in records if prefixes is None or in_scope(r.module, prefixes))


def shape_text(shape: Sequence[int]) -> str:
    """[1, 3, 320, 320] → '1x3x320x320' (the cards' spelling)."""
    return "x".join(str(d) for d in shape)


def same_input(published_input: str | None, counted: Sequence[int] | None) -> bool | None:
    """Whether a figure published for ``published_input`` ('1x3x320x320') was counted on the same
    tensor shape; None when either side is not a plain shape (nothing to compare)."""
    if not published_input or not counted or not _SHAPE.match(published_input):
        return None
    dims = [int(d) for d in re.split(r"\s*[x×]\s*", published_input.strip())]
    return dims == list(counted)
