"""Latency statistics and the repeated-timing loop. Pure Python, no torch: the clock and the
synchronisation are injected, so the loop is tested with a controlled timer.

Units: seconds everywhere. Percentiles use linear interpolation between order statistics
(numpy's default, "type 7"). The loop stops when the median is stable (it moved by less than
``rel_tol`` when the last ``window`` runs were added), at ``max_runs``, or when the time budget
is spent (then at least ``floor_runs`` runs are kept, even below ``min_runs``; the stop reason
says so).
"""

from __future__ import annotations

import math
import statistics
import time
from collections.abc import Callable
from typing import Any, Literal

from pydantic import BaseModel, Field

StopReason = Literal["stable", "max_runs", "time_budget"]


class LatencyStats(BaseModel):
    """Measured latency of repeated runs. Seconds; spread stated by std, p90/p99 and min/max."""

    median_s: float
    p90_s: float
    p99_s: float
    mean_s: float
    std_s: float = Field(description="sample standard deviation (n - 1), s")
    min_s: float
    max_s: float
    cv: float = Field(description="coefficient of variation std/mean")
    runs: int = Field(description="timed repetitions")
    warmup: int = Field(description="untimed warm-up runs before them")
    stop_reason: StopReason
    threads: int | None = Field(None, description="intra-op threads (torch.get_num_threads)")
    allocator: str | None = Field(None, description="CPU allocator setting the runs were timed "
                                  "under (``reportgen.allocator.steady_allocator``); None: as the system set it")
    samples_s: list[float] = Field(default_factory=list, description="every timed run, in order")


def percentile(samples: list[float], q: float) -> float:
    """``q``-th percentile (0..100) with linear interpolation (numpy's default)."""
    if not samples:
        raise ValueError("no samples")
    if not 0 <= q <= 100:
        raise ValueError(f"percentile must be within 0..100, got {q}")
    xs = sorted(samples)
    pos = (len(xs) - 1) * q / 100
    lo, hi = math.floor(pos), math.ceil(pos)
    return xs[lo] + (xs[hi] - xs[lo]) * (pos - lo)


def summarize(samples: list[float], *, warmup: int = 0, stop_reason: StopReason = "max_runs",
              threads: int | None = None, keep_samples: int = 2000) -> LatencyStats:
    """Statistics of ``samples`` (seconds)."""
    if not samples:
        raise ValueError("no samples")
    mean = statistics.fmean(samples)
    std = statistics.stdev(samples) if len(samples) > 1 else 0.0
    return LatencyStats(
        median_s=statistics.median(samples), p90_s=percentile(samples, 90),
        p99_s=percentile(samples, 99), mean_s=mean, std_s=std, min_s=min(samples),
        max_s=max(samples), cv=std / mean if mean > 0 else 0.0, runs=len(samples), warmup=warmup,
        stop_reason=stop_reason, threads=threads, samples_s=list(samples[:keep_samples]))


def median_is_stable(samples: list[float], rel_tol: float = 0.01, window: int | None = None) -> bool:
    """True when adding the last ``window`` runs moved the median by less than ``rel_tol``."""
    n = len(samples)
    w = window or max(3, n // 5)
    if n < w + 3:
        return False
    now = statistics.median(samples)
    before = statistics.median(samples[:-w])
    return now > 0 and abs(now - before) / now < rel_tol


def time_runs(run: Callable[[Any], Any], *, setup: Callable[[], Any] | None = None,
              timer: Callable[[], float] = time.perf_counter,
              sync: Callable[[], None] | None = None, warmup: int = 3, min_runs: int = 10,
              max_runs: int = 200, budget_s: float = 20.0, rel_tol: float = 0.01,
              floor_runs: int = 3, threads: int | None = None,
              budget_timer: Callable[[], float] | None = None) -> LatencyStats:
    """Warm up, then time ``run(setup())`` until the median is stable, ``max_runs`` or the budget.

    ``setup`` (untimed) builds each run's argument, e.g. a fresh KV cache; ``sync`` waits for
    asynchronous work (CUDA) before each clock read. ``timer`` gives seconds; ``budget_timer``
    (default: ``timer``) measures the budget, warm-up included."""
    clock = budget_timer or timer
    start = clock()
    for _ in range(warmup):
        run(setup() if setup else None)
    if sync:
        sync()
    samples: list[float] = []
    reason: StopReason = "max_runs"
    while len(samples) < max_runs:
        arg = setup() if setup else None
        if sync:
            sync()
        t0 = timer()
        run(arg)
        if sync:
            sync()
        samples.append(timer() - t0)
        if len(samples) >= min_runs and median_is_stable(samples, rel_tol):
            reason = "stable"
            break
        if clock() - start >= budget_s and len(samples) >= floor_runs:
            reason = "time_budget"
            break
    return summarize(samples, warmup=warmup, stop_reason=reason, threads=threads)
