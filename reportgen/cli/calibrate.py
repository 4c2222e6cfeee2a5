"""``reportgen calibrate``: fit this machine's per-op cost model from micro-benchmarks (eager
PyTorch, CPU, under a minute), correct it with a few synthetic reference networks timed whole,
and cache it with the machine's identity and load
(``analysis/prediction/host_calibration.py``). Builds then reuse the cache without measuring.

Mounted by ``register(app)``; torch is imported when the command runs.
"""

from __future__ import annotations

from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

out = Console(highlight=False)


def calibrate(
    recalibrate: Annotated[bool, typer.Option("--recalibrate", help="Measure again even when a reusable calibration is cached (also refreshes the host matmul/copy benchmark).")] = False,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="Print only the cache path.")] = False,
) -> None:
    """Calibrate the per-op cost model of this machine (cached; reused while identity and load match)."""
    from reportgen.analysis.prediction.host_calibration import cache_path, load_or_calibrate

    cal = load_or_calibrate(recalibrate, log=None if quiet else (lambda s: out.print("  " + s, markup=False)))
    assert cal is not None
    path = cache_path(cal.identity)
    if quiet:
        out.print(str(path), markup=False)
        return
    out.print(f"{cal.identity.cpu_model}, {cal.identity.cores} cores, {cal.identity.threads} threads, "
              f"torch {cal.identity.torch}; load {cal.load_before} → {cal.load_after} "
              f"({'quiet' if cal.quiet else 'LOADED: marked noisy, recalibrate on a quiet machine'}); "
              f"{cal.seconds:.0f} s; peak {cal.peak_flops / 1e9:.1f} GFLOP/s, {cal.bandwidth / 1e9:.1f} GB/s",
              markup=False)
    t = Table("regime", "η_c", "η_m", "overhead µs", "points", "fit error")
    for reg, p in sorted(cal.model.params.items()):
        t.add_row(reg.value, f"{p.eta_c:.3g}", f"{p.eta_m:.3g}", f"{p.overhead_us:.3g}", str(p.points),
                  f"{p.fit_error:.1%}" if p.fit_error is not None else "—")
    out.print(t)
    im = cal.model.in_model
    if im is not None:
        out.print(f"in-model correction from {im.points} reference runs ({', '.join(im.networks)}): "
                  f"RMS error {_pct(im.fit_error_before)} with the micro-benchmarks alone → "
                  f"{_pct(im.fit_error)} corrected", markup=False)
        t = Table("op group", "factor", "extra overhead µs")
        for g in im.groups:
            t.add_row(g.group.value, f"×{g.factor:.3g}", f"{g.extra_overhead_us:.3g}")
        out.print(t)
    out.print(f"cached: {path}", markup=False)


def _pct(x: float | None) -> str:
    return f"{x:.0%}" if x is not None else "—"


def register(app: typer.Typer) -> None:
    app.command("calibrate")(calibrate)
