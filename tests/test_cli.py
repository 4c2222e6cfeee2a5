"""The CLI through its real entry point: help, init → validate, models, errors without tracebacks."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from reportgen.catalog.cards import card_ids


def _run(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "reportgen", *args], capture_output=True, text=True,
                          timeout=300, cwd=cwd)


def test_help_lists_commands_and_does_not_import_torch() -> None:
    proc = _run("--help")
    assert proc.returncode == 0
    for cmd in ("build", "validate", "init", "models", "platforms"):
        assert cmd in proc.stdout
    probe = subprocess.run([sys.executable, "-c", "import sys, reportgen.cli; print('torch' in sys.modules)"],
                           capture_output=True, text=True, timeout=60)
    assert probe.stdout.strip() == "False"  # --help stays instant: torch is imported lazily


def test_version() -> None:
    proc = _run("--version")
    assert proc.returncode == 0 and proc.stdout.startswith("reportgen ")


def test_init_writes_a_spec_that_validates(tmp_path: Path) -> None:
    spec = tmp_path / "study.yaml"
    assert _run("init", str(spec)).returncode == 0
    assert "reportgen build" in spec.read_text()
    proc = _run("validate", str(spec))
    assert proc.returncode == 0, proc.stderr
    assert "ok" in proc.stdout and "resnet50" in proc.stdout
    again = _run("init", str(spec))
    assert again.returncode == 2 and "--force" in again.stderr


def test_models_lists_every_card_and_filters() -> None:
    proc = _run("models")
    assert proc.returncode == 0
    for cid in card_ids():
        assert cid in proc.stdout  # whole: the id is what a user copies into a spec
    speech = _run("models", "--domain", "speech")
    assert "wav2vec2" in speech.stdout and "resnet50" not in speech.stdout
    bad = _run("models", "--domain", "vision")
    assert bad.returncode == 2 and "unknown domain" in bad.stderr


def test_validate_reports_every_problem_located(tmp_path: Path) -> None:
    spec = tmp_path / "bad.yaml"
    spec.write_text("title: t\nmodel: {card: resnet50}\nplatform: raspberry_pi_5\n"
                    "inputs: {batch_size: 0}\nconstrains: {latency_ms: 5}\n")
    proc = _run("validate", str(spec))
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr
    assert f"{spec}:4:" in proc.stderr and "batch_size" in proc.stderr
    assert f"{spec}:5:1" in proc.stderr and "did you mean 'constraints'?" in proc.stderr


def test_build_unknown_card_is_a_clean_error(tmp_path: Path) -> None:
    spec = tmp_path / "s.yaml"
    spec.write_text("title: t\nmodel: {card: resnet5}\nplatform: raspberry_pi_5\n")
    proc = _run("build", str(spec), "-o", str(tmp_path / "o"), "--format", "md")
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr
    assert "resnet50" in proc.stderr  # did you mean


def test_bad_format_option() -> None:
    proc = _run("build", "x.yaml", "--format", "docx")
    assert proc.returncode == 2 and "md, html, pdf" in proc.stderr


def _listed_ids(stdout: str) -> list[str]:
    """First word of each plain-list line (the id)."""
    return [ln.split()[0] for ln in stdout.splitlines()[1:] if ln.strip()]


def test_models_on_a_narrow_terminal_is_a_plain_list_of_whole_ids() -> None:
    import os

    env = {**os.environ, "COLUMNS": "60"}
    proc = subprocess.run([sys.executable, "-m", "reportgen", "models"], capture_output=True,
                          text=True, timeout=300, env=env)
    assert proc.returncode == 0
    assert "┃" not in proc.stdout and "…" not in proc.stdout  # no squeezed table
    assert _listed_ids(proc.stdout) == card_ids()
