"""Loading and validating the platform catalog (``platforms.yaml``); platform ids by class.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from reportgen.catalog.parts import PlatformClass
from reportgen.catalog.schema import Catalog, Platform
from reportgen.errors import SpecError, SpecIssue, UnknownIdError

CATALOG_PATH = Path(__file__).resolve().parent / "platforms.yaml"


def _raw_catalog(path: Path = CATALOG_PATH) -> Catalog:
    with path.open(encoding="utf-8") as fh:
        return Catalog.model_validate(yaml.safe_load(fh))


def _issues(err: ValidationError, prefix: str) -> list[SpecIssue]:
    out: list[SpecIssue] = []
    for e in err.errors(include_url=False):
        path = ".".join([prefix] + [str(p) for p in e["loc"]]) if prefix else ".".join(
            str(p) for p in e["loc"])
        msg = e["msg"].removeprefix("Value error, ")
        if e["type"] == "extra_forbidden":
            msg = f"unknown key '{e['loc'][-1]}'"
        elif e["type"] == "missing":
            msg = "required field is missing"
        if e["type"] == "value_error" and "; " in msg:
            out += [SpecIssue(message=m, path=path.rstrip(".")) for m in msg.split("; ")]
        else:
            out.append(SpecIssue(message=msg, path=path))
    return out


def validate_platform(data: dict[str, Any], *, filename: str = "<platform>",
                      prefix: str = "") -> Platform:
    """Validate one platform entry. Raises SpecError listing every problem."""
    try:
        return Platform.model_validate(data)
    except ValidationError as err:
        raise SpecError(filename, _issues(err, prefix)) from None


@lru_cache(maxsize=1)
def load_catalog() -> dict[str, Platform]:
    """All catalog platforms by id, in file order (the ``host`` entry unmeasured)."""
    cat = _raw_catalog()
    out: dict[str, Platform] = {}
    for i, entry in enumerate(cat.platforms):
        p = validate_platform(entry, filename=str(CATALOG_PATH), prefix=f"platforms.{i}")
        out[p.id] = p
    return out


def platform_ids(cls: str | PlatformClass | None = None) -> list[str]:
    """Catalog ids, optionally only one class (powerful/budget/specialized/fpga/mcu/cpu)."""
    return [p.id for p in platforms_by_class(cls)]


def platforms_by_class(cls: str | PlatformClass | None = None) -> list[Platform]:
    if cls is not None:
        try:
            cls = PlatformClass(cls)
        except ValueError:
            raise UnknownIdError(f"unknown platform class '{cls}': use one of "
                                 f"{', '.join(c.value for c in PlatformClass)}") from None
    return [p for p in load_catalog().values() if cls is None or p.class_ == cls]



