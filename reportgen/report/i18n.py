"""Message catalogs: all fixed report text, one YAML file per language."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Any

import yaml

LOCALES = Path(__file__).parent / "locales"


@lru_cache(maxsize=None)
def catalog(lang: str) -> dict[str, Any]:
    path = LOCALES / f"{lang}.yaml"
    with path.open(encoding="utf-8") as f:
        data = yaml.safe_load(f)
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
