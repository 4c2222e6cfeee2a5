"""What the console says: rich markup rendered (never printed raw, never eating user text), no
traceback without ``--debug``, and the traceback with it (for bug reports).

The builds use a tiny inline ``python`` model and Markdown only; figures are switched off.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from conftest import write_tiny_study
from typer.testing import CliRunner

from reportgen import pipeline
from reportgen.cli import main as cli
from reportgen.cli.main import app, main

runner = CliRunner()

@pytest.fixture(autouse=True)
def quiet(monkeypatch: pytest.MonkeyPatch) -> None:
    from reportgen.report import figures

    monkeypatch.setattr(figures, "all_figures", lambda: [])
    # --debug sets REPORTGEN_DEBUG in this process; "0" (off) is restored after each test
    monkeypatch.setenv(cli.DEBUG_ENV, "0")


@pytest.fixture
def spec(tmp_path: Path) -> Path:
    # a folder name that looks like rich markup: it must be printed as it is
    folder = tmp_path / "[bold]study"
    folder.mkdir()
    return write_tiny_study(folder, "rg_console_model")


def _failing(monkeypatch: pytest.MonkeyPatch, stage: str) -> None:
    """Fault injection: every pipeline run fails ``stage`` (the pipeline's own test hook)."""
    real = pipeline.run

    def run(*args: Any, **kw: Any) -> Any:
        return real(*args, **kw, fail_stages=frozenset({stage}))

    monkeypatch.setattr(pipeline, "run", run)


def test_partial_build_renders_its_markup(spec: Path, tmp_path: Path,
                                          monkeypatch: pytest.MonkeyPatch) -> None:
    _failing(monkeypatch, "findings")
    res = runner.invoke(app, ["build", str(spec), "-o", str(tmp_path / "out"), "--allow-code",
                              "--deterministic"])
    assert res.exit_code == 1, res.output
    flat = " ".join(res.output.split())
    assert "partial: findings: RuntimeError: fault injected into stage 'findings'" in flat
    assert "[yellow]" not in res.output and "[dim]" not in res.output  # was printed raw
    assert f"{spec}" in res.output.replace("\n", "")  # a path like "[bold]study" is kept as is
    assert "Traceback" not in res.output


def test_failed_stage_traceback_only_with_debug(spec: Path, tmp_path: Path,
                                                monkeypatch: pytest.MonkeyPatch,
                                                capfd: pytest.CaptureFixture[str]) -> None:
    _failing(monkeypatch, "costs")
    args = ["build", str(spec), "-o", str(tmp_path / "out"), "--allow-code", "--deterministic"]
    with pytest.raises(SystemExit) as e:
        main(args)
    assert e.value.code == 1
    quiet_err = capfd.readouterr().err
    assert "Traceback" not in quiet_err and "partial: costs" in " ".join(quiet_err.split())
    with pytest.raises(SystemExit) as e:
        main(args + ["--debug"])  # --debug may stand anywhere on the command line
    assert e.value.code == 1
    loud = capfd.readouterr().err
    assert "--- stage costs failed:" in loud
    assert "Traceback (most recent call last)" in loud
    assert "RuntimeError: fault injected into stage 'costs'" in loud


def test_internal_error_is_one_line_and_debug_prints_the_traceback(
        spec: Path, monkeypatch: pytest.MonkeyPatch, capfd: pytest.CaptureFixture[str]) -> None:
    import reportgen.build

    def broken(path: Path) -> str:
        raise KeyError("[red]not markup[/]")  # a bug, not a user error

    monkeypatch.setattr(reportgen.build, "validate_spec", broken)
    with pytest.raises(SystemExit) as e:
        main(["validate", str(spec)])
    assert e.value.code == cli.EXIT_BUG
    err = capfd.readouterr().err
    assert "Traceback" not in err
    assert "error: internal error: KeyError: '[red]not markup[/]'" in err
    assert "--debug" in err and len(err.strip().splitlines()) <= 3
    with pytest.raises(SystemExit) as e:
        main(["--debug", "validate", str(spec)])
    assert e.value.code == cli.EXIT_BUG
    err = capfd.readouterr().err
    assert "Traceback (most recent call last)" in err and "in broken" in err
    assert "error: internal error: KeyError" in err


def test_platform_sources_keep_their_ids() -> None:
    """``[source_id] url`` lines: rich used to read ``[source_id]`` as a style and drop it."""
    from reportgen.catalog.lookup import get_platform

    res = runner.invoke(app, ["platforms", "show", "nvidia_t4"])
    assert res.exit_code == 0, res.output
    for source in get_platform("nvidia_t4", measure_host=False).sources:
        assert f"[{source.id}]" in res.output
