"""Prediction vs measurement on a CUDA GPU (one prepared run on a GPU machine, < 4 minutes).

Builds the resnet50 and bert_base_uncased cards through the pipeline (model → trace → platform →
roofline on ``nvidia_h100_sxm``), then measures each on CUDA in fp32 and fp16 with
``reportgen.analysis.measurement.sweep.measure`` (CUDA events, CUDA profiler activity, peak GPU memory)
and compares with the roofline on the same catalog platform. Prints a table and writes JSON to
``$OUT/gpu_measure.json`` (or ``bench/gpu_measure.json``). Offline; needs only the repo + venv.

    .venv/bin/python bench/gpu_measure.py [--budget 8] [--platform nvidia_h100_sxm]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("HF_HUB_OFFLINE", "1")

CARDS = ["resnet50", "bert_base_uncased"]
PRECISIONS = ["fp32", "fp16"]  # the CPU dry run uses fp32 and bf16


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--budget", type=float, default=8.0, help="timing budget per measurement, s")
    ap.add_argument("--platform", default="nvidia_h100_sxm", help="catalog id to predict on")
    ap.add_argument("--cards", default=",".join(CARDS))
    ap.add_argument("--device", default="cuda", help="cuda; cpu only to dry-run this script")
    args = ap.parse_args()

    import torch

    from reportgen import pipeline
    from reportgen.analysis.measurement.measure import comparison_for
    from reportgen.analysis.measurement.sweep import measure
    from reportgen.spec.schema import Profiling, StudySpec

    if args.device == "cuda" and not torch.cuda.is_available():
        print("no CUDA device: nothing to measure", file=sys.stderr)
        return 2
    gpu = torch.cuda.get_device_name(0) if args.device == "cuda" else "cpu (dry run)"
    t_all = time.perf_counter()
    out: dict[str, object] = {
        "gpu": gpu, "torch": torch.__version__, "cuda": torch.version.cuda,
        "platform_predicted_on": args.platform,
        "tf32": {"matmul": torch.backends.cuda.matmul.allow_tf32,
                 "cudnn": torch.backends.cudnn.allow_tf32},
        "budget_s": args.budget, "models": []}
    rows = []
    for card in args.cards.split(","):
        spec = StudySpec.model_validate({
            "title": f"{card} on {args.platform}", "model": {"card": card},
            "platform": args.platform, "precisions": PRECISIONS})
        names = ("model", "trace", "costs", "platform", "roofline")
        ctx_result = pipeline.run(spec, stages=[s for s in pipeline.STAGES if s.name in names])
        bad = [s for s in ctx_result.stages if s.state != "ok"]
        if bad:
            print(f"{card}: stage {bad[0].name} {bad[0].state}: {bad[0].reason}", file=sys.stderr)
            continue
        # the pipeline keeps its products private: rebuild resolved + trace the same way
        from reportgen.analysis.counting.trace import trace_forward
        from reportgen.models.build import build, resolve

        resolved = resolve(spec)
        loaded = build(resolved, device="meta")
        a, k = loaded.make_inputs("meta")
        trace = trace_forward(loaded.module, a, k)[0]
        est = ctx_result.roofline
        entry: dict[str, object] = {"card": card, "inputs": loaded.input_description, "runs": []}
        for prec in (PRECISIONS if args.device == "cuda" else ["fp32"]):
            t0 = time.perf_counter()
            run = measure(resolved, trace, Profiling(time_budget_s=args.budget, warmup=5,
                                                     min_runs=20, max_runs=500,
                                                     batch_sizes=[1, 8, 32], threads=[1]),
                          device=args.device, precision=prec, platform=args.platform)
            cmp = comparison_for(run, trace)
            pe = est.get(prec) if est else None
            predicted = pe.predicted_latency_s if pe else None
            ideal = pe.ideal_latency_s if pe else None
            lat = run.latency
            rec = {
                "precision": prec, "measured_median_s": lat.median_s, "measured_p90_s": lat.p90_s,
                "measured_std_s": lat.std_s, "runs": lat.runs, "stop_reason": lat.stop_reason,
                "predicted_s": predicted, "ideal_s": ideal,
                "ratio_measured_over_predicted": lat.median_s / predicted if predicted else None,
                "achieved_efficiency_ideal_over_measured": ideal / lat.median_s if ideal else None,
                "batches": [{"batch": b.batch_size, "median_s": b.latency.median_s,
                             "throughput_per_s": b.throughput_per_s} for b in run.batches],
                "device_peak_bytes": run.profile.device_peak_bytes if run.profile else None,
                "groups": [g.model_dump() for g in cmp.groups],
                "flags": [f.model_dump() for f in cmp.flags],
                "top_ops": [o.model_dump() for o in (run.profile.ops[:10] if run.profile else [])],
                "seconds": time.perf_counter() - t0}
            entry["runs"].append(rec)  # type: ignore[union-attr]
            rows.append((card, prec, lat.median_s, lat.std_s, lat.runs, predicted, ideal))
            print(f"{card:18s} {prec}: measured {lat.median_s * 1e3:8.3f} ms ± {lat.std_s * 1e3:.3f} "
                  f"(n={lat.runs})  predicted {predicted * 1e3 if predicted else float('nan'):8.3f} ms  "
                  f"ideal {ideal * 1e3 if ideal else float('nan'):8.3f} ms  "
                  f"ratio ×{(lat.median_s / predicted) if predicted else float('nan'):.2f}", flush=True)
        out["models"].append(entry)  # type: ignore[union-attr]
    out["seconds"] = time.perf_counter() - t_all
    dest = Path(os.environ["OUT"]) if os.environ.get("OUT") else ROOT / "bench"
    dest.mkdir(parents=True, exist_ok=True)
    (dest / "gpu_measure.json").write_text(json.dumps(out, indent=2), encoding="utf-8")
    print(f"GPU {gpu}, torch {torch.__version__}; total {out['seconds']:.1f} s → "
          f"{dest / 'gpu_measure.json'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
