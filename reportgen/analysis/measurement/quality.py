"""How far a measurement can be trusted: machine load, CPU clock, contention and physically
impossible results. Pure Python; the samplers (load average, CPU frequency, CPU times) are
injected so the logic is tested without a loaded machine.

A measurement is **noisy** when, during it,

* the run-to-run coefficient of variation is above ``CV_NOISY`` (15 %), or
* the 1-minute load average (before or after) is above the number of logical cores (other
  processes wanted more CPUs than exist), or
* the CPU clock dropped by more than ``FREQ_DROP`` (15 %) between before and after (throttling).

The measure stage re-times a noisy latency once and keeps the run with the lower CV; if it is
still noisy it is marked so, and its numbers are shown but feed no finding.

A result is **implausible** (rejected, with a note instead of a finding) when an op class runs
faster than its ideal bound (achieved efficiency above ``EFFICIENCY_MAX``: the bound or the
measurement is wrong), or when more threads made the model clearly slower (speed-up below
``THREAD_SPEEDUP_MIN`` at a higher thread count: contention, not the model).
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from typing import TypeVar

from pydantic import BaseModel, ConfigDict, Field

from reportgen.text import Msg, msg

CV_NOISY = 0.15
# experiments: the baseline timed before and after the methods may differ by this factor at most
# before every measured speed-up is marked noisy (the machine's load changed meanwhile)
BASELINE_DRIFT = 1.5
FREQ_DROP = 0.15
EFFICIENCY_MAX = 1.0
THREAD_SPEEDUP_MIN = 0.8


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class LoadSample(Strict):
    """The machine's state at one moment: 1-minute load average and current CPU clock."""

    load_avg_1m: float | None = Field(None, description="os.getloadavg()[0]; None where missing")
    cpu_freq_mhz: float | None = Field(None, description="psutil.cpu_freq().current, MHz")


class CpuUse(Strict):
    """CPU time of this process during the timed runs (time.process_time): measured."""

    process_cpu_s: float = Field(description="user + system CPU seconds of this process")
    wall_s: float
    busy_cores: float = Field(description="process CPU s / wall s: cores kept busy on average")
    utilisation: float | None = Field(None, description="busy cores / intra-op threads")
    mechanism: str = "time.process_time() (user + system of this process) around the timed runs"


class MeasurementQuality(Strict):
    """Load before/after, CPU use, contention verdict and implausible results, with reasons."""

    cores: int | None = None
    before: LoadSample
    after: LoadSample
    cpu: CpuUse | None = None
    cv: float = Field(description="coefficient of variation of the kept latency runs")
    cv_threshold: float = CV_NOISY
    retimed: bool = Field(False, description="the latency was timed a second time (noisy first)")
    noisy: bool = False
    reasons: list[Msg] = Field(default_factory=list, description="why it is noisy")
    implausible: list[Msg] = Field(default_factory=list,
                                   description="results rejected as physically impossible")

    @property
    def trusted(self) -> bool:
        """Neither noisy nor holding an impossible result: may feed findings."""
        return not self.noisy and not self.implausible


# ---------------------------------------------------------------------------- samplers

def sample_load() -> LoadSample:
    """Load average and CPU clock now (None for what this OS does not expose)."""
    try:
        load: float | None = os.getloadavg()[0]
    except (OSError, AttributeError):
        load = None
    freq: float | None = None
    try:
        import psutil

        f = psutil.cpu_freq()
        freq = float(f.current) if f and f.current else None
    except Exception:  # psutil missing or no cpufreq on this VM: unknown
        freq = None
    return LoadSample(load_avg_1m=load, cpu_freq_mhz=freq)


def process_cpu_seconds() -> float:
    """User + system CPU seconds of this process, all threads, with the clock's resolution
    (``time.process_time``: CLOCK_PROCESS_CPUTIME_ID; ``os.times`` counts 10 ms ticks, and a
    10 ms window of timed runs read 0 CPU seconds)."""
    return time.process_time()


def cpu_use(cpu_s: float, wall_s: float, threads: int | None) -> CpuUse | None:
    if wall_s <= 0:
        return None
    busy = cpu_s / wall_s
    return CpuUse(process_cpu_s=cpu_s, wall_s=wall_s, busy_cores=busy,
                  utilisation=busy / threads if threads else None)


# ---------------------------------------------------------------------------- verdicts

def contention(cv: float, before: LoadSample, after: LoadSample, cores: int | None,
               cv_threshold: float = CV_NOISY) -> list[Msg]:
    """Reasons the timing is noisy (empty: it is not)."""
    out: list[Msg] = []
    if cv > cv_threshold:
        out.append(msg("quality.cv", cv=cv, threshold=cv_threshold))
    loads = [s.load_avg_1m for s in (before, after) if s.load_avg_1m is not None]
    if cores and loads and max(loads) > cores:
        out.append(msg("quality.load", load=max(loads), cores=cores))
    f0, f1 = before.cpu_freq_mhz, after.cpu_freq_mhz
    if f0 and f1 and f1 < (1 - FREQ_DROP) * f0:
        out.append(msg("quality.freq", before=f0, after=f1))
    return out


def assess(cv: float, before: LoadSample, after: LoadSample, cores: int | None, *,
           cpu: CpuUse | None = None, retimed: bool = False,
           cv_threshold: float = CV_NOISY) -> MeasurementQuality:
    reasons = contention(cv, before, after, cores, cv_threshold)
    return MeasurementQuality(cores=cores, before=before, after=after, cpu=cpu, cv=cv,
                              cv_threshold=cv_threshold, retimed=retimed, noisy=bool(reasons),
                              reasons=reasons)


def implausible_efficiency(groups: list[tuple[str, float | None]]) -> list[Msg]:
    """(op class, achieved efficiency = ideal / measured) → notes for those above the bound."""
    return [msg("quality.beats_bound", group=msg(f"quality.group.{g}"), efficiency=e)
            for g, e in groups if e is not None and e > EFFICIENCY_MAX]


def implausible_threads(points: list[tuple[int, float]]) -> list[Msg]:
    """(threads, speed-up vs the fewest threads) → notes where more threads were clearly slower."""
    if not points:
        return []
    pts = sorted(points)
    base = pts[0][0]
    return [msg("quality.thread_slowdown", threads=n, base=base, speedup=s)
            for n, s in pts[1:] if n > base and s < THREAD_SPEEDUP_MIN]


T = TypeVar("T")


def timed_with_retry(time_once: Callable[[], tuple[float, T]], before: LoadSample,
                     now: Callable[[], LoadSample], cores: int | None,
                     cv_threshold: float = CV_NOISY) -> tuple[T, bool]:
    """Time once; when that was noisy, time again and keep the run with the lower CV.

    ``time_once`` returns (cv, result). Returns (kept result, whether it was re-timed)."""
    cv, res = time_once()
    if not contention(cv, before, now(), cores, cv_threshold):
        return res, False
    cv2, res2 = time_once()
    return (res2 if cv2 < cv else res), True
