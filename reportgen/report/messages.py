"""Renders a ``Msg`` in a language: placeholders use Python format syntax; numbers are formatted
per locale here: ``{x:sig3}`` (significant digits, also sig2/sig4), ``{x:bytes}``, ``{x:pct}``,
``{x:group}``, ``{x:si}``, ``{n:plural:операция|операции|операций}`` (the number and the
noun that agrees with it, by babel's plural rules: ``reportgen.report.plural``), or a Python spec (``{x:g}``, ``{x:.1f}``) whose decimal point becomes a
comma in Russian. A parameter may itself be a ``Msg`` (rendered in the same language) or an
``Arg``, a value shown as its ``f`` says (``ms``, ``pct``, ``x``, ``key``, ...; see ``_arg``).
"""

from __future__ import annotations

import string
from collections.abc import Callable
from typing import Any

from reportgen.report.filters import Formatter
from reportgen.report.plural import agree
from reportgen.text import Arg, Msg, lookup, template

Msg.model_rebuild()

_NAMED = {"sig": ("sig", 3), "sig2": ("sig", 2), "sig3": ("sig", 3), "sig4": ("sig", 4),
          "si": ("si", 3), "bytes": ("bytes", 3), "pct": ("pct", 1), "pct0": ("pct", 0),
          "group": ("group", 0)}


class _Code(str):
    """A parameter shown in a code span (name ends in ``_code``): never escaped."""


class _LocaleFormatter(string.Formatter):
    def __init__(self, lang: str, escape: Callable[[str], str] | None) -> None:
        self.lang = lang
        self.fmt = Formatter(lang)
        self.escape = escape

    def get_field(self, field_name: str, args: Any, kwargs: Any) -> Any:
        obj, used = super().get_field(field_name, args, kwargs)
        if field_name.endswith("_code") and isinstance(obj, str):
            return _Code(obj.replace("`", "'")), used  # inside a code span: no escaping
        return obj, used

    def format_field(self, value: Any, format_spec: str) -> str:
        if isinstance(value, Arg):
            shown = self._arg(value)
            # the noun agrees with the number as shown (rounded), not with the raw value
            if format_spec.startswith("plural:"):
                return agree(self.lang, shown, format_spec, shown)
            return format(shown, format_spec) if format_spec else shown
        if format_spec.startswith("plural:"):
            return agree(self.lang, value, format_spec, self.format_field(value, ""))
        if isinstance(value, _Code):
            return str(value)
        if isinstance(value, Msg):
            return render(value, self.lang, self.escape)
        if isinstance(value, bool) or not isinstance(value, int | float):
            text = format(str(value), format_spec) if format_spec else str(value)
            return self.escape(text) if self.escape else text
        if format_spec in _NAMED:
            name, digits = _NAMED[format_spec]
            fn = getattr(self.fmt, name)
            return str(fn(value) if name == "group" else fn(value, digits))
        if not format_spec and isinstance(value, int):
            return str(value)
        text = format(value, format_spec or "g")
        return self.fmt.style.localise(text)

    def _arg(self, a: Arg) -> str:
        v, f, fmt = a.v, a.f, self.fmt
        if v is None:
            return "—"
        if f == "ms":
            return f"{fmt.sig(float(v) * 1000, 3)}\u00a0{lookup('findings.unit.ms', self.lang)}"
        if f in ("bytes", "pct", "si"):
            return str(getattr(fmt, f)(v))
        if f == "x":
            return f"×{fmt.sig(v, 3)}"
        if f == "exp":
            return fmt.sig(v, 2)
        if f == "int":
            return fmt.group(v)
        if f == "code":
            return "`" + str(v).replace("`", "'") + "`"
        if f == "key":
            return str(lookup(str(v), self.lang))
        if f == "text":
            return self.escape(str(v)) if self.escape else str(v)
        return fmt.sig(v, 3)


def render(m: Msg, lang: str, escape: Callable[[str], str] | None = None) -> str:
    """``m`` in ``lang``; ``escape`` is applied to text parameters (not to the catalog text)."""
    return _LocaleFormatter(lang, escape).vformat(template(m.code, lang), (), m.params)


def render_arg(a: Arg, lang: str, escape: Callable[[str], str] | None = None) -> str:
    """One typed value as a ``Msg`` shows it (templates' numbers in sections 5–8 too)."""
    return _LocaleFormatter(lang, escape)._arg(a)


def render_text(text: str, lang: str, params: dict[str, Any],
                escape: Callable[[str], str] | None = None) -> str:
    """Any catalog sentence with parameters formatted as in ``render`` (e.g. stage reasons)."""
    return _LocaleFormatter(lang, escape).vformat(text, (), params)



