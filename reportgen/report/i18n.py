"""Message catalogs: all fixed report text. ``locales/<lang>/*.yaml`` are merged per language
(one file per feature, e.g. core.yaml, roofline.yaml), so features add text without touching
each other's files; a key defined twice is an error. en and ru must have the same keys (tested)."""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import Any

import yaml

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


class Translator:
    """``t('sec.model')`` → the text in this language; ``t(key, x=1)`` formats placeholders."""

    def __init__(self, lang: str) -> None:
        self.lang = lang
        self.data = catalog(lang)

    def lookup(self, key: str) -> Any:
        node: Any = self.data
        for part in key.split("."):
            if not isinstance(node, dict) or part not in node:
                raise KeyError(f"message '{key}' missing in the '{self.lang}' catalog")
            node = node[part]
        return node

    def __call__(self, key: str, **kwargs: Any) -> Any:
        value = self.lookup(key)
        if kwargs and isinstance(value, str):
            return value.format(**kwargs)
        return value
