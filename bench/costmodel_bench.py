"""Host: measured vs predicted with the calibrated per-op cost model, every card that runs here,
batch 1 and a larger batch, in one run (issue 12's host benchmark; target ≥ 90 % of cards within
±25 % on a quiet machine).

1. ``reportgen calibrate`` (timed; target < 3 min), unless ``--reuse`` and a reusable cache exists.
2. Per card and batch: latency measured (warm-up 3, until the median is stable or ``--budget``
   s), predicted on the measured ``host`` platform at fp32 twice: with the platform's one η
   (assumptions.yaml, as before) and with the calibrated eager cost model.
3. The time a build spends loading the cached calibration (target < 1 s).
Load average before and after, and a warning when the machine was not quiet, are printed with a
Markdown section for bench/RESULTS.md. Run it only on a quiet machine.

    PYTHONPATH=. .venv/bin/python bench/costmodel_bench.py [--budget 3] [--batch 8] [--reuse]
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("HF_HUB_OFFLINE", "1")

CARDS = ["ds_cnn_s", "ncf", "two_tower", "wide_deep", "mobilenet_v3_large", "mobilenet_v2",
         "efficientnet_b0", "resnet18", "resnet50", "distilbert_base_uncased"]
WITHIN = 0.25


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--budget", type=float, default=3.0, help="timing budget per point, s")
    ap.add_argument("--batch", type=int, default=8, help="the larger batch size")
    ap.add_argument("--cards", default=",".join(CARDS))
    ap.add_argument("--reuse", action="store_true", help="reuse a cached calibration if reusable")
    args = ap.parse_args()

    import torch

    from reportgen.analysis.counting.trace import trace_forward
    from reportgen.analysis.measurement.resources import machine_info
    from reportgen.analysis.measurement.runner import make_runner, time_model
    from reportgen.analysis.prediction import host_calibration as hc
    from reportgen.analysis.prediction.roofline import estimate
    from reportgen.catalog.host import host_platform
    from reportgen.models.build import build, resolve
    from reportgen.spec.schema import StudySpec

    load0 = os.getloadavg()[0]
    t0 = time.perf_counter()
    cal = hc.load_or_calibrate(recalibrate=not args.reuse)
    cal_s = time.perf_counter() - t0
    assert cal is not None
    t0 = time.perf_counter()
    hc.load_or_calibrate(measure_if_missing=False)
    reuse_s = time.perf_counter() - t0
    host = host_platform(refresh=False)
    mach = machine_info("cpu")
    rows = []
    for card in args.cards.split(","):
        for b in (1, args.batch):
            spec = StudySpec.model_validate({"title": card, "model": {"card": card},
                                             "platform": "host", "inputs": {"batch_size": b}})
            resolved = resolve(spec)
            meta = build(resolved, device="meta")
            a, k = meta.make_inputs("meta")
            trace = trace_forward(meta.module, a, k)[0]
            one = estimate(trace, host, ["fp32"], batch_size=b, keep_ops=False).get("fp32")
            per_op = estimate(trace, host, ["fp32"], batch_size=b, keep_ops=False,
                              cost_model=cal.model).get("fp32")
            cpu = build(resolved, device="cpu")
            r = make_runner(cpu.module, cpu.make_inputs, cpu.prepare, "cpu", torch.float32)
            st = time_model(r, "cpu", warmup=3, min_runs=10, max_runs=200, budget_s=args.budget,
                            threads=torch.get_num_threads())
            del cpu, r
            rows.append((card, b, st.median_s, st.cv, one.predicted_latency_s,
                         per_op.predicted_latency_s, per_op.ideal_latency_s))
            print(f"{card:26s} b{b:<3d} measured {st.median_s * 1e3:9.3f} ms (CV {st.cv:5.1%})  "
                  f"one-η {one.predicted_latency_s * 1e3:9.3f}  per-op {per_op.predicted_latency_s * 1e3:9.3f} ms",
                  flush=True)
    load1 = os.getloadavg()[0]

    def ok(m: float, p: float | None) -> bool:
        return bool(p) and abs(m / p - 1) <= WITHIN  # type: ignore[operator]

    n_ok = sum(ok(m, p) for _, _, m, _, _, p, _ in rows)
    n_ok_old = sum(ok(m, p) for _, _, m, _, p, _, _ in rows)
    below_ideal = [(c, b) for c, b, m, _, _, _, i in rows if i and m < i]
    print("\n## Host: measured vs predicted, per-op cost model (bench/costmodel_bench.py)\n")
    print(f"Machine: {mach.cpu_model}, {mach.cores} logical cores, torch {mach.torch}, Python "
          f"{mach.python}; {torch.get_num_threads()} threads; load average (1 min) {load0:.2f} at the "
          f"start, {load1:.2f} at the end{' — NOT QUIET: rerun' if max(load0, load1) > 0.75 * (mach.cores or 1) else ''}.")
    print(f"`reportgen calibrate`: {cal_s:.0f} s{' (reused cache)' if args.reuse else ''} (target < 180 s); "
          f"loading the cached calibration in a build: {reuse_s * 1e3:.0f} ms (target < 1 s). "
          f"Calibration load {cal.load_before} → {cal.load_after}, quiet: {cal.quiet}.\n")
    print("| model | batch | measured median (CV) | one η (assumptions) | per-op cost model | measured / per-op |")
    print("|---|---:|---:|---:|---:|---:|")
    for c, b, m, cv, p1, p2, _ in rows:
        print(f"| {c} | {b} | {m * 1e3:.3g} ms ({cv:.0%}) | {p1 * 1e3:.3g} ms (×{m / p1:.2f}) | "
              f"{p2 * 1e3:.3g} ms | ×{m / p2:.2f}{'' if ok(m, p2) else ' ✗'} |")
    print(f"\nWithin ±{WITHIN:.0%}: per-op cost model {n_ok}/{len(rows)} "
          f"({n_ok / len(rows):.0%}; target ≥ 90 %), one η {n_ok_old}/{len(rows)}. "
          f"Measured below the ideal (η = 1) bound: {below_ideal or 'none'}.")
    print("Caveat: the cost model is fitted on this machine's micro-benchmarks, and the cards are "
          "validation (no card was used for fitting).")
    return 0


if __name__ == "__main__":
    sys.exit(main())
