"""Roofline arithmetic in closed form on hand-made op records (no torch)."""

from __future__ import annotations

import math

import pytest

from reportgen.analysis.counting.records import OpKind, OpRecord, ParamGroup, Trace
from reportgen.analysis.prediction.assumptions import Efficiency
from reportgen.analysis.prediction.roofline import estimate, estimate_precision, op_estimate
from reportgen.analysis.prediction.verdicts import (
    constraint_verdicts,
    first_constraint_to_break,
    zoo_comparison,
)
from reportgen.catalog.lookup import get_platform
from reportgen.report.messages import render
from reportgen.spec.choices import Precision
from reportgen.spec.schema import Constraints

A100_FP16 = 312e12
A100_BW = 2039e9
ONE = Efficiency(eta_c=1.0, eta_m=1.0, op_overhead_us=0.0)


def linear(i: int, m: int, k: int, n: int, el: float = 2.0, kind: OpKind = OpKind.matmul,
           shapes: list[list[int]] | None = None) -> OpRecord:
    """x[m,k] @ W[k,n] at ``el`` bytes/element."""
    return OpRecord(index=i, op="aten.mm.default", kind=kind, module=f"l{i}", module_type="Linear",
                    input_shapes=shapes or [[m, k], [k, n]], output_shapes=[[m, n]],
                    dtype="float16" if el == 2 else "float32", macs=m * k * n,
                    weight_bytes=int(k * n * el), act_bytes_read=int(m * k * el),
                    bytes_written=int(m * n * el), element_bytes=el)


def trace_of(records: list[OpRecord], el: float = 2.0, peak_act: int = 0) -> Trace:
    wb = sum(r.weight_bytes for r in records)
    return Trace(records=records, params=ParamGroup(other=int(wb / el)), param_bytes=wb,
                 buffer_bytes=0, peak_activation_bytes=peak_act, peak_activation_op=0,
                 input_bytes=0, output_bytes=0, dtype="float16" if el == 2 else "float32")


def test_memory_bound_gemv_closed_form() -> None:
    a100 = get_platform("nvidia_a100_80gb_sxm")
    r = linear(0, 1, 4096, 4096)
    o = op_estimate(r, Precision.fp16, A100_FP16, A100_BW, ONE)
    F = 2 * 4096 * 4096
    B = (4096 * 4096 + 4096 + 4096) * 2
    assert o.flops == F and o.bytes == B
    assert o.arithmetic_intensity_flop_per_byte == pytest.approx(F / B)
    assert o.bound == "memory"
    assert o.ideal_time_s == pytest.approx(B / A100_BW)
    assert a100.ridge_point("fp16") == pytest.approx(A100_FP16 / A100_BW)  # ≈ 153 op/B


def test_compute_bound_gemm_and_derating() -> None:
    r = linear(0, 4096, 4096, 4096)
    eff = Efficiency(eta_c=0.5, eta_m=0.8, op_overhead_us=5.0)
    o = op_estimate(r, Precision.fp16, A100_FP16, A100_BW, eff)
    F = 2 * 4096**3
    B = 3 * 4096 * 4096 * 2
    assert o.bound == "compute" and F / B > A100_FP16 / A100_BW
    assert o.ideal_time_s == pytest.approx(F / A100_FP16)
    assert o.compute_time_s == pytest.approx(F / (0.5 * A100_FP16))
    assert o.memory_time_s == pytest.approx(B / (0.8 * A100_BW))
    assert o.predicted_time_s == pytest.approx(F / (0.5 * A100_FP16) + 5e-6)


def test_precision_rescaling_and_int4_weight_only() -> None:
    t = trace_of([linear(0, 1, 4096, 4096)])  # traced at fp16
    est = estimate(t, "nvidia_a100_80gb_sxm", ["fp32", "fp16", "int8", "int4"],
                   efficiency=ONE)
    W, A = 4096 * 4096, 2 * 4096  # elements of weights, activations (read + written)
    expected = {"fp32": 4 * (W + A), "fp16": 2 * (W + A), "int8": W + A, "int4": 0.5 * W + 2 * A}
    peaks = {"fp32": 19.5e12, "fp16": 312e12, "int8": 624e12, "int4": 312e12}  # int4 → fp16 peak
    for prec, b in expected.items():
        pe = est.get(prec)
        assert pe.status == "ok"
        assert pe.total_bytes == pytest.approx(b)
        F = 2 * W
        # the ideal: the A100's 40 MB L2 holds the activations, and the weights when they fit
        wb = b - (2 * A if prec == "int4" else b * A / (W + A))
        dram = (0.0 if wb <= 40e6 else wb) + max(0.0, b - wb - 40e6)
        assert pe.ideal_latency_s == pytest.approx(max(F / peaks[prec], dram / A100_BW))
        assert pe.ideal_cache_bytes == 40e6
        # the predicted time still moves every byte through DRAM
        assert pe.ops[0].memory_time_s == pytest.approx(b / (A100_BW * ONE.eta_m))
    assert any("W4A16" in render(n, "en") for n in est.get("int4").note_msgs)
    assert est.get("int8").weight_bytes == pytest.approx(W)


def test_totals_energy_throughput_and_sum_invariant() -> None:
    recs = [linear(0, 1, 4096, 4096), linear(1, 4096, 4096, 4096)]
    t = trace_of(recs, peak_act=10_000_000)
    pe = estimate(t, "nvidia_a100_80gb_sxm", ["fp16"], batch_size=4).get("fp16")
    assert pe.predicted_latency_s == pytest.approx(sum(o.predicted_time_s for o in pe.ops))
    # the A100's per-op overhead: fitted to its published MLPerf points (powerful class: 5 µs
    # assumed), whichever the prediction used
    from reportgen.analysis.prediction.assumptions import efficiency_for

    o_us = efficiency_for(get_platform("nvidia_a100_80gb_sxm")).op_overhead_us
    assert pe.overhead_time_s == pytest.approx(2 * o_us * 1e-6)
    assert pe.throughput_per_s == pytest.approx(4 / pe.predicted_latency_s)
    assert pe.power_w == 400
    assert pe.energy_per_batch_mj == pytest.approx(400 * pe.predicted_latency_s * 1e3)
    assert pe.energy_per_sample_mj == pytest.approx(pe.energy_per_batch_mj / 4)
    assert (pe.compute_bound_ops, pe.memory_bound_ops) == (1, 1)
    assert sum(k.share_of_predicted for k in pe.by_kind) == pytest.approx(1.0)
    fit = pe.fit_checks[0]
    assert fit.required == pytest.approx((t.param_bytes + 10_000_000) / 1e6)
    assert fit.available == 80_000 and fit.verdict == "pass"


def test_unsupported_and_unknown_precisions_are_reported() -> None:
    t = trace_of([linear(0, 1, 256, 256)])
    est = estimate(t, "google_coral_edge_tpu", ["fp32", "int8"])
    assert est.get("fp32").status == "unsupported" and "int8 only" in render(est.get("fp32").reason_msg, "en")
    sd = estimate(t, "qualcomm_snapdragon_8_gen3", ["int8"]).get("int8")
    assert sd.status == "unknown" and "claims 45" in render(sd.reason_msg, "en")
    assert sd.latency_is_lower_bound  # memory-time lower bound only
    # the user confirms the claim: now predicted
    plat = get_platform("qualcomm_snapdragon_8_gen3")
    from reportgen.catalog.lookup import apply_overrides

    conf = apply_overrides(plat, {"compute_units.npu.peak.int8": 45})
    assert estimate(t, conf, ["int8"]).get("int8").status == "ok"


def test_edge_tpu_cache_streaming_closed_form() -> None:
    # 3 matmuls, 16 MB of fp32 weights each = 4 MB each at int8 → 12 MB > 8 MB cache
    recs = [linear(i, 1, 2000, 2000, el=4.0) for i in range(3)]
    t = trace_of(recs, el=4.0)
    eff = Efficiency(eta_c=1.0, eta_m=1.0, op_overhead_us=0.0)
    pe = estimate_precision(t, get_platform("google_coral_edge_tpu"), "int8", efficiency=eff)
    weights_int8 = 3 * 2000 * 2000
    stream = weights_int8 - 8e6
    assert pe.host_link_time_s == pytest.approx(stream / 0.625e9)
    F = 3 * 2 * 2000 * 2000
    assert pe.ideal_latency_s == pytest.approx(F / 4e12 + stream / 0.625e9)
    cache = pe.fit_checks[0]
    assert cache.name_msg.code == "fit.param_cache" and cache.verdict == "fail"
    assert cache.required == pytest.approx(12.0) and cache.available == 8.0
    # exactly the cache (2 × 4 MB = 8 MB): no streaming, compute-bound
    small = estimate_precision(trace_of(recs[:2], el=4.0), get_platform("google_coral_edge_tpu"),
                               "int8", efficiency=eff)
    assert small.host_link_time_s == 0 and small.fit_checks[0].verdict == "pass"
    assert all(o.bound == "compute" for o in small.ops)


def test_edge_tpu_first_unsupported_op_sends_rest_to_cpu() -> None:
    recs = [linear(0, 1, 64, 64), linear(1, 1, 64, 64, kind=OpKind.attention),
            linear(2, 1, 64, 64)]
    t = trace_of(recs)
    est = estimate(t, "google_coral_edge_tpu", ["int8"], fallback="raspberry_pi_5")
    pe = est.get("int8")
    assert pe.fallback_from_op == 1 and pe.fallback_ops == 2
    assert [o.on_device for o in pe.ops] == [True, False, False]
    assert pe.fallback_platform == "raspberry_pi_5"
    assert pe.fallback_time_s == pytest.approx(sum(o.predicted_time_s for o in pe.ops[1:]))
    # a 4-D tensor with 4 dims > 1 (batch 2 conv) breaks the ≤3-D rule at op 0
    conv = linear(0, 1, 8, 8, kind=OpKind.conv, shapes=[[2, 3, 8, 8]])
    pe2 = estimate(trace_of([conv]), "google_coral_edge_tpu", ["int8"], fallback=None).get("int8")
    assert pe2.fallback_from_op == 0 and pe2.latency_is_lower_bound


def test_mcu_fit_rules() -> None:
    recs = [linear(0, 1, 512, 1024, el=4.0)]  # 2 MB fp32 weights = 0.524 MB int8
    t = trace_of(recs, el=4.0, peak_act=4_000_000)  # 4 MB fp32 → 1 MB int8 arena
    pe = estimate(t, "st_stm32h743", ["int8"]).get("int8")
    arena, flash = pe.fit_checks
    assert arena.required == pytest.approx(1.0) and arena.available == pytest.approx(0.864)
    assert arena.verdict == "fail"
    assert flash.required == pytest.approx(512 * 1024 / 1e6) and flash.available == 2.0
    assert flash.verdict == "pass"
    assert pe.fits == "fail"
    assert pe.latency_is_lower_bound  # no memory bandwidth for MCUs: compute only
    F = 2 * 512 * 1024
    assert pe.ideal_latency_s == pytest.approx(F / 1.92e9)
    esp = estimate(t, "espressif_esp32_s3", ["int8"]).get("int8")
    assert esp.status == "ok" and esp.latency_is_lower_bound  # derived int8 peak, no bandwidth
    assert esp.fit_checks[0].available == pytest.approx(0.512)  # claim_low 362 KB not used
    assert esp.fit_checks[1].verdict == "unknown"  # external flash size unsourced


def test_fpga_hls4ml_resource_rule() -> None:
    recs = [linear(0, 1, 64, 1000)]  # 64,000 MACs
    pe = estimate(trace_of(recs), "amd_kria_kv260", ["int8"]).get("int8")
    dsp = next(c for c in pe.fit_checks if c.name_msg.code == "fit.dsp")
    assert dsp.required == pytest.approx(64_000 / 64) and dsp.available == 1248
    assert dsp.verdict == "pass" and "minimum reuse factor to fit: 52" in render(dsp.note_msgs[0], "en")
    bram = next(c for c in pe.fit_checks if c.name_msg.code == "fit.bram")
    assert bram.required == pytest.approx(0.064) and bram.available == pytest.approx(2.95)
    big = estimate(trace_of([linear(0, 1, 4096, 4096)]), "amd_kria_kv260", ["int8"]).get("int8")
    bigdsp = next(c for c in big.fit_checks if c.name_msg.code == "fit.dsp")
    assert bigdsp.verdict == "fail"
    assert big.fits == "pass"  # the DPU (DDR) path still fits; hls4ml is the alternative


def test_constraint_verdicts_sensor_example() -> None:
    recs = [linear(i, 1, 2000, 2000, el=4.0) for i in range(3)]  # 4 MB streamed per inference
    t = trace_of(recs, el=4.0)
    plat = get_platform("google_coral_edge_tpu")
    est = estimate(t, plat, ["int8"], efficiency=ONE)
    lat_ms = est.get("int8").predicted_latency_s * 1e3
    assert lat_ms == pytest.approx((2 * 4e6 * 3 / 4e12 + 4e6 / 0.625e9) * 1e3)  # ≈ 6.4 ms
    c = Constraints(latency_ms=1.0, cost_usd=100, power_w=5,
                    sensor={"width": 1920, "height": 1080, "channels": 3, "rate_hz": 30},
                    connectivity="offline")
    v = {x.name: x for x in constraint_verdicts(c, est, plat)}
    bw = v["input_bandwidth_mb_s"]
    assert bw.requirement == pytest.approx(1920 * 1080 * 3 * 30 / 1e6)  # ≈ 186.6 MB/s
    assert bw.predicted == pytest.approx(625.0) and bw.verdict == "pass"
    assert bw.margin == pytest.approx(625 / 186.624 - 1)
    assert v["latency_ms"].predicted == pytest.approx(lat_ms) and v["latency_ms"].verdict == "fail"
    assert v["latency_ms"].margin == pytest.approx((1.0 - lat_ms) / 1.0)
    assert v["cost_usd"].verdict == "pass" and v["cost_usd"].margin == pytest.approx(0.25)
    # the Edge TPU's 2 W is the accelerator alone: without its host's draw, only a lower bound
    assert v["power_w"].verdict == "unknown" and v["power_w"].margin is None
    assert v["sensor_rate_hz"].predicted == pytest.approx(1e3 / lat_ms)
    assert v["connectivity"].verdict == "info"
    worst = first_constraint_to_break(list(v.values()))
    assert worst is not None and worst.name == "latency_ms"


def test_constraint_unknowns() -> None:
    t = trace_of([linear(0, 1, 64, 64)])
    plat = get_platform("nvidia_a100_80gb_sxm")
    est = estimate(t, plat, ["fp16"])
    v = {x.name: x for x in constraint_verdicts(
        Constraints(cost_usd=10_000, input_bandwidth_mb_s=100), est, plat)}
    assert v["cost_usd"].verdict == "unknown"  # A100 price unsourced
    # memory bandwidth is not the link that carries the stream: no margin between unlike things
    assert v["input_bandwidth_mb_s"].verdict == "unknown" and v["input_bandwidth_mb_s"].margin is None


def test_the_ideal_bound_keeps_what_fits_an_on_chip_cache_on_chip() -> None:
    """An L4 (48 MB L2): activations within the cache and weights of a model that fits it cost
    no DRAM time in the ideal bound; weights of a bigger model and activations beyond the cache
    do. The predicted time is unchanged (the calibration carries what the cache saves)."""
    from reportgen.analysis.prediction.roofline import ideal_dram_bytes, on_chip_cache_bytes

    l4 = get_platform("nvidia_l4")
    assert on_chip_cache_bytes(l4) == 48e6
    assert on_chip_cache_bytes(get_platform("raspberry_pi_5")) == 0  # none in the catalog
    small = linear(0, 1, 1024, 1024)  # fp16: 2 MB of weights
    assert ideal_dram_bytes(small, Precision.fp16, 48e6, weights_fit=True) == 0
    assert ideal_dram_bytes(small, Precision.fp16, 48e6, weights_fit=False) == 2 * 1024**2
    big_act = linear(0, 16384, 1024, 1024)  # 2 × 16384 × 1024 × 2 B = 67 MB of activations
    assert ideal_dram_bytes(big_act, Precision.fp16, 48e6, True) == pytest.approx(
        2 * 2 * 16384 * 1024 - 48e6)
    t = trace_of([small])
    pe = estimate(t, l4, ["fp16"], efficiency=ONE).get("fp16")
    assert pe.ideal_latency_s == pytest.approx(2 * 1024**2 / 121e12)  # compute only
    assert pe.predicted_latency_s == pytest.approx(
        (2 * 1024**2 + 2 * 2 * 1024) / (300e9 * ONE.eta_m))  # memory-bound through DRAM
    assert pe.predicted_latency_s > 100 * pe.ideal_latency_s


def test_zoo_comparison() -> None:
    t = trace_of([linear(0, 1, 4096, 4096)])
    rows = zoo_comparison(t, ["nvidia_h100_sxm", "nvidia_l4", "espressif_esp32_s3"],
                          ["fp16", "int8"])
    h100, l4, esp = rows
    assert h100.best_precision == "int8" and l4.best_precision == "int8"
    assert h100.predicted_latency_s < l4.predicted_latency_s
    # 16 MB of int8 weights fit the H100's 50 MB L2: the ideal is the compute time
    assert h100.ideal_latency_s == pytest.approx(2 * 4096**2 / 1978.9e12)
    # the H100 has no published batch latency: its row says it is not calibrated, with the
    # powerful class's band; the L4 (MLPerf points) does not
    codes = [m.code for m in h100.note_msgs]
    assert "zoo.uncalibrated_band" in codes
    band = next(m for m in h100.note_msgs if m.code == "zoo.uncalibrated_band")
    assert "×" in render(band, "en") and "погрешность" in render(band, "ru")
    assert not any(m.code.startswith("zoo.uncalibrated") for m in l4.note_msgs)
    # int8 peak derived from Espressif's manual; no memory bandwidth for an MCU: a lower bound
    assert esp.best_precision == "int8" and esp.latency_is_lower_bound
    assert math.isclose(l4.energy_per_sample_mj or 0, 72 * l4.predicted_latency_s * 1e3)


def test_zoo_falls_back_to_the_unit_that_runs_a_precision() -> None:
    # the Core Ultra's default unit (its NPU) runs no fp32 and has no usable int8 peak; its CPU
    # has derived fp32 and int8 (AVX-VNNI) peaks: the row is a prediction on the CPU, and says so
    t = trace_of([linear(0, 1, 4096, 4096)])
    (row,) = zoo_comparison(t, ["intel_core_ultra7_155h"], ["fp32", "int8"])
    assert row.best_precision == "int8" and not row.latency_is_lower_bound
    (fp32,) = zoo_comparison(t, ["intel_core_ultra7_155h"], ["fp32"])
    assert fp32.best_precision == "fp32" and fp32.note_msgs[0].code == "zoo.other_unit"
    assert row.note_msgs[0].code == "zoo.other_unit"
    assert render(row.note_msgs[0], "en").startswith("predicted on its cpu")
    # a platform whose default unit predicts something keeps it
    (l4,) = zoo_comparison(t, ["nvidia_l4"], ["fp32", "int8"])
    assert all(m.code != "zoo.other_unit" for m in l4.note_msgs)


def test_kernel_rows_of_one_precision_leave_the_full_estimate_alone() -> None:
    view = OpRecord(index=1, op="aten.view.default", kind=OpKind.view, module="l0",
                    module_type="Linear", input_shapes=[[1, 64]], output_shapes=[[64]],
                    dtype="float16", macs=0, weight_bytes=0, act_bytes_read=0, bytes_written=0,
                    element_bytes=2.0)
    est = estimate(trace_of([linear(0, 1, 64, 64), view, linear(2, 1, 64, 64)]),
                   get_platform("nvidia_l4"), ["fp16", "int8"])
    assert [len(pe.ops) for pe in est.per_precision] == [3, 3]  # every precision, views too
    kept = est.with_kernel_rows_of("int8")
    assert [[o.index for o in pe.ops] for pe in kept.per_precision] == [[], [0, 2]]
    assert [len(pe.ops) for pe in est.per_precision] == [3, 3]  # the copy trimmed, not est
    assert kept.get("fp16").predicted_latency_s == est.get("fp16").predicted_latency_s
    assert [len(pe.ops) for pe in est.with_kernel_rows_of(None).per_precision] == [0, 0]


def test_zoo_takes_resolved_platforms_or_ids() -> None:
    t = trace_of([linear(0, 1, 4096, 4096)])
    by_id = zoo_comparison(t, ["nvidia_l4"], ["fp16"])
    resolved = zoo_comparison(t, [get_platform("nvidia_l4")], ["fp16"])
    assert resolved == by_id
