"""Agreement of a noun (phrase) with a number, by the CLDR plural rules of the report's language
(babel). A catalog sentence writes ``{n:plural:операция|операции|операций}``: the forms for CLDR's
``one|few|many`` (Russian) or ``one|other`` (English), optionally followed by ``other`` (fractions
in Russian; defaults to the ``few`` form, which is what a fraction takes: «1,5 операции»). The
number is printed as given, then the form: «53 операции», «21 операция», «11 операций».
"""

from __future__ import annotations

import re
from functools import cache
from typing import Any

from babel import Locale

_CATEGORIES = {"ru": ("one", "few", "many", "other"), "en": ("one", "other")}


@cache
def _rule(lang: str) -> Any:
    return Locale.parse(lang).plural_form


def number_of(value: Any) -> float | None:
    """A number from a parameter, also from one already formatted (``1 234``, ``3,5``, ``×2``)."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return value
    text = re.sub(r"[\s\u00a0\u202f×≥≤~]", "", str(value)).replace(",", ".")
    m = re.match(r"^-?\d+(\.\d+)?", text)
    return float(m.group(0)) if m else None


def category(lang: str, n: float) -> str:
    """CLDR plural category of ``n`` (``1.0`` counts as the integer 1)."""
    value: float | int = int(n) if float(n).is_integer() else n
    return str(_rule(lang)(value))


def form(lang: str, n: float, forms: list[str]) -> str:
    """The form of ``forms`` (ordered as in ``_CATEGORIES``) that agrees with ``n``."""
    cats = _CATEGORIES.get(lang, _CATEGORIES["en"])
    cat = category(lang, n)
    if cat in cats and cats.index(cat) < len(forms):
        return forms[cats.index(cat)]
    if lang == "ru" and cat == "other":
        return forms[1] if len(forms) > 1 else forms[0]
    return forms[-1]


def agree(lang: str, value: Any, spec: str, shown: str) -> str:
    """``shown`` (the number as the report prints it) followed by the form that agrees with it;
    ``spec`` is ``plural:f1|f2|f3``."""
    forms = spec.split(":", 1)[1].split("|")
    n = number_of(value)
    word = form(lang, n, forms) if n is not None else forms[-1]
    return f"{shown}\u00a0{word}" if shown else word
