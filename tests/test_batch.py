"""Batch builds: a broken spec does not stop the others, parallel workers keep host measurements
serial (``pipeline.MEASURE_LOCK``), and the gallery reads each data.json defensively."""

from __future__ import annotations

import json
import shutil
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from bs4 import BeautifulSoup
from typer.testing import CliRunner

from reportgen import batch, pipeline
from reportgen.build import Outcome
from reportgen.cli.main import app
from reportgen.spec.load import parse_spec

ROOT = Path(__file__).resolve().parent.parent


# --------------------------------------------------------------------------- measurement lock

def test_measure_stage_runs_inside_the_measure_lock(monkeypatch: pytest.MonkeyPatch) -> None:
    events: list[str] = []

    @contextmanager
    def lock() -> Iterator[None]:
        events.append("acquire")
        yield
        events.append("release")

    def measure(ctx: pipeline.Context, result: object) -> None:
        events.append("measure")

    def other(ctx: pipeline.Context, result: object) -> None:
        events.append("other")

    monkeypatch.setattr(pipeline, "MEASURE_LOCK", lock)
    spec = parse_spec('title: "t"\nmodel: {card: resnet18}\nplatform: raspberry_pi_5\n')
    pipeline.run(spec, None, deterministic=True,
                 stages=[pipeline.Stage("costs", other), pipeline.Stage("measure", measure)])
    assert events == ["other", "acquire", "measure", "release"]


def test_worker_init_installs_one_shared_lock(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(pipeline, "MEASURE_LOCK", pipeline.MEASURE_LOCK)
    monkeypatch.setattr(batch, "_WORKER_LOCK", None)
    shared = threading.Lock()
    batch._init_worker(shared)
    assert pipeline.MEASURE_LOCK is batch._hold_measure_lock
    with pipeline.MEASURE_LOCK():
        assert shared.locked()
    assert not shared.locked()


# --------------------------------------------------------------------------- gallery

def test_gallery_reads_data_json_defensively(tmp_path: Path) -> None:
    full = tmp_path / "full"
    full.mkdir()
    (full / "report.md").write_text("# r", encoding="utf-8")
    (full / "data.json").write_text(json.dumps({
        "title": "<script>alert(1)</script>", "language": "en",
        "model": {"name": "ResNet-50", "domain": "cv"},
        "platform": {"name": "Raspberry Pi 5", "platform_class": "budget"},
        "costs": {"params": {"total": 25_557_032}, "summary": {"macs": 4_089_184_256}},
        "roofline": {"best_precision": "int8", "per_precision": [
            {"precision": "fp32", "status": "ok", "predicted_latency_s": 0.5},
            {"precision": "int8", "status": "ok", "predicted_latency_s": 0.0123}]},
        "first_to_break": {"name": "latency_ms", "requirement": 10, "predicted": 12.3, "unit": "ms"},
        "verdicts": [{"name": "latency_ms", "verdict": "fail"}, {"name": "power_w", "verdict": "unknown"},
                     {"name": "memory_mb", "verdict": "pass"}],
        "hypotheses": {"recommended": "quant_int8", "items": [{"id": "quant_int8", "meets_all": True}]},
    }), encoding="utf-8")
    sparse = tmp_path / "sparse"
    sparse.mkdir()
    (sparse / "data.json").write_text('{"model": null, "costs": {"params": "n/a"}}', encoding="utf-8")
    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / "data.json").write_text("{not json", encoding="utf-8")
    outcomes = [Outcome(Path("a.yaml"), "ok", "ok", full),
                Outcome(Path("b.yaml"), "partial", "partial (roofline did not complete)", sparse),
                Outcome(Path("c.yaml"), "ok", "ok", broken),
                Outcome(Path("d.yaml"), "error", "d.yaml: 1 problem in the spec — unknown key")]
    [index] = batch.write_indexes(outcomes, tmp_path, deterministic=True)
    html = index.read_text(encoding="utf-8")
    assert "<script>alert" not in html and "&lt;script&gt;" in html
    rows = [[td.get_text(" ", strip=True) for td in tr.select("td")]
            for tr in BeautifulSoup(html, "html.parser").select("tbody tr")]
    assert rows[0][1:9] == ["ResNet-50", "cv", "Raspberry Pi 5 budget", "25.6\u00a0M",
                            "4.09\u00a0G", "int8", "12.3\u00a0ms", "latency_ms: 12.3 vs 10 ms"]
    assert rows[0][10] == "md data.json"
    assert rows[1][1:9] == ["—"] * 8 and "partial" in rows[1][9]
    assert rows[2][1:9] == ["—"] * 8
    assert rows[3][9].startswith("error") and "unknown key" in rows[3][9] and rows[3][10] == "—"
    assert "1 error" in html and "built " not in html  # no clock in snapshot mode
    page = BeautifulSoup(html, "html.parser")
    # the badge is the study's state: a failing constraint is red "fail", never a green "ok"
    badges = [[(b.get_text(), b["class"][1]) for b in tr.select(".state")]
              for tr in page.select("tbody tr")]
    assert badges == [[("fail", "fail")], [("no constraints", "none"), ("partial", "partial")],
                      [("no constraints", "none")], [("error", "error")]]
    assert "fails latency_ms; plan quant_int8 meets them" in rows[0][9]
    # the wide table scrolls inside its own box
    assert page.select_one("div.scroll > table") is not None
    assert "overflow: auto" in page.style.get_text()


@pytest.mark.parametrize(("verdicts", "badge"), [
    ([], "none"), ([{"name": "latency_ms", "verdict": "info"}], "none"),
    ([{"name": "latency_ms", "verdict": "pass"}], "ok"),
    ([{"name": "latency_ms", "verdict": "pass"}, {"name": "power_w", "verdict": "unknown"}], "unknown"),
    ([{"name": "power_w", "verdict": "unknown"}, {"name": "latency_ms", "verdict": "fail"}], "fail")])
def test_study_state_never_reports_an_unknown_or_a_failure_as_ok(
        verdicts: list[dict[str, str]], badge: str) -> None:
    state, note = batch.study_state({"verdicts": verdicts})
    assert state == badge
    if badge == "fail":
        assert note == "fails latency_ms; no plan meets them"


def test_unknown_peak_shows_the_lower_bound() -> None:
    data = {"roofline": {"best_precision": None, "per_precision": [
        {"precision": "fp16", "status": "unknown", "predicted_latency_s": 0.0122},
        {"precision": "int8", "status": "unknown", "predicted_latency_s": 0.0061}]}}
    assert batch._best_latency(data) == ("int8", "≥\u00a06.1\u00a0ms")


# --------------------------------------------------------------------------- the CLI

def test_parallel_batch_survives_a_broken_spec(tmp_path: Path) -> None:
    specs = [tmp_path / "ncf.yaml", tmp_path / "broken.yaml", tmp_path / "kws.yaml"]
    shutil.copy(ROOT / "examples" / "ncf_kria_kv260_hls4ml.yaml", specs[0])
    specs[1].write_text('title: "broken"\nmodel: {card: resnet50}\nplatfrom: raspberry_pi_5\n',
                        encoding="utf-8")
    shutil.copy(ROOT / "examples" / "ds_cnn_stm32h7_ru.yaml", specs[2])
    out = tmp_path / "out"
    result = CliRunner().invoke(app, ["build", *map(str, specs), "--deterministic", "-f", "md",
                                      "-o", str(out), "-j", "2"])
    assert result.exit_code == 2, result.output  # one spec could not be built
    assert (out / "ncf" / "report.md").is_file() and (out / "kws" / "report.md").is_file()
    page = BeautifulSoup((out / "index.html").read_text(encoding="utf-8"), "html.parser")
    states = [s.get_text() for s in page.select(".state")]
    assert states[1] == "error"
    for name, badge in (("ncf", states[0]), ("kws", states[2])):
        verdicts = {v["verdict"] for v in json.loads((out / name / "data.json").read_text())["verdicts"]}
        want = "fail" if "fail" in verdicts else "unknown" if "unknown" in verdicts else \
            "ok" if "pass" in verdicts else "no constraints"
        assert badge == want
    assert "2 problems in the spec — " in page.get_text()  # header and the first problem


def test_models_domain_filter() -> None:
    result = CliRunner().invoke(app, ["models", "--domain", "recsys"], env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    for cid in ("dlrm", "ncf", "two_tower", "wide_deep", "dcn_v2"):
        assert cid in result.output
    assert "resnet50" not in result.output and "gpt2" not in result.output
    bad = CliRunner().invoke(app, ["models", "--domain", "vision"])
    assert bad.exit_code == 2


def test_two_studies_with_a_module_of_the_same_name_each_get_their_own(tmp_path: Path) -> None:
    """A batch (one process) of two studies whose code is each in a ``model.py``: the second must
    not reuse the first one's module from ``sys.modules``."""
    specs = []
    for name, width in (("a", 4), ("b", 16)):
        folder = tmp_path / name
        folder.mkdir()
        (folder / "model.py").write_text(
            "from torch import nn\n\n\ndef make():\n"
            f"    return nn.Sequential(nn.Flatten(), nn.Linear(3 * 8 * 8, {width}))\n",
            encoding="utf-8")
        spec = folder / f"{name}.yaml"
        spec.write_text(f"title: {name}\nmodel: {{source: python, callable: 'model:make', path: '.'}}\n"
                        "domain: cv\ninputs: {image: {height: 8, width: 8}}\n"
                        "platform: raspberry_pi_5\noutput: {formats: [md]}\n", encoding="utf-8")
        specs.append(spec)
    out = tmp_path / "out"
    res = CliRunner().invoke(app, ["build", *map(str, specs), "--deterministic", "--allow-code",
                                   "-o", str(out)])
    assert res.exit_code == 0, res.output
    params = {n: json.loads((out / n / "data.json").read_text("utf-8"))["costs"]["params"]["total"]
              for n in ("a", "b")}
    assert params == {"a": 192 * 4 + 4, "b": 192 * 16 + 16}
