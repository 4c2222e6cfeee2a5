"""The study spec: valid documents load; every bad one gives located, complete SpecErrors."""

from __future__ import annotations

from pathlib import Path

import pytest

from reportgen.errors import SpecError
from reportgen.spec.choices import Domain, Precision
from reportgen.spec.load import load_spec, parse_spec, study_id
from reportgen.spec.sources import CardRef, TransformersSource
from tests.conftest import MINIMAL


def test_minimal_spec_defaults() -> None:
    spec = parse_spec(MINIMAL)
    assert isinstance(spec.model, CardRef) and spec.model.card == "resnet18"
    assert spec.language.value == "en"
    assert spec.platform.id == "raspberry_pi_5"
    assert spec.precisions == [Precision.fp32, Precision.fp16, Precision.int8]
    assert spec.inputs.batch_size == 1
    assert [f.value for f in spec.output.formats] == ["md", "html", "pdf"]


def test_inline_transformers_source() -> None:
    spec = parse_spec("""\
title: t
model: {source: transformers, model_type: bert, config: {num_hidden_layers: 2}}
domain: nlp
inputs: {text: {sequence_length: 64}}
platform: {id: nvidia_t4}
""")
    assert isinstance(spec.model, TransformersSource)
    assert spec.model.config == {"num_hidden_layers": 2}
    assert spec.domain is Domain.nlp and spec.inputs.text and spec.inputs.text.sequence_length == 64


def test_unknown_key_has_position_and_suggestion() -> None:
    text = MINIMAL + "constraints:\n  latncy_ms: 10\n"
    with pytest.raises(SpecError) as e:
        parse_spec(text, "s.yaml")
    [issue] = e.value.issues
    assert issue.path == "constraints.latncy_ms"
    assert (issue.line, issue.column) == (6, 3)
    assert issue.suggestion == "did you mean 'latency_ms'?"
    assert "s.yaml:6:3" in str(e.value)


def test_all_errors_reported_at_once_in_file_order() -> None:
    text = """\
title: ""
model: {card: resnet18}
platform: x
inputs:
  batch_size: 0
  image: {height: -5}
precisions: [fp64]
"""
    with pytest.raises(SpecError) as e:
        parse_spec(text, "s.yaml")
    paths = [i.path for i in e.value.issues]
    assert paths == ["title", "inputs.batch_size", "inputs.image.height", "precisions.0"]
    lines = [i.line for i in e.value.issues]
    assert lines == [1, 5, 6, 7]


def test_wrong_type_names_the_value() -> None:
    with pytest.raises(SpecError) as e:
        parse_spec(MINIMAL + "inputs: {batch_size: many}\n")
    assert e.value.issues[0].path == "inputs.batch_size"
    assert "'many'" in e.value.issues[0].message


def test_model_needs_card_or_source() -> None:
    with pytest.raises(SpecError) as e:
        parse_spec("title: t\nmodel: {name: resnet50}\nplatform: p\n")
    assert e.value.issues[0].path == "model"
    assert "card" in e.value.issues[0].message and "source" in e.value.issues[0].message


def test_domain_input_mismatch() -> None:
    with pytest.raises(SpecError) as e:
        parse_spec("title: t\nmodel: {card: resnet18}\ndomain: cv\ninputs: {text: {sequence_length: 5}}\nplatform: p\n")
    assert "inputs.image" in e.value.issues[0].message


@pytest.mark.parametrize("text,needle", [
    ("", "empty"),
    ("- a\n- b\n", "mapping"),
    ("title: [unclosed\n", "malformed YAML"),
    ("a: 1\na: 2\n", "duplicate key"),
    ("x: !!python/object/apply:os.system ['echo hi']\n", "unsupported YAML value"),
])
def test_bad_documents(text: str, needle: str) -> None:
    with pytest.raises(SpecError) as e:
        parse_spec(text, "s.yaml")
    assert needle in str(e.value)


def test_files_that_are_not_specs(tmp_path: Path) -> None:
    with pytest.raises(SpecError, match="is a directory"):
        load_spec(tmp_path)
    binary = tmp_path / "b.yaml"
    binary.write_bytes(b"\x00\x01\x02")
    with pytest.raises(SpecError, match="binary"):
        load_spec(binary)
    big = tmp_path / "big.yaml"
    big.write_text("a: " + "x" * 2_000_000)
    with pytest.raises(SpecError, match="limited to"):
        load_spec(big)
    with pytest.raises(SpecError, match="not found"):
        load_spec(tmp_path / "missing.yaml")


def test_alias_bomb_is_bounded() -> None:
    lines = ["a0: &a0 [x, x, x, x, x, x, x, x, x, x]"]
    for i in range(1, 9):
        lines.append(f"a{i}: &a{i} [" + ", ".join([f"*a{i-1}"] * 10) + "]")
    with pytest.raises(SpecError, match="alias bomb"):
        parse_spec("\n".join(lines))


def test_study_id_is_a_safe_folder_name() -> None:
    spec = parse_spec(MINIMAL + "output: {name: '../../etc/Passwd Study'}\n")
    sid = study_id(spec, None)
    assert sid == "etc-passwd-study"
    assert "/" not in sid and not sid.startswith(".")
