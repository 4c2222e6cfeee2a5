"""Failure isolation, exit statuses, atomic output and sandboxing, end to end through the CLI.

All builds use a tiny inline `python` model (``--allow-code``) and Markdown only, so each build
takes well under a second after the first.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from rich.console import Console
from typer.testing import CliRunner

from reportgen import pipeline
from reportgen.build import Outcome
from reportgen.cli.main import app
from reportgen.paths import templates_dir
from reportgen.spec.load import load_spec, parse_spec, study_id

runner = CliRunner()


@pytest.fixture(autouse=True)
def no_figures(monkeypatch: pytest.MonkeyPatch) -> None:
    """Figures cost seconds per build and are not the point here (one test draws one)."""
    from reportgen.report import figures

    monkeypatch.setattr(figures, "all_figures", lambda: [])

MODEL_CODE = '''\
import torch
from torch import nn


class Tiny(nn.Module):
    def __init__(self, width=8):
        super().__init__()
        self.conv = nn.Conv2d(3, width, 3, padding=1)
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(width, 10)

    def forward(self, x):
        return self.fc(self.pool(torch.relu(self.conv(x))).flatten(1))


class Head(nn.Module):
    def __init__(self):
        super().__init__()
        self.proj = nn.Linear(100, 10)

    def forward(self, x):
        return self.proj(x)


class Broken(nn.Module):
    """The head expects 100 features; the stem gives 8*14*14 = 1568 on a 16x16 image."""

    def __init__(self):
        super().__init__()
        self.stem = nn.Conv2d(3, 8, 3)
        self.head = Head()

    def forward(self, x):
        return self.head(self.stem(x).flatten(1))


def make(width=8):
    return Tiny(width)


def broken():
    return Broken()


def huge():
    # 3*16*16*200_000 + 200_000**2 weights: ~160 GB in fp32 if it were ever allocated
    return nn.Sequential(nn.Flatten(), nn.Linear(3 * 16 * 16, 200_000), nn.Linear(200_000, 200_000))
'''

SPEC = '''\
title: {title}
model: {{source: python, callable: "rg_tiny_model:{fn}", path: "."}}
domain: cv
inputs: {{image: {{height: 16, width: 16}}}}
platform: raspberry_pi_5
output: {{formats: [md]}}
'''


@pytest.fixture
def study(tmp_path: Path):
    """Write the tiny model and a spec using ``fn`` into tmp_path; return the spec path."""
    (tmp_path / "rg_tiny_model.py").write_text(MODEL_CODE, encoding="utf-8")

    def _make(fn: str = "make", title: str = "Tiny study", name: str = "study.yaml") -> Path:
        p = tmp_path / name
        p.write_text(SPEC.format(title=title, fn=fn), encoding="utf-8")
        return p

    return _make


def _build(spec: Path, out: Path, *extra: str):
    return runner.invoke(app, ["build", str(spec), "-o", str(out), "--allow-code", "--deterministic",
                               "-f", "md", *extra])


def _snapshot(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def _leftovers(parent: Path) -> list[str]:
    return [p.name for p in parent.iterdir() if ".tmp-" in p.name or ".old-" in p.name]


# ----------------------------------------------------------------------------- fault injection

def _needs_closure(name: str) -> set[str]:
    """Stages that need ``name``, directly or through others."""
    out: set[str] = set()
    changed = True
    while changed:
        changed = False
        for s in pipeline.STAGES:
            if s.name not in out and any(n == name or n in out for n in s.needs):
                out.add(s.name)
                changed = True
    return out


@pytest.fixture(scope="module")
def baseline(tmp_path_factory: pytest.TempPathFactory):
    from reportgen.report import figures
    from reportgen.report.render import write_study

    tmp = tmp_path_factory.mktemp("baseline")
    (tmp / "rg_tiny_model.py").write_text(MODEL_CODE, encoding="utf-8")
    path = tmp / "study.yaml"
    path.write_text(SPEC.format(title="Tiny study", fn="make"), encoding="utf-8")
    spec = load_spec(path)
    result = pipeline.run(spec, path, deterministic=True, allow_code=True)
    saved, figures.all_figures = figures.all_figures, lambda: []  # type: ignore[assignment]
    try:
        write_study(result, tmp / "out", ["md"])
    finally:
        figures.all_figures = saved  # type: ignore[assignment]
    headings = [ln for ln in (tmp / "out" / "report.md").read_text("utf-8").splitlines()
                if ln.startswith("## ")]
    return spec, path, result, headings


def test_every_stage_is_fault_injected(baseline) -> None:
    """The parametrisation below follows pipeline.STAGES as it grows."""
    result = baseline[2]
    assert [s.name for s in result.stages] == [s.name for s in pipeline.STAGES]


@pytest.mark.parametrize("name", [s.name for s in pipeline.STAGES])
def test_failing_stage_keeps_the_rest_of_the_report(name: str, baseline, tmp_path: Path) -> None:
    from reportgen.report.render import write_study

    spec, path, base, base_headings = baseline
    result = pipeline.run(spec, path, deterministic=True, allow_code=True, fail_stages=frozenset({name}))
    states = {s.name: s for s in result.stages}
    before = base.stage(name)
    assert before is not None
    # a stage whose prerequisites are not computed in this build never runs, so cannot fail
    runs = not (before.reason or "").startswith("needs ")
    if runs:
        assert states[name].state == "failed"
        assert f"fault injected into stage '{name}'" in (states[name].reason or "")
        assert result.partial
    else:
        assert states[name].state == before.state
    dependants = _needs_closure(name)
    for s in base.stages:  # nothing that does not need the failed stage is lost
        if s.name != name and s.name not in dependants:
            now = states[s.name]
            # a stage may also find inside that what it uses is missing: then it says so
            assert now.state == s.state or (now.state == "not_available" and now.reason), (s.name, now)
        if s.name in dependants:
            assert states[s.name].state in ("skipped", "not_available")
    folder = tmp_path / "out" / "study"
    write_study(result, folder, ["md"])
    md = (folder / "report.md").read_text(encoding="utf-8")
    if runs:
        assert f"fault injected into stage '{name}'" in md  # the failed section is marked
        assert f"| {name} | failed |" in md
    assert [ln for ln in md.splitlines() if ln.startswith("## ")] == base_headings
    assert (folder / "data.json").is_file()


def test_failing_figure_keeps_the_report_and_exits_1(study, tmp_path: Path,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    from reportgen.report import figures

    def broken_plot(*args: object) -> None:
        raise ValueError("cannot draw this")

    monkeypatch.setattr(figures, "all_figures", lambda: [broken_plot, figures.macs_by_block])
    res = _build(study(), tmp_path / "out")
    assert res.exit_code == 1, res.output
    assert "partial" in res.output and "Traceback" not in res.output
    md = (tmp_path / "out" / "study" / "report.md").read_text("utf-8")
    assert "figure broken\\_plot could not be drawn (ValueError: cannot draw this)" in md
    assert "data.json" in md
    assert "macs_by_block.svg" in md  # the other figures are still there


# ----------------------------------------------------------------------------- exit statuses

def test_outcome_exit_codes() -> None:
    p = Path("s.yaml")
    assert Outcome(p, "ok", "ok").exit_code(strict=False) == 0
    assert Outcome(p, "ok", "ok").exit_code(strict=True) == 0
    na = Outcome(p, "ok", "ok; not available: measure", None, ("measure",))
    assert na.exit_code(strict=False) == 0 and na.exit_code(strict=True) == 1
    assert Outcome(p, "partial", "partial (trace)").exit_code(strict=False) == 1
    assert Outcome(p, "partial", "partial (trace)").exit_code(strict=True) == 1
    assert Outcome(p, "error", "bad spec").exit_code(strict=False) == 2


def test_strict_turns_not_available_sections_into_an_error(study, tmp_path: Path) -> None:
    spec = study()
    plain = _build(spec, tmp_path / "a")
    assert plain.exit_code == 0, plain.output  # "published" is not available for inline models
    strict = _build(spec, tmp_path / "b", "--strict")
    assert strict.exit_code == 1, strict.output
    assert (tmp_path / "b" / "study" / "report.md").is_file()


def test_forward_failure_names_module_op_and_shapes(study, tmp_path: Path) -> None:
    res = _build(study("broken"), tmp_path / "out")
    assert res.exit_code == 1, res.output
    text = " ".join(res.output.split())
    assert "head.proj" in text and "(Linear)" in text
    assert "aten.addmm.default" in text and "1×1568 float32" in text and "100×10 float32" in text
    assert "1×3×16×16 float32 image" in text  # the spec's inputs
    md = (tmp_path / "out" / "study" / "report.md").read_text("utf-8")
    assert "module head.proj (Linear)" in md and "match what the model" in md


def test_python_source_needs_allow_code(study, tmp_path: Path) -> None:
    res = runner.invoke(app, ["build", str(study()), "-o", str(tmp_path / "out"), "-f", "md"])
    assert res.exit_code == 2
    assert "runs your code" in res.output and "--allow-code" in res.output
    assert not (tmp_path / "out").exists()
    ok = runner.invoke(app, ["validate", str(study())])
    assert ok.exit_code == 0 and "--allow-code" in ok.output


def test_counting_never_allocates_real_weights(study) -> None:
    """A 40-billion-parameter model is counted in seconds: it lives on the meta device."""
    from reportgen.models.build import build, resolve

    path = study("huge")
    spec = load_spec(path)
    loaded = build(resolve(spec, str(path)), base_dir=path.parent, allow_code=True)
    assert all(p.is_meta for p in loaded.module.parameters())
    result = pipeline.run(spec, path, deterministic=True, allow_code=True)
    assert result.stage("costs").state == "ok"
    n = 3 * 16 * 16 * 200_000 + 200_000 + 200_000 * 200_000 + 200_000
    assert result.costs is not None and result.costs.params.total == n


# ----------------------------------------------------------------------------- batch

def test_batch_build_survives_a_broken_spec(study, tmp_path: Path) -> None:
    good = study(name="good.yaml")
    bad = tmp_path / "bad.yaml"
    bad.write_text("title: t\nmodel: {card: resnet18}\nplatform: nope_nope\n", encoding="utf-8")
    also = study(fn="broken", name="also.yaml")
    res = runner.invoke(app, ["build", str(good), str(bad), str(also), "-o", str(tmp_path / "out"),
                              "--allow-code", "--deterministic", "-f", "md"], env={"COLUMNS": "250"})
    assert res.exit_code == 2, res.output
    assert "Batch summary" in res.output
    rows = {ln for ln in res.output.splitlines() if ".yaml" in ln and "│" in ln}
    assert any("good.yaml" in r and " ok" in r for r in rows), res.output
    assert any("bad.yaml" in r and "problem in the spec" in r for r in rows), res.output
    assert any("also.yaml" in r and "partial (trace" in r for r in rows), res.output
    assert (tmp_path / "out" / "good" / "report.md").is_file()
    assert (tmp_path / "out" / "also" / "report.md").is_file()
    assert not (tmp_path / "out" / "bad").exists()


# ----------------------------------------------------------------------------- render failures

def test_render_failure_is_one_screen_and_keeps_the_earlier_report(
        study, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from reportgen.report import render

    spec, out = study(), tmp_path / "out"
    assert _build(spec, out).exit_code == 0
    before = _snapshot(out / "study")

    def explode(*args: object, **kwargs: object) -> str:
        raise MemoryError("no room for the report")

    monkeypatch.setattr(render, "render_markdown", explode)
    res = _build(spec, out)
    assert res.exit_code == 2, res.output
    error = res.output[res.output.index("error: "):]
    assert error.startswith("error: could not render the report: MemoryError: no room")
    assert "earlier report" in error and "Traceback" not in res.output
    assert len(error.strip().splitlines()) <= 25
    assert _snapshot(out / "study") == before
    assert _leftovers(out) == []


def _user_templates(tmp_path: Path, report_md: str) -> Path:
    root = tmp_path / "tpl"
    shutil.copytree(templates_dir(), root)
    (root / "md" / "report.md.j2").write_text(report_md, encoding="utf-8")
    return root


PAYLOADS = [
    "{{ ''.__class__.__mro__[1].__subclasses__() }}",
    "{{ r.__class__.__init__.__globals__ }}",
    "{{ t.__init__.__globals__['__builtins__'] }}",
]


def test_malicious_user_template_fails_cleanly(study, tmp_path: Path) -> None:
    spec, out = study(), tmp_path / "out"
    assert _build(spec, out).exit_code == 0
    before = _snapshot(out / "study")
    for i, payload in enumerate(PAYLOADS):
        root = _user_templates(tmp_path / str(i), "# {{ r.title }}\n" + payload + "\n")
        res = _build(spec, out, "--templates", str(root))
        assert res.exit_code == 2, res.output
        assert "could not render the report: SecurityError" in res.output
        assert "report.md.j2:2" in res.output.replace("\n", "")
        assert "sandboxed" in res.output and "Traceback" not in res.output
        assert _snapshot(out / "study") == before


def test_user_template_syntax_error_is_located(study, tmp_path: Path) -> None:
    root = _user_templates(tmp_path, "# {{ r.title }}\n\n{% for x in %}\n")
    res = _build(study(), tmp_path / "out", "--templates", str(root))
    assert res.exit_code == 2 and "TemplateSyntaxError" in res.output
    assert "report.md.j2:3" in res.output.replace("\n", "")


# ----------------------------------------------------------------------------- output names

@pytest.mark.parametrize("name", ["../../escape", "/etc/passwd", "..", ".", "a/b\\c", "~root",
                                  "<script>x</script>", "CON", "日本語", "", "-.-", "\x00\n\t"])
def test_study_id_is_a_safe_folder_name(name: str) -> None:
    spec = parse_spec(f'title: t\nmodel: {{card: resnet18}}\nplatform: raspberry_pi_5\n'
                      f'output: {{name: "{name.encode("unicode_escape").decode()}"}}\n')
    sid = study_id(spec, None)
    assert sid and len(sid) <= 80
    assert all(c.isascii() and (c.isalnum() or c in "-_") for c in sid)
    assert sid not in (".", "..")


def test_output_name_cannot_escape_the_output_folder(study, tmp_path: Path) -> None:
    path = study()
    text = path.read_text("utf-8") + 'deterministic: true\n'
    text = text.replace("output: {formats: [md]}", 'output: {formats: [md], name: "../../../escaped/<x>"}')
    path.write_text(text, encoding="utf-8")
    out = tmp_path / "work" / "out"
    before = set(tmp_path.rglob("*"))
    res = _build(path, out)
    assert res.exit_code == 0, res.output
    new = {p for p in set(tmp_path.rglob("*")) - before if p.is_dir()}
    assert out / "escaped-x" in new
    assert all(out in p.parents or p in (out, out.parent) for p in new), new


def test_refuses_to_replace_a_folder_that_is_not_a_report(study, tmp_path: Path) -> None:
    out = tmp_path / "out"
    (out / "study").mkdir(parents=True)
    (out / "study" / "thesis.tex").write_text("years of work", encoding="utf-8")
    res = _build(study(), out)
    assert res.exit_code == 2 and "not a reportgen report" in " ".join(res.output.split())
    assert (out / "study" / "thesis.tex").read_text("utf-8") == "years of work"


def test_pdf_writer_fetches_nothing_outside_the_study(tmp_path: Path) -> None:
    from reportgen.report import render

    study_dir = tmp_path / "study"
    (study_dir / "figures").mkdir(parents=True)
    inside = study_dir / "figures" / "f.svg"
    inside.write_text('<svg xmlns="http://www.w3.org/2000/svg" width="1" height="1"/>', "utf-8")
    outside = tmp_path / "secret.txt"
    outside.write_text("secret", "utf-8")
    fetcher = render._local_only(study_dir)
    for url in (outside.as_uri(), "http://example.invalid/x.png", "file:///etc/passwd",
                (study_dir / ".." / "secret.txt").as_uri()):
        with pytest.raises(ValueError, match="does not fetch"):
            fetcher.fetch(url)
    assert fetcher.fetch(inside.as_uri()) is not None
    assert fetcher.fetch("data:text/plain;base64,aGk=") is not None
    render.render_pdf(f'<img src="{outside.as_uri()}"><p>ok</p>', study_dir / "r.pdf", study_dir)
    assert (study_dir / "r.pdf").read_bytes().startswith(b"%PDF")


def test_console_is_quiet_about_internals(study, tmp_path: Path) -> None:
    """build_one through Python: a spec error is raised as ReportgenError, not a crash."""
    from reportgen.build import build_many
    from reportgen.errors import ReportgenError

    bad = tmp_path / "x.yaml"
    bad.write_text("title: t\nmodel: {card: resnet18}\nplatform: {id: nope}\n", encoding="utf-8")
    with pytest.raises(ReportgenError) as e:
        build_many([bad], output=tmp_path / "o", console=Console(file=open("/dev/null", "w")))
    assert f"{bad}:3:" in str(e.value)
