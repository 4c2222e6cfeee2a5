"""Bottlenecks: a ranked list of findings, each with a stable type id, a location, the evidence
(numbers with units and origin) and why it matters against the spec's constraints. No torch.

Impact is the share of the predicted latency a finding explains (0–1); findings that block the
deployment outright (capacity, constraint failures) rank above 1. Times are seconds, bytes are
bytes, shares are fractions. Thresholds come from ``thresholds.yaml``. Sentences are not written
here: each finding names catalog keys (``findings.*``) and the arguments to fill in.
"""

from __future__ import annotations

import math
from collections import defaultdict
from enum import StrEnum, unique
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import yaml
from pydantic import BaseModel, Field

from reportgen.analysis.messages import Msg
from reportgen.analysis.records import OpKind, OpRecord, Trace
from reportgen.analysis.roofline import OpEstimate, PlatformEstimate, PrecisionEstimate

if TYPE_CHECKING:
    from reportgen.analysis.costs import CostAnalysis
    from reportgen.catalog.platforms import Platform
    from reportgen.spec import Constraints

THRESHOLDS_PATH = Path(__file__).with_name("thresholds.yaml")

Fmt = Literal["num", "int", "si", "bytes", "pct", "ms", "x", "code", "text", "key", "exp"]
OriginName = Literal["counted", "predicted", "measured", "published", "given"]


@lru_cache(maxsize=1)
def thresholds() -> dict[str, Any]:
    """``thresholds.yaml`` as a dict (findings and hypotheses sections)."""
    with THRESHOLDS_PATH.open(encoding="utf-8") as fh:
        return yaml.safe_load(fh)


@unique
class FindingType(StrEnum):
    compute_bound = "compute-bound"
    memory_bound = "memory-bound"
    overhead_bound = "overhead-bound"
    capacity = "capacity"
    bandwidth_io = "bandwidth-io"
    scaling = "scaling"
    unsupported = "unsupported"
    uncounted = "uncounted"


class Arg(BaseModel):
    """A value filled into a catalog sentence; ``f`` says how the template formats it
    (ms: seconds shown in ms; key: a catalog key to translate; code/text: model text)."""

    v: float | int | str | None
    f: Fmt = "num"


class Evidence(BaseModel):
    label: str = Field(description="catalog key under findings.ev")
    value: float | int | str | None
    unit: str = Field(description="s, B, fraction, MAC, FLOP/B, count, exponent, text")
    f: Fmt = "num"
    origin: OriginName
    msg: Msg | None = Field(None, description="a generated sentence (analysis/messages.py) the "
                            "report prints instead of a text value")


class Location(BaseModel):
    module: str | None = None
    op: str | None = None
    layer_type: str | None = None


class Finding(BaseModel):
    """One bottleneck."""

    id: str = Field(description="stable: type:subtype:layer type")
    type: FindingType
    subtype: str = ""
    rank: int = 0
    impact: float = Field(description="share of predicted latency explained; > 1 = blocking")
    severity: Literal["blocking", "high", "medium", "low"]
    location: Location
    time_s: float | None = Field(None, description="predicted time attributable, s")
    summary_key: str
    summary_args: dict[str, Arg] = Field(default_factory=dict)
    why_key: str
    why_args: dict[str, Arg] = Field(default_factory=dict)
    evidence: list[Evidence] = Field(default_factory=list)


class ScalingProbe(BaseModel):
    """Cost at the spec's input size and at ``factor`` × it (re-traced on meta)."""

    axis: str = Field(description="catalog key of the swept size (pixels, tokens, seconds, batch)")
    size: float
    factor: float
    macs: int
    macs_scaled: int
    latency_s: float | None = None
    latency_scaled_s: float | None = None
    macs_exponent: float
    latency_exponent: float | None = None
    linear: float = Field(1.0, description="the exponent of linear growth on this axis (2 for an "
                                          "image side: cost ∝ pixels)")
    budget_size: float | None = Field(None, description="size at which the latency budget is "
                                                        "reached (power-law extrapolation)")
    origin: Literal["counted", "predicted", "measured"] = "predicted"


class FindingsReport(BaseModel):
    """The findings stage's output."""

    platform_id: str | None = None
    precision: str | None = Field(None, description="precision the findings were judged at")
    predicted_latency_s: float | None = None
    latency_budget_s: float | None = None
    items: list[Finding] = Field(default_factory=list)
    scaling: ScalingProbe | None = None
    missing: list[str] = Field(default_factory=list, description="catalog keys: what could not "
                                                                 "be judged and why")

    def of_type(self, t: FindingType | str) -> list[Finding]:
        return [f for f in self.items if f.type == t]

    @property
    def types(self) -> list[str]:
        return list(dict.fromkeys(f.type.value for f in self.items))


# ---------------------------------------------------------------------------- helpers

def as_estimate(obj: Any) -> PlatformEstimate | None:
    """The PlatformEstimate inside ``result.roofline`` (model, wrapper or dict), or None."""
    if obj is None:
        return None
    if isinstance(obj, PlatformEstimate):
        return obj
    for attr in ("estimate", "target", "platform_estimate"):
        inner = getattr(obj, attr, None) if not isinstance(obj, dict) else obj.get(attr)
        if inner is not None:
            return as_estimate(inner)
    if isinstance(obj, dict):
        try:
            return PlatformEstimate.model_validate(obj)
        except Exception:
            return None
    return None


DTYPE_PRECISION = {"float32": "fp32", "float16": "fp16", "bfloat16": "bf16"}


def baseline_precision(est: PlatformEstimate, trace_dtype: str) -> PrecisionEstimate | None:
    """The precision the model runs at as traced, if the target runs it; else the best runnable
    (or, failing that, the first with a lower-bound prediction)."""
    native = DTYPE_PRECISION.get(trace_dtype.replace("torch.", ""), "fp32")
    per = {pe.precision: pe for pe in est.per_precision}
    if native in per and per[native].status == "ok" and per[native].predicted_latency_s:
        return per[native]
    if est.best_precision:
        return per[est.best_precision]
    known = [pe for pe in est.per_precision if pe.predicted_latency_s]
    return known[0] if known else None


def _severity(impact: float) -> Literal["blocking", "high", "medium", "low"]:
    th = thresholds()["findings"]["severity"]
    if impact > 1:
        return "blocking"
    return "high" if impact >= th["high"] else "medium" if impact >= th["medium"] else "low"


def _why_time(time_s: float, total: float | None, budget: float | None) -> tuple[str, dict[str, Arg]]:
    args = {"time": Arg(v=time_s, f="ms"), "total": Arg(v=total, f="ms")}
    if budget is None or total is None:
        return "findings.why.latency_none", args
    args["budget"] = Arg(v=budget, f="ms")
    if total > budget:
        args["gap"] = Arg(v=total - budget, f="ms")
        args["closes"] = Arg(v=min(1.0, time_s / (total - budget)), f="pct")
        return "findings.why.latency_over", args
    args["headroom"] = Arg(v=(budget - total) / budget, f="pct")
    return "findings.why.latency_within", args


def depthwise(r: OpRecord) -> bool:
    """A grouped conv whose weight has one input channel per group (depthwise)."""
    if r.kind != OpKind.conv or len(r.input_shapes) < 2 or len(r.input_shapes[1]) < 3:
        return False
    return r.input_shapes[1][1] == 1 and len(r.input_shapes[0]) > 1 and r.input_shapes[0][1] > 1


def activation_rows(r: OpRecord) -> int:
    """Rows of a matmul's activation operand (batch × tokens); large for GEMM, 1 for GEMV."""
    if not r.input_shapes:
        return 0
    shapes = [s for s in r.input_shapes if s]
    act = shapes[0] if r.op.startswith(("aten.mm", "aten.bmm", "aten.matmul", "aten.linear")) \
        else (shapes[1] if r.op.startswith("aten.addmm") and len(shapes) > 1 else shapes[0])
    return math.prod(act[:-1]) if len(act) > 1 else 1


def memory_category(r: OpRecord, decode_rows: int) -> str:
    if r.kind == OpKind.embedding:
        return "embedding"
    if r.kind == OpKind.conv:
        return "depthwise" if depthwise(r) else "conv"
    if r.kind == OpKind.normalization:
        return "softmax" if "softmax" in r.op else "normalization"
    if r.kind in (OpKind.matmul, OpKind.attention):
        return "weight_streaming" if r.weight_bytes and activation_rows(r) <= decode_rows \
            else "matmul"
    return r.kind.value  # elementwise, reduction, data_movement, other


def _top(ops: list[tuple[OpEstimate, OpRecord]]) -> tuple[OpEstimate, OpRecord]:
    return max(ops, key=lambda p: (p[0].predicted_time_s or 0.0, -p[0].index))


def _loc(r: OpRecord) -> Location:
    return Location(module=r.module or "<model>", op=r.op, layer_type=r.module_type)


def _median(xs: list[float]) -> float | None:
    """Median of the positive values (ops without FLOPs do not define an intensity)."""
    xs = sorted(x for x in xs if x is not None and x > 0)
    return xs[len(xs) // 2] if xs else None


# ---------------------------------------------------------------------------- finders

def _compute_bound(pairs: list[tuple[OpEstimate, OpRecord]], pe: PrecisionEstimate,
                   budget: float | None) -> list[Finding]:
    th = thresholds()["findings"]
    total = pe.predicted_latency_s or 0.0
    groups: dict[str, list[tuple[OpEstimate, OpRecord]]] = defaultdict(list)
    for o, r in pairs:
        if o.bound == "compute" and r.kind in (OpKind.matmul, OpKind.conv, OpKind.attention):
            groups[r.module_type].append((o, r))
    out = []
    for lt, ops in groups.items():
        t = sum(o.predicted_time_s or 0.0 for o, _ in ops)
        share = t / total if total else 0.0
        if share < th["compute_share"]:
            continue
        top_o, top_r = _top(ops)
        macs = sum(r.macs for _, r in ops)
        ai = _median([o.arithmetic_intensity_flop_per_byte or 0.0 for o, _ in ops])
        key, why = _why_time(t, total, budget)
        out.append(Finding(
            id=f"compute-bound:{lt}", type=FindingType.compute_bound, subtype=top_r.kind.value,
            impact=share, severity=_severity(share), location=_loc(top_r), time_s=t,
            summary_key="findings.summary.compute_bound",
            summary_args={"layer_type": Arg(v=lt, f="code"), "ops": Arg(v=len(ops), f="int"),
                          "share": Arg(v=share, f="pct"), "macs": Arg(v=macs, f="si"),
                          "module": Arg(v=top_r.module or "<model>", f="code")},
            why_key=key, why_args=why,
            evidence=[
                Evidence(label="share_latency", value=share, unit="fraction", f="pct", origin="predicted"),
                Evidence(label="time", value=t, unit="s", f="ms", origin="predicted"),
                Evidence(label="macs", value=macs, unit="MAC", f="si", origin="counted"),
                Evidence(label="intensity", value=ai, unit="FLOP/B", f="num", origin="counted"),
                Evidence(label="ridge", value=pe.ridge_point_flop_per_byte, unit="FLOP/B", f="num",
                         origin="predicted"),
            ]))
    out.sort(key=lambda f: -f.impact)
    return out[: th["compute_max"]]


def _memory_bound(pairs: list[tuple[OpEstimate, OpRecord]], pe: PrecisionEstimate,
                  budget: float | None) -> list[Finding]:
    th = thresholds()["findings"]
    total = pe.predicted_latency_s or 0.0
    groups: dict[str, list[tuple[OpEstimate, OpRecord]]] = defaultdict(list)
    for o, r in pairs:
        if o.bound == "memory" and o.on_device:
            groups[memory_category(r, th["decode_rows"])].append((o, r))
    out = []
    for cat, ops in groups.items():
        t = sum(o.predicted_time_s or 0.0 for o, _ in ops)
        share = t / total if total else 0.0
        if share < th["memory_share"]:
            continue
        top_o, top_r = _top(ops)
        by_type: dict[str, float] = defaultdict(float)
        for o, r in ops:
            by_type[r.module_type] += o.predicted_time_s or 0.0
        lt = max(by_type, key=lambda k: by_type[k])
        nbytes = sum(o.bytes for o, _ in ops)
        ai = _median([o.arithmetic_intensity_flop_per_byte or 0.0 for o, _ in ops])
        key, why = _why_time(t, total, budget)
        out.append(Finding(
            id=f"memory-bound:{cat}", type=FindingType.memory_bound, subtype=cat, impact=share,
            severity=_severity(share), location=Location(module=top_r.module or "<model>",
                                                         op=top_r.op, layer_type=lt),
            time_s=t, summary_key="findings.summary.memory_bound" if pe.ridge_point_flop_per_byte
            else "findings.summary.memory_bound_noridge",
            summary_args={"what": Arg(v=f"findings.category.{cat}", f="key"),
                          "layer_type": Arg(v=lt, f="code"), "ops": Arg(v=len(ops), f="int"),
                          "share": Arg(v=share, f="pct"), "intensity": Arg(v=ai),
                          "ridge": Arg(v=pe.ridge_point_flop_per_byte)},
            why_key=key, why_args=why,
            evidence=[
                Evidence(label="share_latency", value=share, unit="fraction", f="pct", origin="predicted"),
                Evidence(label="time", value=t, unit="s", f="ms", origin="predicted"),
                Evidence(label="bytes", value=nbytes, unit="B", f="bytes", origin="counted"),
                Evidence(label="intensity", value=ai, unit="FLOP/B", origin="counted"),
                Evidence(label="ridge", value=pe.ridge_point_flop_per_byte, unit="FLOP/B",
                         origin="predicted"),
            ]))
    out.sort(key=lambda f: -f.impact)
    return out[: th["memory_max"]]


def _class_comparisons(measurements: Any) -> list[tuple[str, float, float]]:
    """(op class, measured_s, predicted_s) per op class from ``result.measurements``."""
    times = getattr(measurements, "class_times", None)
    return [(g, m, p) for g, m, p in times() if g] if callable(times) else []


def _overhead(pairs: list[tuple[OpEstimate, OpRecord]], pe: PrecisionEstimate,
              budget: float | None, measurements: Any, eta_overhead_us: float) -> list[Finding]:
    th = thresholds()["findings"]
    out: list[Finding] = []
    total = pe.predicted_latency_s or 0.0
    comps = _class_comparisons(measurements) if measurements is not None else []
    meas_total = sum(m for _, m, _ in comps)
    for group, m, p in comps:
        if p > 0 and m / p >= th["measured_over_predicted"] and meas_total and \
                m / meas_total >= th["measured_min_share"]:
            share = m / meas_total
            out.append(Finding(
                id=f"overhead-bound:measured:{group}", type=FindingType.overhead_bound,
                subtype="measured", impact=share, severity=_severity(share),
                location=Location(op=group), time_s=None,
                summary_key="findings.summary.overhead_measured",
                summary_args={"group": Arg(v=f"findings.group.{group}", f="key"),
                              "ratio": Arg(v=m / p, f="x"), "measured": Arg(v=m, f="ms"),
                              "predicted": Arg(v=p, f="ms")},
                why_key="findings.why.overhead_measured", why_args={"share": Arg(v=share, f="pct")},
                evidence=[Evidence(label="measured", value=m, unit="s", f="ms", origin="measured"),
                          Evidence(label="predicted_host", value=p, unit="s", f="ms", origin="predicted")]))
    if total and pe.overhead_time_s / total >= th["overhead_share"]:
        share = pe.overhead_time_s / total
        tiny = sum(1 for o, _ in pairs if o.kind != "view" and o.predicted_time_s is not None
                   and (o.predicted_time_s - eta_overhead_us * 1e-6) * 1e6 < th["tiny_op_us"])
        ops = sum(1 for o, _ in pairs if o.kind != "view")
        key, why = _why_time(pe.overhead_time_s, total, budget)
        out.append(Finding(
            id="overhead-bound:per-op", type=FindingType.overhead_bound, subtype="per_op",
            impact=share, severity=_severity(share), location=Location(module="<model>"),
            time_s=pe.overhead_time_s, summary_key="findings.summary.overhead",
            summary_args={"ops": Arg(v=ops, f="int"), "tiny": Arg(v=tiny, f="int"),
                          "overhead_us": Arg(v=eta_overhead_us), "share": Arg(v=share, f="pct")},
            why_key=key, why_args=why,
            evidence=[Evidence(label="ops", value=ops, unit="count", f="int", origin="counted"),
                      Evidence(label="tiny_ops", value=tiny, unit="count", f="int", origin="predicted"),
                      Evidence(label="overhead", value=pe.overhead_time_s, unit="s", f="ms",
                               origin="predicted")]))
    return out


def _capacity(pe: PrecisionEstimate | None, constraints: Constraints | None, trace: Trace | None,
              platform: Platform | None, precision: str) -> list[Finding]:
    out: list[Finding] = []
    checks = pe.fit_checks if pe is not None else []
    if pe is None and trace is not None and platform is not None and platform.capacity().usable:
        from reportgen.analysis.roofline import FitCheck
        need = (trace.param_bytes + trace.peak_activation_bytes) / 1e6
        cap = (platform.capacity().value or 0) * 1e3
        checks = [FitCheck(name="memory capacity", required=need, available=cap, unit="MB",
                           verdict="pass" if need <= cap else "fail", note="counted, as traced")]
    for c in checks:
        if c.verdict != "fail" or c.required is None:
            continue
        soft = c.name.startswith(("parameter cache", "hls4ml"))
        impact = 0.5 if soft else 2.0
        out.append(Finding(
            id=f"capacity:{c.name}", type=FindingType.capacity, subtype=c.name, impact=impact,
            severity=_severity(impact), location=Location(module="<model>"),
            summary_key="findings.summary.capacity",
            summary_args={"check": Arg(v=c.name, f="text"), "required": Arg(v=c.required),
                          "available": Arg(v=c.available), "unit": Arg(v=c.unit, f="text"),
                          "precision": Arg(v=precision, f="text")},
            why_key="findings.why.capacity_soft" if soft else "findings.why.capacity",
            why_args={"ratio": Arg(v=c.required / c.available if c.available else None, f="x")},
            evidence=[Evidence(label="required", value=c.required, unit=c.unit, origin="counted"),
                      Evidence(label="available", value=c.available, unit=c.unit, origin="published")]))
    if constraints is not None and constraints.memory_mb is not None and trace is not None:
        need = ((pe.weight_bytes + pe.peak_activation_bytes) if pe is not None
                else trace.param_bytes + trace.peak_activation_bytes) / 1e6
        if need > constraints.memory_mb:
            out.append(Finding(
                id="capacity:memory_budget", type=FindingType.capacity, subtype="memory_budget",
                impact=1.5, severity="blocking", location=Location(module="<model>"),
                summary_key="findings.summary.memory_budget",
                summary_args={"required": Arg(v=need), "budget": Arg(v=constraints.memory_mb),
                              "precision": Arg(v=precision, f="text")},
                why_key="findings.why.capacity",
                why_args={"ratio": Arg(v=need / constraints.memory_mb, f="x")},
                evidence=[Evidence(label="required", value=need, unit="MB", origin="counted"),
                          Evidence(label="budget", value=constraints.memory_mb, unit="MB",
                                   origin="given")]))
    return out


def _bandwidth(pe: PrecisionEstimate, trace: Trace, platform: Platform | None,
               constraints: Constraints | None, batch: int, budget: float | None) -> list[Finding]:
    th = thresholds()["findings"]
    out: list[Finding] = []
    total = pe.predicted_latency_s or 0.0
    link = platform.host_link() if platform is not None else None
    if total and pe.host_link_time_s / total >= th["host_link_share"]:
        share = pe.host_link_time_s / total
        key, why = _why_time(pe.host_link_time_s, total, budget)
        out.append(Finding(
            id="bandwidth-io:host-link", type=FindingType.bandwidth_io, subtype="host_link",
            impact=share, severity=_severity(share), location=Location(module="<model>"),
            time_s=pe.host_link_time_s, summary_key="findings.summary.host_link",
            summary_args={"link": Arg(v=link.name if link else "?", f="text"),
                          "time": Arg(v=pe.host_link_time_s, f="ms"), "share": Arg(v=share, f="pct")},
            why_key=key, why_args=why,
            evidence=[Evidence(label="link_time", value=pe.host_link_time_s, unit="s", f="ms",
                               origin="predicted")]))
    if constraints is None:
        return out
    from reportgen.analysis.verdicts import input_rate_b_per_s
    rate, basis = input_rate_b_per_s(constraints)
    if rate is None and constraints.throughput_per_s is not None:
        rate = constraints.throughput_per_s * trace.input_bytes / max(batch, 1)
    if rate is None:
        return out
    if link is not None and link.bandwidth_gbps.usable:
        avail, via = link.bandwidth_gbps.si, link.name
    else:
        avail, via = platform.bandwidth().si if platform is not None else None, "memory"
    if avail and rate / avail >= th["input_link_share"]:
        frac = rate / avail
        impact = 1.5 if frac > 1 else frac
        out.append(Finding(
            id="bandwidth-io:input", type=FindingType.bandwidth_io, subtype="input_stream",
            impact=impact, severity=_severity(impact), location=Location(module="<input>"),
            summary_key="findings.summary.input_stream",
            summary_args={"rate": Arg(v=rate, f="bytes"), "link": Arg(v=via, f="text"),
                          "avail": Arg(v=avail, f="bytes"), "frac": Arg(v=frac, f="pct")},
            why_key="findings.why.input_stream", why_args={"frac": Arg(v=frac, f="pct")},
            evidence=[Evidence(label="input_rate", value=rate, unit="B/s", f="bytes", origin="given"),
                      Evidence(label="link_bw", value=avail, unit="B/s", f="bytes", origin="published")]))
    return out


def _scaling(probe: ScalingProbe | None, budget: float | None) -> list[Finding]:
    th = thresholds()["findings"]
    if probe is None:
        return []
    k = probe.latency_exponent if probe.latency_exponent is not None else probe.macs_exponent
    if max(k, probe.macs_exponent) / probe.linear < th["scaling_exponent"]:
        return []
    impact = 0.3 + 0.2 * min(k / probe.linear - 1, 1.0)
    if probe.budget_size is not None and probe.budget_size <= probe.size * probe.factor:
        impact += 0.3
    args = {"axis": Arg(v=f"findings.axis.{probe.axis}", f="key"), "k": Arg(v=k, f="exp"),
            "kmacs": Arg(v=probe.macs_exponent, f="exp"), "factor": Arg(v=probe.factor, f="x"),
            "lat": Arg(v=probe.latency_s, f="ms"), "lat2": Arg(v=probe.latency_scaled_s, f="ms")}
    if probe.budget_size is not None and budget is not None:
        why_key, why = "findings.why.scaling_cross", {"size": Arg(v=probe.budget_size),
                                                       "axis": args["axis"],
                                                       "budget": Arg(v=budget, f="ms")}
    else:
        why_key, why = "findings.why.scaling", {"k": args["k"]}
    return [Finding(
        id=f"scaling:{probe.axis}", type=FindingType.scaling, subtype=probe.axis, impact=impact,
        severity=_severity(impact), location=Location(module="<model>"),
        summary_key="findings.summary.scaling" if probe.latency_s and probe.latency_scaled_s
        else "findings.summary.scaling_counted", summary_args=args, why_key=why_key, why_args=why,
        evidence=[Evidence(label="size", value=probe.size, unit=probe.axis, origin="given"),
                  Evidence(label="macs_exponent", value=probe.macs_exponent, unit="exponent",
                           f="exp", origin="counted"),
                  Evidence(label="latency_exponent", value=probe.latency_exponent, unit="exponent",
                           f="exp", origin=probe.origin)])]


def _unsupported(est: PlatformEstimate | None, pe: PrecisionEstimate | None,
                 budget: float | None) -> list[Finding]:
    out: list[Finding] = []
    if est is None:
        return out
    for x in est.per_precision:
        if x.status == "unsupported":
            out.append(Finding(
                id=f"unsupported:precision:{x.precision}", type=FindingType.unsupported,
                subtype="precision", impact=0.2, severity="medium",
                location=Location(module="<model>"),
                summary_key="findings.summary.unsupported_precision",
                summary_args={"precision": Arg(v=x.precision, f="text"),
                              "platform": Arg(v=est.platform_name, f="text")},
                why_key="findings.why.unsupported_precision",
                why_args={"runs": Arg(v=", ".join(p.precision for p in est.per_precision
                                                  if p.status != "unsupported") or "—", f="text")},
                evidence=[Evidence(label="reason", value=x.reason, unit="text", f="text",
                                   origin="published", msg=x.reason_msg)]))
    if pe is not None and pe.fallback_ops:
        total = pe.predicted_latency_s or 0.0
        t = pe.fallback_time_s or 0.0
        share = t / total if total else 0.0
        impact = max(share, 0.5)
        key, why = _why_time(t, total, budget)
        first = next((o for o in pe.ops if not o.on_device), None)
        out.append(Finding(
            id="unsupported:fallback", type=FindingType.unsupported, subtype="fallback",
            impact=impact, severity=_severity(impact),
            location=Location(module=first.module if first else None, op=first.op if first else None),
            time_s=t, summary_key="findings.summary.fallback",
            summary_args={"ops": Arg(v=pe.fallback_ops, f="int"),
                          "first": Arg(v=pe.fallback_from_op, f="int"),
                          "op": Arg(v=first.op if first else "?", f="code"),
                          "host": Arg(v=pe.fallback_platform or "?", f="text"),
                          "time": Arg(v=t, f="ms"), "share": Arg(v=share, f="pct")},
            why_key=key, why_args=why,
            evidence=[Evidence(label="fallback_ops", value=pe.fallback_ops, unit="count", f="int",
                               origin="counted"),
                      Evidence(label="time", value=t, unit="s", f="ms", origin="predicted")]))
    return out


def _uncounted(costs: CostAnalysis | None, pairs: list[tuple[OpEstimate, OpRecord]],
               pe: PrecisionEstimate | None) -> list[Finding]:
    th = thresholds()["findings"]
    if costs is None or costs.summary.not_counted_bytes_share < th["uncounted_share"]:
        return []
    share = costs.summary.not_counted_bytes_share
    t = sum(o.predicted_time_s or 0.0 for o, r in pairs if not r.counted) if pairs else None
    total = pe.predicted_latency_s if pe else None
    tshare = t / total if t is not None and total else None
    top = costs.not_counted[0]
    impact = max(share, tshare or 0.0)
    return [Finding(
        id="uncounted:ops", type=FindingType.uncounted, subtype="no_formula", impact=impact,
        severity=_severity(impact), location=Location(op=top.op, module=top.modules[0] if top.modules else None),
        time_s=t, summary_key="findings.summary.uncounted",
        summary_args={"n": Arg(v=len(costs.not_counted), f="int"),
                      "ops": Arg(v=", ".join(r.op.removeprefix("aten.") for r in costs.not_counted[:3]),
                                 f="code"),
                      "share": Arg(v=share, f="pct")},
        why_key="findings.why.uncounted", why_args={"tshare": Arg(v=tshare, f="pct")},
        evidence=[Evidence(label="bytes_share", value=share, unit="fraction", f="pct", origin="counted"),
                  Evidence(label="time", value=t, unit="s", f="ms", origin="predicted")])]


# ---------------------------------------------------------------------------- entry point

def find_bottlenecks(trace: Trace | None, costs: CostAnalysis | None,
                     est: PlatformEstimate | None, platform: Platform | None = None,
                     constraints: Constraints | None = None, *, measurements: Any = None,
                     probe: ScalingProbe | None = None) -> FindingsReport:
    """Every bottleneck that clears its threshold, ranked by impact (see module docstring)."""
    rep = FindingsReport(platform_id=est.platform_id if est else (platform.id if platform else None),
                         scaling=probe)
    budget = constraints.latency_ms / 1e3 if constraints and constraints.latency_ms else None
    rep.latency_budget_s = budget
    pe = baseline_precision(est, trace.dtype if trace else "float32") if est else None
    if est is None:
        rep.missing.append("findings.missing.roofline")
    elif pe is None:
        rep.missing.append("findings.missing.no_precision")
    pairs: list[tuple[OpEstimate, OpRecord]] = []
    if pe is not None and trace is not None:
        rec = {r.index: r for r in trace.records}
        pairs = [(o, rec[o.index]) for o in pe.ops if o.index in rec]
        if not pe.ops:
            rep.missing.append("findings.missing.per_op")
        if pe.latency_is_lower_bound:
            rep.missing.append("findings.missing.lower_bound")
    prec = pe.precision if pe else DTYPE_PRECISION.get(trace.dtype if trace else "", "fp32")
    rep.precision = prec
    rep.predicted_latency_s = pe.predicted_latency_s if pe else None
    items: list[Finding] = []
    if pe is not None and pairs:
        items += _compute_bound(pairs, pe, budget)
        items += _memory_bound(pairs, pe, budget)
        eff = est.assumptions.op_overhead_us if est else 0.0
        items += _overhead(pairs, pe, budget, measurements, eff)
    elif measurements is not None:
        items += _overhead([], PrecisionEstimate(precision=prec, status="unknown"), budget,
                           measurements, 0.0)
    items += _capacity(pe, constraints, trace, platform, prec)
    if pe is not None and trace is not None:
        items += _bandwidth(pe, trace, platform, constraints, est.batch_size if est else 1, budget)
    items += _scaling(probe, budget)
    items += _unsupported(est, pe, budget)
    items += _uncounted(costs, pairs, pe)
    if probe is None:
        rep.missing.append("findings.missing.scaling")
    items.sort(key=lambda f: (-f.impact, f.id))
    for i, f in enumerate(items, 1):
        f.rank = i
    rep.items = items
    return rep


def probe_from_scaling(scaling: Any, budget_s: float | None) -> ScalingProbe | None:
    """The scaling stage's first size sweep (not batch) as a ScalingProbe, or None."""
    sweeps = getattr(scaling, "sweeps", None) or []
    sw = next((x for x in sweeps if x.axis != "batch_size"), None)
    if sw is None or "flops" not in sw.fits:
        return None
    ok = [p for p in sw.points if p.ok]
    if len(ok) < 2:
        return None
    lo = min(ok, key=lambda p: abs(p.value - sw.base_value))
    hi = max(ok, key=lambda p: p.value)
    pred = sw.fits.get("predicted")
    meas = sw.fits.get("measured")
    k = meas.exponent if meas is not None else (pred.exponent if pred is not None else None)
    brk = next((b for b in sw.breaks if b.constraint == "latency_ms"), None)
    return ScalingProbe(axis=sw.axis, size=sw.base_value, factor=hi.value / lo.value if lo.value else 1.0,
                        macs=lo.macs, macs_scaled=hi.macs, latency_s=lo.predicted_latency_s,
                        latency_scaled_s=hi.predicted_latency_s,
                        macs_exponent=sw.fits["flops"].exponent, latency_exponent=k,
                        linear=2.0 if sw.axis == "image_size" else 1.0,
                        budget_size=brk.first_fail_value if brk is not None and budget_s else None,
                        origin="measured" if meas is not None else "predicted")


def _with_ops(est: PlatformEstimate | None, trace: Trace | None, platform: Any) -> PlatformEstimate | None:
    """``est`` with per-op rows for the baseline precision (the roofline stage keeps them for
    one precision only); re-predicted with the same assumptions when missing."""
    if est is None or trace is None or platform is None:
        return est
    pe = baseline_precision(est, trace.dtype)
    if pe is None or pe.ops or pe.status == "unsupported":
        return est
    from reportgen.analysis.probe import efficiency_of
    from reportgen.analysis.roofline import estimate

    full = estimate(trace, platform, [pe.precision], batch_size=est.batch_size,
                    efficiency=efficiency_of(est)).per_precision[0]
    per = [full if x.precision == pe.precision else x for x in est.per_precision]
    return est.model_copy(update={"per_precision": per})


def stage(ctx: Any, result: Any) -> None:
    """Pipeline stage "findings": needs costs; uses the roofline, measurements and scaling when
    present and says what is missing otherwise."""
    from reportgen.analysis.probe import scaling_probe

    trace = ctx.products.get("trace")
    platform = ctx.products.get("platform")
    est = _with_ops(as_estimate(result.roofline), trace, platform)
    ctx.products["baseline_estimate"] = est
    budget = ctx.spec.constraints.latency_ms
    probe = probe_from_scaling(result.scaling, budget) if result.scaling is not None else None
    if probe is None:
        try:
            probe = scaling_probe(ctx, result, est, platform)
        except Exception as e:  # the probe is optional: a model that cannot re-trace is noted
            result.warnings.append(f"scaling probe skipped: {type(e).__name__}: "
                                   f"{str(e).splitlines()[0] if str(e) else ''}")
    result.findings = find_bottlenecks(trace, result.costs, est, platform, ctx.spec.constraints,
                                       measurements=result.measurements, probe=probe)
