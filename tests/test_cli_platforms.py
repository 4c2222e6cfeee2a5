"""`reportgen platforms` sub-app through typer's CliRunner."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from reportgen.catalog.cards import CARD_ALIASES, card_ids, load_card
from reportgen.catalog.lookup import PLATFORM_ALIASES, canonical_platform_id, get_platform
from reportgen.catalog.platforms import platform_ids
from reportgen.cli.platforms import app
from reportgen.errors import UnknownIdError

runner = CliRunner()


def test_list_all_and_by_class() -> None:
    res = runner.invoke(app, [])
    assert res.exit_code == 0
    assert "nvidia_h100_sxm" in res.output and "st_stm32h743" in res.output
    assert "989.4 TFLOPS" in res.output  # dense fp16, not the sparse 1978.9
    mcu = runner.invoke(app, ["--class", "mcu"])
    assert mcu.exit_code == 0
    assert "espressif_esp32_s3" in mcu.output and "nvidia_h100_sxm" not in mcu.output


def test_unknown_class_exits_2() -> None:
    res = runner.invoke(app, ["--class", "gpu"])
    assert res.exit_code == 2 and "powerful, budget" in res.output


def test_show_lists_facts_with_status_and_sources() -> None:
    res = runner.invoke(app, ["show", "google_coral_edge_tpu"])
    assert res.exit_code == 0
    out = res.output
    assert "on_chip.param_cache_mb" in out and "8 MB" in out
    assert "derived" in out  # the USB link rate is derived
    assert "https://coral.withgoogle.com/docs/m2/datasheet/" in out
    snap = runner.invoke(app, ["show", "qualcomm_snapdragon_8_gen3"])
    assert "claim_low" in snap.output and "claimed 45" in snap.output
    assert "unsourced" in snap.output


def test_show_unknown_id_did_you_mean_exit_2() -> None:
    res = runner.invoke(app, ["show", "nvidia_a100"])
    assert res.exit_code == 2
    assert "did you mean nvidia_a100_80gb_sxm" in res.output


def test_module_does_not_import_torch() -> None:
    code = ("import sys, reportgen.cli.platforms, reportgen.analysis.prediction.roofline, "
            "reportgen.analysis.prediction.verdicts; print('torch' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_power_column_is_the_power_models_draw_not_a_supply_rating() -> None:
    from reportgen.catalog.lookup import get_platform
    from reportgen.cli.platforms import _power

    # the Pi 5's only figure is its 27 W supply: an upper bound, never shown as a draw
    assert _power(get_platform("raspberry_pi_5", measure_host=False)) == "≤ 27 W"
    # the Orin Nano's default (top) power mode is a budget, not a draw
    assert _power(get_platform("nvidia_jetson_orin_nano_8gb", measure_host=False)) == "≤ 25 W"
    # a typical draw is shown as such; an add-on's host draws too
    hailo = _power(get_platform("hailo_8", measure_host=False))
    assert hailo.startswith("2.5 W") and hailo.endswith("+ host")
    res = runner.invoke(app, [], env={"COLUMNS": "250"})
    assert res.exit_code == 0 and "≤ upper bound" in res.output


def test_assumptions_list_power_by_kind() -> None:
    from reportgen.analysis.prediction.assumptions import _assumptions, efficiency_for
    from reportgen.catalog.lookup import get_platform
    from reportgen.spec.choices import Precision

    pi5 = get_platform("raspberry_pi_5", measure_host=False)
    names = {f.name: f.value for f in _assumptions(pi5, efficiency_for(pi5), [Precision.fp32], None,
                                                    False).figures if f.name.startswith("power")}
    assert names == {"power upper bound (psu_w)": 27.0}
    orin = get_platform("nvidia_jetson_orin_nano_8gb", measure_host=False)
    names = {f.name: f.value for f in _assumptions(orin, efficiency_for(orin), [Precision.fp16], None,
                                                    False).figures if f.name.startswith("power")}
    assert names == {"power upper bound (mode 25 W)": 25.0}


def _ids_in_table(output: str) -> list[str]:
    return [ln.split("│")[1].strip() for ln in output.splitlines()
            if ln.startswith("│") and ln.split("│")[1].strip()]


def test_list_never_truncates_ids_wide_or_narrow(monkeypatch: pytest.MonkeyPatch) -> None:
    ids = platform_ids()
    monkeypatch.setenv("COLUMNS", "200")
    wide = runner.invoke(app, [])
    assert wide.exit_code == 0 and "┃" in wide.output
    assert _ids_in_table(wide.output) == ids  # one row each, id whole in its cell
    monkeypatch.setenv("COLUMNS", "60")
    narrow = runner.invoke(app, [])
    assert narrow.exit_code == 0
    assert "┃" not in narrow.output and "…" not in narrow.output
    listed = [ln.split()[0] for ln in narrow.output.splitlines()[1:]
              if ln.strip() and not ln.startswith(("*", "power:"))]
    assert listed == ids


@pytest.mark.parametrize(("alias", "pid"), [
    ("rpi5", "raspberry_pi_5"), ("pi5", "raspberry_pi_5"), ("RPi-5", "raspberry_pi_5"),
    ("rpi4", "raspberry_pi_4"), ("orin_nano", "nvidia_jetson_orin_nano_8gb"),
    ("coral", "google_coral_edge_tpu"), ("h100", "nvidia_h100_sxm"), ("kv260", "amd_kria_kv260")])
def test_show_accepts_aliases(alias: str, pid: str) -> None:
    assert canonical_platform_id(alias) == pid
    res = runner.invoke(app, ["show", alias])
    assert res.exit_code == 0 and f"({pid})" in res.output.splitlines()[0]


def test_every_alias_names_a_catalog_platform_and_no_id_is_shadowed() -> None:
    ids = set(platform_ids())
    assert set(PLATFORM_ALIASES.values()) <= ids
    assert not set(PLATFORM_ALIASES) & ids


@pytest.mark.parametrize(("typo", "guess"), [
    ("raspbery_pi5", "raspberry_pi_5"), ("rpi6", "raspberry_pi_5"), ("jetson_nanoo", "nvidia_jetson_nano_2019"),
    ("cora", "google_coral_edge_tpu")])
def test_unknown_platform_suggests_the_id(typo: str, guess: str) -> None:
    with pytest.raises(UnknownIdError, match=f"did you mean {guess}"):
        get_platform(typo, measure_host=False)


def test_card_aliases_and_did_you_mean() -> None:
    assert load_card("ResNet-50").id == "resnet50"
    assert load_card("yolo").id == "yolo11n" and load_card("bert").id == "bert_base_uncased"
    assert set(CARD_ALIASES.values()) <= set(card_ids())
    assert not set(CARD_ALIASES) & set(card_ids())
    with pytest.raises(UnknownIdError, match="did you mean resnet50"):
        load_card("resnet5O")


def test_aliases_accepted_in_a_spec(tmp_path: Path) -> None:
    spec = tmp_path / "s.yaml"
    spec.write_text("title: t\nmodel: {card: resnet-50}\nplatform: rpi5\ncompare_platforms: [coral, h100]\n")
    proc = subprocess.run([sys.executable, "-m", "reportgen", "validate", str(spec)],
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    assert "Raspberry Pi 5" in proc.stdout + proc.stderr
