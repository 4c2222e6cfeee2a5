"""Loading a spec: YAML with positions, validation errors located at ``file:line:column`` with
the field path and a did-you-mean (all at once, exit 2), and the study id.
"""

from __future__ import annotations

import difflib
import re
import types
import typing
from pathlib import Path
from typing import Annotated, Any, Union

from pydantic import (
    BaseModel,
    ValidationError,
)

from reportgen.errors import SpecError, SpecIssue
from reportgen.spec.schema import StudySpec
from reportgen.spec.yamlpos import Located, load_located, read_text


def _unwrap(tp: Any) -> list[type[BaseModel]]:
    """The pydantic model classes an annotation can hold."""
    origin = typing.get_origin(tp)
    if origin is Annotated:
        return _unwrap(typing.get_args(tp)[0])
    if origin in (Union, types.UnionType, list, dict):
        out: list[type[BaseModel]] = []
        for a in typing.get_args(tp):
            out += _unwrap(a)
        return out
    if isinstance(tp, type) and issubclass(tp, BaseModel):
        return [tp]
    return []


def _allowed_keys(root: type[BaseModel], loc: tuple[str | int, ...]) -> list[str]:
    """Field names allowed at the mapping that holds ``loc[-1]`` (for did-you-mean)."""
    models: list[type[BaseModel]] = [root]
    for part in loc[:-1]:
        if isinstance(part, int):
            continue
        nxt: list[type[BaseModel]] = []
        for m in models:
            f = m.model_fields.get(str(part))
            if f is not None:
                nxt += _unwrap(f.annotation)
        if nxt:
            models = nxt
    names: list[str] = []
    for m in models:
        names += list(m.model_fields)
    return sorted(set(names))


_TAGS = {"card", "torchvision", "transformers", "torchaudio", "python", "recsys"}


def _clean_loc(loc: tuple[str | int, ...], data: Any) -> tuple[str | int, ...]:
    """Drop pydantic's union tags from an error location, keeping real keys."""
    out: list[str | int] = []
    node = data
    for part in loc:
        if isinstance(node, dict) and part in node:
            out.append(part)
            node = node[part]
        elif isinstance(node, list) and isinstance(part, int) and part < len(node):
            out.append(part)
            node = node[part]
        elif isinstance(part, str) and part in _TAGS:
            continue
        else:
            out.append(part)
            node = None
    return tuple(out)


# a suggestion per pydantic error type, for errors whose message does not already say what to do
_SUGGESTIONS = {
    "greater_than": "give a value in the allowed range", "greater_than_equal": "give a value in the allowed range",
    "less_than": "give a value in the allowed range", "less_than_equal": "give a value in the allowed range",
    "int_parsing": "write a whole number, e.g. 8", "int_from_float": "write a whole number, e.g. 8",
    "float_parsing": "write a number, e.g. 12.5", "bool_parsing": "write true or false",
    "string_type": "write plain text (quote it if it looks like a list or number)",
    "string_too_short": "give a non-empty text", "string_too_long": "shorten the text",
    "dict_type": "write a mapping of `key: value` lines under this key",
    "model_type": "write a mapping of `key: value` lines under this key",
    "model_attributes_type": "write a mapping of `key: value` lines under this key",
    "list_type": "write a list, e.g. [a, b]", "enum": "use one of the values listed",
    "literal_error": "use one of the values listed", "model_source": "see `reportgen models`",
    "finite_number": "give a finite number",
}


def validation_issues(err: ValidationError, located: Located, root: type[BaseModel],
                      prefix: tuple[str | int, ...] = ()) -> list[SpecIssue]:
    """Turn pydantic errors into located SpecIssues (all of them, in file order)."""
    issues: list[SpecIssue] = []
    for e in err.errors(include_url=False):
        loc = prefix + _clean_loc(tuple(e["loc"]), located.data if not prefix else _dig(located.data, prefix))
        path = ".".join(str(p) for p in loc)
        suggestion = None
        msg = e["msg"]
        if e["type"] == "extra_forbidden":
            key = str(loc[-1])
            allowed = _allowed_keys(root, loc[len(prefix):])
            close = difflib.get_close_matches(key, allowed, n=1, cutoff=0.6)
            msg = f"unknown key '{key}'"
            suggestion = f"did you mean '{close[0]}'?" if close else (
                "allowed here: " + ", ".join(allowed) if allowed else None)
            pos = located.position(loc, key=True)
        else:
            if msg.startswith("Value error, "):
                msg = msg[len("Value error, "):]
            suggestion = _SUGGESTIONS.get(e["type"])
            if e["type"] == "missing":
                msg = "required field is missing"
                suggestion = f"add `{loc[-1]}:`" + (" (see `reportgen init`)" if len(loc) == 1 else "")
            elif "input" in e and not isinstance(e["input"], dict | list) and e["type"] != "model_source":
                msg += f" (got {e['input']!r})"[:200]
            pos = located.position(loc)
        line, col = pos if pos else (None, None)
        issues.append(SpecIssue(message=msg, path=path, line=line, column=col, suggestion=suggestion))
    issues.sort(key=lambda i: (i.line or 0, i.column or 0))
    return issues


def _dig(data: Any, loc: tuple[str | int, ...]) -> Any:
    for p in loc:
        try:
            data = data[p]
        except (KeyError, IndexError, TypeError):
            return None
    return data


def parse_spec(text: str, filename: str = "<spec>") -> StudySpec:
    """Validate spec text. Raises SpecError with every problem found, located."""
    return _parse_located(load_located(text, filename), filename)


def _parse_located(located: Located, filename: str) -> StudySpec:
    if not isinstance(located.data, dict):
        raise SpecError(filename, [SpecIssue(
            f"a study spec is a YAML mapping (key: value lines), got a {type(located.data).__name__}",
            line=1, column=1, suggestion="run `reportgen init` for a starter spec")])
    try:
        return StudySpec.model_validate(located.data)
    except ValidationError as err:
        raise SpecError(filename, validation_issues(err, located, StudySpec)) from None


def load_spec(path: str | Path) -> StudySpec:
    """Load and validate a study spec file. Raises SpecError (exit status 2 in the CLI)."""
    return load_located_spec(path)[0]


def load_located_spec(path: str | Path) -> tuple[StudySpec, Located]:
    """``load_spec`` and the file's values with their positions (for later located errors), so
    that a build reads and parses the spec file once."""
    located = load_located(read_text(Path(path)), str(path))
    return _parse_located(located, str(path)), located


def study_id(spec: StudySpec, spec_path: str | Path | None) -> str:
    """A safe folder name for the study: lowercase letters, digits, '-', '_' only."""
    raw = spec.output.name or (Path(spec_path).stem if spec_path else spec.title)
    slug = re.sub(r"[^a-z0-9_-]+", "-", raw.lower()).strip("-._")
    return slug[:80] or "study"


