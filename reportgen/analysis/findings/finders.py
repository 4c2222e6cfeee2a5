"""Bottlenecks: a ranked list of findings, each with a stable type id, a location, the evidence
(numbers with units and origin) and why it matters against the spec's constraints. No torch.

Impact is the share of the predicted latency a finding explains (0–1); findings that block the
deployment outright (capacity, constraint failures) rank above 1. Times are seconds, bytes are
bytes, shares are fractions. Thresholds come from ``thresholds.yaml``. Sentences are not written
here: each finding carries ``Msg`` (codes ``findings.summary.*``, ``findings.why.*``) with typed
arguments.
"""

from __future__ import annotations

from collections import defaultdict
from typing import TYPE_CHECKING, Any, Literal

from reportgen.analysis.counting.classify import memory_category
from reportgen.analysis.counting.records import OpKind, OpRecord, Trace
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
from reportgen.analysis.prediction.baseline import DTYPE_PRECISION, baseline_precision
from reportgen.analysis.prediction.estimates import OpEstimate, PlatformEstimate, PrecisionEstimate
from reportgen.text import Arg, Msg, msg

if TYPE_CHECKING:
    from reportgen.analysis.counting.costs import CostAnalysis
    from reportgen.catalog.schema import Platform
    from reportgen.spec.schema import Constraints



def _severity(impact: float) -> Literal["blocking", "high", "medium", "low"]:
    th = thresholds()["findings"]["severity"]
    if impact > 1:
        return "blocking"
    return "high" if impact >= th["high"] else "medium" if impact >= th["medium"] else "low"


def _why_time(time_s: float, total: float | None, budget: float | None) -> Msg:
    """Why a share of the latency matters: against the budget, when there is one."""
    args = {"time": Arg(v=time_s, f="ms"), "total": Arg(v=total, f="ms")}
    if budget is None or total is None:
        return msg("findings.why.latency_none", **args)
    args["budget"] = Arg(v=budget, f="ms")
    if total > budget:
        args["gap"] = Arg(v=total - budget, f="ms")
        args["closes"] = Arg(v=min(1.0, time_s / (total - budget)), f="pct")
        return msg("findings.why.latency_over", **args)
    args["headroom"] = Arg(v=(budget - total) / budget, f="pct")
    return msg("findings.why.latency_within", **args)


def _top(ops: list[tuple[OpEstimate, OpRecord]]) -> tuple[OpEstimate, OpRecord]:
    return max(ops, key=lambda p: (p[0].predicted_time_s or 0.0, -p[0].index))


def _loc(r: OpRecord) -> Location:
    return Location(module=r.module or "<model>", op=r.op, layer_type=r.module_type)


def _median(xs: list[float]) -> float | None:
    """Median of the positive values (ops without FLOPs do not define an intensity)."""
    xs = sorted(x for x in xs if x is not None and x > 0)
    return xs[len(xs) // 2] if xs else None


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
        top_o, top_r = _top(ops)
        macs = sum(r.macs for _, r in ops)
        ai = _median([o.arithmetic_intensity_flop_per_byte or 0.0 for o, _ in ops])
        why = _why_time(t, total, budget)
        out.append(Finding(
            id=f"compute-bound:{lt}", type=FindingType.compute_bound, subtype=top_r.kind.value,
            impact=share, severity=_severity(share), location=_loc(top_r), time_s=t,
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
        top_o, top_r = _top(ops)
        by_type: dict[str, float] = defaultdict(float)
        for o, r in ops:
            by_type[r.module_type] += o.predicted_time_s or 0.0
        lt = max(by_type, key=lambda k: by_type[k])
        nbytes = sum(o.bytes for o, _ in ops)
        ai = _median([o.arithmetic_intensity_flop_per_byte or 0.0 for o, _ in ops])
        why = _why_time(t, total, budget)
        out.append(Finding(
            id=f"memory-bound:{cat}", type=FindingType.memory_bound, subtype=cat, impact=share,
            severity=_severity(share), location=Location(module=top_r.module or "<model>",
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
                subtype="measured", impact=share, severity=_severity(share),
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
        why = _why_time(pe.overhead_time_s, total, budget)
        out.append(Finding(
            id="overhead-bound:per-op", type=FindingType.overhead_bound, subtype="per_op",
            impact=share, severity=_severity(share), location=Location(module="<model>"),
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


@finder(FindingType.capacity, order=40)
def _capacity(ctx: FinderContext) -> list[Finding]:
    pe, constraints, trace = ctx.pe, ctx.constraints, ctx.trace
    platform, precision = ctx.platform, ctx.precision
    out: list[Finding] = []
    checks = pe.fit_checks if pe is not None else []
    if pe is None and trace is not None and platform is not None and platform.capacity().usable:
        from reportgen.analysis.prediction.estimates import FitCheck
        need = (trace.param_bytes + trace.peak_activation_bytes) / 1e6
        cap = (platform.capacity().value or 0) * 1e3
        checks = [FitCheck(name_msg=msg("fit.memory_capacity"), required=need, available=cap,
                           unit="MB", verdict="pass" if need <= cap else "fail",
                           note_msgs=[msg("fit.counted_as_traced")])]
    for c in checks:
        if c.verdict != "fail" or c.required is None:
            continue
        check = c.name_msg.code.removeprefix("fit.")
        soft = check in ("param_cache", "dsp", "bram")  # the model still runs (streams, reuses)
        impact = 0.5 if soft else 2.0
        out.append(Finding(
            id=f"capacity:{check}", type=FindingType.capacity, subtype=check, impact=impact,
            severity=_severity(impact), location=Location(module="<model>"),
            summary=msg("findings.summary.capacity", check=Arg(v=f"msg.{c.name_msg.code}", f="key"),
                        required=Arg(v=c.required), available=Arg(v=c.available),
                        unit=Arg(v=c.unit, f="text"), precision=Arg(v=precision, f="text")),
            why=msg("findings.why.capacity_soft" if soft else "findings.why.capacity",
                    ratio=Arg(v=c.required / c.available if c.available else None, f="x")),
            evidence=[Evidence(label="required", value=c.required, unit=c.unit, origin="counted"),
                      Evidence(label="available", value=c.available, unit=c.unit, origin="published")]))
    if constraints is not None and constraints.memory_mb is not None and trace is not None:
        need = ((pe.weight_bytes + pe.peak_activation_bytes) if pe is not None
                else trace.param_bytes + trace.peak_activation_bytes) / 1e6
        if need > constraints.memory_mb:
            out.append(Finding(
                id="capacity:memory_budget", type=FindingType.capacity, subtype="memory_budget",
                impact=1.5, severity="blocking", location=Location(module="<model>"),
                summary=msg("findings.summary.memory_budget", required=Arg(v=need),
                            budget=Arg(v=constraints.memory_mb),
                            precision=Arg(v=precision, f="text")),
                why=msg("findings.why.capacity", ratio=Arg(v=need / constraints.memory_mb, f="x")),
                evidence=[Evidence(label="required", value=need, unit="MB", origin="counted"),
                          Evidence(label="budget", value=constraints.memory_mb, unit="MB",
                                   origin="given")]))
    return out


@finder(FindingType.bandwidth_io, order=50)
def _bandwidth(ctx: FinderContext) -> list[Finding]:
    pe, trace, platform, constraints = ctx.pe, ctx.trace, ctx.platform, ctx.constraints
    if pe is None or trace is None:
        return []
    batch, budget = ctx.est.batch_size if ctx.est else 1, ctx.budget_s
    th = thresholds()["findings"]
    out: list[Finding] = []
    total = pe.predicted_latency_s or 0.0
    link = platform.host_link() if platform is not None else None
    if total and pe.host_link_time_s / total >= th["host_link_share"]:
        share = pe.host_link_time_s / total
        why = _why_time(pe.host_link_time_s, total, budget)
        out.append(Finding(
            id="bandwidth-io:host-link", type=FindingType.bandwidth_io, subtype="host_link",
            impact=share, severity=_severity(share), location=Location(module="<model>"),
            time_s=pe.host_link_time_s,
            summary=msg("findings.summary.host_link", link=Arg(v=link.name if link else "?", f="text"),
                        time=Arg(v=pe.host_link_time_s, f="ms"), share=Arg(v=share, f="pct")),
            why=why,
            evidence=[Evidence(label="link_time", value=pe.host_link_time_s, unit="s", f="ms",
                               origin="predicted")]))
    if constraints is None:
        return out
    from reportgen.analysis.prediction.verdicts import input_rate
    rate, basis = input_rate(constraints)
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
            summary=msg("findings.summary.input_stream", rate=Arg(v=rate, f="bytes"),
                        link=Arg(v=via, f="text"), avail=Arg(v=avail, f="bytes"),
                        frac=Arg(v=frac, f="pct")),
            why=msg("findings.why.input_stream", frac=Arg(v=frac, f="pct")),
            evidence=[Evidence(label="input_rate", value=rate, unit="B/s", f="bytes", origin="given"),
                      Evidence(label="link_bw", value=avail, unit="B/s", f="bytes", origin="published")]))
    return out


@finder(FindingType.scaling, order=60)
def _scaling(ctx: FinderContext) -> list[Finding]:
    probe, budget = ctx.probe, ctx.budget_s
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
        summary=msg("findings.summary.scaling" if probe.latency_s and probe.latency_scaled_s
        else "findings.summary.scaling_counted", **args), why=msg(why_key, **why),
        evidence=[Evidence(label="size", value=probe.size, unit=probe.axis, origin="given"),
                  Evidence(label="macs_exponent", value=probe.macs_exponent, unit="exponent",
                           f="exp", origin="counted"),
                  Evidence(label="latency_exponent", value=probe.latency_exponent, unit="exponent",
                           f="exp", origin=probe.origin)])]


@finder(FindingType.unsupported, order=70)
def _unsupported(ctx: FinderContext) -> list[Finding]:
    est, pe, budget = ctx.est, ctx.pe, ctx.budget_s
    out: list[Finding] = []
    if est is None:
        return out
    for x in est.per_precision:
        if x.status == "unsupported":
            out.append(Finding(
                id=f"unsupported:precision:{x.precision}", type=FindingType.unsupported,
                subtype="precision", impact=0.2, severity="medium",
                location=Location(module="<model>"),
                summary=msg("findings.summary.unsupported_precision",
                            precision=Arg(v=x.precision, f="text"),
                            platform=Arg(v=est.platform_name, f="text")),
                why=msg("findings.why.unsupported_precision",
                        runs=Arg(v=", ".join(p.precision for p in est.per_precision
                                             if p.status != "unsupported") or "—", f="text")),
                evidence=[Evidence(label="reason", value=0, unit="text", f="text",
                                   origin="published", msg=x.reason_msg)]))
    if pe is not None and pe.fallback_ops:
        total = pe.predicted_latency_s or 0.0
        t = pe.fallback_time_s or 0.0
        share = t / total if total else 0.0
        impact = max(share, 0.5)
        why = _why_time(t, total, budget)
        first = next((o for o in pe.ops if not o.on_device), None)
        out.append(Finding(
            id="unsupported:fallback", type=FindingType.unsupported, subtype="fallback",
            impact=impact, severity=_severity(impact),
            location=Location(module=first.module if first else None, op=first.op if first else None),
            time_s=t, summary=msg("findings.summary.fallback", ops=Arg(v=pe.fallback_ops, f="int"),
                          first=Arg(v=pe.fallback_from_op, f="int"),
                          op=Arg(v=first.op if first else "?", f="code"),
                          host=Arg(v=pe.fallback_platform or "?", f="text"),
                          time=Arg(v=t, f="ms"), share=Arg(v=share, f="pct")),
            why=why,
            evidence=[Evidence(label="fallback_ops", value=pe.fallback_ops, unit="count", f="int",
                               origin="counted"),
                      Evidence(label="time", value=t, unit="s", f="ms", origin="predicted")]))
    return out


@finder(FindingType.uncounted, order=80)
def _uncounted(ctx: FinderContext) -> list[Finding]:
    costs, pairs, pe = ctx.costs, ctx.pairs, ctx.pe
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
        time_s=t,
        summary=msg("findings.summary.uncounted", n=Arg(v=len(costs.not_counted), f="int"),
                    ops=Arg(v=", ".join(r.op.removeprefix("aten.") for r in costs.not_counted[:3]),
                            f="code"),
                    share=Arg(v=share, f="pct")),
        why=msg("findings.why.uncounted", tshare=Arg(v=tshare, f="pct")),
        evidence=[Evidence(label="bytes_share", value=share, unit="fraction", f="pct", origin="counted"),
                  Evidence(label="time", value=t, unit="s", f="ms", origin="predicted")])]


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


