"""Executable documentation: every study in ``examples/`` is built in snapshot mode through the real
CLI (one batch, so the gallery is built too) and its ``report.md`` and ``data.json`` are snapshots
(one file each under ``__snapshots__/test_examples/``; for data.json a compact projection,
``tests/projection.py``, without per-op rows, so a one-rule change is a diff a person can read). Every shipped card not used by an example
gets a snapshot of its counted figures. Refresh after an intended change with
``pytest tests/test_examples.py --snapshot-update`` and review the diff.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml
from projection import compact, invariant_problems
from syrupy.extensions.single_file import SingleFileSnapshotExtension, WriteMode
from typer.testing import CliRunner

from reportgen.catalog.cards import card_ids, load_card
from reportgen.catalog.lookup import resolve_platform
from reportgen.cli.main import app
from reportgen.spec.load import load_spec, parse_spec
from reportgen.spec.schema import PlatformRef

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = sorted((ROOT / "examples").glob("*.yaml"))
NAMES = [p.stem for p in EXAMPLES]


class MarkdownSnapshot(SingleFileSnapshotExtension):
    _write_mode = WriteMode.TEXT
    file_extension = "md"


class JSONSnapshot(SingleFileSnapshotExtension):
    _write_mode = WriteMode.TEXT
    file_extension = "json"


@pytest.fixture(scope="module")
def built(built_examples: Path) -> Path:
    """All examples, built once per test session (``conftest.built_examples``)."""
    return built_examples


# --------------------------------------------------------------------------- the example set

def _raw(path: Path) -> dict[str, Any]:
    return yaml.safe_load(path.read_text(encoding="utf-8"))


def test_examples_cover_every_domain_and_platform_class() -> None:
    assert "resnet50_rpi5" in NAMES  # the default demo (`make demo`)
    assert len(EXAMPLES) >= 11
    domains, classes, langs, zoos = set(), set(), [], 0
    for path in EXAMPLES:
        spec = load_spec(path)
        domain = spec.domain or load_card(spec.model.card).domain  # type: ignore[union-attr]
        domains.add(domain.value)
        classes.add(resolve_platform(PlatformRef(id=spec.platform.id)).class_.value)
        langs.append(spec.language.value)
        zoos += bool(spec.compare_platforms)
        assert spec.task and spec.constraints.given(), path.name
    assert domains == {"cv", "nlp", "speech", "recsys"}
    assert {"powerful", "budget", "specialized", "fpga", "mcu"} <= classes
    assert langs.count("ru") >= 2
    assert zoos >= 3


@pytest.mark.parametrize("path", EXAMPLES, ids=NAMES)
def test_example_validates(path: Path) -> None:
    result = CliRunner().invoke(app, ["validate", str(path)])
    assert result.exit_code == 0, result.output


def test_russian_examples_have_russian_titles() -> None:
    for path in EXAMPLES:
        raw = _raw(path)
        if raw.get("language") == "ru":
            assert any("а" <= ch <= "я" for ch in raw["title"].lower() + raw["task"].lower()), path


# --------------------------------------------------------------------------- snapshots

@pytest.mark.parametrize("name", NAMES)
def test_example_report_md(built: Path, name: str, snapshot: Any) -> None:
    assert (built / name / "report.md").read_text(encoding="utf-8") == snapshot(
        extension_class=MarkdownSnapshot)


@pytest.mark.parametrize("name", NAMES)
def test_example_data_json(built: Path, name: str, snapshot: Any) -> None:
    text = (built / name / "data.json").read_text(encoding="utf-8")
    data = json.loads(text)
    assert data["deterministic"] and data["generated_at"].startswith("2000-01-01")
    assert [p for p in data["published"] if not p["agrees"]] == []
    view = json.dumps(compact(data), indent=1, ensure_ascii=False, sort_keys=True) + "\n"
    assert view == snapshot(extension_class=JSONSnapshot)


@pytest.mark.parametrize("name", NAMES)
def test_example_invariants(built: Path, name: str) -> None:
    """Rows sum to totals, shares to 1, per-op predicted times to the latency; every message code
    in the full data.json has a sentence in every language."""
    data = json.loads((built / name / "data.json").read_text(encoding="utf-8"))
    assert invariant_problems(data) == []


def test_invariant_checker_sees_a_broken_row(built: Path) -> None:
    data = json.loads((built / "resnet50_rpi5" / "data.json").read_text(encoding="utf-8"))
    data["costs"]["blocks"][0]["macs"] += data["costs"]["summary"]["macs"] // 10
    data["model"]["note_msgs"].append({"code": "no.such.message", "params": {}})
    problems = invariant_problems(data)
    assert any("blocks MACs" in p for p in problems)
    assert any("no.such.message" in p for p in problems)


def test_batch_gallery_links_every_report(built: Path) -> None:
    from bs4 import BeautifulSoup

    page = BeautifulSoup((built / "index.html").read_text(encoding="utf-8"), "html.parser")
    rows = page.select("tbody tr")
    assert len(rows) == len(NAMES)
    hrefs = {a["href"] for a in page.select("tbody a")}
    for name in NAMES:
        assert f"{name}/report.md" in hrefs and f"{name}/data.json" in hrefs
        assert (built / name / "report.md").is_file()
    assert not page.select("script, link[rel=stylesheet]")  # self-contained
    # the badge is the study's state, never a green "ok" for a failing or unjudged constraint
    states = [s.get_text().strip() for s in page.select("tbody .state")]
    assert len(states) >= len(NAMES) and set(states) <= {"ok", "fail", "unknown", "none", "partial",
                                                        "error", "no constraints"}
    data = {n: json.loads((built / n / "data.json").read_text(encoding="utf-8")) for n in NAMES}
    failing = [n for n, d in data.items() if any(v["verdict"] == "fail" for v in d["verdicts"])]
    state_of = {a["href"].split("/")[0]: (tr.select_one(".state").get_text().strip())
                for tr in rows for a in tr.select("a[href$='report.md']")}
    assert failing and all(state_of[n] == "fail" for n in failing)


# --------------------------------------------------------------------------- cards

COVERED = {load_spec(p).model.card for p in EXAMPLES if hasattr(load_spec(p).model, "card")}  # type: ignore[union-attr]
UNCOVERED = [c for c in card_ids() if c not in COVERED]


@pytest.mark.parametrize("card_id", UNCOVERED)
def test_card_counts_snapshot(card_id: str, snapshot: Any) -> None:
    """Cards without an example: their counted figures and the published comparison."""
    from reportgen import pipeline
    from reportgen.result import dump

    if missing := [r for r in load_card(card_id).requires if not _importable(r)]:
        pytest.skip(f"optional package(s) not installed: {missing}")
    spec = parse_spec(f'title: "{card_id}"\nmodel: {{card: {card_id}}}\nplatform: raspberry_pi_5\n')
    stages = [s for s in pipeline.STAGES if s.name in ("model", "trace", "costs", "published")]
    result = pipeline.run(spec, None, deterministic=True, stages=stages)
    data = dump(result)
    assert data["costs"] is not None, result.stages
    assert [p for p in data["published"] if not p["agrees"]] == []
    counts = {"params": data["costs"]["params"], "summary": data["costs"]["summary"],
              "published": data["published"]}
    assert counts == snapshot


def _importable(name: str) -> bool:
    import importlib.util

    return importlib.util.find_spec(name) is not None
