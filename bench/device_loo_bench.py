"""Published device measurements: leave-one-out over every platform's ``calibration:`` points
(platforms.yaml). Pure arithmetic on meta traces: machine-independent, no timing.

Per point: the assumed-η prediction of the model at the published precision and batch, split
into η-limited time, on-device op count and fallback-host time, the ideal (η = 1) bound, the
leave-one-out calibrated prediction (scale s on η, fitted per-op overhead;
``analysis/prediction/calibration.py``) and its error factor. A point's ``model`` is a model
card id, or else a torchvision classification model name (built with ``weights=None``). Summary per hardware class: share of points within ×1.5 (target ≥ 80 %)
and every point measured below the ideal bound (target: none; each one means a wrong catalog
peak or byte count).

    PYTHONPATH=. .venv/bin/python bench/device_loo_bench.py [--write]

``--write`` stores the result in reportgen/catalog/calibration.json, which the roofline reads.
"""

from __future__ import annotations

import os
import sys
from collections import defaultdict
from functools import cache
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("HF_HUB_OFFLINE", "1")


def f(x: float | None) -> str:
    return f"{x:.3g} ms" if x is not None else "—"


def main() -> int:
    from reportgen.analysis.counting.trace import trace_forward
    from reportgen.analysis.prediction.assumptions import efficiency_for
    from reportgen.analysis.prediction.calibration import (
        CALIBRATION_PATH,
        CalibrationTable,
        LatencyParts,
        calibrate_platform,
        class_band,
    )
    from reportgen.analysis.prediction.roofline import estimate
    from reportgen.analysis.prediction.runtime import deployed_trace, deployment_runtime
    from reportgen.catalog.cards import card_ids
    from reportgen.catalog.parts import CalibrationPoint
    from reportgen.catalog.platforms import load_catalog
    from reportgen.catalog.schema import Platform
    from reportgen.models.build import build, resolve
    from reportgen.spec.schema import StudySpec

    @cache
    def trace_of(card: str, batch: int, shape: str, kw: tuple = ()):  # type: ignore[no-untyped-def]
        inputs: dict = {"batch_size": batch}
        dims = [int(d) for d in shape.lower().split("x")] if shape else []
        if len(dims) == 4:  # NCHW image input as published
            inputs["image"] = {"channels": dims[1], "height": dims[2], "width": dims[3]}
        elif len(dims) == 2:  # batch x tokens, as published for a text model
            inputs["text"] = {"sequence_length": dims[1]}
        # a model card, or a torchvision classifier as published (googlenet without the
        # training-only auxiliary heads, as in its pretrained weights)
        model = ({"card": card} if card in card_ids() and not kw else
                 {"source": "torchvision", "name": card,
                  "kwargs": ({"aux_logits": False, "init_weights": False}
                             if card in ("googlenet", "inception_v3") else {}) | dict(kw)})
        spec = StudySpec.model_validate({"title": card, "model": model,
                                         "platform": "raspberry_pi_5", "inputs": inputs})
        meta = build(resolve(spec), device="meta")
        a, k = meta.make_inputs("meta")
        return trace_forward(meta.module, a, k)[0]

    estimates: dict = {}

    unfused = [False]  # the second pass: every point on the traced model as is

    def pe(plat: Platform, c: CalibrationPoint):  # type: ignore[no-untyped-def]
        # the assumed-η (uncalibrated) prediction: calibration is what is being measured here.
        # A point measured on a compiled runtime (TensorRT, ncnn, the Edge TPU compiler) is
        # predicted on the trace as such a runtime runs it (BatchNorm folded, elementwise chains
        # fused), as a report predicts a compiled baseline; the second pass fits the same points
        # on the unfused model, for eager predictions of the board
        kw = tuple(sorted(c.kwargs.items()))
        key = (plat.id, c.model, c.input, c.precision, c.batch, kw, unfused[0])
        if c.unit is not None:  # measured on another unit than the default: predict that one
            plat = plat.model_copy(update={"default_unit": c.unit})
        if key not in estimates:
            tr = trace_of(c.model, c.batch, c.input, kw)
            if c.runtime_kind == "compiled" and not unfused[0]:
                tr = deployed_trace(tr, deployment_runtime(plat, "compiled"))
            estimates[key] = estimate(tr, plat, [c.precision],
                                      batch_size=c.batch,
                                      efficiency=efficiency_for(plat, calibrated=False)
                                      ).get(c.precision)
        return estimates[key]

    def parts(plat: Platform, c: CalibrationPoint) -> LatencyParts | float | None:
        e = pe(plat, c)
        if e.status != "ok" or not e.predicted_latency_s:
            return e.predicted_latency_s  # nothing to split: fitted with one scale
        o_us = efficiency_for(plat, calibrated=False).op_overhead_us
        n = sum(1 for o in e.ops if o.on_device and o.bound != "none" and o.predicted_time_s is not None)
        fixed = e.fallback_time_s or 0.0
        return LatencyParts(scaled_s=max(0.0, e.predicted_latency_s - fixed - n * o_us * 1e-6),
                            ops=n, overhead_us=o_us, fixed_s=fixed)

    catalog = load_catalog()
    cals = []
    for plat in catalog.values():
        if not plat.calibration:
            continue
        eff = efficiency_for(plat, calibrated=False)
        unfused[0] = False
        cal = calibrate_platform(plat, parts, lambda p, c: pe(p, c).ideal_latency_s,
                                 min_scale=max(eff.eta_c, eff.eta_m))
        if cal.runtime_kind == "compiled":
            unfused[0] = True
            eager = calibrate_platform(plat, parts, lambda p, c: pe(p, c).ideal_latency_s,
                                       min_scale=max(eff.eta_c, eff.eta_m))
            cal = cal.model_copy(update={"unfused": eager.model_copy(update={"runtime_kind": "eager"})})
        cals.append(cal)
    if not cals:
        print("No platform has calibration points yet (platforms.yaml `calibration:`): nothing to validate.")
        return 0
    by_class: dict[str, list[float]] = defaultdict(list)
    below = []
    print("| platform | model | use | measured | assumed-η predicted | ideal | LOO calibrated | error |")
    print("|---|---|---|---:|---:|---:|---:|---:|")
    fitted = []
    for cal in cals:
        klass = catalog[cal.platform_id].class_.value
        o = f"{cal.overhead_us:.1f} µs" if cal.overhead_us is not None else "assumed × s"
        fitted.append(f"- {cal.platform_id}: fitted on {', '.join(cal.fit_models) or '—'}: "
                      f"s = {cal.scale:.3f} (η ÷ s), per-op overhead {o}; "
                      f"leave-one-out band ×{cal.band or float('nan'):.2f}"
                      + (f"; on the unfused model (applied to eager predictions): s = "
                         f"{cal.unfused.scale:.3f}, per-op overhead {cal.unfused.overhead_us or 0:.1f} µs, "
                         f"band ×{cal.unfused.band or float('nan'):.2f}" if cal.unfused else ""))
        for ch in cal.checks:
            if ch.error is not None:
                by_class[klass].append(ch.error)
            if ch.below_ideal:
                below.append((cal.platform_id, ch.model))
            print(f"| {cal.platform_id} | {ch.model} | {ch.use} | {ch.measured_ms:.3g} ms | "
                  f"{f(ch.predicted_ms)} | {f(ch.ideal_ms)} | {f(ch.calibrated_ms)} | "
                  f"{f'×{ch.error:.2f}' if ch.error else '—'} |")
    print()
    print("\n".join(fitted))
    for klass, errs in sorted(by_class.items()):
        ok = sum(e <= 1.5 for e in errs)
        print(f"- {klass}: {ok}/{len(errs)} within ×1.5 ({ok / len(errs):.0%}; target ≥ 80 %); "
              f"uncalibrated band for this class ×{class_band(cals, catalog, klass) or float('nan'):.2f}")
    print(f"- measured below the ideal bound: {below or 'none'} (target: none)")
    classes = sorted({p.class_.value for p in catalog.values()})
    table = CalibrationTable(platforms={c.platform_id: c for c in cals},
                             class_bands={k: b for k in classes
                                          if (b := class_band(cals, catalog, k)) is not None})
    if "--write" in sys.argv:
        CALIBRATION_PATH.write_text(table.model_dump_json(indent=1) + "\n", encoding="utf-8")
        print(f"- wrote {CALIBRATION_PATH.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
