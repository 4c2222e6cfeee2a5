"""A steady CPU allocator for timing: glibc ``malloc`` told to keep freed memory.

By default glibc serves every block over a (dynamic) threshold with a fresh ``mmap`` and returns
it with ``munmap`` when freed; the heap's top is trimmed back to the OS above 128 kB. An eager
PyTorch forward allocates and frees its activations every run, so each timed run page-faults its
activations in again. On the development VM that was a third of the CPU time (sys 30 %), it made
a small ResNet run at 11–19 ms instead of 5.3 ms, and how slow depended on the kernel's mood
minute to minute (×1.35–2.7 between runs of the same model): the noise the host cost model could
not fit. A deployed server keeps its memory (a long-running process whose threshold has adapted,
or jemalloc/tcmalloc); so does a timed run here once ``steady_allocator`` has run:
``mallopt(M_MMAP_THRESHOLD, 32 MiB)`` (glibc's maximum; fixed, so no longer dynamic) and
``mallopt(M_TRIM_THRESHOLD, 512 MiB)``. Process-wide and once; freed memory stays with the
process (its RSS), not with the model (memory figures come from the allocator's own peak).

Only on glibc; elsewhere (macOS, musl) nothing is changed and None is returned. Set
``REPORTGEN_MALLOC=system`` to leave the allocator alone (e.g. to compare).
"""

from __future__ import annotations

import os
import platform

MMAP_THRESHOLD = 32 << 20
TRIM_THRESHOLD = 512 << 20
_M_TRIM_THRESHOLD, _M_MMAP_THRESHOLD = -1, -3  # malloc.h

_done: bool = False
_state: str | None = None


def mode() -> str:
    """'steady' where ``steady_allocator`` applies (glibc, not opted out), else 'system';
    changes nothing."""
    if os.environ.get("REPORTGEN_MALLOC", "").lower() == "system" or platform.libc_ver()[0] != "glibc":
        return "system"
    return "steady"


def steady_allocator() -> str | None:
    """Keep freed memory in this process (see the module docstring); return what was set, or
    None when nothing was (not glibc, opted out, or mallopt refused)."""
    global _done, _state
    if _done:
        return _state
    _done = True
    if mode() != "steady":
        return None
    try:
        import ctypes

        libc = ctypes.CDLL(None)
        ok = libc.mallopt(_M_MMAP_THRESHOLD, MMAP_THRESHOLD) == 1
        ok = libc.mallopt(_M_TRIM_THRESHOLD, TRIM_THRESHOLD) == 1 and ok
    except (OSError, AttributeError):
        return None
    if ok:
        _state = (f"glibc malloc keeps freed memory (mmap threshold {MMAP_THRESHOLD >> 20} MiB, "
                  f"trim threshold {TRIM_THRESHOLD >> 20} MiB)")
    return _state
