"""Checks of a loaded spec that need the catalogs: model card and platform ids, domain vs inputs,
``--allow-code`` for user code. Every problem comes back as a SpecError located at the spec's
key (file:line:column) with a suggestion, so ``build`` and ``validate`` fail the same way, exit 2,
before any analysis runs."""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from reportgen.errors import SpecError, SpecIssue, UnknownIdError
from reportgen.spec.schema import StudySpec
from reportgen.spec.sources import CardRef, PythonSource
from reportgen.spec.yamlpos import Located, load_located, read_text

if TYPE_CHECKING:
    from reportgen.catalog.schema import Platform
    from reportgen.models.build import Resolved

_HINT = re.compile(r"^(?P<msg>.*?'[^']*'): (?P<hint>.+)$", re.DOTALL)


def located_text(path: Path) -> Located:
    """The spec file's values with their positions (the file was already validated)."""
    return load_located(read_text(path), str(path))


def _loc(path: str) -> tuple[str | int, ...]:
    return tuple(int(p) if p.isdigit() else p for p in path.split(".") if p)


def locate(err: SpecError, located: Located) -> SpecError:
    """Fill in line:column for issues that only carry a dotted ``path`` into this spec."""
    issues = []
    for issue in err.issues:
        if issue.line is None and issue.path:
            pos = located.position(_loc(issue.path))
            if pos is not None:
                issue = replace(issue, line=pos[0], column=pos[1])
        issues.append(issue)
    return SpecError(err.filename, issues)


def _unknown(e: UnknownIdError, key: tuple[str | int, ...], located: Located, filename: str) -> SpecError:
    """An UnknownIdError from a catalog, placed at the spec key that named the id."""
    m = _HINT.match(str(e))
    msg, hint = (m["msg"], m["hint"]) if m else (str(e), None)
    pos = located.position(key)
    line, col = pos if pos else (None, None)
    return SpecError(filename, [SpecIssue(message=msg, path=".".join(map(str, key)), line=line,
                                          column=col, suggestion=hint)])


def _platform_key(located: Located) -> tuple[str | int, ...]:
    node: Any = located.data.get("platform") if isinstance(located.data, dict) else None
    return ("platform", "id") if isinstance(node, dict) else ("platform",)


@dataclass(frozen=True)
class Checked:
    """What checking the spec resolved, handed on so that a build resolves the study once."""

    resolved: Resolved
    # None for the 'host' platform: its figures are measured by whoever needs them
    platform: Platform | None
    located: Located  # the spec's values with their positions
    # compare_platforms in the spec's order ('host' as the catalog entry, measured by the build)
    compare_platforms: tuple[Platform, ...] = ()


def check_references(spec: StudySpec, path: Path, *, allow_code: bool | None,
                     located: Located | None = None) -> Checked:
    """Resolve the card, platform(s) and domain now; raise one located SpecError for all problems.

    ``allow_code=None`` (validate) does not check the ``--allow-code`` opt-in. ``located``: the
    spec file's positions when the caller has them (``load_located_spec``); read again if not."""
    from reportgen.catalog.lookup import get_platform, resolve_platform
    from reportgen.models.build import resolve

    filename = str(path)
    located = located if located is not None else located_text(path)
    errors: list[SpecError] = []
    try:
        resolved = resolve(spec, filename)
    except UnknownIdError as e:
        errors.append(_unknown(e, ("model", "card") if isinstance(spec.model, CardRef) else ("model",),
                               located, filename))
    except SpecError as e:
        errors.append(locate(e, located) if e.filename == filename else e)
    else:  # the model's recipe against the inputs, without building it (reportgen.drybuild)
        from reportgen.drybuild import check_model_inputs

        if issues := check_model_inputs(spec, resolved, located, path.parent):
            errors.append(SpecError(filename, issues))
    try:
        plat = resolve_platform(spec.platform, filename=filename, measure_host=False)
    except UnknownIdError as e:
        errors.append(_unknown(e, _platform_key(located), located, filename))
    except SpecError as e:
        errors.append(locate(e, located) if e.filename == filename else e)
    compare: list[Platform] = []
    for i, pid in enumerate(spec.compare_platforms):
        try:
            compare.append(get_platform(pid, measure_host=False))
        except UnknownIdError as e:
            errors.append(_unknown(e, ("compare_platforms", i), located, filename))
    if allow_code is False and isinstance(spec.model, PythonSource):
        from reportgen.models.python_src import is_builtin

        if not is_builtin(spec.model):
            pos = located.position(("model", "source"))
            errors.append(SpecError(filename, [SpecIssue(
                f"model source 'python' runs your code ({spec.model.callable}) and needs an "
                "explicit opt-in", path="model.source", line=pos[0] if pos else None,
                column=pos[1] if pos else None,
                suggestion="pass --allow-code to `reportgen build` if you trust this code")]))
    if not errors:
        host = spec.platform.id == "host" and spec.platform.custom is None
        return Checked(resolved, None if host else plat, located, tuple(compare))
    same = [e for e in errors if e.filename == filename]
    if len(same) != len(errors):  # a card or catalog file is broken: that file's error first
        raise next(e for e in errors if e.filename != filename)
    issues = sorted((i for e in same for i in e.issues), key=lambda i: (i.line or 0, i.column or 0))
    raise SpecError(filename, issues)
