"""Published device measurements: leave-one-out over every platform's ``calibration:`` points
(platforms.yaml). Pure arithmetic on meta traces: machine-independent, no timing.

Per point: the assumed-η prediction of the card at the published precision and batch, the ideal
(η = 1) bound, the leave-one-out calibrated prediction (``analysis/prediction/calibration.py``)
and its error factor. Summary per hardware class: share of points within ×1.5 (target ≥ 80 %)
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
        calibrate_platform,
        class_band,
    )
    from reportgen.analysis.prediction.roofline import estimate
    from reportgen.catalog.parts import CalibrationPoint
    from reportgen.catalog.platforms import load_catalog
    from reportgen.catalog.schema import Platform
    from reportgen.models.build import build, resolve
    from reportgen.spec.schema import StudySpec

    @cache
    def trace_of(card: str, batch: int, shape: str):  # type: ignore[no-untyped-def]
        inputs: dict = {"batch_size": batch}
        dims = [int(d) for d in shape.lower().split("x")] if shape else []
        if len(dims) == 4:  # NCHW image input as published
            inputs["image"] = {"channels": dims[1], "height": dims[2], "width": dims[3]}
        spec = StudySpec.model_validate({"title": card, "model": {"card": card},
                                         "platform": "raspberry_pi_5", "inputs": inputs})
        meta = build(resolve(spec), device="meta")
        a, k = meta.make_inputs("meta")
        return trace_forward(meta.module, a, k)[0]

    def pe(plat: Platform, c: CalibrationPoint):  # type: ignore[no-untyped-def]
        # the assumed-η (uncalibrated) prediction: calibration is what is being measured here
        return estimate(trace_of(c.model, c.batch, c.input), plat, [c.precision], batch_size=c.batch,
                        efficiency=efficiency_for(plat, calibrated=False),
                        keep_ops=False).get(c.precision)

    catalog = load_catalog()
    cals = []
    for plat in catalog.values():
        if not plat.calibration:
            continue
        cals.append(calibrate_platform(plat, lambda p, c: pe(p, c).predicted_latency_s,
                                       lambda p, c: pe(p, c).ideal_latency_s))
    if not cals:
        print("No platform has calibration points yet (platforms.yaml `calibration:`): nothing to validate.")
        return 0
    by_class: dict[str, list[float]] = defaultdict(list)
    below = []
    print("| platform | model | use | measured | assumed-η predicted | ideal | LOO calibrated | error |")
    print("|---|---|---|---:|---:|---:|---:|---:|")
    for cal in cals:
        klass = catalog[cal.platform_id].class_.value
        for ch in cal.checks:
            if ch.error is not None:
                by_class[klass].append(ch.error)
            if ch.below_ideal:
                below.append((cal.platform_id, ch.model))
            print(f"| {cal.platform_id} | {ch.model} | {ch.use} | {ch.measured_ms:.3g} ms | "
                  f"{f(ch.predicted_ms)} | {f(ch.ideal_ms)} | {f(ch.calibrated_ms)} | "
                  f"{f'×{ch.error:.2f}' if ch.error else '—'} |")
    print()
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
