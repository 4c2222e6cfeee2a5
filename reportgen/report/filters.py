"""Number, unit and text formatting for templates, per locale. Templates never compute numbers;
they only format them through these filters."""

from __future__ import annotations

import math
from typing import Any

_SI = [(1e15, "P"), (1e12, "T"), (1e9, "G"), (1e6, "M"), (1e3, "k")]
# Russian SI prefixes (GOST 8.417): П, Т, Г, М, к
_SI_RU = {"P": "П", "T": "Т", "G": "Г", "M": "М", "k": "к"}
_BYTE_UNITS = {"en": ["B", "kB", "MB", "GB", "TB"], "ru": ["Б", "КБ", "МБ", "ГБ", "ТБ"]}
NBSP = "\u00a0"


class Formatter:
    def __init__(self, lang: str) -> None:
        self.lang = lang

    def _dec(self, text: str) -> str:
        return text.replace(".", ",") if self.lang == "ru" else text

    def group(self, value: Any) -> str:
        """Integer with thousands separators: 25,557,032 / 25 557 032."""
        if value is None:
            return "—"
        text = f"{int(round(float(value))):,}"
        return text.replace(",", NBSP) if self.lang == "ru" else text

    def sig(self, value: Any, digits: int = 3) -> str:
        """A float with ``digits`` significant digits, no exponent for ordinary magnitudes."""
        if value is None:
            return "—"
        v = float(value)
        if v == 0 or not math.isfinite(v):
            return self._dec(f"{v:g}")
        mag = int(math.floor(math.log10(abs(v))))
        decimals = max(0, digits - 1 - mag)
        text = f"{v:.{decimals}f}"
        if abs(v) >= 1000:
            text = f"{round(v):,}".replace(",", NBSP if self.lang == "ru" else ",")
        return self._dec(text)

    def si(self, value: Any, digits: int = 3) -> str:
        """Compact SI magnitude: 4.09 G, 25.6 M."""
        if value is None:
            return "—"
        v = float(value)
        for scale, prefix in _SI:
            if abs(v) >= scale:
                if self.lang == "ru":
                    prefix = _SI_RU[prefix]
                return f"{self.sig(v / scale, digits)}{NBSP}{prefix}"
        return self.sig(v, digits)

    def bytes(self, value: Any, digits: int = 3) -> str:
        """SI bytes: 102 MB (1 MB = 1e6 B)."""
        if value is None:
            return "—"
        v = float(value)
        units = _BYTE_UNITS.get(self.lang, _BYTE_UNITS["en"])
        i = 0
        while abs(v) >= 1000 and i < len(units) - 1:
            v /= 1000
            i += 1
        return f"{self.sig(v, digits)}{NBSP}{units[i]}"

    def pct(self, value: Any, digits: int = 1) -> str:
        if value is None:
            return "—"
        text = self._dec(f"{float(value) * 100:.{digits}f}")
        return f"{text}{NBSP}%" if self.lang == "ru" else f"{text}%"

    def signed_pct(self, value: Any, digits: int = 2) -> str:
        if value is None:
            return "—"
        v = float(value) * 100
        text = self._dec(f"{v:+.{digits}f}")
        return f"{text}{NBSP}%" if self.lang == "ru" else f"{text}%"


def shape(value: Any) -> str:
    if not value:
        return "—"
    return "×".join(str(int(v)) for v in value)


_MD_SPECIAL = str.maketrans({
    "\\": "\\\\", "|": "\\|", "*": "\\*", "_": "\\_", "`": "\\`", "[": "\\[", "]": "\\]",
    "<": "&lt;", ">": "&gt;", "#": "\\#", "\n": " ", "\r": " ", "&": "&amp;",
})


def md(value: Any) -> str:
    """Escape user text for Markdown: no raw HTML, no table breaks, no emphasis/links."""
    if value is None:
        return ""
    return str(value).translate(_MD_SPECIAL)


def md_block(value: Any) -> str:
    """Like ``md`` but keeps paragraph breaks (for multi-line descriptions)."""
    if value is None:
        return ""
    paras = [md(p.strip()) for p in str(value).split("\n\n")]
    return "\n\n".join(p for p in paras if p)


def user_md(value: Any) -> str:
    """The author's own Markdown (``notes:`` in the spec), kept as Markdown: emphasis, lists, links
    and code stay; raw HTML is never rendered (markdown-it runs with HTML off); headings become
    bold lines so they cannot break the report's outline and numbering."""
    if value is None:
        return ""
    lines = []
    for line in str(value).strip().splitlines():
        stripped = line.lstrip()
        if stripped.startswith("#"):
            text = stripped.lstrip("#").strip()
            line = f"**{md(text)}**" if text else ""
        lines.append(line)
    return "\n".join(lines)


def runs(items: Any, *attrs: str) -> list[dict[str, Any]]:
    """Consecutive rows of repeated blocks folded into one: ``model.layers.0`` … ``.31`` with the
    same ``attrs`` (to 3 significant digits) become ``{"item": first, "name": "model.layers.0–31",
    "count": 32}``; every other row is ``{"item": row, "name": row.name, "count": 1}``. A table of
    32 identical transformer layers is one line, not 32."""
    import re

    def key(item: Any) -> tuple[str, int | None, tuple[str, ...]]:
        m = re.fullmatch(r"(.*?)(\d+)", str(item.name))
        values = tuple(f"{getattr(item, a):.3g}" if isinstance(getattr(item, a), float)
                       else str(getattr(item, a)) for a in attrs)
        return (m.group(1), int(m.group(2)), values) if m else (str(item.name), None, values)

    out: list[dict[str, Any]] = []
    last: tuple[str, int | None, tuple[str, ...]] | None = None
    for item in items or []:
        k = key(item)
        if (out and last is not None and k[1] is not None and last[1] is not None
                and k[0] == last[0] and k[1] == last[1] + 1 and k[2] == last[2]):
            g = out[-1]
            g["count"] += 1
            g["name"] = f"{k[0]}{g['start']}–{k[1]}"
        else:
            out.append({"item": item, "name": str(item.name), "count": 1, "start": k[1]})
        last = k
    return out
