"""Platform calibration from published measurements (``calibration:`` in platforms.yaml) and
the error band every prediction carries. Pure Python; the predictor is injected.

A platform's points with ``use: fit`` (at most two) set one scale factor s on the platform's
assumed-η prediction: s = geometric mean of measured / predicted over the fitting points, so a
calibrated prediction is s × the assumed one (equivalently: η_c, η_m and the overhead all
divided by s, clipped so η ≤ 1). The error band is measured by leave-one-out over *all* the
platform's points (fit and validation): for each point, s is refitted on the fitting points
without it (or all fitting points for a validation point) and the error is
max(measured / predicted, predicted / measured). The band is the largest such factor, reported
as "×band". Uncalibrated platforms get the band measured over the calibrated platforms of the
same class (their *uncalibrated* error: s = 1), or no band when none exists.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from functools import cache
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field

from reportgen.catalog.parts import CalibrationPoint
from reportgen.catalog.schema import Platform
from reportgen.text import Msg, msg

#: written by ``bench/device_loo_bench.py --write`` from the catalog's ``calibration:`` points
CALIBRATION_PATH = Path(__file__).resolve().parents[2] / "catalog" / "calibration.json"

Predictor = Callable[[Platform, CalibrationPoint], float | None]  # predicted latency, s


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class PointCheck(Strict):
    model: str
    use: str
    measured_ms: float
    predicted_ms: float | None = Field(description="uncalibrated (assumed η) prediction")
    calibrated_ms: float | None = Field(None, description="leave-one-out calibrated prediction")
    ideal_ms: float | None = None
    error: float | None = Field(None, description="max(m/p, p/m) of the leave-one-out prediction")
    below_ideal: bool = Field(False, description="measured faster than the η = 1 bound")


class PlatformCalibration(Strict):
    """What a prediction says about its calibration: on what, the scale and the error band."""

    platform_id: str
    calibrated: bool
    fit_models: list[str] = Field(default_factory=list)
    scale: float = Field(1.0, description="measured / assumed-η prediction (geometric mean)")
    points: int = 0
    band: float | None = Field(None, description="leave-one-out error factor (×)")
    band_from: str = Field("none", description="own (leave-one-out) | class:<name> | none")
    checks: list[PointCheck] = Field(default_factory=list)


def _scale(pairs: list[tuple[float, float]]) -> float:
    """Geometric mean of measured / predicted (1 when there is nothing to fit)."""
    logs = [math.log(m / p) for m, p in pairs if m > 0 and p > 0]
    return math.exp(sum(logs) / len(logs)) if logs else 1.0


def calibrate_platform(plat: Platform, predict: Predictor,
                       ideal: Predictor | None = None) -> PlatformCalibration:
    pts = plat.calibration
    preds = [predict(plat, c) for c in pts]
    ideals = [ideal(plat, c) if ideal else None for c in pts]
    fit = [(i, c) for i, c in enumerate(pts) if c.use == "fit" and preds[i]]
    out = PlatformCalibration(platform_id=plat.id, calibrated=bool(fit),
                              fit_models=[c.model for _, c in fit],
                              scale=_scale([(c.latency_ms / 1e3, preds[i] or 0.0) for i, c in fit]),
                              points=len(pts))
    errors: list[float] = []
    for i, c in enumerate(pts):
        p = preds[i]
        if p is None:
            out.checks.append(PointCheck(model=c.model, use=c.use, measured_ms=c.latency_ms,
                                         predicted_ms=None))
            continue
        others = [(pts[j].latency_ms / 1e3, preds[j] or 0.0) for j, _ in fit if j != i]
        s = _scale(others) if others else 1.0
        cal = p * s
        m = c.latency_ms / 1e3
        err = max(m / cal, cal / m)
        errors.append(err)
        idl = ideals[i]
        out.checks.append(PointCheck(model=c.model, use=c.use, measured_ms=c.latency_ms,
                                     predicted_ms=p * 1e3, calibrated_ms=cal * 1e3,
                                     ideal_ms=idl * 1e3 if idl else None, error=err,
                                     below_ideal=bool(idl and m < idl)))
    if out.calibrated and errors:
        out.band, out.band_from = max(errors), "own"
    return out


def class_band(calibrations: list[PlatformCalibration], platforms: dict[str, Platform],
               klass: str) -> float | None:
    """Error factor of *uncalibrated* (s = 1) predictions over the calibrated platforms of
    ``klass``: the band an uncalibrated platform of that class carries."""
    errs = [max(ch.measured_ms / ch.predicted_ms, ch.predicted_ms / ch.measured_ms)
            for cal in calibrations if platforms[cal.platform_id].class_.value == klass
            for ch in cal.checks if ch.predicted_ms]
    return max(errs) if errs else None


class CalibrationTable(Strict):
    """``catalog/calibration.json``: every calibrated platform and the per-class uncalibrated band."""

    platforms: dict[str, PlatformCalibration] = Field(default_factory=dict)
    class_bands: dict[str, float] = Field(default_factory=dict)


@cache
def load_calibration() -> CalibrationTable:
    if not CALIBRATION_PATH.exists():
        return CalibrationTable()
    return CalibrationTable.model_validate_json(CALIBRATION_PATH.read_text(encoding="utf-8"))


class CalibrationInfo(Strict):
    """What a platform's predictions say about calibration (on PlatformEstimate)."""

    calibrated: bool
    fit_models: list[str] = Field(default_factory=list)
    scale: float = Field(1.0, description="prediction = scale × the assumed-η prediction")
    points: int = Field(0, description="published measurements of this platform")
    band: float | None = Field(None, description="error factor (×): own leave-one-out, or the "
                                                 "class's uncalibrated band")
    band_from: str = Field("none", description="own | class | none")
    basis_msg: Msg


def _accepted(cal: PlatformCalibration | None, table: CalibrationTable, klass: str) -> bool:
    """A fitted scale is used only when its leave-one-out band beats the uncalibrated band of
    its class (e.g. Coral: one scale cannot fit both mobilenet_v2 and resnet50 → not used)."""
    if cal is None or not cal.calibrated or cal.band is None:
        return False
    ref = table.class_bands.get(klass)
    return ref is None or cal.band < ref - 1e-9


def platform_scale(plat: Platform) -> float:
    """Scale fitted to the platform's published measurements (1 when not calibrated)."""
    table = load_calibration()
    cal = table.platforms.get(plat.id)
    return cal.scale if cal is not None and _accepted(cal, table, plat.class_.value) else 1.0


def calibration_info(plat: Platform) -> CalibrationInfo:
    table = load_calibration()
    cal = table.platforms.get(plat.id)
    klass = plat.class_.value
    if cal is not None and _accepted(cal, table, klass):
        band = cal.band
        m = (msg("calibration.own", models=", ".join(cal.fit_models), points=cal.points,
                 scale=cal.scale, band=band) if band is not None else
             msg("calibration.own_no_band", models=", ".join(cal.fit_models), scale=cal.scale))
        return CalibrationInfo(calibrated=True, fit_models=cal.fit_models, scale=cal.scale,
                               points=cal.points, band=band, band_from="own", basis_msg=m)
    band = table.class_bands.get(klass)
    kname = msg(f"platform_class.{klass}")
    if band is not None:
        # points exist but the fitted scale did not beat the class band: say so, not "no data"
        rejected = cal is not None and cal.calibrated and cal.band is not None
        m = (msg("calibration.rejected", points=cal.points, own=cal.band, band=band, klass=kname)
             if rejected and cal is not None and cal.band is not None else
             msg("calibration.class", klass=kname, band=band))
        return CalibrationInfo(calibrated=False, band=band, band_from="class",
                               points=cal.points if cal else 0, basis_msg=m)
    return CalibrationInfo(calibrated=False, basis_msg=msg("calibration.none", klass=kname))
