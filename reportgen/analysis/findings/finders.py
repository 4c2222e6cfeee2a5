"""Bottlenecks: a ranked list of findings, each with a stable type id, a location, the evidence
(numbers with units and origin) and why it matters against the spec's constraints. No torch.

This module holds ``find_bottlenecks`` and the finders of where the predicted time goes
(compute-bound, memory-bound, per-op overhead, measured classes slower than predicted);
``limits.py`` holds those of what limits or blocks the deployment, ``scoring.py`` what they share.

Impact is the share of the predicted latency a finding explains (0–1); findings that block the
deployment outright (capacity, constraint failures) rank above 1. Times are seconds, bytes are
bytes, shares are fractions. Thresholds come from ``thresholds.yaml``. Sentences are not written
here: each finding carries ``Msg`` (codes ``findings.summary.*``, ``findings.why.*``) with typed
arguments.
"""

from __future__ import annotations

from collections import defaultdict
from typing import TYPE_CHECKING, Any

from reportgen.analysis.counting.classify import memory_category
from reportgen.analysis.counting.records import OpKind, OpRecord, Trace
from reportgen.analysis.findings import limits as _limits  # noqa: F401  (registers the limit finders)
from reportgen.analysis.findings.insights import insights
from reportgen.analysis.findings.models import (
    Evidence,
    Finding,
    FindingsReport,
    FindingType,
    Location,
    ScalingProbe,
    thresholds,
)
from reportgen.analysis.findings.registry import FinderContext, finder, finders
from reportgen.analysis.findings.scoring import location_of, median, severity_of, slowest, why_time
from reportgen.analysis.prediction.baseline import DTYPE_PRECISION, baseline_precision
from reportgen.analysis.prediction.estimates import OpEstimate, PlatformEstimate, PrecisionEstimate
from reportgen.text import Arg, msg

if TYPE_CHECKING:
    from reportgen.analysis.counting.costs import CostAnalysis
    from reportgen.catalog.schema import Platform
    from reportgen.spec.schema import Constraints


@finder(FindingType.compute_bound, order=10)
def _compute_bound(ctx: FinderContext) -> list[Finding]:
    pairs, pe, budget = ctx.pairs, ctx.pe, ctx.budget_s
    if pe is None or not pairs:
        return []
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
        top_o, top_r = slowest(ops)
        macs = sum(r.macs for _, r in ops)
        ai = median([o.arithmetic_intensity_flop_per_byte or 0.0 for o, _ in ops])
        why = why_time(t, total, budget,
                       lower_bound=pe.latency_is_lower_bound)
        out.append(Finding(
            id=f"compute-bound:{lt}", type=FindingType.compute_bound, subtype=top_r.kind.value,
            impact=share, severity=severity_of(share), location=location_of(top_r), time_s=t,
            summary=msg("findings.summary.compute_bound", layer_type=Arg(v=lt, f="code"),
                        ops=Arg(v=len(ops), f="int"), share=Arg(v=share, f="pct"),
                        macs=Arg(v=macs, f="si"),
                        module=Arg(v=top_r.module or "<model>", f="code")),
            why=why,
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


@finder(FindingType.memory_bound, order=20)
def _memory_bound(ctx: FinderContext) -> list[Finding]:
    pairs, pe, budget = ctx.pairs, ctx.pe, ctx.budget_s
    if pe is None or not pairs:
        return []
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
        top_o, top_r = slowest(ops)
        by_type: dict[str, float] = defaultdict(float)
        for o, r in ops:
            by_type[r.module_type] += o.predicted_time_s or 0.0
        lt = max(by_type, key=lambda k: by_type[k])
        nbytes = sum(o.bytes for o, _ in ops)
        ai = median([o.arithmetic_intensity_flop_per_byte or 0.0 for o, _ in ops])
        why = why_time(t, total, budget,
                       lower_bound=pe.latency_is_lower_bound)
        out.append(Finding(
            id=f"memory-bound:{cat}", type=FindingType.memory_bound, subtype=cat, impact=share,
            severity=severity_of(share), location=Location(module=top_r.module or "<model>",
                                                         op=top_r.op, layer_type=lt),
            time_s=t,
            summary=msg("findings.summary.memory_bound" if pe.ridge_point_flop_per_byte
                        else "findings.summary.memory_bound_noridge",
                        what=Arg(v=f"findings.category.{cat}", f="key"),
                        layer_type=Arg(v=lt, f="code"), ops=Arg(v=len(ops), f="int"),
                        share=Arg(v=share, f="pct"), intensity=Arg(v=ai),
                        ridge=Arg(v=pe.ridge_point_flop_per_byte)),
            why=why,
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


def usable_measurements(measurements: Any, platform_id: str | None) -> Any:
    """``measurements`` when they may feed findings for ``platform_id``, else None.

    A measurement informs only the machine it ran on: the host's profile never enters a
    target's (Jetson, MCU, ...) bottleneck list. A noisy measurement or one holding a physically
    impossible result (faster than the ideal bound, more threads much slower) feeds none."""
    if measurements is None:
        return None
    cmp = getattr(measurements, "comparison", None)
    if cmp is None or platform_id is None or cmp.platform_id != platform_id:
        return None
    quality = getattr(getattr(measurements, "run", None), "quality", None)
    if quality is not None and not quality.trusted:
        return None
    return measurements


def _class_comparisons(measurements: Any) -> list[tuple[str, float, float]]:
    """(op class, measured_s, predicted_s) per op class from ``result.measurements``."""
    times = getattr(measurements, "class_times", None)
    return [(g, m, p) for g, m, p in times() if g] if callable(times) else []


@finder(FindingType.overhead_bound, order=30)
def _overhead(ctx: FinderContext) -> list[Finding]:
    """Predicted per-op overhead, and measured op classes far slower than predicted; with
    measurements but no per-op prediction, the measured part only."""
    if ctx.pe is not None and ctx.pairs:
        return _overhead_of(ctx.pairs, ctx.pe, ctx.budget_s, ctx.measurements,
                            ctx.est.assumptions.op_overhead_us if ctx.est else 0.0)
    if ctx.measurements is not None:
        return _overhead_of([], PrecisionEstimate(precision=ctx.precision, status="unknown"),
                            ctx.budget_s, ctx.measurements, 0.0)
    return []


def _overhead_of(pairs: list[tuple[OpEstimate, OpRecord]], pe: PrecisionEstimate,
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
                subtype="measured", impact=share, severity=severity_of(share),
                location=Location(op=group), time_s=None,
                summary=msg("findings.summary.overhead_measured",
                            group=Arg(v=f"findings.group.{group}", f="key"),
                            ratio=Arg(v=m / p, f="x"), measured=Arg(v=m, f="ms"),
                            predicted=Arg(v=p, f="ms")),
                why=msg("findings.why.overhead_measured", share=Arg(v=share, f="pct")),
                evidence=[Evidence(label="measured", value=m, unit="s", f="ms", origin="measured"),
                          Evidence(label="predicted_host", value=p, unit="s", f="ms", origin="predicted")]))
    if total and pe.overhead_time_s / total >= th["overhead_share"]:
        share = pe.overhead_time_s / total
        tiny = sum(1 for o, _ in pairs if o.kind != "view" and o.predicted_time_s is not None
                   and (o.predicted_time_s - eta_overhead_us * 1e-6) * 1e6 < th["tiny_op_us"])
        ops = sum(1 for o, _ in pairs if o.kind != "view")
        why = why_time(pe.overhead_time_s, total, budget,
                       lower_bound=pe.latency_is_lower_bound)
        out.append(Finding(
            id="overhead-bound:per-op", type=FindingType.overhead_bound, subtype="per_op",
            impact=share, severity=severity_of(share), location=Location(module="<model>"),
            time_s=pe.overhead_time_s, summary=msg("findings.summary.overhead",
                                                   ops=Arg(v=ops, f="int"),
                                                   tiny=Arg(v=tiny, f="int"),
                                                   overhead_us=Arg(v=eta_overhead_us),
                                                   share=Arg(v=share, f="pct")),
            why=why,
            evidence=[Evidence(label="ops", value=ops, unit="count", f="int", origin="counted"),
                      Evidence(label="tiny_ops", value=tiny, unit="count", f="int", origin="predicted"),
                      Evidence(label="overhead", value=pe.overhead_time_s, unit="s", f="ms",
                               origin="predicted")]))
    return out



def find_bottlenecks(trace: Trace | None, costs: CostAnalysis | None,
                     est: PlatformEstimate | None, platform: Platform | None = None,
                     constraints: Constraints | None = None, *, measurements: Any = None,
                     probe: ScalingProbe | None = None) -> FindingsReport:
    """Every bottleneck that clears its threshold, ranked by impact (see module docstring)."""
    rep = FindingsReport(platform_id=est.platform_id if est else (platform.id if platform else None),
                         scaling=probe)
    budget = constraints.latency_ms / 1e3 if constraints and constraints.latency_ms else None
    rep.latency_budget_s = budget
    measurements = usable_measurements(measurements, rep.platform_id)
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
    ctx = FinderContext(trace=trace, costs=costs, est=est, platform=platform,
                        constraints=constraints, measurements=measurements, probe=probe, pe=pe,
                        pairs=pairs, budget_s=budget, precision=prec)
    items: list[Finding] = []
    for info in finders():  # the registry, in each finder's order
        items += info.fn(ctx)
    if probe is None:
        rep.missing.append("findings.missing.scaling")
    rep.insights = insights(ctx)
    items.sort(key=lambda f: (-f.impact, f.id))
    for i, f in enumerate(items, 1):
        f.rank = i
    rep.items = items
    return rep


