"""Two checks that need real processes: an interrupted build leaves the earlier report
byte-identical, and user text in the HTML report never runs as script in a real browser."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest
from typer.testing import CliRunner

from reportgen.cli.main import app
from tests.test_reliability import MODEL_CODE, SPEC

runner = CliRunner()


@pytest.fixture(autouse=True)
def no_figures(monkeypatch: pytest.MonkeyPatch) -> None:
    from reportgen.report import figures

    monkeypatch.setattr(figures, "all_figures", lambda: [])


def _write(tmp: Path, fn: str, title: str = "Tiny study", extra: str = "") -> Path:
    (tmp / "rg_tiny_model.py").write_text(MODEL_CODE, encoding="utf-8")
    p = tmp / "study.yaml"
    p.write_text(SPEC.format(title=title, fn=fn) + extra, encoding="utf-8")
    return p


def _snapshot(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


# ----------------------------------------------------------------------------- interrupted builds

@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGKILL], ids=["ctrl-c", "kill"])
def test_interrupted_build_keeps_the_earlier_report(sig: signal.Signals, tmp_path: Path) -> None:
    spec, out = _write(tmp_path, "make"), tmp_path / "out"
    first = runner.invoke(app, ["build", str(spec), "-o", str(out), "--allow-code", "--deterministic",
                                "-f", "md,html"])
    assert first.exit_code == 0, first.output
    before = _snapshot(out / "study")
    # same study folder; a model whose trace fails keeps the second build's figures cheap
    _write(tmp_path, "broken")
    exe = Path(sys.executable).with_name("reportgen")
    proc = subprocess.Popen(
        [str(exe), "build", str(spec), "-o", str(out), "--allow-code", "--deterministic",
         "-f", "md,html,pdf"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        env={**os.environ, "REPORTGEN_TEST_SLOW_RENDER": "60", "COLUMNS": "200"})
    try:
        deadline = time.monotonic() + 90
        while not list(out.glob(".study.tmp-*/report.html")):  # HTML written: now in the PDF step
            assert proc.poll() is None, proc.communicate()
            assert time.monotonic() < deadline, "the build never reached the PDF step"
            time.sleep(0.1)
        proc.send_signal(sig)
        _, stderr = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert _snapshot(out / "study") == before
    if sig == signal.SIGINT:
        assert proc.returncode == 130, stderr
        assert "Traceback" not in stderr and "interrupted" in stderr
        assert [p.name for p in out.iterdir()] == ["study"]  # no temp folders left behind
    else:
        assert proc.returncode == -signal.SIGKILL


# ----------------------------------------------------------------------------- XSS in a browser

MARK = "data-xss"
PAYLOADS = {
    "title": f"<script>document.documentElement.setAttribute('{MARK}','title')</script>",
    "author": f"\"><img src=x onerror=\"document.documentElement.setAttribute('{MARK}','author')\">",
    "task": f"<svg onload=\"document.documentElement.setAttribute('{MARK}','task')\"></svg> | *x* [a](javascript:alert(1))",
    "description": f"<img src=x onerror=\"document.documentElement.setAttribute('{MARK}','description')\">\n\n"
                   f"<iframe srcdoc=\"<script>parent.document.documentElement.setAttribute('{MARK}','iframe')</script>\"></iframe>",
}


def _chromium() -> str | None:
    for name in ("chromium", "chromium-browser", "google-chrome", "chrome"):
        found = shutil.which(name)
        if found:
            return found
    return None


def _dump_dom(browser: str, page: Path) -> str:
    with tempfile.TemporaryDirectory() as profile:
        proc = subprocess.run(
            [browser, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
             "--disable-background-networking", "--disable-component-update", "--disable-sync",
             f"--user-data-dir={profile}", "--virtual-time-budget=2000", "--dump-dom", page.as_uri()],
            capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr[-2000:]
    return proc.stdout


def _yaml_str(s: str) -> str:
    return '"' + s.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'


def test_user_text_never_runs_as_script_in_a_browser(tmp_path: Path) -> None:
    browser = _chromium()
    if browser is None:
        pytest.skip("chromium not found: install Debian's `chromium` (CI does, see .ci/run)")
    extra = "".join(f"{k}: {_yaml_str(v)}\n" for k, v in PAYLOADS.items() if k != "title")
    spec = _write(tmp_path, "make", title=_yaml_str(PAYLOADS["title"]), extra=extra)
    res = runner.invoke(app, ["build", str(spec), "-o", str(tmp_path / "out"), "--allow-code",
                              "--deterministic", "-f", "md,html"])
    assert res.exit_code == 0, res.output
    folder = tmp_path / "out" / "study"
    html = (folder / "report.html").read_text("utf-8")
    for tag in ("<script", "<img src=x", "<svg onload", "<iframe", 'href="javascript:'):
        assert tag not in html.lower()

    # control: the same browser run does execute a real script, so the check below means something
    control = tmp_path / "control.html"
    control.write_text(f"<html><body><script>document.documentElement.setAttribute('{MARK}','control')"
                       "</script><p>hi</p></body></html>", encoding="utf-8")
    assert f'{MARK}="control"' in _dump_dom(browser, control)

    dom = _dump_dom(browser, folder / "report.html")
    assert f'{MARK}="' not in dom, "a payload ran"
    assert "&lt;script&gt;document.documentElement.setAttribute" in dom  # shown as text
    assert "&lt;img src=x onerror=" in dom

    md = (folder / "report.md").read_text("utf-8")
    assert "<script" not in md and "<img" not in md and "<svg" not in md
    assert "&lt;script&gt;" in md
    task_line = next(ln for ln in md.splitlines() if "svg onload" in ln)
    assert "\\|" in task_line and "\\*x\\*" in task_line and "\\[a\\]" in task_line
