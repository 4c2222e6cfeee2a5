"""Predicted vs measured speed-up of the acceleration methods on this host (issue 14).

For each card: one experiments build (platform ``host``: the roofline uses this machine's own
micro-benchmarks, and its calibrated per-op cost model when ``reportgen calibrate`` cached one),
the (card, method, uncorrected predicted, measured) pairs from ``experiments.pairs``, then
leave-one-card-out with the product's own correction (``experiments/learning.py::correction``:
geometric mean of measured/predicted over the *other* cards, at least 2 of them, else none)
applied to the held-out card's predictions, and we count the pairs
whose corrected prediction is within ×1.5 of the measurement (target: ≥ 70 %). Raw (uncorrected)
agreement is reported beside it. Then one timed ``reportgen build --experiments`` of resnet50
(all methods, default budget; target < 3 min on the 2-core machine).

Run on a quiet machine, from the repository root:

    PYTHONPATH=. .venv/bin/python bench/experiments_bench.py --out bench/experiments_results.json

``--pairs FILE`` saves each card's measured runs to FILE and, on a later run, replays them
(only the predictions are computed again): for iterating on predictions without measuring.
Writes the JSON and prints Markdown for bench/RESULTS.md. Does not run in CI.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

CARDS = {  # 8+ cards, four domains
    "cv": ["resnet18", "resnet50", "mobilenet_v2", "efficientnet_b0"],
    "nlp": ["distilbert_base_uncased", "bert_base_uncased"],
    "speech": ["ds_cnn_s", "wav2vec2_base"],
    "recsys": ["ncf", "two_tower", "dlrm"],
}
TOLERANCE = 1.5


def replaying(saved: dict) -> Any:
    """A stand-in for ``runner.run_all`` that returns the runs measured before (``--pairs``):
    only the predictions are computed again."""
    from reportgen.analysis.experiments.models import ExperimentRun
    from reportgen.analysis.experiments.runner import Baseline
    from reportgen.analysis.measurement.timing import LatencyStats

    def run_all(*args: Any, **kwargs: Any) -> Any:
        base = Baseline(LatencyStats.model_validate(saved["baseline"]), None, None, {}, [], [])
        runs = [ExperimentRun.model_validate(r) for r in saved["runs"]]
        for r in runs:
            r.predicted_host_speedup = r.predicted_host_uncorrected = r.ratio = None
            r.host_correction, r.host_prediction_notes = None, []
        return base, runs
    return run_all


def pairs_for(card: str, budget_s: float, saved: dict | None = None
              ) -> tuple[list[dict], list[dict], float, dict]:
    """(pairs, runs, seconds, what to save for --pairs) of one card's experiments build; with
    ``saved``, the measured runs are replayed instead of measured again."""
    from reportgen import pipeline
    from reportgen.analysis.experiments import stage as xstage
    from reportgen.report.messages import render
    from reportgen.spec.schema import StudySpec

    spec = StudySpec.model_validate({
        "title": f"{card} experiments", "model": {"card": card}, "platform": "host",
        "precisions": ["fp32", "bf16", "int8"], "profiling": {"enabled": False},
        "experiments": {"enabled": True, "time_budget_s": budget_s}})
    real = xstage.run_all
    if saved is not None:
        xstage.run_all = replaying(saved)  # type: ignore[assignment]
    t0 = time.perf_counter()
    try:
        result = pipeline.run(spec, None, deterministic=False)
    finally:
        xstage.run_all = real  # type: ignore[assignment]
    seconds = time.perf_counter() - t0
    x = result.experiments
    if x is None:
        st = result.stage("experiments")
        return [], [{"card": card, "error": st.reason if st else "no experiments"}], seconds, {}
    runs = [{"card": card, "id": r.id, "state": r.state, "measured": r.speedup,
             "predicted": r.predicted_host_uncorrected,
             "not_predicted": [render(n, "en") for n in r.host_prediction_notes],
             "reason": render(r.reason, "en") if r.reason else None} for r in x.runs]
    keep = {"baseline": x.baseline.model_dump(mode="json"),
            "runs": [r.model_dump(mode="json") for r in x.runs]}
    return [p.model_dump() for p in x.pairs], runs, seconds, keep


def within(pred: float, meas: float, tol: float = TOLERANCE) -> bool:
    return pred > 0 and meas > 0 and 1 / tol <= meas / pred <= tol


def leave_one_card_out(pairs: list[dict]) -> dict:
    """The product's correction (``learning.correction``: other cards only, at least 2 of them)
    applied to each held-out card's predictions."""
    from reportgen.analysis.experiments.learning import Pair, correction

    known = [Pair(p["card"], p["method"], p["predicted_speedup"], p["measured_speedup"])
             for p in pairs if not p.get("noisy")]  # as the product: noisy pairs teach nothing
    hits = raw_hits = n = 0
    rows = []
    for p in pairs:
        c = correction(known, p["method"], p["card"])
        k = c.factor if c is not None else 1.0
        corrected = p["predicted_speedup"] * k
        ok, raw = within(corrected, p["measured_speedup"]), within(p["predicted_speedup"], p["measured_speedup"])
        hits += ok
        raw_hits += raw
        n += 1
        rows.append({**p, "corrected": corrected, "within": ok, "raw_within": raw,
                     "correction_models": c.models if c is not None else 0})
    return {"pairs": n, "within_corrected": hits, "within_raw": raw_hits,
            "share_corrected": hits / n if n else None, "share_raw": raw_hits / n if n else None,
            "rows": rows}


def resnet50_build_seconds() -> float:
    with tempfile.TemporaryDirectory() as tmp:
        spec = Path(tmp) / "r50.yaml"
        spec.write_text("title: resnet50 experiments\nmodel: {card: resnet50}\nplatform: host\n"
                        "output: {formats: [md]}\n", encoding="utf-8")
        t0 = time.perf_counter()
        subprocess.run([sys.executable, "-m", "reportgen", "build", str(spec), "-o", tmp,
                        "--experiments"], check=False)
        return time.perf_counter() - t0


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", type=Path, default=Path("bench/experiments_results.json"))
    ap.add_argument("--budget", type=float, default=150.0, help="experiments budget per card, s")
    ap.add_argument("--cards", nargs="*", help="default: all in CARDS")
    ap.add_argument("--skip-build", action="store_true", help="skip the timed resnet50 build")
    ap.add_argument("--pairs", type=Path, help="measured runs per card: reused from this file "
                    "when it holds the card (only the predictions are computed again), else "
                    "measured and saved to it")
    a = ap.parse_args()
    cards = a.cards or [c for cs in CARDS.values() for c in cs]
    saved: dict[str, dict] = {}
    if a.pairs is not None and a.pairs.is_file():
        saved = json.loads(a.pairs.read_text(encoding="utf-8"))
    all_pairs, all_runs, seconds = [], [], {}
    for card in cards:
        print(f"== {card}" + (" (replayed)" if card in saved else ""), file=sys.stderr, flush=True)
        pairs, runs, s, keep = pairs_for(card, a.budget, saved.get(card))
        all_pairs += pairs
        all_runs += runs
        seconds[card] = s
        if a.pairs is not None and card not in saved and keep:
            saved[card] = keep
            a.pairs.write_text(json.dumps(saved), encoding="utf-8")
    loo = leave_one_card_out(all_pairs)
    build_s = None if a.skip_build else resnet50_build_seconds()
    try:
        load = os.getloadavg()[0]
    except OSError:
        load = None
    from reportgen.analysis.measurement.resources import machine_info

    out = {"machine": machine_info("cpu").model_dump(), "python": platform.python_version(),
           "load_average_at_end": load, "cards": cards, "seconds": seconds, "runs": all_runs,
           "leave_one_card_out": loo, "resnet50_experiments_build_s": build_s}
    a.out.write_text(json.dumps(out, indent=2), encoding="utf-8")
    print("| card | method | predicted (host) | measured | noisy (CV > 15 %) | LOCO-corrected | within ×1.5 |")
    print("|---|---|---:|---:|---|---:|---|")
    for r in loo["rows"]:
        print(f"| {r['card']} | {r['method']} | ×{r['predicted_speedup']:.2f} | "
              f"×{r['measured_speedup']:.2f} | {'yes' if r.get('noisy') else ''} | "
              f"×{r['corrected']:.2f} | {'yes' if r['within'] else 'no'} |")
    print(f"\nprediction basis: {sorted({p.get('basis', '?') for p in all_pairs})}")
    print(f"\nwithin ×{TOLERANCE}: {loo['within_corrected']}/{loo['pairs']} after leave-one-card-out "
          f"correction, {loo['within_raw']}/{loo['pairs']} raw; resnet50 build: {build_s}")


if __name__ == "__main__":
    main()
