"""Platform calibration from published points: scale fit, leave-one-out band, class band,
at most two fitting points. Fake predictors (no model is traced)."""

from __future__ import annotations

import pytest

from reportgen.analysis.prediction.calibration import calibrate_platform, class_band
from reportgen.catalog.lookup import get_platform
from reportgen.catalog.parts import CalibrationPoint

URL = "https://example.invalid/vendor-benchmarks"  # test data only, never shipped


def pt(model: str, ms: float, use: str = "validate") -> CalibrationPoint:
    return CalibrationPoint(model=model, input="1x3x224x224", precision="int8", runtime="R",
                            latency_ms=ms, url=URL, use=use)  # type: ignore[arg-type]


PRED = {"a": 1e-3, "b": 4e-3, "c": 2e-3}  # assumed-η predictions, s


def test_scale_and_leave_one_out_band() -> None:
    plat = get_platform("raspberry_pi_5").model_copy(update={"calibration": [
        pt("a", 2.0, "fit"), pt("b", 8.0, "fit"), pt("c", 6.0)]})
    cal = calibrate_platform(plat, lambda p, c: PRED[c.model], lambda p, c: PRED[c.model] / 4)
    assert cal.calibrated and cal.fit_models == ["a", "b"] and cal.scale == pytest.approx(2.0)
    by = {ch.model: ch for ch in cal.checks}
    # a is predicted from b's scale alone (2.0): exact; c from both (2.0): 4 ms vs 6 ms → ×1.5
    assert by["a"].calibrated_ms == pytest.approx(2.0) and by["a"].error == pytest.approx(1.0)
    assert by["c"].calibrated_ms == pytest.approx(4.0) and by["c"].error == pytest.approx(1.5)
    assert cal.band == pytest.approx(1.5) and cal.band_from == "own"
    assert not any(ch.below_ideal for ch in cal.checks)


def test_measurement_below_the_ideal_bound_is_flagged() -> None:
    plat = get_platform("raspberry_pi_5").model_copy(update={"calibration": [pt("a", 0.1, "fit")]})
    cal = calibrate_platform(plat, lambda p, c: PRED[c.model], lambda p, c: 0.5e-3)
    assert cal.checks[0].below_ideal  # 0.1 ms measured < 0.5 ms ideal: the catalog is wrong


def test_uncalibrated_platform_has_no_own_band_and_class_band_uses_s_1() -> None:
    plat = get_platform("raspberry_pi_5").model_copy(update={"calibration": [pt("c", 6.0)]})
    cal = calibrate_platform(plat, lambda p, c: PRED[c.model])
    assert not cal.calibrated and cal.band is None
    band = class_band([cal], {plat.id: plat}, plat.class_.value)
    assert band == pytest.approx(3.0)  # 6 ms measured vs 2 ms predicted


def test_at_most_two_fitting_points() -> None:
    from reportgen.catalog.schema import Platform

    data = get_platform("raspberry_pi_5").model_dump(by_alias=True)
    data["calibration"] = [pt(m, 1.0, "fit").model_dump() for m in "abc"]
    with pytest.raises(ValueError, match="at most two"):
        Platform.model_validate(data)


def test_rejected_points_get_their_own_message_and_the_class_is_translated() -> None:
    from reportgen.analysis.prediction.calibration import calibration_info, load_calibration
    from reportgen.catalog.lookup import get_platform
    from reportgen.report.messages import render as render_msg

    coral = get_platform("google_coral_edge_tpu", measure_host=False)
    cal = load_calibration().platforms.get(coral.id)
    assert cal is not None and cal.points > 0  # coral.ai publishes points...
    info = calibration_info(coral)
    assert not info.calibrated  # ...but one scale does not fit mobilenet_v2 and resnet50
    assert info.basis_msg.code == "calibration.rejected"
    assert info.basis_msg.params["points"] == cal.points
    ru = render_msg(info.basis_msg, "ru")
    assert "специализированная" in ru and "specialized" not in ru
    assert "no published measurement" not in render_msg(info.basis_msg, "en")
