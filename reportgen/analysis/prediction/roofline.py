"""Roofline predictions of an op trace on a catalog platform, per precision. Pure Python, no torch.

For each op, at precision ``p`` on the platform's default compute unit:

* ``F`` = 2 × MACs + vector FLOPs  [op]
* ``B`` = weight bytes + activation bytes read + bytes written, rescaled from the traced dtype to
  ``p`` (``p.bytes / record.element_bytes``)  [byte]. **int4 is weight-only (W4A16)**: weights
  take 0.5 byte, activations stay at fp16 (2 bytes) and compute runs at the fp16 peak.
* ideal time  = max(F / P_peak, B / BW)                                [s], η = 1, no overhead
* predicted   = max(F / (η_c · P_peak), B / (η_m · BW)) + per-op overhead   [s]
* arithmetic intensity I = F / B vs ridge point I* = P_peak / BW → compute- or memory-bound.

Bytes are the un-fused upper bound (every op reads its inputs and writes its outputs to DRAM).
Peaks are dense. η and overheads are unsourced calibration assumptions (``assumptions.yaml``).
Platform rules (reportgen/catalog/PLATFORMS-NOTES.md §4–5): Edge TPU parameter cache +
host-link streaming and
rest-of-graph CPU fallback; Hailo-8 on-chip fit; MCU SRAM arena / flash; FPGA hls4ml resources.
"""

from __future__ import annotations

import math
from functools import cache
from typing import Any

from reportgen.analysis.counting.records import OpKind, OpRecord, Trace
from reportgen.analysis.prediction.assumptions import (
    Efficiency,
    _assumptions,
    compute_precision,
    efficiency_for,
    load_assumptions,
)
from reportgen.analysis.prediction.calibration import calibration_info
from reportgen.analysis.prediction.costmodel import CacheLevel, CostModel, RegimeParams, memory_time
from reportgen.analysis.prediction.estimates import (
    DTYPE_BYTES,
    Bound,
    KindBreakdown,
    OpEstimate,
    PlatformEstimate,
    PrecisionEstimate,
)
from reportgen.analysis.prediction.power import energy_mj, system_power
from reportgen.analysis.prediction.rules import (
    _first_unsupported,
    _fit_checks,
    _overall,
    _unsupported_reason,
)
from reportgen.catalog.lookup import get_platform
from reportgen.catalog.schema import Platform
from reportgen.spec.schema import Precision
from reportgen.text import Arg, msg


def _prec(p: Precision | str) -> Precision:
    return p if isinstance(p, Precision) else Precision(str(p))


@cache
def byte_scales(record_element_bytes: float, precision: Precision) -> tuple[float, float]:
    """(weight scale, activation scale) from the traced dtype to ``precision`` (cached: it is
    asked once per op and precision)."""
    el = record_element_bytes if record_element_bytes > 0 else 4.0
    w = precision.bytes / el
    a = (2.0 if precision is Precision.int4 else precision.bytes) / el  # int4 = W4A16
    return w, a


def op_byte_parts(r: OpRecord, precision: Precision) -> tuple[float, float]:
    """(weight bytes, activation bytes read and written) of an op at ``precision``."""
    w, a = byte_scales(r.element_bytes, precision)
    return r.weight_bytes * w, (r.act_bytes_read + r.bytes_written) * a


def op_bytes(r: OpRecord, precision: Precision) -> float:
    """Bytes an op moves at ``precision`` (weights and activations rescaled)."""
    return sum(op_byte_parts(r, precision))





#: on-chip caches in front of DRAM, per catalog field (a GPU's L2, a CPU's L3, an SoC's SLC)
ON_CHIP_CACHE_FIELDS = {"l2_cache_mb": 1e6, "gpu_l2_mb": 1e6, "gpu_l2_kb": 1e3, "l3_mb": 1e6,
                        "slc_mb": 1e6}


def on_chip_cache_bytes(platform: Platform) -> float:
    """The largest usable on-chip cache in front of DRAM (B; 0 when the catalog has none)."""
    if platform.memory_model != "dram":
        return 0.0
    sizes = [f.value * scale for name, scale in ON_CHIP_CACHE_FIELDS.items()
             if (f := getattr(platform.on_chip, name, None)) is not None and f.usable
             and f.value]
    return max(sizes, default=0.0)


def ideal_dram_bytes(r: OpRecord, precision: Precision, cache_bytes: float,
                     weights_fit: bool) -> float:
    """DRAM bytes no runtime can avoid for ``r`` with an on-chip cache of ``cache_bytes``: its
    activation traffic beyond the cache (a layer's inputs can be the previous layer's outputs,
    still on chip) and its weights unless the whole model's weights fit the cache (then they stay
    there between inferences). The ideal bound uses it, so that it stays a bound: an L4's 48 MB L2
    holds a batch of 8 int8 ResNet-50 activations, and MLPerf measures it faster than a DRAM
    round trip per layer would allow."""
    weights, act = op_byte_parts(r, precision)
    return (0.0 if weights_fit else weights) + max(0.0, act - cache_bytes)


def _time(x: float, rate: float | None) -> float | None:
    if x == 0:
        return 0.0
    return x / rate if rate else None


def _max_known(*xs: float | None) -> float | None:
    known = [x for x in xs if x is not None]
    return max(known) if known else None


def op_estimate(r: OpRecord, precision: Precision, peak: float | None, bw: float | None,
                eff: Efficiency, *, on_chip_memory: bool = False,
                cache: CacheLevel | None = None, view_time_s: float = 0.0,
                ideal_bytes: float | None = None) -> OpEstimate:
    """Roofline for one op. ``peak`` in op/s, ``bw`` in B/s (None = unknown).

    ``on_chip_memory``: operands live in on-chip SRAM (Edge TPU cache, Hailo), no DRAM term.
    ``cache``: a measured cache level in front of DRAM (the host's cost model): the op's first
    ``cache.bytes`` move at its bandwidth (``costmodel.memory_time``), in the ideal too.
    ``view_time_s``: the predicted time of a view op (eager dispatch, the host's cost model).
    ``ideal_bytes``: the DRAM bytes of the ideal bound when fewer than ``B`` must reach DRAM
    (an on-chip cache, ``ideal_dram_bytes``); the predicted time keeps ``B``."""
    F = r.total_flops
    B = op_bytes(r, precision)
    if r.kind == OpKind.view or (F == 0 and B == 0):  # views, allocation-only ops: no kernel
        return OpEstimate.model_construct(index=r.index, op=r.op, kind=r.kind.value, module=r.module, flops=F,
                          bytes=0.0, arithmetic_intensity_flop_per_byte=None, compute_time_s=0.0,
                          memory_time_s=0.0, ideal_time_s=0.0,
                          predicted_time_s=view_time_s if r.kind == OpKind.view else 0.0, bound="none")
    tc0 = _time(F, peak)
    tc = _time(F, peak * eff.eta_c if peak else None)
    tm0: float | None
    tm: float | None
    if on_chip_memory:
        tm0 = tm = 0.0
    elif cache is not None and bw and B:
        tm0 = memory_time(B, bw, cache)
        tm = tm0 / eff.eta_m
    else:
        tm0 = _time(B if ideal_bytes is None else min(B, ideal_bytes), bw)
        tm = _time(B, bw * eff.eta_m if bw else None)
    ai = F / B if B else None
    if on_chip_memory:
        bound: Bound = "compute"
    elif cache is not None and tc0 is not None and tm0 is not None and B:
        bound = "compute" if tc0 >= tm0 else "memory"
    elif peak and bw and ai is not None:
        bound = "compute" if ai >= peak / bw else "memory"
    elif F == 0 and B > 0:
        bound = "memory"
    else:
        bound = "unknown"
    ideal = _max_known(tc0, tm0)
    derated = _max_known(tc, tm)
    pred = derated + eff.op_overhead_us * 1e-6 if derated is not None else None
    return OpEstimate.model_construct(index=r.index, op=r.op, kind=r.kind.value, module=r.module, flops=F,
                      bytes=B, arithmetic_intensity_flop_per_byte=ai, compute_time_s=tc,
                      memory_time_s=tm, ideal_time_s=ideal, predicted_time_s=pred, bound=bound)


def _regime_efficiency(p: RegimeParams, cache: dict[int, Efficiency]) -> Efficiency:
    e = cache.get(id(p))
    if e is None:
        e = cache[id(p)] = Efficiency(eta_c=p.eta_c, eta_m=p.eta_m, op_overhead_us=p.overhead_us)
    return e


def _efficiencies(records: list[OpRecord], eff: Efficiency, cost_model: CostModel | None
                  ) -> list[Efficiency]:
    """Per-op η and overhead: the cost model's regime parameters, or ``eff`` for every op."""
    if cost_model is None:
        return [eff] * len(records)
    cache: dict[int, Efficiency] = {}
    out = []
    for r in records:
        p = cost_model.for_op(r)
        out.append(eff if p is None else _regime_efficiency(p, cache))
    return out


def trace_element_bytes(trace: Trace) -> float:
    return DTYPE_BYTES.get(trace.dtype.replace("torch.", ""), 4.0)


def estimate_precision(trace: Trace, platform: Platform, precision: Precision | str, *,
                       batch_size: int = 1, efficiency: Efficiency | None = None,
                       fallback: Platform | None = None, sparse: bool = False,
                       keep_ops: bool = True, cost_model: CostModel | None = None
                       ) -> PrecisionEstimate:
    """Predict ``trace`` on ``platform`` at one precision (see module docstring).

    ``cost_model``: per-regime η and overheads (``costmodel.py``) for the device's ops instead
    of the one ``efficiency`` (fallback-host ops keep their platform's assumptions)."""
    p = _prec(precision)
    eff = efficiency or efficiency_for(platform)
    el = trace_element_bytes(trace)
    ws, as_ = byte_scales(el, p)
    weight_b = trace.param_bytes * ws
    act_b = trace.peak_activation_bytes * as_
    out = PrecisionEstimate(precision=p.value, status="ok", weight_bytes=weight_b,
                            peak_activation_bytes=act_b,
                            total_flops=sum(r.total_flops for r in trace.records))
    if p is Precision.int4:
        out.add_note(msg("roofline.int4_note"))
    bad = _unsupported_reason(platform, p)
    peak_fig = platform.peak(compute_precision(p), sparse=sparse)
    peak = peak_fig.si if peak_fig is not None else None
    if bad is not None:
        out.status = bad[0]  # type: ignore[assignment]
        out.set_reason(bad[1])
        if out.status == "unsupported":
            out.fit_checks = _fit_checks(trace, platform, p, weight_b, act_b)
            out.fits = _overall(out.fit_checks)
            return out
        peak = None
    bw = platform.bandwidth().si
    on_chip = platform.memory_model in ("param_cache", "on_chip")
    out.peak_op_per_s = peak
    out.bandwidth_b_per_s = bw if not on_chip else None
    out.ridge_point_flop_per_byte = peak / bw if peak and bw and not on_chip else None
    if sparse:
        out.add_note(msg("roofline.sparse_note"))

    # device / fallback split (Edge TPU: the first unsupported op and everything after it)
    cut, cut_reason = _first_unsupported(trace.records, platform)
    device_ops = trace.records if cut is None else trace.records[:cut]
    host_ops = [] if cut is None else trace.records[cut:]
    effs = _efficiencies(device_ops, eff, cost_model)
    levels = cost_model.cache if cost_model is not None else None
    view_s = cost_model.view_overhead_s if cost_model is not None else 0.0
    # an on-chip cache lowers the ideal bound only (the predicted time moves every byte; the
    # platform's calibration absorbs what the cache saves); the host's cost model has its own
    llc = on_chip_cache_bytes(platform) if levels is None and not on_chip else 0.0
    w_fit = llc > 0 and weight_b <= llc
    ops = [op_estimate(r, p, peak, bw, e, on_chip_memory=on_chip, cache=levels, view_time_s=view_s,
                       ideal_bytes=ideal_dram_bytes(r, p, llc, w_fit) if llc else None)
           for r, e in zip(device_ops, effs, strict=True)]
    if llc:
        out.ideal_cache_bytes = llc
    overheads = [e.op_overhead_us for e in effs]
    if host_ops:
        out.fallback_from_op = host_ops[0].index
        out.fallback_ops = len(host_ops)
        assert cut_reason is not None
        out.add_note(msg("roofline.fallback", index=host_ops[0].index, reason=cut_reason,
                         ops=len(host_ops)))
        if fallback is not None:
            out.fallback_platform = fallback.id
            host_p = p if fallback.runs(p.value) and fallback.peak(compute_precision(p)) else Precision.fp32
            heff = efficiency_for(fallback)
            hpk = fallback.peak(compute_precision(host_p))
            hops = [op_estimate(r, host_p, hpk.si if hpk else None, fallback.bandwidth().si, heff)
                    for r in host_ops]
            for o in hops:
                o.on_device = False
            overheads += [heff.op_overhead_us] * len(hops)
            ops += hops
            out.fallback_time_s = sum(o.predicted_time_s or 0.0 for o in hops)
            if any(o.predicted_time_s is None for o in hops if o.kind != "view"):
                out.latency_is_lower_bound = True
        else:
            out.latency_is_lower_bound = True
            out.add_note(msg("roofline.no_fallback_host"))
    link = platform.host_link()
    link_bw = link.bandwidth_gbps.si if link is not None else None

    # host-link terms for USB/PCIe accelerators without model DRAM
    link_ideal = link_pred = 0.0
    if on_chip:
        dev_w = min(weight_b, sum(r.weight_bytes * byte_scales(r.element_bytes, p)[0]
                                  for r in device_ops))
        io = (trace.input_bytes + trace.output_bytes) * as_
        stream = 0.0
        cache = platform.on_chip.param_cache_mb
        if platform.memory_model == "param_cache" and cache is not None and cache.si is not None:
            stream = max(0.0, dev_w - cache.si)
            if stream > 0:
                out.add_note(msg("roofline.param_cache_stream", weights_mb=dev_w / 1e6,
                                 precision=p.value, cache_mb=cache.si / 1e6,
                                 stream_mb=stream / 1e6))
        if link_bw:
            link_ideal = (stream + io) / link_bw
            link_pred = (stream + io) / (link_bw * eff.eta_m)
            out.host_link_time_s = link_pred
        elif stream + io > 0:
            out.latency_is_lower_bound = True
            out.add_note(msg("roofline.link_unknown"))

    if out.status == "ok" and bw is None and not on_chip and any(o.bytes for o in ops):
        out.latency_is_lower_bound = True
        out.add_note(msg("roofline.bw_unknown"))
    ideal = sum(o.ideal_time_s or 0.0 for o in ops if o.on_device) + link_ideal
    ideal += sum(o.ideal_time_s or 0.0 for o in ops if not o.on_device)
    pred = sum(o.predicted_time_s or 0.0 for o in ops) + link_pred
    out.overhead_time_s = sum(oh * 1e-6 for o, oh in zip(ops, overheads, strict=False)
                              if o.bound != "none" and o.predicted_time_s is not None)
    out.overhead_time_s += view_s * sum(o.kind == OpKind.view.value for o in ops if o.on_device)
    if out.status == "unknown":
        # No sourced peak: the compute term is missing, every other term is kept. The ideal
        # (memory at η = 1, no overhead) is the strict bound. The prediction adds what the
        # runtime costs at any precision: the memory time at η_m and the per-op overhead
        # (calibrated where the platform is; a property of the runtime, not of the precision).
        # It is a lower bound of the prediction a sourced peak would give, not of the device.
        out.ideal_latency_s = ideal or None
        out.predicted_latency_s = pred or None
        out.latency_is_lower_bound = True
        if out.predicted_latency_s is not None:
            out.add_note(msg("roofline.peak_unknown_lb",
                             overhead=Arg(v=out.overhead_time_s, f="ms"),
                             ideal=Arg(v=out.ideal_latency_s, f="ms")))
    else:
        out.ideal_latency_s = ideal
        out.predicted_latency_s = pred
    out.total_bytes = sum(o.bytes for o in ops)
    out.compute_bound_ops = sum(o.bound == "compute" for o in ops)
    out.memory_bound_ops = sum(o.bound == "memory" for o in ops)
    if out.predicted_latency_s:
        out.throughput_per_s = batch_size / out.predicted_latency_s
        draw = system_power(platform)
        out.set_power_basis(draw.basis)
        e, kind = energy_mj(draw, out.predicted_latency_s, out.latency_is_lower_bound)
        if e is not None:
            out.power_w, out.energy_bound = draw.value_w, kind
            out.energy_per_batch_mj = e
            out.energy_per_sample_mj = e / batch_size
    out.by_kind = _by_kind(ops, out.predicted_latency_s or 0.0)
    out.fit_checks = _fit_checks(trace, platform, p, weight_b, act_b)
    out.fits = _overall(out.fit_checks)
    if keep_ops:
        out.ops = ops
    return out


def _by_kind(ops: list[OpEstimate], total: float) -> list[KindBreakdown]:
    rows: dict[str, KindBreakdown] = {}
    for o in ops:
        k = rows.setdefault(o.kind, KindBreakdown(kind=o.kind, ops=0, flops=0, bytes=0.0,
                                                  ideal_time_s=0.0, predicted_time_s=0.0,
                                                  share_of_predicted=0.0))
        k.ops += 1
        k.flops += o.flops
        k.bytes += o.bytes
        k.ideal_time_s += o.ideal_time_s or 0.0
        k.predicted_time_s += o.predicted_time_s or 0.0
    for k in rows.values():
        k.share_of_predicted = k.predicted_time_s / total if total else 0.0
    return sorted(rows.values(), key=lambda k: -k.predicted_time_s)


def estimate(trace: Trace, platform: Platform | str, precisions: list[Precision] | list[str],
             *, batch_size: int = 1, efficiency: dict[str, Any] | Efficiency | None = None,
             fallback: Platform | str | None = "auto", sparse: bool = False,
             keep_ops: bool = True, cost_model: CostModel | None = None,
             runtime_kind: str | None = None) -> PlatformEstimate:
    """Roofline of ``trace`` on ``platform`` for every precision in ``precisions``.

    ``runtime_kind``: eager | compiled, the runtime the trace is predicted on: a platform
    calibration fitted on the other kind is not applied (None: applied as fitted).

    ``fallback``: host platform for ops a USB/PCIe accelerator cannot run ("auto" = the one in
    assumptions.yaml, None = not predicted). ``batch_size``: samples per forward pass.
    ``cost_model``: per-op-regime η and overheads (``costmodel.py``; e.g. the host's
    calibration), shown in the assumptions; None = the platform's one η and overhead."""
    plat = get_platform(platform) if isinstance(platform, str) else platform
    eff = efficiency_for(plat, efficiency, runtime_kind=runtime_kind)
    fb: Platform | None
    if fallback == "auto":
        fid = load_assumptions().fallback_host.get(plat.id)
        fb = get_platform(fid) if fid else None
    elif isinstance(fallback, str):
        fb = get_platform(fallback)
    else:
        fb = fallback
    per = [estimate_precision(trace, plat, p, batch_size=batch_size, efficiency=eff, fallback=fb,
                              sparse=sparse, keep_ops=keep_ops, cost_model=cost_model)
           for p in precisions]
    runnable = [pe for pe in per if pe.status == "ok" and pe.predicted_latency_s]
    best = min(runnable, key=lambda pe: pe.predicted_latency_s or math.inf, default=None)
    return PlatformEstimate(platform_id=plat.id, platform_name=plat.name,
                            platform_class=plat.class_.value, batch_size=batch_size,
                            assumptions=_assumptions(plat, eff, [_prec(p) for p in precisions],
                                                     fb, sparse),
                            per_precision=per, best_precision=best.precision if best else None,
                            cost_model=cost_model,
                            calibration=None if cost_model is not None
                            else calibration_info(plat, runtime_kind))


