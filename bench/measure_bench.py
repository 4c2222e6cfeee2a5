"""Measured vs predicted on this host for the shipped cards small enough to run here.

For each card: three independent measurements (model rebuilt each time; latency only, batch 1,
all cores) → median latency with its spread, the coefficient of variation of the three medians
(target < 5 %), and the roofline prediction on the measured ``host`` platform (fp32) with the
ratio measured / predicted. Then one full ``reportgen build`` of resnet50 with measurement
(md only), timed (target < 60 s). Prints a Markdown section for bench/RESULTS.md.

    .venv/bin/python bench/measure_bench.py [--budget 4] [--cards a,b] [--skip-build]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("HF_HUB_OFFLINE", "1")

CARDS = ["ds_cnn_s", "ncf", "two_tower", "wide_deep", "mobilenet_v3_large", "mobilenet_v2",
         "efficientnet_b0", "resnet18", "resnet50", "distilbert_base_uncased"]


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--budget", type=float, default=4.0, help="timing budget per measurement, s")
    ap.add_argument("--cards", default=",".join(CARDS))
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--skip-build", action="store_true")
    args = ap.parse_args()

    import torch

    from reportgen.analysis.counting.trace import trace_forward
    from reportgen.analysis.measurement.resources import machine_info
    from reportgen.analysis.measurement.runner import make_runner, time_model
    from reportgen.analysis.prediction.roofline import estimate
    from reportgen.catalog.host import host_platform
    from reportgen.models.build import build, resolve
    from reportgen.spec.schema import StudySpec

    host = host_platform()
    mach = machine_info("cpu")
    load0 = os.getloadavg()
    rows = []
    for card in args.cards.split(","):
        spec = StudySpec.model_validate({"title": card, "model": {"card": card}, "platform": "host"})
        resolved = resolve(spec)
        meta = build(resolved, device="meta")
        a, k = meta.make_inputs("meta")
        trace = trace_forward(meta.module, a, k)[0]
        pe = estimate(trace, host, ["fp32"], batch_size=resolved.inputs.batch_size,
                      keep_ops=False).get("fp32")
        medians, stds, runs = [], [], []
        for _ in range(args.repeats):
            cpu = build(resolved, device="cpu")
            r = make_runner(cpu.module, cpu.make_inputs, cpu.prepare, "cpu", torch.float32)
            st = time_model(r, "cpu", warmup=3, min_runs=10, max_runs=200, budget_s=args.budget,
                            threads=torch.get_num_threads())
            medians.append(st.median_s)
            stds.append(st.std_s)
            runs.append(st.runs)
            del cpu, r
        med = statistics.median(medians)
        cv = statistics.stdev(medians) / statistics.fmean(medians) if len(medians) > 1 else 0.0
        pred = pe.predicted_latency_s
        rows.append((card, meta.input_description, med, statistics.fmean(stds), sum(runs), cv, pred))
        print(f"{card:26s} median {med * 1e3:9.3f} ms  std {statistics.fmean(stds) * 1e3:8.3f} ms  "
              f"runs {sum(runs):4d}  CV(medians) {cv:6.1%}  predicted {pred * 1e3 if pred else float('nan'):8.3f} ms  "
              f"ratio ×{med / pred if pred else float('nan'):.2f}", flush=True)

    build_s = None
    if not args.skip_build:
        with tempfile.TemporaryDirectory() as d:
            spec_path = Path(d) / "resnet50.yaml"
            spec_path.write_text("title: ResNet-50 on this host\nmodel: {card: resnet50}\n"
                                 "platform: raspberry_pi_5\noutput: {formats: [md]}\n", encoding="utf-8")
            t0 = time.perf_counter()
            res = subprocess.run([sys.executable, "-m", "reportgen", "build", str(spec_path),
                                  "-o", str(Path(d) / "out")], capture_output=True, text=True,
                                 cwd=ROOT, env={**os.environ, "PYTHONPATH": os.pathsep.join(
                                     [str(ROOT), os.environ.get("PYTHONPATH", "")])})
            build_s = time.perf_counter() - t0
            print(f"resnet50 full build with measurement: {build_s:.1f} s (exit {res.returncode})")
            if res.returncode not in (0, 1):
                print(res.stderr[-2000:])
    load1 = os.getloadavg()

    print("\n## Measured vs predicted on the host (bench/measure_bench.py)\n")
    print(f"Machine: {mach.cpu_model}, {mach.cores} logical cores, {(mach.ram_bytes or 0) / 1e9:.1f} GB "
          f"RAM, torch {mach.torch}, Python {mach.python}. Load average (1 min) {load0[0]:.2f} at the "
          f"start, {load1[0]:.2f} at the end (a shared machine). Host platform as measured by "
          f"catalog.host: fp32 {host.peak('fp32').value:g} TFLOPS, {host.bandwidth().value:g} GB/s.\n")
    print(f"Each model: {args.repeats} independent measurements (model rebuilt), warm-up 3, runs until "
          f"the median is stable within 1 % (≥ 10 runs) or {args.budget:g} s; batch 1, fp32, "
          f"{torch.get_num_threads()} threads. Predicted: roofline on `host` at fp32 with the "
          "assumed η and per-op overhead.\n")
    print("| model | inputs | measured median | mean std of runs | runs | CV of the 3 medians | "
          "predicted (host) | measured / predicted |")
    print("|---|---|---:|---:|---:|---:|---:|---:|")
    for card, desc, med, std, n, cv, pred in rows:
        print(f"| {card} | {desc} | {med * 1e3:.3g} ms | {std * 1e3:.3g} ms | {n} | {cv:.1%} | "
              f"{pred * 1e3:.3g} ms | ×{med / pred:.2f} |" if pred else f"| {card} | {desc} | "
              f"{med * 1e3:.3g} ms | {std * 1e3:.3g} ms | {n} | {cv:.1%} | — | — |")
    if build_s is not None:
        print(f"\nFull `reportgen build` of resnet50 with measurement (default profiling options, "
              f"20 s timing budget; md only): {build_s:.1f} s (target < 60 s).")
    return 0


if __name__ == "__main__":
    sys.exit(main())
