"""Every shipped example, built *with* measurement on this host, as a new user would run it.

The snapshot tests (``test_examples.py``) build in ``--deterministic`` mode, which measures
nothing, so the measure stage, the measured scaling points, the measured findings and the
profiling section were never exercised on the real examples (the YOLO11n example crashed with
"Cannot copy out of meta tensor" and nothing caught it). Here each example is copied with a
short profiling budget (the spec's own options; the study folder keeps the example's name) and
the copies are built as one batch through the real CLI. Any failed or skipped stage fails the
test; a model that cannot be measured on any machine of this size (a meta-only card) must say so
with its reason code.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml
from typer.testing import CliRunner

from reportgen.cli.main import app

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = sorted((ROOT / "examples").glob("*.yaml"))
NAMES = [p.stem for p in EXAMPLES]

# Small on purpose: this test checks that measurement *runs*, not what it measures. The sweeps
# stay on (their code paths are what broke), but with this budget each sweep point whose warm-up
# and three runs would take over ~2 s is skipped with a note (measure.affordable).
SHORT_PROFILING = {"enabled": True, "warmup": 1, "min_runs": 2, "max_runs": 3,
                   "time_budget_s": 1.0, "batch_sizes": [1, 2]}

MAX_TOKENS = 128

EXPERIMENTS_EXAMPLE = "ds_cnn_stm32h7_ru"
SHORT_EXPERIMENTS = {"enabled": True, "methods": ["quant_dynamic_int8", "prune_unstructured"],
                     "time_budget_s": 30}

# Reasons a measure stage may legitimately not run on a test machine (never "failed").
MAY_NOT_MEASURE = {"measure_meta_only", "measure_too_big"}

pytestmark = pytest.mark.slow


def _short_copy(path: Path, folder: Path) -> Path:
    doc: dict[str, Any] = yaml.safe_load(path.read_text(encoding="utf-8"))
    assert "deterministic" not in doc or doc["deterministic"] is False, path.name
    doc["profiling"] = {**doc.get("profiling", {}), **SHORT_PROFILING}
    # measured at batch 1 (t5_small_xeon's batch-8 study took 25 s to measure): the batch sweep
    # still times batch 2, the study's other inputs are kept
    doc.setdefault("inputs", {})["batch_size"] = 1
    # and on at most MAX_TOKENS of text (gpt2's decode step took four 512-token prefills to measure,
    # ~2 s each on two cores): the same code paths, a quarter of the work
    text = doc["inputs"].get("text")
    if text and text.get("sequence_length", 0) > MAX_TOKENS:
        text["sequence_length"] = MAX_TOKENS
    # the examples run their experiments (section 6) by default; here one small example runs two
    # cheap methods end to end and the others skip them (tests/test_experiments.py covers them)
    if path.stem == EXPERIMENTS_EXAMPLE:
        doc["experiments"] = {**doc.get("experiments", {}), **SHORT_EXPERIMENTS}
    else:
        doc["experiments"] = {"enabled": False}
    copy = folder / path.name  # the same stem: the same study id and folder name
    copy.write_text(yaml.safe_dump(doc, allow_unicode=True, sort_keys=False), encoding="utf-8")
    return copy


@pytest.fixture(scope="module")
def measured(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    specs = tmp_path_factory.mktemp("measured_specs")
    out = tmp_path_factory.mktemp("measured_out")
    copies = [_short_copy(p, specs) for p in EXAMPLES]
    # one job, in this process (see conftest.built_examples)
    result = CliRunner().invoke(app, ["build", *map(str, copies), "--format", "md", "-o", str(out)])
    return out, f"exit {result.exit_code}\n{result.output}"


def test_the_batch_builds_every_example_completely(measured: tuple[Path, str]) -> None:
    out, log = measured
    assert log.startswith("exit 0\n"), log
    assert "Traceback" not in log
    assert "[yellow]" not in log and "[/]" not in log  # rich markup is rendered, never printed


@pytest.mark.parametrize("name", NAMES)
def test_example_measures_without_stage_errors(measured: tuple[Path, str], name: str) -> None:
    out, log = measured
    data_file = out / name / "data.json"
    assert data_file.is_file(), log
    data = json.loads(data_file.read_text(encoding="utf-8"))
    assert data["deterministic"] is False
    broken = {s["name"]: s["reason"] for s in data["stages"] if s["state"] in ("failed", "skipped")}
    assert broken == {}, broken
    stage = next(s for s in data["stages"] if s["name"] == "measure")
    if stage["state"] != "ok":
        assert stage["state"] == "not_available" and stage["code"] in MAY_NOT_MEASURE, stage
        assert data["measurements"] is None
        return
    run = data["measurements"]["run"]
    latency = run["latency"]
    assert latency["median_s"] > 0 and latency["runs"] >= SHORT_PROFILING["min_runs"], latency
    assert run["batch_size"] in [b["batch_size"] for b in run["batches"]]
    assert run["profile"]["ops"], "the profiler pass recorded no ops"
    # the measured section is rendered: the profiler's top-op table lists the first op by name
    md = (out / name / "report.md").read_text(encoding="utf-8")
    top = run["profile"]["ops"][0]["name"].replace("_", "\\_")  # as the `md` filter escapes it
    assert f"| {top} |" in md, top


def test_the_experiments_example_shows_measured_rows_with_fidelity(measured: tuple[Path, str]) -> None:
    """Section 6 of an example built as a user would: the methods ran on this host, each row has a
    measured speed-up and output fidelity against the baseline."""
    out, log = measured
    data = json.loads((out / EXPERIMENTS_EXAMPLE / "data.json").read_text(encoding="utf-8"))
    stage = next(s for s in data["stages"] if s["name"] == "experiments")
    assert stage["state"] == "ok", stage
    runs = {r["id"]: r for r in data["experiments"]["runs"]}
    assert set(SHORT_EXPERIMENTS["methods"]) <= set(runs), sorted(runs)
    for rid in SHORT_EXPERIMENTS["methods"]:
        r = runs[rid]
        assert r["state"] == "ok" and r["speedup"] and r["speedup"] > 0, r
        assert r["fidelity"] is not None, r
