"""Failing disks and folders: each fault gives one clear error (exit 2, no traceback), the earlier
report stays byte-identical, and no temp folder, probe or lock file is left behind.

Faults are injected (the tests run as root in CI containers, where chmod does not stop writes):
a read-only folder is ``tempfile.mkdtemp`` failing with EACCES in the output folder, a full disk is
every file write inside the build's temp folder failing with ENOSPC.
"""

from __future__ import annotations

import errno
import os
import pathlib
import tempfile
from pathlib import Path
from typing import Any

import pytest
from conftest import write_tiny_study
from typer.testing import CliRunner

from reportgen.cli.main import app
from reportgen.outdir import OutputError, study_lock

runner = CliRunner()

@pytest.fixture(autouse=True)
def no_figures(monkeypatch: pytest.MonkeyPatch) -> None:
    from reportgen.report import figures

    monkeypatch.setattr(figures, "all_figures", lambda: [])


@pytest.fixture
def spec(tmp_path: Path) -> Path:
    return write_tiny_study(tmp_path, "rg_fault_model")


def _build(spec: Path, out: Path) -> Any:
    return runner.invoke(app, ["build", str(spec), "-o", str(out), "--allow-code", "--deterministic"])


def _files(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*"))
            if p.is_file()}


@pytest.fixture
def earlier(spec: Path, tmp_path: Path) -> tuple[Path, dict[str, bytes]]:
    """An earlier, complete report of the study, and its bytes."""
    out = tmp_path / "out"
    res = _build(spec, out)
    assert res.exit_code == 0, res.output
    return out, _files(out / "tiny")


def _clean_error(res: Any, *fragments: str) -> None:
    assert res.exit_code == 2, res.output
    assert "Traceback" not in res.output, res.output
    # one error, after the stage lines when it happens while writing
    assert res.output.count("error: ") == 1 and "\nerror: " in "\n" + res.output, res.output
    flat = " ".join(res.output.split())
    for f in fragments:
        assert f in flat, (f, res.output)


def _leftovers(out: Path) -> list[str]:
    return sorted(p.name for p in out.iterdir() if p.name != "tiny")


def test_read_only_output_folder(spec: Path, earlier: tuple[Path, dict[str, bytes]],
                                 monkeypatch: pytest.MonkeyPatch) -> None:
    out, before = earlier
    real = tempfile.mkdtemp

    def mkdtemp(*args: Any, dir: Any = None, **kw: Any) -> str:
        if dir is not None and Path(dir) == out:
            raise PermissionError(errno.EACCES, "Permission denied", str(dir))
        return real(*args, dir=dir, **kw)

    monkeypatch.setattr(tempfile, "mkdtemp", mkdtemp)
    res = _build(spec, out)
    _clean_error(res, f"cannot write the report to {out / 'tiny'}: permission denied ({out})",
                 "nothing was built", "-o")
    assert "partial" not in res.output and "✓" not in res.output  # refused before the analysis
    assert _files(out / "tiny") == before
    assert _leftovers(out) == []


@pytest.mark.skipif(os.name != "posix" or os.geteuid() == 0, reason="root ignores permissions")
def test_really_read_only_output_folder(spec: Path, earlier: tuple[Path, dict[str, bytes]]) -> None:
    out, before = earlier
    out.chmod(0o555)
    try:
        _clean_error(_build(spec, out), "permission denied")
    finally:
        out.chmod(0o755)
    assert _files(out / "tiny") == before and _leftovers(out) == []


def test_full_disk_while_writing(spec: Path, earlier: tuple[Path, dict[str, bytes]],
                                 monkeypatch: pytest.MonkeyPatch) -> None:
    out, before = earlier
    real = pathlib.Path.write_text
    calls: list[str] = []

    def write_text(self: Path, *args: Any, **kw: Any) -> int:
        if ".tmp-" in str(self):  # every file of the new report, none elsewhere
            calls.append(self.name)
            raise OSError(errno.ENOSPC, "No space left on device", str(self))
        return real(self, *args, **kw)

    monkeypatch.setattr(pathlib.Path, "write_text", write_text)
    res = _build(spec, out)
    _clean_error(res, f"cannot write the report to {out / 'tiny'}: the disk is full",
                 "data.json", "nothing was replaced", "is unchanged")
    assert calls == ["data.json"]  # the first write failed and nothing else was tried
    assert _files(out / "tiny") == before
    assert _leftovers(out) == []


def test_output_path_is_a_file(spec: Path, tmp_path: Path) -> None:
    target = tmp_path / "notes.txt"
    target.write_bytes(b"my notes\n")
    res = _build(spec, target)
    _clean_error(res, f"{target} is a file, not a folder", "-o")
    assert target.read_bytes() == b"my notes\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["notes.txt", "rg_fault_model.py",
                                                          "tiny.yaml"]


def test_second_build_of_the_same_study_at_once(spec: Path,
                                                earlier: tuple[Path, dict[str, bytes]]) -> None:
    out, before = earlier
    with study_lock(out / "tiny"):  # the first build is still writing
        res = _build(spec, out)
        _clean_error(res, f"another build of this study is writing {out / 'tiny'}")
        assert _files(out / "tiny") == before
    assert _leftovers(out) == []  # the lock file goes with the build that held it
    assert _build(spec, out).exit_code == 0  # and the next build runs


def test_lock_excludes_a_second_holder(tmp_path: Path) -> None:
    """flock is per open file: a second holder fails even within one process, as another
    process would."""
    folder = tmp_path / "study"
    with study_lock(folder):
        assert (tmp_path / ".study.lock").read_text().strip() == str(os.getpid())
        with pytest.raises(OutputError, match="another build"), study_lock(folder):
            pass
    assert not (tmp_path / ".study.lock").exists()
    with study_lock(folder):  # free again
        pass
