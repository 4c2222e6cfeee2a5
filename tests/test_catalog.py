"""Platform catalog: schema rules, dense-by-default peaks, lookups, overrides, custom platforms."""

from __future__ import annotations

import json

import pytest

from reportgen.catalog.figures import USABLE_STATUSES, Peak
from reportgen.catalog.lookup import apply_overrides, get_platform, resolve_platform
from reportgen.catalog.platforms import load_catalog, platform_ids
from reportgen.errors import SpecError, UnknownIdError
from reportgen.spec.schema import PlatformRef


def test_catalog_has_24_researched_platforms_plus_host() -> None:
    cat = load_catalog()
    assert len(cat) == 25 and "host" in cat
    assert {p.class_.value for p in cat.values()} == {"powerful", "budget", "specialized", "fpga",
                                                      "mcu", "cpu"}
    assert platform_ids("mcu") == ["espressif_esp32_s3", "st_stm32h743"]
    assert len(platform_ids("fpga")) == 3


def test_every_number_has_status_and_source() -> None:
    for p in load_catalog().values():
        ids = {s.id for s in p.sources}
        for path, f in p.figures():
            assert f.status in {"sourced", "derived", "claim_low", "unsourced", "measured"}, path
            assert not f.problems(), (p.id, path, f.problems())
            if f.status == "sourced" and f.value is not None:
                assert f.src and set(f.src) <= ids, (p.id, path)
                assert f.urls and all(u.startswith(("http", "https")) for u in f.urls), (p.id, path)
            if f.status == "derived":
                assert f.derivation, (p.id, path)
            if f.status in ("unsourced", "claim_low"):
                assert f.value is None and not f.usable, (p.id, path)
        assert p.unit().unit == p.default_unit


def test_dense_peaks_by_default() -> None:
    h100 = get_platform("nvidia_h100_sxm")
    assert h100.peak("fp16").value == 989.4
    assert h100.peak("fp16", sparse=True).value == 1978.9
    assert h100.peak("fp8").value == 1978.9  # not the 3,958 marketing figure
    agx = get_platform("nvidia_jetson_agx_orin_64gb")
    pk = agx.peak("int8")
    assert pk.value == 85.5 and pk.status == "derived" and "sparse / 2" in (pk.derivation or "")
    # dense is what the roofline uses
    for p in load_catalog().values():
        for u in p.compute_units:
            for prec, peak in u.peak.items():
                if peak.dense is not None and peak.sparse is not None:
                    assert peak.dense < peak.sparse, (p.id, prec)


@pytest.mark.parametrize(("pid", "prec", "ridge"), [
    ("nvidia_h100_sxm", "fp16", 295), ("nvidia_a100_80gb_sxm", "fp16", 153),
    ("nvidia_l4", "int8", 807), ("nvidia_jetson_orin_nano_8gb", "int8", 328),
    ("raspberry_pi_5", "fp32", 9.0), ("rockchip_rk3588", "int8", 176),
])
def test_ridge_points_match_the_reference(pid: str, prec: str, ridge: float) -> None:
    assert get_platform(pid).ridge_point(prec) == pytest.approx(ridge, rel=0.01)


def test_platform_specific_facts() -> None:
    coral = get_platform("google_coral_edge_tpu")
    assert coral.on_chip.param_cache_mb.si == 8e6
    assert coral.host_link().bandwidth_gbps.si == pytest.approx(625e6)
    assert coral.runs("int8") and not coral.runs("fp32") and coral.peak("fp32") is None
    assert get_platform("st_stm32h743").on_chip.flash_mb.value == 2
    assert get_platform("amd_kria_kv260").on_chip.dsp_slices.value == 1248
    assert get_platform("apple_m2").memory.unified
    sd = get_platform("qualcomm_snapdragon_8_gen3").peak("int8")
    assert sd.status == "claim_low" and sd.claimed_value == 45 and sd.si is None
    assert get_platform("nvidia_a100_80gb_sxm").peak("fp8") is None  # not supported on Ampere


def test_unknown_id_did_you_mean() -> None:
    with pytest.raises(UnknownIdError, match="did you mean nvidia_a100_80gb_sxm"):
        get_platform("nvidia_a100")
    with pytest.raises(UnknownIdError, match="kv260"):
        get_platform("kv_260x")  # ("kv260" itself is now an alias of amd_kria_kv260)


def test_override_dotted_and_nested_become_user_figures() -> None:
    a100 = get_platform("nvidia_a100_80gb_sxm")
    p = resolve_platform(PlatformRef(id="nvidia_a100_80gb_sxm", overrides={
        "memory.bandwidth_gbps": 1935, "power": {"tdp_w": 300},
        "compute_units.gpu.peak.fp16": 250}))
    bw = p.bandwidth()
    assert bw.value == 1935 and bw.status == "user" and bw.note == "given in the spec"
    assert p.power.tdp_w.value == 300 and p.power.tdp_w.status == "user"
    assert p.peak("fp16").value == 250 and p.peak("fp16").status == "user"
    assert p.peak("fp16", sparse=True).value == 624  # untouched
    assert a100.bandwidth().value == 2039  # the catalog is not modified
    assert p.ridge_point("fp16") == pytest.approx(250e12 / 1935e9)


def test_override_errors_list_every_problem() -> None:
    a100 = get_platform("nvidia_a100_80gb_sxm")
    with pytest.raises(SpecError) as e:
        apply_overrides(a100, {"memroy.bandwidth_gbps": 1, "memory.bandwidth_gbps": "fast",
                               "compute_units.npu.peak.int8": 3})
    text = str(e.value)
    assert "unknown platform field 'memroy'" in text and "did you mean 'memory'" in text
    assert "no entry 'npu'" in text
    assert len(e.value.issues) == 2  # the type error is found once the structure is valid
    with pytest.raises(SpecError, match="memory.bandwidth_gbps"):
        apply_overrides(a100, {"memory.bandwidth_gbps": "fast"})


CUSTOM = {
    "name": "My NPU board", "class": "specialized", "zoo_class": "specialized", "vendor": "ACME",
    "default_unit": "npu",
    "compute_units": [{"unit": "npu", "precisions": ["int8"],
                       "peak": {"int8": {"dense": 10, "unit": "TOPS", "status": "user"}}}],
    "memory": {"capacity_gb": {"value": 4, "unit": "GB", "status": "user"},
               "bandwidth_gbps": {"value": 50, "unit": "GB/s", "status": "user"}},
    "price_usd": {"value": 99, "unit": "USD", "status": "user"},
}


def test_custom_platform_validates_with_catalog_schema() -> None:
    p = resolve_platform(PlatformRef(id="my_npu", custom=CUSTOM))
    assert p.id == "my_npu" and p.ridge_point("int8") == pytest.approx(10e12 / 50e9)
    bad = json.loads(json.dumps(CUSTOM))
    bad["default_unit"] = "gpu"
    bad["memory"]["bandwidth_gbps"] = {"value": 50, "unit": "GB/s", "status": "sourced",
                                       "src": ["nowhere"]}
    bad["colour"] = "red"
    with pytest.raises(SpecError) as e:
        resolve_platform(PlatformRef(id="my_npu", custom=bad))
    msgs = [i.message for i in e.value.issues]
    assert any("unknown key 'colour'" in m for m in msgs)
    with pytest.raises(SpecError) as e2:
        resolve_platform(PlatformRef(id="my_npu", custom={k: v for k, v in bad.items()
                                                          if k != "colour"}))
    msgs = " | ".join(i.message for i in e2.value.issues)
    assert "default_unit 'gpu'" in msgs and "src 'nowhere' is not in sources" in msgs
    assert all(i.path.startswith("platform.custom") for i in e2.value.issues)
    with pytest.raises(SpecError, match="catalog platform"):
        resolve_platform(PlatformRef(id="nvidia_l4", custom=CUSTOM))


def test_peak_status_rules() -> None:
    pk = Peak(dense=None, sparse=170, unit="TOPS", status="sourced", src=["x"])
    assert pk.figure().value is None
    assert pk.figure(sparse=True).value == 170
    assert "claim_low" not in USABLE_STATUSES


def test_host_entry_is_a_measured_placeholder(tmp_path, monkeypatch) -> None:
    host = get_platform("host", measure_host=False)
    assert host.peak("fp32").status == "measured" and host.peak("fp32").value is None
    from reportgen.catalog import host as host_mod

    monkeypatch.setenv("REPORTGEN_CACHE_DIR", str(tmp_path))
    fake = {"cpu_model": "Test CPU", "cores": 2, "torch_threads": 2, "torch_version": "x",
            "peaks_tflops": {"fp32": 0.1, "bf16": 0.2}, "fp16_measured_tflops": 0.01,
            "fp16_fast": False, "copy_gbps": 10.0, "ram_gb": 8.0, "matmul_n": 1024,
            "copy_mb": 268.4, "repeats": 3, "seconds": 1.0, "measured_at": "t"}
    p = host_mod.platform_from_measurements(fake)
    assert p.peak("fp32").value == 0.1 and p.peak("fp32").status == "measured"
    assert not p.runs("fp16") and p.bandwidth().value == 10.0
    assert p.ridge_point("fp32") == pytest.approx(0.1e12 / 10e9)
    monkeypatch.setattr(host_mod, "_torch_version", lambda: "x")
    assert str(host_mod.cache_path()).startswith(str(tmp_path))
