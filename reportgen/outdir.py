"""The output folder: checked before the analysis runs, locked while a build owns it, and every
write failure turned into one clear error (exit status 2) that says the earlier report is intact.

The report itself is written into a temp folder and renamed into place
(``reportgen.report.render.write_study``), so any failure before the rename leaves the earlier
report byte-identical and the temp folder removed.
"""

from __future__ import annotations

import errno
import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from reportgen.errors import ReportgenError


class OutputError(ReportgenError):
    """The report cannot be written where it should go. Nothing was replaced."""


def _existing_ancestor(path: Path) -> Path:
    p = path
    while not p.exists() and p != p.parent:
        p = p.parent
    return p


def check_writable(folder: Path) -> None:
    """Fail now, not after minutes of analysis, when ``folder`` cannot be created or replaced."""
    parent = folder.parent
    anchor = _existing_ancestor(parent)
    if not anchor.is_dir():
        raise OutputError(f"cannot write the report to {folder}: {anchor} is a file, not a folder "
                          "(choose another output folder with -o)")
    try:
        parent.mkdir(parents=True, exist_ok=True)
        probe = tempfile.mkdtemp(prefix=f".{folder.name}.probe-", dir=parent)
        os.rmdir(probe)
    except OSError as e:
        raise OutputError(write_failure(e, folder, before=True)) from None


def write_failure(e: OSError, folder: Path, *, before: bool = False) -> str:
    """One screen for an OSError while writing: what, where, and that nothing was replaced."""
    what = {errno.ENOSPC: "the disk is full", errno.EDQUOT: "the disk quota is exceeded",
            errno.EROFS: "the file system is read-only", errno.EACCES: "permission denied",
            errno.EPERM: "permission denied"}.get(e.errno or 0, e.strerror or type(e).__name__)
    where = f" ({e.filename})" if e.filename else ""
    head = f"cannot write the report to {folder}: {what}{where}"
    if before:
        return head + "\n  nothing was built (choose another output folder with -o)"
    return head + (f"\n  nothing was replaced: the earlier report in {folder} (if any) is unchanged "
                   "and no temporary files are left")


@contextmanager
def study_lock(folder: Path) -> Iterator[None]:
    """Hold ``.<name>.lock`` beside ``folder`` for one build; a second build of the same study
    fails at once instead of racing the first one's rename. The lock file is removed after."""
    try:
        import fcntl
    except ImportError:  # not POSIX: no lock (the rename is still atomic)
        yield
        return
    lock = folder.parent / f".{folder.name}.lock"
    for _ in range(5):
        fd = os.open(lock, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            raise OutputError(
                f"another build of this study is writing {folder} right now; wait for it to finish "
                "or build into another folder with -o (its report is left alone)") from None
        try:  # the holder before us may have removed the file after we opened it: retry
            same = os.fstat(fd).st_ino == os.stat(lock).st_ino
        except FileNotFoundError:
            same = False
        if same:
            break
        os.close(fd)
    else:  # pragma: no cover - only under constant churn of the lock file
        raise OutputError(f"could not lock {lock}; try again")
    try:
        os.write(fd, f"{os.getpid()}\n".encode())
        yield
    finally:
        try:
            os.unlink(lock)
        except OSError:
            pass
        os.close(fd)
