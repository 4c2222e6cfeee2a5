"""The one text type of the contract and the catalogs it refers to.

A generated sentence is a ``Msg``: a code (key under ``msg.`` in the locale catalogs,
``reportgen/locales/<lang>/*.yaml``, or a full key under ``findings.``, where the findings,
hypotheses and trade-off sentences sit beside their labels) and its parameters (numbers stay
numbers; an ``Arg`` is a value with the unit it is shown in: ``ms``, ``pct``, ``x``, ...).
Analysis returns ``Msg``; only the report layer (``reportgen.report.messages``) turns one into
text, per language.
The catalogs are merged per language from one file per feature, so features add text without
touching each other's files; a key defined twice is an error; en and ru have the same keys (tested).
"""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field

LOCALES = Path(__file__).parent / "locales"


def languages() -> list[str]:
    return sorted(p.name for p in LOCALES.iterdir() if p.is_dir())


def _merge(into: dict[str, Any], new: dict[str, Any], where: str, prefix: str = "") -> None:
    for k, v in new.items():
        if k in into and isinstance(into[k], dict) and isinstance(v, dict):
            _merge(into[k], v, where, f"{prefix}{k}.")
        elif k in into:
            raise ValueError(f"message '{prefix}{k}' defined twice (again in {where})")
        else:
            into[k] = v


@cache
def catalog(lang: str) -> dict[str, Any]:
    data: dict[str, Any] = {}
    for path in sorted((LOCALES / lang).glob("*.yaml")):
        with path.open(encoding="utf-8") as f:
            _merge(data, yaml.safe_load(f) or {}, path.name)
    return data


def flat_keys(d: dict[str, Any], prefix: str = "") -> set[str]:
    out: set[str] = set()
    for k, v in d.items():
        key = f"{prefix}{k}"
        if isinstance(v, dict):
            out |= flat_keys(v, key + ".")
        else:
            out.add(key)
    return out


#: how an ``Arg`` is shown: num (3 significant digits), int (grouped), si, bytes, pct, ms (seconds
#: shown in ms), x (a ratio, ×), exp (an exponent, 2 digits), code (a code span), text (model or
#: user text, escaped), key (a catalog key, translated)
Fmt = Literal["num", "int", "si", "bytes", "pct", "ms", "x", "code", "text", "key", "exp"]

#: catalog sections a ``Msg`` code may name in full (everything else is under ``msg.``)
FULL_KEY_ROOTS = ("findings",)


class Arg(BaseModel):
    """A typed ``Msg`` parameter: the value ``v`` and the way ``f`` the report shows it (``None``
    is shown as a dash)."""

    model_config = ConfigDict(extra="forbid")

    v: float | int | str | None
    f: Fmt = "num"


Param = str | int | float | Arg
"""A ``Msg`` parameter (or a nested ``Msg``)."""


class Msg(BaseModel):
    """One generated sentence: ``code`` (under ``msg.``, or a full ``findings.`` key) + its
    parameters."""

    model_config = ConfigDict(extra="forbid")

    code: str
    params: dict[str, str | int | float | Arg | Msg] = Field(default_factory=dict)


Msg.model_rebuild()


def msg(code: str, **params: Param | Msg) -> Msg:
    """A message; fails at once when ``code`` has no English text (typos surface in tests)."""
    m = Msg(code=code, params=params)
    template(code, "en")
    return m


def key_of(code: str) -> str:
    """The catalog key a ``Msg`` code names."""
    return code if code.split(".", 1)[0] in FULL_KEY_ROOTS else f"msg.{code}"


def lookup(key: str, lang: str) -> Any:
    """The catalog entry at ``key`` (a sentence or a group of them)."""
    node: Any = catalog(lang)
    for part in key.split("."):
        if not isinstance(node, dict) or part not in node:
            raise KeyError(f"message '{key}' missing in the '{lang}' catalog")
        node = node[part]
    return node


def template(code: str, lang: str) -> str:
    node = lookup(key_of(code), lang)
    if not isinstance(node, str):
        raise KeyError(f"message '{key_of(code)}' is not a sentence in the '{lang}' catalog")
    return node


