"""Batch build benchmark: every study in examples/, static stages only (snapshot mode, no host
measurement), Markdown only, through the real CLI, with -j 1 and -j 2.

    .venv/bin/python bench/batch_bench.py [--jobs 1 2] [--formats md]

Prints one Markdown table row per run; the acceptance target is under 5 minutes for the batch.
The machine's load average is printed too: other processes on a 2-core machine skew the numbers.
"""

from __future__ import annotations

import argparse
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def machine() -> str:
    cpu = platform.processor() or "?"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    import torch

    return (f"{platform.node()} {platform.machine()}, {os.cpu_count()} cores ({cpu}), "
            f"Python {platform.python_version()}, torch {torch.__version__}")


def run(jobs: int, formats: str) -> tuple[float, int, str]:
    specs = sorted(str(p) for p in (ROOT / "examples").glob("*.yaml"))
    exe = Path(sys.executable).with_name("reportgen")
    with tempfile.TemporaryDirectory() as out:
        load0 = os.getloadavg()[0]
        t0 = time.perf_counter()
        proc = subprocess.run([str(exe), "build", *specs, "--deterministic", "--format", formats,
                               "-o", out, "-j", str(jobs)], capture_output=True, text=True, cwd=ROOT)
        wall = time.perf_counter() - t0
        ok = sum((Path(out) / Path(s).stem / f"report.{formats.split(',')[0]}").is_file() for s in specs)
    errors = [ln.strip() for ln in proc.stderr.splitlines() if ln.startswith("error:")]
    note = f"exit {proc.returncode}, {ok}/{len(specs)} built, load avg at start {load0:.1f}"
    return wall, ok, note + "".join(f"; {e[:200]}" for e in errors)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--jobs", type=int, nargs="+", default=[1, 2])
    ap.add_argument("--formats", default="md")
    args = ap.parse_args()
    print(f"Machine: {machine()}")
    print("| -j | wall | result |\n|---:|---:|---|")
    for j in args.jobs:
        wall, _, note = run(j, args.formats)
        print(f"| {j} | {wall:.0f} s ({wall / 60:.1f} min) | {note} |", flush=True)


if __name__ == "__main__":
    main()
