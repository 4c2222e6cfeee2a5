"""The report's translator over the message catalogs (loaded by ``reportgen.text``)."""

from __future__ import annotations

import string
from typing import Any

from reportgen.report.plural import agree
from reportgen.text import catalog, flat_keys, languages  # noqa: F401  (the report's view of the catalogs)


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
            return _Plural(self.lang).vformat(value, (), kwargs)
        return value


class _Plural(string.Formatter):
    """``str.format`` plus ``{n:plural:...}`` on parameters the template already formatted."""

    def __init__(self, lang: str) -> None:
        self.lang = lang

    def format_field(self, value: Any, format_spec: str) -> str:
        if format_spec.startswith("plural:"):
            return agree(self.lang, value, format_spec, str(value))
        return str(super().format_field(value, format_spec))
