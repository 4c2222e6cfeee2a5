"""Limits for hostile YAML, enforced on PyYAML's event stream before any node tree is built.

PyYAML's parser is a state machine (no recursion), but its composer recurses once per nesting
level, so a document nested a few thousand levels deep raised ``RecursionError``; and aliases are
shared nodes that only explode when converted. Walking the events first bounds everything with
flat loops and fails fast, at the event that crosses a limit:

- document size (bytes of UTF-8 text),
- nesting depth (open mappings/sequences),
- expanded size: every scalar, collection and *alias* counted with the size of what it names,
  so a "billion laughs" stops after ``MAX_VALUES`` values however few bytes it has,
- length of any one scalar (keys included).

Each limit is a located ``SpecError`` (exit status 2), never a traceback.
"""

from __future__ import annotations

from typing import Any

import yaml

from reportgen.errors import SpecError, SpecIssue

MAX_FILE_BYTES = 1_000_000
MAX_DEPTH = 40
MAX_VALUES = 200_000
MAX_STRING_CHARS = 20_000


def _located(filename: str, msg: str, mark: Any, suggestion: str) -> SpecError:
    line = mark.line + 1 if mark is not None else None
    col = mark.column + 1 if mark is not None else None
    return SpecError(filename, [SpecIssue(message=msg, line=line, column=col, suggestion=suggestion)])


def check_size(text: str, filename: str) -> None:
    size = len(text.encode("utf-8", errors="surrogatepass"))
    if size > MAX_FILE_BYTES:
        raise SpecError(filename, [SpecIssue(
            f"file is {size:,} bytes; a study spec is limited to {MAX_FILE_BYTES:,} bytes",
            suggestion="a spec is a short YAML document; is this the right file?")])


def check_events(text: str, filename: str) -> None:
    """Walk the YAML events of ``text`` and raise SpecError at the first limit crossed.

    YAML syntax errors are left to the loader (it reports them with their position)."""
    check_size(text, filename)
    depth = 0
    total = 0
    # per open collection: [anchor, its expanded size so far]; expanded size of each anchor
    stack: list[list[Any]] = []
    anchors: dict[str, int] = {}

    def count(n: int, mark: Any) -> None:
        nonlocal total
        total += n
        if total > MAX_VALUES:
            raise _located(filename, f"document expands to more than {MAX_VALUES:,} values "
                           "(alias bomb?)", mark,
                           "a study spec is small; avoid repeating anchors (*name) inside each other")

    try:
        for event in yaml.parse(text, Loader=yaml.SafeLoader):
            if isinstance(event, yaml.ScalarEvent):
                if len(event.value) > MAX_STRING_CHARS:
                    raise _located(filename, f"a value of {len(event.value):,} characters; values "
                                   f"are limited to {MAX_STRING_CHARS:,}", event.start_mark,
                                   "a spec holds short values; put long text in a file")
                if depth > MAX_DEPTH:
                    raise _deep(filename, event.start_mark)
                if event.anchor is not None:
                    anchors[event.anchor] = 1
                count(1, event.start_mark)
                if stack:
                    stack[-1][1] += 1
            elif isinstance(event, yaml.AliasEvent):
                n = anchors.get(event.anchor, 1)  # an unknown alias is the loader's error
                count(n, event.start_mark)
                if stack:
                    stack[-1][1] += n
            elif isinstance(event, yaml.CollectionStartEvent):
                if depth > MAX_DEPTH:
                    raise _deep(filename, event.start_mark)
                depth += 1
                count(1, event.start_mark)
                stack.append([event.anchor, 1])
            elif isinstance(event, yaml.CollectionEndEvent):
                depth -= 1
                anchor, size = stack.pop()
                if anchor is not None:
                    anchors[anchor] = size
                if stack:
                    stack[-1][1] += size
    except yaml.YAMLError:
        return  # the loader reports the syntax error with its position


def _deep(filename: str, mark: Any) -> SpecError:
    return _located(filename, f"nesting deeper than {MAX_DEPTH} levels", mark,
                    "a study spec nests a few levels deep")
