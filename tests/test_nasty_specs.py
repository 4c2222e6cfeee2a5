"""Bad input through the real CLI: every nasty spec gives a one-screen, located error, exit 2.

The corpus lives in ``tests/nasty_specs/`` (one file per case) with the expected message
fragments, position and exit status in ``tests/nasty_specs/expected.yaml``. Property-based tests
then throw random documents at the loader: nothing but ``ReportgenError`` may come out.
"""

from __future__ import annotations

import copy
import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from reportgen.cli.main import app
from reportgen.errors import ReportgenError
from reportgen.spec.load import parse_spec

NASTY = Path(__file__).parent / "nasty_specs"
EXPECTED: dict[str, dict[str, Any]] = yaml.safe_load((NASTY / "expected.yaml").read_text("utf-8"))
MAX_LINES = 25  # "one screen"
runner = CliRunner()


def test_every_corpus_file_has_an_expectation() -> None:
    files = {p.name for p in NASTY.iterdir() if p.name != "expected.yaml"}
    generated = {k for k, v in EXPECTED.items() if v.get("generate")}
    assert files == set(EXPECTED) - generated


def _materialise(name: str, case: dict[str, Any], tmp: Path) -> Path:
    kind = case.get("generate")
    if kind == "enormous":
        p = tmp / name
        p.write_text("title: t\n" + "# padding\n" * 120_000, encoding="utf-8")  # 1.2 MB
        return p
    if kind == "long_string":
        p = tmp / name
        p.write_text("title: " + "x" * 50_000 + "\nplatform: raspberry_pi_5\n", encoding="utf-8")
        return p
    if kind == "very_deep":  # 100,000 levels: PyYAML's recursive composer alone would overflow
        p = tmp / name
        p.write_text("title: t\nmodel: {card: resnet18}\nplatform: raspberry_pi_5\nconstraints: "
                     + "[" * 100_000 + "]" * 100_000 + "\n", encoding="utf-8")
        return p
    if kind == "missing":
        return tmp / name
    # copy so the spec's own folder (tests/) never receives an output folder
    src = NASTY / name
    dst = tmp / name
    if src.is_dir():
        shutil.copytree(src, dst)
    else:
        shutil.copyfile(src, dst)
    return dst


def _check(output: str, exit_code: int, path: Path, case: dict[str, Any]) -> None:
    assert exit_code == case["exit"], output
    assert "Traceback" not in output, output
    assert output.startswith("error: "), output
    assert len(output.strip().splitlines()) <= MAX_LINES, output
    flat = " ".join(output.split())  # the console may wrap long lines
    assert str(path) in output.replace("\n", ""), output
    for fragment in case["expect"]:
        assert fragment in flat, f"{fragment!r} not in {output}"
    if case.get("where"):
        assert f"{path}:{case['where']}:" in output.replace("\n", ""), output


@pytest.mark.parametrize("command", ["validate", "build"])
@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_nasty_spec(name: str, command: str, tmp_path: Path) -> None:
    case = EXPECTED[name]
    if command not in case.get("commands", ["validate", "build"]):
        pytest.skip(f"{name} is only an error for {case['commands']}")
    path = _materialise(name, case, tmp_path)
    args = [command, str(path)]
    if command == "build":
        args += ["-o", str(tmp_path / "out"), "-f", "md"]
    res = runner.invoke(app, args)
    assert not isinstance(res.exception, Exception) or isinstance(res.exception, SystemExit), res.output
    _check(res.output, res.exit_code, path, case)
    assert not (tmp_path / "out").exists() or not any((tmp_path / "out").iterdir())
    assert not Path("/tmp/reportgen-pwned").exists()


def test_real_binary_exit_status_and_no_traceback(tmp_path: Path) -> None:
    """The installed console script, not CliRunner: exit 2, one screen, no object built."""
    exe = Path(sys.executable).with_name("reportgen")
    for name, command in (("python_object_tag.yaml", "build"),):  # CliRunner covers the rest
        path = _materialise(name, EXPECTED[name], tmp_path)
        extra = ["-o", str(tmp_path / "out")] if command == "build" else []
        proc = subprocess.run([str(exe), command, str(path), *extra], capture_output=True,
                              text=True, timeout=120, env={**os.environ, "COLUMNS": "200"})
        _check(proc.stderr, proc.returncode, path, EXPECTED[name])
    assert not Path("/tmp/reportgen-pwned").exists()


# ----------------------------------------------------------------------------- property-based

VALID = {
    "title": "Valid", "model": {"card": "resnet18"}, "platform": "raspberry_pi_5",
    "inputs": {"batch_size": 2, "image": {"height": 64, "width": 64}},
    "constraints": {"latency_ms": 50, "memory_mb": 512},
    "precisions": ["fp32", "int8"], "output": {"formats": ["md"], "directory": "out"},
}

scalars = st.one_of(st.none(), st.booleans(), st.integers(), st.floats(allow_nan=True),
                    st.text(max_size=20), st.sampled_from(["", "-1", "0", "1e999", "fp8", "../x", "~",
                                                           "resnet18", "cv", "nlp", "md"]))
trees = st.recursive(scalars, lambda kids: st.one_of(
    st.lists(kids, max_size=4), st.dictionaries(st.text(max_size=12), kids, max_size=4)), max_leaves=20)
keys = st.sampled_from(["title", "model", "card", "source", "platform", "id", "inputs", "batch_size",
                        "image", "text", "audio", "recsys", "constraints", "latency_ms", "domain",
                        "precisions", "output", "formats", "directory", "name", "overrides", "custom",
                        "profiling", "compare_platforms", "sequence_length", "bogus"])
FAST = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def _only_our_errors(text: str) -> None:
    try:
        parse_spec(text, "fuzz.yaml")
    except ReportgenError:
        pass


@FAST
@given(st.text(max_size=300))
def test_random_text_only_raises_reportgen_errors(text: str) -> None:
    _only_our_errors(text)


@FAST
@given(st.text(alphabet=":-[]{}&*!|>'\"#%@` \n\t,?abc012", max_size=200))
def test_random_yaml_punctuation_only_raises_reportgen_errors(text: str) -> None:
    _only_our_errors(text)


@FAST
@given(trees)
def test_random_documents_only_raise_reportgen_errors(doc: Any) -> None:
    _only_our_errors(yaml.safe_dump(doc, allow_unicode=True))


def _paths(node: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    out = [prefix]
    if isinstance(node, dict):
        for k, v in node.items():
            out += _paths(v, prefix + (k,))
    elif isinstance(node, list):
        for i, v in enumerate(node):
            out += _paths(v, prefix + (i,))
    return out


@st.composite
def mutated_specs(draw: st.DrawFn) -> dict[str, Any]:
    doc = copy.deepcopy(VALID)
    for _ in range(draw(st.integers(1, 3))):
        path = draw(st.sampled_from(_paths(doc)[1:]))
        parent = doc
        for p in path[:-1]:
            parent = parent[p]
        action = draw(st.sampled_from(["replace", "delete", "add"]))
        if action == "delete":
            del parent[path[-1]]
        elif action == "add" and isinstance(parent, dict):
            parent[draw(keys)] = draw(trees)
        else:
            parent[path[-1]] = draw(trees)
    return doc


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(mutated_specs())
def test_mutated_valid_specs_only_raise_reportgen_errors(doc: dict[str, Any]) -> None:
    """Mutations go through loading *and* the catalog checks (card, platform, domain)."""
    from reportgen.study import check_references

    text = yaml.safe_dump(doc, allow_unicode=True)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "mutant.yaml"
        path.write_text(text, encoding="utf-8")
        try:
            spec = parse_spec(text, str(path))
            check_references(spec, path, allow_code=False)
        except ReportgenError as e:
            # located whenever the problem is in the file's content
            assert str(path) in str(e)


@FAST
@given(st.binary(max_size=400))
def test_random_bytes_through_the_file_reader(data: bytes) -> None:
    from reportgen.spec.load import load_spec

    with tempfile.TemporaryDirectory() as tmp:
        p = Path(tmp) / "bytes.yaml"
        p.write_bytes(data)
        try:
            load_spec(p)
        except ReportgenError as e:
            assert re.search(r"bytes\.yaml", str(e))


def test_valid_base_spec_of_the_mutations_is_valid(tmp_path: Path) -> None:
    from reportgen.study import check_references

    p = tmp_path / "v.yaml"
    p.write_text(yaml.safe_dump(VALID), encoding="utf-8")
    check_references(parse_spec(p.read_text(), str(p)), p, allow_code=False)
