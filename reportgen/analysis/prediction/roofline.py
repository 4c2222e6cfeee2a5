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
Platform rules (PLATFORMS-NOTES §4–5): Edge TPU parameter cache + host-link streaming and
rest-of-graph CPU fallback; Hailo-8 on-chip fit; MCU SRAM arena / flash; FPGA hls4ml resources.
"""

from __future__ import annotations

import math
from functools import cache, lru_cache
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field

from reportgen.analysis.counting.records import OpKind, OpRecord, Trace
from reportgen.catalog.lookup import get_platform
from reportgen.catalog.schema import Figure, Platform
from reportgen.report.messages import join_en
from reportgen.spec.schema import Precision
from reportgen.text import Msg, msg

ASSUMPTIONS_PATH = Path(__file__).resolve().parents[2] / "catalog" / "assumptions.yaml"

DTYPE_BYTES: dict[str, float] = {
    "float64": 8, "float32": 4, "float16": 2, "bfloat16": 2, "int8": 1, "uint8": 1,
    "float8_e4m3fn": 1, "float8_e5m2": 1, "int32": 4, "int64": 8,
}

Verdict = Literal["pass", "fail", "unknown", "info"]
Bound = Literal["compute", "memory", "none", "unknown"]


class Model(BaseModel):
    model_config = ConfigDict(extra="forbid")


# ---------------------------------------------------------------------------- assumptions

class Efficiency(Model):
    """Calibration knobs (unsourced): η_c, η_m (fractions of peak) and per-op overhead (µs)."""

    eta_c: float = Field(gt=0, le=1, description="compute efficiency, achieved/peak op/s")
    eta_m: float = Field(gt=0, le=1, description="bandwidth efficiency, achieved/peak B/s")
    op_overhead_us: float = Field(ge=0, le=1e6, description="fixed cost per non-view op, µs")
    why: str = ""


class AssumptionsConfig(Model):
    note: str
    classes: dict[str, Efficiency]
    platforms: dict[str, dict[str, Any]] = Field(default_factory=dict)
    fpga_reuse_factor: int = Field(64, ge=1)
    fallback_host: dict[str, str] = Field(default_factory=dict)


@lru_cache(maxsize=1)
def load_assumptions() -> AssumptionsConfig:
    """``catalog/assumptions.yaml``: η and overheads per platform class (unsourced)."""
    with ASSUMPTIONS_PATH.open(encoding="utf-8") as fh:
        return AssumptionsConfig.model_validate(yaml.safe_load(fh))


OVERRIDDEN = "(overridden in the spec)"


def efficiency_for(platform: Platform, overrides: dict[str, Any] | Efficiency | None = None
                   ) -> Efficiency:
    """η_c, η_m and per-op overhead for ``platform``: class default < per-platform < overrides."""
    cfg = load_assumptions()
    base = cfg.classes[platform.class_.value].model_dump()
    base.update(cfg.platforms.get(platform.id, {}))
    if isinstance(overrides, Efficiency):
        return overrides
    if overrides:
        base.update(overrides)
        base["why"] = (base.get("why", "") + " " + OVERRIDDEN).strip()
    return Efficiency.model_validate(base)


# ---------------------------------------------------------------------------- result models

class UsedFigure(Model):
    """A platform number the prediction used, with its provenance."""

    name: str
    value: float | None
    unit: str
    status: str
    src: list[str] = Field(default_factory=list)
    urls: list[str] = Field(default_factory=list)
    note: str | None = None

    @classmethod
    def of(cls, name: str, fig: Figure | None) -> UsedFigure:
        if fig is None:
            return cls(name=name, value=None, unit="", status="unsourced")
        return cls(name=name, value=fig.value, unit=fig.unit, status=fig.status, src=fig.src,
                   urls=fig.urls, note=fig.note or fig.derivation)


class Assumptions(Model):
    """Everything a prediction rests on: η, overheads, rules and the platform figures used."""

    platform_id: str
    platform_name: str
    compute_unit: str
    memory_model: str
    eta_c: float
    eta_m: float
    op_overhead_us: float
    efficiency_note: str
    rules: list[str]
    figures: list[UsedFigure]
    # the same text, localizable (analysis/messages.py): catalog prose is quoted, not translated
    efficiency_msgs: list[Msg] = Field(default_factory=list)
    rule_msgs: list[Msg] = Field(default_factory=list)


class OpEstimate(Model):
    """One op at one precision. Times in seconds; bytes at the precision."""

    index: int
    op: str
    kind: str
    module: str
    flops: int = Field(description="2 × MACs + vector FLOPs, op")
    bytes: float = Field(description="bytes moved at this precision (un-fused upper bound), B")
    arithmetic_intensity_flop_per_byte: float | None
    compute_time_s: float | None = Field(description="F / (η_c · P_peak)")
    memory_time_s: float | None = Field(description="B / (η_m · BW)")
    ideal_time_s: float | None = Field(description="max(F/P_peak, B/BW), η = 1, no overhead")
    predicted_time_s: float | None = Field(description="derated max + per-op overhead")
    bound: Bound
    on_device: bool = Field(True, description="False: falls back to the host CPU")


class KindBreakdown(Model):
    kind: str
    ops: int
    flops: int
    bytes: float
    ideal_time_s: float
    predicted_time_s: float
    share_of_predicted: float = Field(description="fraction of the predicted latency")


class FitCheck(Model):
    """A capacity test: what the model needs vs what the platform has."""

    name: str
    required: float | None
    available: float | None
    unit: str
    verdict: Verdict
    note: str = ""
    name_msg: Msg | None = None  # ``name``, localizable
    note_msgs: list[Msg] = Field(default_factory=list)  # ``note`` = their English, joined "; "


class PrecisionEstimate(Model):
    """Totals for one precision. ``origin`` = predicted (roofline with the stated assumptions)."""

    precision: str
    status: Literal["ok", "unsupported", "unknown"]
    reason: str = ""
    origin: Literal["predicted"] = "predicted"
    latency_is_lower_bound: bool = Field(False, description="a term could not be computed "
                                                            "(unknown bandwidth/peak)")
    ideal_latency_s: float | None = None
    predicted_latency_s: float | None = None
    throughput_per_s: float | None = Field(None, description="samples/s = batch / predicted latency")
    power_w: float | None = None
    power_basis: str = ""
    energy_per_batch_mj: float | None = Field(None, description="power × predicted latency, mJ")
    energy_per_sample_mj: float | None = None
    total_flops: int = 0
    total_bytes: float = Field(0, description="sum of per-op bytes at this precision, B")
    weight_bytes: float = Field(0, description="unique parameters at this precision, B")
    peak_activation_bytes: float = Field(0, description="peak live activations at this precision, B")
    peak_op_per_s: float | None = None
    bandwidth_b_per_s: float | None = None
    ridge_point_flop_per_byte: float | None = None
    compute_bound_ops: int = 0
    memory_bound_ops: int = 0
    host_link_time_s: float = Field(0, description="weight streaming + input/output transfers "
                                                   "over the host link, predicted")
    fallback_time_s: float | None = Field(None, description="ops run on the host CPU")
    fallback_from_op: int | None = Field(None, description="index of the first op that falls back")
    fallback_ops: int = 0
    fallback_platform: str | None = None
    overhead_time_s: float = 0
    fits: Verdict = "unknown"
    fit_checks: list[FitCheck] = Field(default_factory=list)
    by_kind: list[KindBreakdown] = Field(default_factory=list)
    ops: list[OpEstimate] = Field(default_factory=list)
    notes: list[str] = Field(default_factory=list)
    # localizable versions of reason / power_basis / notes (analysis/messages.py)
    reason_msg: Msg | None = None
    power_basis_msg: Msg | None = None
    note_msgs: list[Msg] = Field(default_factory=list)

    def set_reason(self, m: Msg) -> None:
        self.reason_msg, self.reason = m, m.en()

    def set_power_basis(self, m: Msg) -> None:
        self.power_basis_msg, self.power_basis = m, m.en()

    def add_note(self, m: Msg) -> None:
        self.note_msgs.append(m)
        self.notes.append(m.en())


class PlatformEstimate(Model):
    """The roofline stage's output for one platform."""

    platform_id: str
    platform_name: str
    platform_class: str
    origin: Literal["predicted"] = "predicted"
    batch_size: int
    assumptions: Assumptions
    per_precision: list[PrecisionEstimate]
    best_precision: str | None = Field(None, description="lowest predicted latency among runnable")

    def get(self, precision: str) -> PrecisionEstimate:
        for pe in self.per_precision:
            if pe.precision == str(precision):
                return pe
        raise KeyError(precision)


# ---------------------------------------------------------------------------- helpers

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


def op_bytes(r: OpRecord, precision: Precision) -> float:
    """Bytes an op moves at ``precision`` (weights and activations rescaled)."""
    w, a = byte_scales(r.element_bytes, precision)
    return r.weight_bytes * w + (r.act_bytes_read + r.bytes_written) * a


def compute_precision(precision: Precision) -> str:
    """The peak used for compute: int4 is weight-only, so it computes at fp16."""
    return "fp16" if precision is Precision.int4 else precision.value


def _time(x: float, rate: float | None) -> float | None:
    if x == 0:
        return 0.0
    return x / rate if rate else None


def _max_known(*xs: float | None) -> float | None:
    known = [x for x in xs if x is not None]
    return max(known) if known else None


def op_estimate(r: OpRecord, precision: Precision, peak: float | None, bw: float | None,
                eff: Efficiency, *, on_chip_memory: bool = False) -> OpEstimate:
    """Roofline for one op. ``peak`` in op/s, ``bw`` in B/s (None = unknown).

    ``on_chip_memory``: operands live in on-chip SRAM (Edge TPU cache, Hailo), no DRAM term."""
    F = r.total_flops
    B = op_bytes(r, precision)
    if r.kind == OpKind.view or (F == 0 and B == 0):  # views, allocation-only ops: no kernel
        return OpEstimate.model_construct(index=r.index, op=r.op, kind=r.kind.value, module=r.module, flops=F,
                          bytes=0.0, arithmetic_intensity_flop_per_byte=None, compute_time_s=0.0,
                          memory_time_s=0.0, ideal_time_s=0.0, predicted_time_s=0.0, bound="none")
    tc0 = _time(F, peak)
    tc = _time(F, peak * eff.eta_c if peak else None)
    if on_chip_memory:
        tm0 = tm = 0.0
    else:
        tm0 = _time(B, bw)
        tm = _time(B, bw * eff.eta_m if bw else None)
    ai = F / B if B else None
    if on_chip_memory:
        bound: Bound = "compute"
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


def _first_unsupported(records: list[OpRecord], platform: Platform) -> tuple[int | None, Msg | None]:
    """Position of the first op the device cannot run (Edge TPU partition rule)."""
    kinds = set(platform.supported_op_kinds or [])
    for pos, r in enumerate(records):
        if platform.supported_op_kinds is not None and r.kind.value not in kinds:
            return pos, msg("roofline.op_unsupported", index=r.index, op_code=r.op, kind=r.kind.value)
        if platform.max_tensor_dims is not None and r.kind != OpKind.view:
            # the limit is on activation tensors: a conv's 4-D weight (OHWI) is fine
            acts = r.input_shapes[:1] if r.kind == OpKind.conv else r.input_shapes
            for shape in acts + r.output_shapes:
                if sum(1 for d in shape if d > 1) > platform.max_tensor_dims:
                    return pos, msg("roofline.op_dims", index=r.index, op_code=r.op,
                                    shape=str(list(shape)), dims=platform.max_tensor_dims)
    return None, None


def status_msg(status: str) -> Msg:
    """A catalog figure status (sourced, derived, claim_low, ...) as a message."""
    return msg(f"status.{status}")


def power_basis(platform: Platform) -> tuple[float | None, Msg]:
    """The power figure used for energy, and what it is."""
    picked = platform.power.for_energy()
    if picked is None:
        return None, msg("power.none")
    name, fig = picked
    assert fig.value is not None
    return fig.value, msg("power.basis", label=msg(f"power.label.{name}"), value=fig.value,
                          status=status_msg(fig.status))


def _power(platform: Platform) -> tuple[float | None, str]:
    value, basis = power_basis(platform)
    return value, basis.en()


def trace_element_bytes(trace: Trace) -> float:
    return DTYPE_BYTES.get(trace.dtype.replace("torch.", ""), 4.0)


def _fit(name: str, required: float, available: Figure | None, scale: float, unit: str,
         *notes: Msg) -> FitCheck:
    """``available`` converted with ``scale`` to ``unit``; unusable → unknown.

    ``name`` is the message code under ``msg.fit.`` (its English text is the check's name)."""
    nm = msg(f"fit.{name}")
    if available is None or not available.usable:
        why = msg("fit.capacity_unknown") if available is None else msg(
            "fit.capacity_status", status=status_msg(available.status))
        all_notes = [*notes, why]
        return FitCheck(name=nm.en(), name_msg=nm, required=required, available=None, unit=unit,
                        verdict="unknown", note=join_en(all_notes), note_msgs=all_notes)
    assert available.value is not None
    avail = available.value * scale
    return FitCheck(name=nm.en(), name_msg=nm, required=required, available=avail, unit=unit,
                    verdict="pass" if required <= avail else "fail", note=join_en(notes),
                    note_msgs=list(notes))


# ---------------------------------------------------------------------------- per precision

def _unsupported_reason(platform: Platform, p: Precision) -> tuple[str, Msg] | None:
    """(status, reason) when ``p`` cannot be predicted; None when it can."""
    unit = platform.unit()
    if not platform.runs(p.value):
        pk = unit.peak.get(p.value)
        why = msg("catalog_quote", text=pk.note) if pk is not None and pk.note else (
            msg("roofline.unit_runs", unit=unit.unit, precisions=", ".join(unit.precisions))
            if unit.precisions else msg("roofline.unit_runs_none", unit=unit.unit))
        return "unsupported", msg("roofline.cannot_run", platform=platform.name, unit=unit.unit,
                                  precision=p.value, why=why)
    cp = compute_precision(p)
    fig = platform.peak(cp)
    if fig is None or not fig.usable:
        status = fig.status if fig is not None else "unsourced"
        extra: Msg | str = ""
        if fig is not None and fig.status == "claim_low" and fig.claimed_value is not None:
            extra = msg("roofline.claim_low", value=fig.claimed_value, unit=fig.unit,
                        override_code=f"overrides: {{compute_units.{unit.unit}.peak.{cp}: "
                                      f"{fig.claimed_value:g}}}")
        code = "roofline.peak_status_int4" if p is Precision.int4 else "roofline.peak_status"
        return "unknown", msg(code, precision=cp, unit=unit.unit, status=status_msg(status),
                              extra=extra)
    return None


def estimate_precision(trace: Trace, platform: Platform, precision: Precision | str, *,
                       batch_size: int = 1, efficiency: Efficiency | None = None,
                       fallback: Platform | None = None, sparse: bool = False,
                       keep_ops: bool = True) -> PrecisionEstimate:
    """Predict ``trace`` on ``platform`` at one precision (see module docstring)."""
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
    ops = [op_estimate(r, p, peak, bw, eff, on_chip_memory=on_chip) for r in device_ops]
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
    if out.status == "unknown" and bw and not on_chip:
        out.latency_is_lower_bound = True
        out.add_note(msg("roofline.peak_unknown_lb"))

    ideal = sum(o.ideal_time_s or 0.0 for o in ops if o.on_device) + link_ideal
    ideal += sum(o.ideal_time_s or 0.0 for o in ops if not o.on_device)
    pred = sum(o.predicted_time_s or 0.0 for o in ops) + link_pred
    if out.status == "unknown":
        # memory-only lower bound (no overhead counted as prediction)
        mem_only = sum(o.memory_time_s or 0.0 for o in ops)
        out.ideal_latency_s = sum(o.ideal_time_s or 0.0 for o in ops) or None
        out.predicted_latency_s = (mem_only + link_pred) or None
    else:
        out.ideal_latency_s = ideal
        out.predicted_latency_s = pred
    out.overhead_time_s = sum(eff.op_overhead_us * 1e-6 for o in ops
                              if o.bound != "none" and o.predicted_time_s is not None)
    out.total_bytes = sum(o.bytes for o in ops)
    out.compute_bound_ops = sum(o.bound == "compute" for o in ops)
    out.memory_bound_ops = sum(o.bound == "memory" for o in ops)
    if out.predicted_latency_s:
        out.throughput_per_s = batch_size / out.predicted_latency_s
        power, basis = power_basis(platform)
        out.set_power_basis(basis)
        if power is not None:
            out.power_w = power
            out.energy_per_batch_mj = power * out.predicted_latency_s * 1e3
            out.energy_per_sample_mj = out.energy_per_batch_mj / batch_size
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


def _overall(checks: list[FitCheck]) -> Verdict:
    hard = [c for c in checks if c.verdict != "info"]
    def code(c: FitCheck) -> str:
        return c.name_msg.code if c.name_msg else ""

    if any(c.verdict == "fail" and code(c) not in ("fit.param_cache", "fit.dsp", "fit.bram")
           for c in hard):
        return "fail"
    if hard and all(c.verdict == "pass" for c in hard if code(c) not in ("fit.dsp", "fit.bram")):
        return "pass"
    return "unknown"


def _fit_checks(trace: Trace, platform: Platform, p: Precision, weight_b: float,
                act_b: float) -> list[FitCheck]:
    """Capacity tests in bytes (MB = 1e6 B in the fields), per platform rule."""
    mb = 1e-6
    checks: list[FitCheck] = []
    oc = platform.on_chip
    if platform.memory_model == "dram":
        notes = [msg("fit.weights_acts")]
        if platform.memory.unified:
            notes.append(msg("fit.unified"))
        checks.append(_fit("memory_capacity", (weight_b + act_b) * mb, platform.capacity(), 1e3,
                           "MB", *notes))
    elif platform.memory_model == "param_cache":
        checks.append(_fit("param_cache", weight_b * mb, oc.param_cache_mb, 1.0, "MB",
                           msg("fit.param_cache_note")))
    elif platform.memory_model == "on_chip":
        checks.append(_fit("on_chip", (weight_b + act_b) * mb, oc.sram_mb, 1.0, "MB",
                           msg("fit.on_chip_note")))
    elif platform.memory_model == "mcu":
        sram = oc.usable_sram_kb if oc.usable_sram_kb is not None and oc.usable_sram_kb.usable \
            else oc.sram_kb
        checks.append(_fit("sram_arena", act_b * mb, sram, 1e-3, "MB", msg("fit.sram_note")))
        checks.append(_fit("flash", weight_b * mb, oc.flash_mb, 1.0, "MB"))
    if platform.class_.value == "fpga" and oc.dsp_slices is not None:
        rf = load_assumptions().fpga_reuse_factor
        macs = sum(r.macs for r in trace.records)
        dsp = oc.dsp_slices.value if oc.dsp_slices.usable else None
        need = macs / rf
        min_rf = math.ceil(macs / dsp) if dsp else None
        name, note = msg("fit.dsp"), msg("fit.dsp_note", rf=rf,
                                           min_rf=min_rf if min_rf is not None else "—")
        checks.append(FitCheck(
            name=name.en(), name_msg=name, required=need, available=dsp, unit="DSP",
            verdict="unknown" if dsp is None else ("pass" if need <= dsp else "fail"),
            note=note.en(), note_msgs=[note]))
        checks.append(_fit("bram", weight_b * mb, oc.bram_uram_mb, 1.0, "MB",
                           msg("fit.bram_note")))
    return checks


# ---------------------------------------------------------------------------- per platform

def estimate(trace: Trace, platform: Platform | str, precisions: list[Precision] | list[str],
             *, batch_size: int = 1, efficiency: dict[str, Any] | Efficiency | None = None,
             fallback: Platform | str | None = "auto", sparse: bool = False,
             keep_ops: bool = True) -> PlatformEstimate:
    """Roofline of ``trace`` on ``platform`` for every precision in ``precisions``.

    ``fallback``: host platform for ops a USB/PCIe accelerator cannot run ("auto" = the one in
    assumptions.yaml, None = not predicted). ``batch_size``: samples per forward pass."""
    plat = get_platform(platform) if isinstance(platform, str) else platform
    eff = efficiency_for(plat, efficiency)
    fb: Platform | None
    if fallback == "auto":
        fid = load_assumptions().fallback_host.get(plat.id)
        fb = get_platform(fid) if fid else None
    elif isinstance(fallback, str):
        fb = get_platform(fallback)
    else:
        fb = fallback
    per = [estimate_precision(trace, plat, p, batch_size=batch_size, efficiency=eff, fallback=fb,
                              sparse=sparse, keep_ops=keep_ops) for p in precisions]
    runnable = [pe for pe in per if pe.status == "ok" and pe.predicted_latency_s]
    best = min(runnable, key=lambda pe: pe.predicted_latency_s or math.inf, default=None)
    return PlatformEstimate(platform_id=plat.id, platform_name=plat.name,
                            platform_class=plat.class_.value, batch_size=batch_size,
                            assumptions=_assumptions(plat, eff, [_prec(p) for p in precisions],
                                                     fb, sparse),
                            per_precision=per, best_precision=best.precision if best else None)


def _assumptions(plat: Platform, eff: Efficiency, precisions: list[Precision],
                 fb: Platform | None, sparse: bool) -> Assumptions:
    figs: list[UsedFigure] = []
    for cp in dict.fromkeys(compute_precision(p) for p in precisions):
        if plat.runs(cp) or cp == "fp16":
            pk = plat.peak(cp, sparse=sparse)
            if pk is not None:
                figs.append(UsedFigure.of(f"peak {cp} {'sparse' if sparse else 'dense'}", pk))
    figs.append(UsedFigure.of("memory bandwidth", plat.bandwidth()))
    figs.append(UsedFigure.of("memory capacity", plat.capacity()))
    for name in ("param_cache_mb", "sram_mb", "sram_kb", "usable_sram_kb", "flash_mb",
                 "bram_uram_mb", "dsp_slices"):
        f = getattr(plat.on_chip, name)
        if f is not None:
            figs.append(UsedFigure.of(f"on-chip {name}", f))
    link = plat.host_link()
    if link is not None:
        figs.append(UsedFigure.of(f"host link {link.name}", link.bandwidth_gbps))
    picked = plat.power.for_energy()
    figs.append(UsedFigure.of(f"power ({picked[0]})" if picked else "power", picked[1] if picked
                              else None))
    figs.append(UsedFigure.of("price", plat.price_usd))
    rules = [msg("rule.flops_bytes"), msg("rule.time"),
             msg("rule.dense_sparse" if sparse else "rule.dense"), msg("rule.int4")]
    if plat.memory_model == "param_cache":
        rules.append(msg("rule.edge_tpu", host=msg("rule.edge_tpu_host", host=fb.id) if fb else ""))
    if plat.memory_model == "on_chip":
        rules.append(msg("rule.on_chip"))
    if plat.memory_model == "mcu":
        rules.append(msg("rule.mcu"))
    why, overridden = eff.why, eff.why.endswith(OVERRIDDEN)
    if overridden:
        why = why[: -len(OVERRIDDEN)].strip()
    eff_msgs = [msg("catalog_quote", text=f"{load_assumptions().note} {why}".strip())]
    if overridden:
        eff_msgs.append(msg("roofline.eta_overridden"))
    return Assumptions(platform_id=plat.id, platform_name=plat.name, compute_unit=plat.default_unit,
                       memory_model=plat.memory_model, eta_c=eff.eta_c, eta_m=eff.eta_m,
                       op_overhead_us=eff.op_overhead_us,
                       efficiency_note=f"{load_assumptions().note} {eff.why}".strip(),
                       rules=[r.en() for r in rules], figures=figs, efficiency_msgs=eff_msgs,
                       rule_msgs=rules)
