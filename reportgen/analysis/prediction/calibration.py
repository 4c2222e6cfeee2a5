"""Platform calibration from published measurements (``calibration:`` in platforms.yaml) and
the error band every prediction carries. Pure Python; the predictor is injected.

The assumed-η prediction of a point is split into parts (``LatencyParts``): the η-limited time
A (compute, memory and host-link terms at the assumed η_c, η_m), the number N of on-device ops
that pay the per-op overhead, and a fixed time F the calibration does not touch (ops run on a
fallback host). A calibrated prediction is

    t = s · A + o · N + F                                                         [s]

two parameters per platform: s divides η_c and η_m (s = 2: half the assumed efficiency), o is
the per-op overhead (s, replacing the assumed one). They are fitted on the platform's ``use:
fit`` points (at most two; pick one small overhead-bound model and one large bandwidth- or
compute-bound one) by least squares on the relative error, which with two points is the exact
2 × 2 solve. Constraints: η ≤ 1 (s ≥ max(η_c, η_m), so the ideal bound stays a bound) and
o ≥ 0; when the free solution breaks one, that parameter sits on its limit and the other is
refitted. With one fitting point (or two of the same regime) only the scale is fitted and the
overhead is scaled with it (t = s · the whole assumed prediction). A predictor that returns a
plain latency (no parts) gets this one-scale fit.

The error band is leave-one-out over *all* the platform's points: a validation point is
predicted by the parameters fitted on the fit points (it is not among them: a true hold-out);
a fit point is predicted by parameters refitted on every other point of the platform (one fit
point alone cannot fix two parameters). The error is max(measured / predicted, predicted /
measured) and the band the largest such factor, reported as "×band". Uncalibrated platforms
get the band measured over the calibrated platforms of the same class (their *uncalibrated*
error: s = 1, assumed overhead), or no band when none exists.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import cache
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field

from reportgen.catalog.parts import CalibrationPoint
from reportgen.catalog.schema import Platform
from reportgen.text import Msg, msg

#: written by ``bench/device_loo_bench.py --write`` from the catalog's ``calibration:`` points
CALIBRATION_PATH = Path(__file__).resolve().parents[2] / "catalog" / "calibration.json"

class LatencyParts(BaseModel):
    """An assumed-η prediction split for the fit: t = scaled_s + ops · overhead_us · 1e-6 + fixed_s."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    scaled_s: float = Field(ge=0, description="η-limited time at the assumed η (compute, memory, "
                                             "host link), s")
    ops: int = Field(0, ge=0, description="on-device ops that pay the per-op overhead")
    overhead_us: float = Field(0.0, ge=0, description="assumed per-op overhead, µs")
    fixed_s: float = Field(0.0, ge=0, description="time the calibration does not touch (ops "
                                                  "on a fallback host), s")

    @property
    def total_s(self) -> float:
        return self.scaled_s + self.ops * self.overhead_us * 1e-6 + self.fixed_s


#: predicted latency (s) of a point at the assumed η, or its parts (``LatencyParts``)
Predictor = Callable[[Platform, CalibrationPoint], float | LatencyParts | None]


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
    """What a prediction says about its calibration: on what, the fitted parameters and the
    error band."""

    platform_id: str
    calibrated: bool
    fit_models: list[str] = Field(default_factory=list)
    scale: float = Field(1.0, description="s: η_c and η_m are divided by it (η ≤ 1 kept)")
    overhead_us: float | None = Field(None, description="o: fitted per-op overhead, µs (None: "
                                                        "the assumed one times the scale)")
    parameters: int = Field(0, description="parameters fitted: 1 (scale) or 2 (scale, overhead)")
    points: int = 0
    band: float | None = Field(None, description="leave-one-out error factor (×)")
    band_from: str = Field("none", description="own (leave-one-out) | class:<name> | none")
    runtime_kind: str | None = Field(None, description="eager | compiled: the runtime of the fit "
                                     "points (applied only to predictions on the same kind)")
    unit: str | None = Field(None, description="compute unit the points were measured on, when "
                                               "not the platform's default one (then not applied: "
                                               "reports predict the default unit)")
    checks: list[PointCheck] = Field(default_factory=list)
    unfused: PlatformCalibration | None = Field(
        None, description="points of a compiled runtime fitted again on the unfused model: what an "
                          "eager prediction of the board uses (the same measurements, so eager "
                          "PyTorch may well be slower)")


class Fit(BaseModel):
    """Fitted parameters: t = s · A + o · N + F (``o_s`` None: the overhead scales with s)."""

    model_config = ConfigDict(frozen=True)

    s: float = 1.0
    o_s: float | None = None
    parameters: int = 0

    def predict(self, p: LatencyParts) -> float:
        o = self.o_s if self.o_s is not None else p.overhead_us * 1e-6 * self.s
        return self.s * p.scaled_s + o * p.ops + p.fixed_s


def _parts(v: float | LatencyParts | None) -> LatencyParts | None:
    """A plain latency is all η-limited time (no overhead term to fit)."""
    if v is None or isinstance(v, LatencyParts):
        return v
    return LatencyParts(scaled_s=v) if v > 0 else None


def fit_parameters(pairs: list[tuple[float, LatencyParts]], min_scale: float = 0.0) -> Fit:
    """Least squares on the relative error over (measured s, parts) pairs; see the module
    docstring. ``min_scale``: the largest assumed η (s below it would put η above 1)."""
    rows = [(p.scaled_s / m, p.ops / m, (m - p.fixed_s) / m,
             (p.scaled_s + p.ops * p.overhead_us * 1e-6) / m) for m, p in pairs if m > 0]
    if not rows:
        return Fit()
    saa = sum(a * a for a, _, _, _ in rows)
    snn = sum(n * n for _, n, _, _ in rows)
    san = sum(a * n for a, n, _, _ in rows)
    sar = sum(a * r for a, _, r, _ in rows)
    snr = sum(n * r for _, n, r, _ in rows)
    det = saa * snn - san * san
    if len(rows) >= 2 and saa > 0 and snn > 0 and det > 1e-6 * saa * snn:
        s, o = (sar * snn - snr * san) / det, (saa * snr - san * sar) / det
        if s >= min_scale and o >= 0:
            return Fit(s=s, o_s=o, parameters=2)

        def sse(s: float, o: float) -> float:
            return sum((s * a + o * n - r) ** 2 for a, n, r, _ in rows)

        on_limit = [(min_scale, max(0.0, (snr - min_scale * san) / snn)),  # η = 1, refit o
                    (max(min_scale, sar / saa), 0.0)]  # no overhead, refit s
        s, o = min(on_limit, key=lambda so: sse(*so))
        return Fit(s=s, o_s=o, parameters=2)
    # one scale on the whole assumed prediction (overhead scaled with it)
    sbb = sum(b * b for _, _, _, b in rows)
    sbr = sum(b * r for _, _, r, b in rows)
    return Fit(s=max(min_scale, sbr / sbb) if sbb > 0 else 1.0, parameters=1)


def calibrate_platform(plat: Platform, predict: Predictor,
                       ideal: Predictor | None = None, *, min_scale: float = 0.0
                       ) -> PlatformCalibration:
    """Fit the platform's parameters on its ``use: fit`` points and measure the leave-one-out
    band over all its points. ``predict``: the assumed-η prediction of a point (latency or its
    parts); ``ideal``: the η = 1 bound; ``min_scale``: the largest assumed η (keeps η ≤ 1)."""
    pts = plat.calibration
    parts = [_parts(predict(plat, c)) for c in pts]
    ideals = [_parts(ideal(plat, c)) if ideal else None for c in pts]
    measured = [c.latency_ms / 1e3 for c in pts]
    fit_idx = [i for i, c in enumerate(pts) if c.use == "fit" and parts[i] is not None]

    def fit_on(idx: list[int]) -> Fit:
        return fit_parameters([(measured[j], p) for j in idx if (p := parts[j]) is not None],
                              min_scale)

    deployed = fit_on(fit_idx)
    kinds = {pts[i].runtime_kind for i in fit_idx}
    out = PlatformCalibration(platform_id=plat.id, calibrated=bool(fit_idx),
                              fit_models=[pts[i].model for i in fit_idx], scale=deployed.s,
                              overhead_us=deployed.o_s * 1e6 if deployed.o_s is not None else None,
                              parameters=deployed.parameters, points=len(pts),
                              runtime_kind=kinds.pop() if len(kinds) == 1 else None,
                              unit=next((c.unit for c in pts if c.unit not in (None,
                                                                               plat.default_unit)),
                                        None))
    errors: list[float] = []
    for i, c in enumerate(pts):
        p = parts[i]
        if p is None:
            out.checks.append(PointCheck(model=c.model, use=c.use, measured_ms=c.latency_ms,
                                         predicted_ms=None))
            continue
        # a hold-out: validation points use the deployed fit, fit points a refit without them
        loo = (deployed if i not in fit_idx else
               fit_on([j for j in range(len(pts)) if j != i]))
        cal = loo.predict(p) if fit_idx else p.total_s
        m = measured[i]
        err = max(m / cal, cal / m)
        errors.append(err)
        ip = ideals[i]
        idl = ip.total_s if ip is not None else None
        out.checks.append(PointCheck(model=c.model, use=c.use, measured_ms=c.latency_ms,
                                     predicted_ms=p.total_s * 1e3, calibrated_ms=cal * 1e3,
                                     ideal_ms=idl * 1e3 if idl else None, error=err,
                                     below_ideal=bool(idl and m < idl)))
    if out.calibrated and errors:
        out.band, out.band_from = max(errors), "own"
    return out


# a class band from fewer published measurements than this is not given: two points of one
# model on one board said "×1.03" for every GPU of the class
MIN_CLASS_BAND_POINTS = 4


def class_band(calibrations: list[PlatformCalibration], platforms: dict[str, Platform],
               klass: str) -> float | None:
    """Error factor of *uncalibrated* (s = 1) predictions over the calibrated platforms of
    ``klass``: the band an uncalibrated platform of that class carries (None from fewer than
    ``MIN_CLASS_BAND_POINTS`` measurements)."""
    errs = [max(ch.measured_ms / ch.predicted_ms, ch.predicted_ms / ch.measured_ms)
            for cal in calibrations if platforms[cal.platform_id].class_.value == klass
            for ch in cal.checks if ch.predicted_ms]
    return max(errs) if len(errs) >= MIN_CLASS_BAND_POINTS else None


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
    scale: float = Field(1.0, description="η_c and η_m of the assumptions divided by this")
    overhead_us: float | None = Field(None, description="fitted per-op overhead, µs (None: the "
                                                        "assumed one times the scale)")
    points: int = Field(0, description="published measurements of this platform")
    band: float | None = Field(None, description="error factor (×): own leave-one-out, or the "
                                                 "class's uncalibrated band")
    band_from: str = Field("none", description="own | class | none")
    basis_msg: Msg


def _accepted(cal: PlatformCalibration | None, table: CalibrationTable, klass: str) -> bool:
    """Fitted parameters are used only when their leave-one-out band beats the uncalibrated
    band of the class (a fit that generalises worse than no fit at all is not used)."""
    if cal is None or not cal.calibrated or cal.band is None:
        return False
    ref = table.class_bands.get(klass)
    return ref is None or cal.band < ref - 1e-9


def _same_runtime(cal: PlatformCalibration, runtime_kind: str | None) -> bool:
    """A calibration fitted on one runtime kind (compiled: BatchNorm folded, ops fused) is not
    applied to a prediction on the other (eager: every op dispatched)."""
    return runtime_kind is None or cal.runtime_kind is None or cal.runtime_kind == runtime_kind


def _for_runtime(cal: PlatformCalibration | None, runtime_kind: str | None
                 ) -> PlatformCalibration | None:
    """The fit a prediction on ``runtime_kind`` uses: the points' own, or their refit on the
    unfused model for an eager prediction from compiled points; None when neither applies."""
    if cal is None or _same_runtime(cal, runtime_kind):
        return cal
    return cal.unfused if cal.unfused is not None and runtime_kind == "eager" else None


def _on_unit(cal: PlatformCalibration | None, plat: Platform) -> PlatformCalibration | None:
    """``cal``, unless its points were measured on another compute unit than the one the
    platform's predictions are for (the default unit)."""
    return None if cal is None or cal.unit not in (None, plat.default_unit) else cal


def _used(plat: Platform, runtime_kind: str | None = None) -> PlatformCalibration | None:
    table = load_calibration()
    cal = _for_runtime(_on_unit(table.platforms.get(plat.id), plat), runtime_kind)
    return cal if cal is not None and _accepted(cal, table, plat.class_.value) else None


def platform_scale(plat: Platform, runtime_kind: str | None = None) -> float:
    """Scale s fitted to the platform's published measurements (1 when not calibrated, or
    calibrated on the other runtime kind): the assumed η_c and η_m are divided by it."""
    cal = _used(plat, runtime_kind)
    return cal.scale if cal is not None else 1.0


def platform_overhead_us(plat: Platform, runtime_kind: str | None = None) -> float | None:
    """Per-op overhead (µs) fitted to the platform's published measurements; None when not
    calibrated (for this runtime kind) or when only the scale was fitted (the assumed overhead
    times the scale)."""
    cal = _used(plat, runtime_kind)
    return cal.overhead_us if cal is not None else None


def calibration_info(plat: Platform, runtime_kind: str | None = None) -> CalibrationInfo:
    table = load_calibration()
    other = table.platforms.get(plat.id)
    own = _on_unit(other, plat)
    cal = _for_runtime(own, runtime_kind)  # the fit this runtime kind uses, if any
    klass = plat.class_.value
    kname = msg(f"platform_class.{klass}")
    class_band_ = table.class_bands.get(klass)
    if own is None and other is not None:  # measured on another compute unit: not applied
        uargs: dict[str, str | int | float | Msg] = {
            "points": other.points, "models": ", ".join(dict.fromkeys(c.model for c in other.checks)),
            "unit": other.unit or "", "default": plat.default_unit}
        return CalibrationInfo(
            calibrated=False, band=class_band_,
            band_from="class" if class_band_ is not None else "none", points=other.points,
            basis_msg=(msg("calibration.other_unit_band", **uargs, band=class_band_, klass=kname)
                       if class_band_ is not None else msg("calibration.other_unit", **uargs)))
    if cal is not None and _accepted(cal, table, klass):
        band, models = cal.band, ", ".join(dict.fromkeys(cal.fit_models))
        if (len({ch.model for ch in cal.checks}) < 2 and band is not None
                and class_band_ is not None and class_band_ > band):
            # every point is one model: their agreement is the spread of runtimes and batch
            # sizes, not of models; for another model the class's band is the honest one
            m = msg("calibration.one_model", models=models, points=cal.points, scale=cal.scale,
                    own=band, band=class_band_, klass=kname,
                    runtime=msg("calibration.one_model_unfused") if cal is not own else "")
            return CalibrationInfo(calibrated=True, fit_models=cal.fit_models, scale=cal.scale,
                                   overhead_us=cal.overhead_us, points=cal.points,
                                   band=class_band_, band_from="class", basis_msg=m)
        if cal is not own:  # compiled points refitted on the unfused model, for eager PyTorch
            m = msg("calibration.unfused", models=models, points=cal.points, scale=cal.scale,
                    overhead_us=cal.overhead_us or 0.0, band=band or 0.0)
        elif cal.overhead_us is not None:
            m = (msg("calibration.own_overhead", models=models, points=cal.points,
                     scale=cal.scale, overhead_us=cal.overhead_us, band=band)
                 if band is not None else
                 msg("calibration.own_overhead_no_band", models=models, scale=cal.scale,
                     overhead_us=cal.overhead_us))
        else:
            m = (msg("calibration.own", models=models, points=cal.points, scale=cal.scale,
                     band=band) if band is not None else
                 msg("calibration.own_no_band", models=models, scale=cal.scale))
        return CalibrationInfo(calibrated=True, fit_models=cal.fit_models, scale=cal.scale,
                               overhead_us=cal.overhead_us, points=cal.points, band=band,
                               band_from="own", basis_msg=m)
    if cal is None and own is not None and _accepted(own, table, klass):
        # fitted on the other runtime kind, with no refit for this one
        args: dict[str, str | int | float | Msg] = {
            "points": own.points, "models": ", ".join(dict.fromkeys(own.fit_models)),
            "fitted": msg(f"calibration.kind.{own.runtime_kind}"),
            "used": msg(f"calibration.kind.{runtime_kind}")}
        m = (msg("calibration.other_runtime_band", **args, band=class_band_, klass=kname)
             if class_band_ is not None else msg("calibration.other_runtime", **args))
        return CalibrationInfo(calibrated=False, band=class_band_,
                               band_from="class" if class_band_ is not None else "none",
                               points=own.points, basis_msg=m)
    if class_band_ is not None:
        # points exist but the fit did not beat the class band: say so, not "no data"
        if cal is not None and cal.calibrated and cal.band is not None:
            m = msg("calibration.rejected", points=cal.points, own=cal.band, band=class_band_,
                    klass=kname)
        else:
            m = msg("calibration.class", klass=kname, band=class_band_)
        return CalibrationInfo(calibrated=False, band=class_band_, band_from="class",
                               points=own.points if own else 0, basis_msg=m)
    return CalibrationInfo(calibrated=False, basis_msg=msg("calibration.none", klass=kname))
