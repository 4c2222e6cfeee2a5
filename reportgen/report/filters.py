"""Number, unit and text formatting for templates, per locale. Templates never compute numbers;
they only format them through these filters."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

_SI = [(1e15, "P"), (1e12, "T"), (1e9, "G"), (1e6, "M"), (1e3, "k")]
NBSP = "\u00a0"


@dataclass(frozen=True)
class NumberStyle:
    """How one language writes numbers: thousands separator, decimal mark, the space before
    ``%``, SI prefixes and byte units."""

    group: str = ","
    decimal: str = "."
    pct_sep: str = ""
    si_prefix: dict[str, str] = field(default_factory=dict)  # Latin prefix → this language's
    byte_units: tuple[str, ...] = ("B", "kB", "MB", "GB", "TB")

    def localise(self, text: str) -> str:
        """``1,234.5`` (Python's format) written this language's way."""
        return text.translate({ord(","): self.group, ord("."): self.decimal})


#: one row per language; a language without a row writes numbers as English does
STYLES = {
    "en": NumberStyle(),
    # GOST 8.417 prefixes; a no-break space groups thousands and precedes %
    "ru": NumberStyle(group=NBSP, decimal=",", pct_sep=NBSP,
                      si_prefix={"P": "П", "T": "Т", "G": "Г", "M": "М", "k": "к"},
                      byte_units=("Б", "КБ", "МБ", "ГБ", "ТБ")),
}


class Formatter:
    def __init__(self, lang: str) -> None:
        self.lang = lang
        self.style = STYLES.get(lang, STYLES["en"])

    def _dec(self, text: str) -> str:
        return text.replace(".", self.style.decimal)

    def group(self, value: Any) -> str:
        """Integer with thousands separators: 25,557,032 / 25 557 032."""
        if value is None:
            return "—"
        text = f"{int(round(float(value))):,}"
        return text.replace(",", self.style.group)

    def sig(self, value: Any, digits: int = 3) -> str:
        """A float with ``digits`` significant digits, no exponent for ordinary magnitudes."""
        if value is None:
            return "—"
        v = float(value)
        if v == 0 or not math.isfinite(v):
            return self._dec(f"{v:g}")
        mag = int(math.floor(math.log10(abs(v))))
        decimals = max(0, digits - 1 - mag)
        if abs(v) >= 1000:
            return self.style.localise(f"{round(v):,}")
        return self._dec(f"{v:.{decimals}f}")

    def si(self, value: Any, digits: int = 3) -> str:
        """Compact SI magnitude: 4.09 G, 25.6 M."""
        if value is None:
            return "—"
        v = float(value)
        for scale, prefix in _SI:
            if abs(v) >= scale:
                prefix = self.style.si_prefix.get(prefix, prefix)
                return f"{self.sig(v / scale, digits)}{NBSP}{prefix}"
        return self.sig(v, digits)

    def bytes(self, value: Any, digits: int = 3) -> str:
        """SI bytes: 102 MB (1 MB = 1e6 B)."""
        if value is None:
            return "—"
        v = float(value)
        units = self.style.byte_units
        i = 0
        while abs(v) >= 1000 and i < len(units) - 1:
            v /= 1000
            i += 1
        return f"{self.sig(v, digits)}{NBSP}{units[i]}"

    def pct(self, value: Any, digits: int = 1) -> str:
        if value is None:
            return "—"
        text = self._dec(f"{float(value) * 100:.{digits}f}")
        return f"{text}{self.style.pct_sep}%"

    def signed_pct(self, value: Any, digits: int = 2) -> str:
        if value is None:
            return "—"
        v = float(value) * 100
        text = self._dec(f"{v:+.{digits}f}")
        return f"{text}{self.style.pct_sep}%"


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
