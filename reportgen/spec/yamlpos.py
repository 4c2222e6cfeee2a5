"""Safe YAML loading that remembers where every value came from (line:column), with size limits.

Only the YAML core schema is accepted (``yaml.SafeLoader``: no Python object construction). Alias
expansion, nesting depth, string length and file size are bounded (``reportgen.spec.yamlguard``, on the
event stream before the node tree is built) so a hostile file cannot exhaust memory or the stack.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from reportgen.errors import SpecError, SpecIssue
from reportgen.spec.yamlguard import MAX_DEPTH, MAX_FILE_BYTES, check_events
from reportgen.spec.yamlguard import MAX_VALUES as MAX_NODES

Loc = tuple[str | int, ...]

_PLAIN_TAGS = {f"tag:yaml.org,2002:{t}" for t in
               ("str", "int", "float", "bool", "null", "map", "seq", "timestamp")}


@dataclass
class Located:
    """A loaded document plus the position of each value and each mapping key."""

    data: Any
    values: dict[Loc, tuple[int, int]] = field(default_factory=dict)
    keys: dict[Loc, tuple[int, int]] = field(default_factory=dict)

    def position(self, loc: Loc, *, key: bool = False) -> tuple[int, int] | None:
        """Best position for ``loc``: the exact node, else the nearest enclosing one."""
        table = self.keys if key else self.values
        if loc in table:
            return table[loc]
        for n in range(len(loc), -1, -1):
            if loc[:n] in self.values:
                return self.values[loc[:n]]
        return None


def _issue(msg: str, mark: Any | None = None, suggestion: str | None = None) -> SpecIssue:
    line = mark.line + 1 if mark is not None else None
    col = mark.column + 1 if mark is not None else None
    return SpecIssue(message=msg, line=line, column=col, suggestion=suggestion)


def read_text(path: Path) -> str:
    """Read a spec file as UTF-8 text, refusing directories, binaries and enormous files."""
    name = str(path)
    if not path.exists():
        raise SpecError(name, [SpecIssue("file not found", suggestion="check the path")])
    if path.is_dir():
        raise SpecError(name, [SpecIssue("is a directory, not a YAML file",
                                         suggestion="pass the .yaml file inside it")])
    size = path.stat().st_size
    if size > MAX_FILE_BYTES:
        raise SpecError(name, [SpecIssue(
            f"file is {size:,} bytes; a study spec is limited to {MAX_FILE_BYTES:,} bytes",
            suggestion="a spec is a short YAML document; is this the right file?")])
    raw = path.read_bytes()
    if b"\x00" in raw:
        raise SpecError(name, [SpecIssue("looks like a binary file, not YAML text",
                                         suggestion="pass the study's .yaml file")])
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as e:
        raise SpecError(name, [SpecIssue(f"is not UTF-8 text (byte {e.start})",
                                         suggestion="save the file as UTF-8")]) from None


def load_located(text: str, filename: str) -> Located:
    """Parse YAML text into plain Python values with positions. Raises SpecError."""
    check_events(text, filename)
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.MarkedYAMLError as e:
        mark = e.problem_mark or e.context_mark
        msg = (e.problem or str(e)).strip()
        if e.context:
            msg = f"{e.context.strip()}: {msg}"
        raise SpecError(filename, [_issue(f"malformed YAML: {msg}", mark,
                                          "check indentation, colons and quotes")]) from None
    except yaml.YAMLError as e:
        raise SpecError(filename, [SpecIssue(f"malformed YAML: {e}")]) from None
    if node is None:
        raise SpecError(filename, [SpecIssue("the file is empty",
                                             suggestion="run `reportgen init` for a starter spec")])
    out = Located(data=None)
    budget = [MAX_NODES]
    out.data = _convert(node, (), 0, out, budget, filename)
    return out


def _convert(node: yaml.Node, loc: Loc, depth: int, out: Located, budget: list[int],
             filename: str) -> Any:
    budget[0] -= 1
    if budget[0] < 0:
        raise SpecError(filename, [_issue(
            f"document expands to more than {MAX_NODES:,} values (alias bomb?)", node.start_mark,
            "a study spec is small; avoid repeating anchors (*name) inside each other")])
    if depth > MAX_DEPTH:
        raise SpecError(filename, [_issue(f"nesting deeper than {MAX_DEPTH} levels",
                                          node.start_mark, "a study spec nests a few levels deep")])
    out.values.setdefault(loc, (node.start_mark.line + 1, node.start_mark.column + 1))
    if node.tag not in _PLAIN_TAGS:
        raise SpecError(filename, [_issue(f"unsupported YAML value: tag {node.tag!r} is not allowed "
                                          "(only plain YAML data)", node.start_mark,
                                          "remove the tag; a spec holds plain values")])
    if isinstance(node, yaml.MappingNode):
        result: dict[Any, Any] = {}
        for key_node, value_node in node.value:
            if not isinstance(key_node, yaml.ScalarNode):
                raise SpecError(filename, [_issue("mapping keys must be plain words",
                                                  key_node.start_mark, "write `key: value`")])
            key = yaml.SafeLoader.construct_scalar(yaml.SafeLoader(""), key_node)
            key = str(key)
            if key == "<<":
                raise SpecError(filename, [_issue("YAML merge keys (<<) are not supported",
                                                  key_node.start_mark, "write the keys out")])
            if key in result:
                raise SpecError(filename, [_issue(f"duplicate key '{key}'", key_node.start_mark,
                                                  "each key may appear once")])
            out.keys[loc + (key,)] = (key_node.start_mark.line + 1, key_node.start_mark.column + 1)
            result[key] = _convert(value_node, loc + (key,), depth + 1, out, budget, filename)
        return result
    if isinstance(node, yaml.SequenceNode):
        return [_convert(v, loc + (i,), depth + 1, out, budget, filename)
                for i, v in enumerate(node.value)]
    loader = yaml.SafeLoader("")
    try:
        return loader.construct_object(node, deep=True)
    except yaml.constructor.ConstructorError as e:
        raise SpecError(filename, [_issue(f"unsupported YAML value: {e.problem}",
                                          node.start_mark)]) from None
    except (ValueError, OverflowError) as e:
        raise SpecError(filename, [_issue(f"bad scalar value: {e}", node.start_mark)]) from None
    finally:
        loader.dispose()
