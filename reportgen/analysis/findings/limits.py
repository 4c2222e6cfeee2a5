"""Findings about what limits or blocks the deployment rather than where the time goes: capacity
(the model does not fit), host-link and input-stream bandwidth, input-size scaling, precisions
and ops the target does not run, and ops without a FLOP formula. Registered with ``@finder``
(orders 40–80) like the latency finders in ``finders.py``. Sentences are ``Msg``
(``findings.summary.*``, ``findings.why.*``). No torch.
"""

from __future__ import annotations

from reportgen.analysis.findings.models import (
    Evidence,
    Finding,
    FindingType,
    Location,
    thresholds,
)
from reportgen.analysis.findings.registry import FinderContext, finder
from reportgen.analysis.findings.scoring import severity_of, why_time
from reportgen.text import Arg, msg


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
            severity=severity_of(impact), location=Location(module="<model>"),
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
        why = why_time(pe.host_link_time_s, total, budget,
                       lower_bound=pe.latency_is_lower_bound)
        out.append(Finding(
            id="bandwidth-io:host-link", type=FindingType.bandwidth_io, subtype="host_link",
            impact=share, severity=severity_of(share), location=Location(module="<model>"),
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
            impact=impact, severity=severity_of(impact), location=Location(module="<input>"),
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
        why = msg("findings.why.scaling_cross", size=Arg(v=probe.budget_size), axis=args["axis"],
                  budget=Arg(v=budget, f="ms"))
    else:
        why = msg("findings.why.scaling", k=args["k"])
    return [Finding(
        id=f"scaling:{probe.axis}", type=FindingType.scaling, subtype=probe.axis, impact=impact,
        severity=severity_of(impact), location=Location(module="<model>"),
        summary=msg("findings.summary.scaling" if probe.latency_s and probe.latency_scaled_s
                    else "findings.summary.scaling_counted", **args),
        why=why,
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
        why = why_time(t, total, budget,
                       lower_bound=pe.latency_is_lower_bound)
        first = next((o for o in pe.ops if not o.on_device), None)
        out.append(Finding(
            id="unsupported:fallback", type=FindingType.unsupported, subtype="fallback",
            impact=impact, severity=severity_of(impact),
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
        severity=severity_of(impact), location=Location(op=top.op, module=top.modules[0] if top.modules else None),
        time_s=t,
        summary=msg("findings.summary.uncounted", n=Arg(v=len(costs.not_counted), f="int"),
                    ops=Arg(v=", ".join(r.op.removeprefix("aten.") for r in costs.not_counted[:3]),
                            f="code"),
                    share=Arg(v=share, f="pct")),
        why=msg("findings.why.uncounted", tshare=Arg(v=tshare, f="pct")),
        evidence=[Evidence(label="bytes_share", value=share, unit="fraction", f="pct", origin="counted"),
                  Evidence(label="time", value=t, unit="s", f="ms", origin="predicted")])]

