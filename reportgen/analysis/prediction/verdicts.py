"""Constraint verdicts and the hardware-zoo comparison, over roofline estimates. No torch.

Margins are relative headroom: positive passes, negative fails.
* upper limits (latency, memory, power, energy, cost, data rate): (limit − value) / limit
* lower limits (throughput, sensor frame rate): (value − limit) / limit
"""

from __future__ import annotations

import math
from typing import Literal

from pydantic import Field

from reportgen.analysis.counting.records import Trace
from reportgen.analysis.prediction.estimates import (
    Model,
    PlatformEstimate,
    PrecisionEstimate,
    Verdict,
)
from reportgen.analysis.prediction.roofline import estimate
from reportgen.analysis.prediction.rules import power_basis, status_msg
from reportgen.catalog.lookup import get_platform
from reportgen.catalog.schema import Platform
from reportgen.spec.schema import Constraints, Precision
from reportgen.text import Msg, msg


class ConstraintVerdict(Model):
    """One deployment constraint checked against a prediction."""

    name: str = Field(description="constraint key, e.g. latency_ms")
    requirement: float | str | None
    unit: str
    comparison: Literal["<=", ">=", "info"]
    predicted: float | None = Field(description="the platform's value in the same unit")
    verdict: Verdict
    margin: float | None = Field(None, description="relative headroom; < 0 fails")
    origin: Literal["predicted", "published", "spec"] = "predicted"
    basis_msgs: list[Msg] = Field(default_factory=list, description="what the predicted value is "
                                  "and how it was obtained (sentences, concatenated)")

    def add_basis(self, m: Msg) -> None:
        self.basis_msgs.append(m)


def _check(name: str, req: float, unit: str, cmp: Literal["<=", ">="], value: float | None,
           basis: Msg, origin: Literal["predicted", "published", "spec"] = "predicted",
           lower_bound: bool = False) -> ConstraintVerdict:
    if value is None:
        return ConstraintVerdict(name=name, requirement=req, unit=unit, comparison=cmp,
                                 predicted=None, verdict="unknown",
                                 basis_msgs=[basis], origin=origin)
    margin = (req - value) / req if cmp == "<=" else (value - req) / req
    verdict: Verdict = "pass" if margin >= 0 else "fail"
    out = ConstraintVerdict(name=name, requirement=req, unit=unit, comparison=cmp,
                            predicted=value, verdict=verdict, margin=margin,
                            basis_msgs=[basis], origin=origin)
    if lower_bound and verdict == "pass":
        out.verdict = "unknown"  # a lower bound below the limit proves nothing
        out.add_basis(msg("verdict.lower_bound_le" if cmp == "<=" else "verdict.lower_bound_ge"))
    return out


def _pick(est: PlatformEstimate, precision: Precision | str | None) -> PrecisionEstimate | None:
    if precision is not None:
        return est.get(str(precision))
    if est.best_precision is not None:
        return est.get(est.best_precision)
    known = [pe for pe in est.per_precision if pe.predicted_latency_s]
    return known[0] if known else None


def input_rate(c: Constraints) -> tuple[float | None, Msg | None]:
    """Required input data rate in B/s, from ``input_bandwidth_mb_s`` or ``sensor``, and its basis."""
    if c.input_bandwidth_mb_s is not None:
        return c.input_bandwidth_mb_s * 1e6, msg("verdict.rate_given", value=c.input_bandwidth_mb_s)
    if c.sensor is not None:
        s = c.sensor
        return s.bytes_per_s, msg("verdict.rate_sensor", width=s.width, height=s.height,
                                  channels=s.channels, bytes=s.bytes_per_sample, hz=s.rate_hz)
    return None, None


def constraint_verdicts(constraints: Constraints, est: PlatformEstimate, platform: Platform,
                        precision: Precision | str | None = None) -> list[ConstraintVerdict]:
    """A verdict for every constraint given, at ``precision`` (default: the best runnable one)."""
    pe = _pick(est, precision)
    prec = pe.precision if pe else "none"
    lb = pe.latency_is_lower_bound if pe else False
    where = msg("verdict.where", platform=platform.name, precision=prec,
                eta_c=est.assumptions.eta_c, eta_m=est.assumptions.eta_m)
    out: list[ConstraintVerdict] = []
    c = constraints
    lat = pe.predicted_latency_s if pe else None
    if c.latency_ms is not None:
        out.append(_check("latency_ms", c.latency_ms, "ms", "<=",
                          lat * 1e3 if lat is not None else None,
                          msg("verdict.latency", batch=est.batch_size, where=where),
                          lower_bound=lb))
    if c.throughput_per_s is not None:
        out.append(_check("throughput_per_s", c.throughput_per_s, "samples/s", ">=",
                          pe.throughput_per_s if pe else None,
                          msg("verdict.throughput", batch=est.batch_size, where=where),
                          lower_bound=lb))
    if c.memory_mb is not None:
        need = (pe.weight_bytes + pe.peak_activation_bytes) / 1e6 if pe else None
        out.append(_check("memory_mb", c.memory_mb, "MB", "<=", need,
                          msg("verdict.memory", precision=prec)))
    if c.power_w is not None:
        picked = platform.power.for_energy()
        v = _check("power_w", c.power_w, "W", "<=", picked[1].value if picked else None,
                   power_basis(platform)[1] if picked else msg("verdict.power_unsourced"),
                   origin="published")
        if picked and picked[0] == "psu_w" and v.verdict == "fail":
            # a supply rating bounds the draw from above: exceeding the budget proves nothing
            v.verdict = "unknown"
            v.add_basis(msg("verdict.psu_suffix"))
        out.append(v)
    if c.energy_mj is not None:
        out.append(_check("energy_mj", c.energy_mj, "mJ", "<=",
                          pe.energy_per_sample_mj if pe else None,
                          msg("verdict.energy",
                              power=(pe.power_basis_msg or "") if pe else ""),
                          lower_bound=lb))
    if c.cost_usd is not None:
        price = platform.price_usd
        out.append(_check("cost_usd", c.cost_usd, "USD", "<=", price.value if price.usable else None,
                          msg("verdict.cost", status=status_msg(price.status),
                              text=msg("verdict.cost_text", text=msg("catalog_quote", text=price.text))
                              if price.text else "",
                              claimed=msg("verdict.cost_claimed", value=price.claimed_value)
                              if price.claimed_value else ""), origin="published"))
    rate, rate_basis = input_rate(c)
    if rate is not None and rate_basis is not None:
        link = platform.host_link()
        if link is not None and link.bandwidth_gbps.usable:
            avail = link.bandwidth_gbps.si
            via = msg("verdict.via_link", link=link.name, status=status_msg(link.bandwidth_gbps.status))
        elif link is not None:
            avail, via = None, msg("verdict.via_link_unknown", link=link.name,
                                   status=status_msg(link.bandwidth_gbps.status))
        else:
            avail = platform.bandwidth().si
            via = msg("verdict.via_memory", status=status_msg(platform.bandwidth().status))
        out.append(_check("input_bandwidth_mb_s", rate / 1e6, "MB/s", ">=",
                          None if avail is None else avail / 1e6,
                          msg("verdict.input_bw", via=via, rate=rate_basis), origin="published"))
    if c.sensor is not None:
        out.append(_check("sensor_rate_hz", c.sensor.rate_hz, "samples/s", ">=",
                          pe.throughput_per_s if pe else None,
                          msg("verdict.sensor", where=where),
                          lower_bound=lb))
    if c.connectivity is not None:
        out.append(ConstraintVerdict(name="connectivity", requirement=c.connectivity, unit="",
                                     comparison="info", predicted=None, verdict="info",
                                     basis_msgs=[msg("verdict.info")], origin="spec"))
    return out


def first_constraint_to_break(verdicts: list[ConstraintVerdict]) -> ConstraintVerdict | None:
    """The failing constraint with the worst margin; if none fails, the one closest to failing."""
    scored = [v for v in verdicts if v.margin is not None and v.verdict in ("pass", "fail")]
    return min(scored, key=lambda v: v.margin if v.margin is not None else math.inf, default=None)


# ---------------------------------------------------------------------------- hardware zoo

class ZooRow(Model):
    """One platform in the hardware-zoo comparison (best runnable precision)."""

    platform_id: str
    platform_name: str
    platform_class: str
    best_precision: str | None
    predicted_latency_s: float | None
    ideal_latency_s: float | None
    latency_is_lower_bound: bool = False
    throughput_per_s: float | None = None
    fits_memory: Verdict = "unknown"
    energy_per_sample_mj: float | None = None
    power_basis_msg: Msg | None = None
    price_usd: float | None = None
    price_status: str = "unsourced"
    toolchain: str = ""
    required_format: str = ""
    note_msgs: list[Msg] = Field(default_factory=list)
    origin: Literal["predicted"] = "predicted"


def zoo_comparison(trace: Trace, platform_ids: list[str], precisions: list[Precision] | list[str],
                   *, batch_size: int = 1) -> list[ZooRow]:
    """The same trace predicted on each platform, at its best runnable precision."""
    plats = [get_platform(pid) for pid in platform_ids]  # unknown ids fail before any work
    rows: list[ZooRow] = []
    for plat in plats:
        est = estimate(trace, plat, precisions, batch_size=batch_size, keep_ops=False)
        pe = est.get(est.best_precision) if est.best_precision else None
        if pe is None:  # nothing runnable: show the lower bound or the reasons
            lbs = [x for x in est.per_precision if x.predicted_latency_s]
            pe_lb = min(lbs, key=lambda x: x.predicted_latency_s or math.inf, default=None)
            reasons = [msg("zoo.precision_reason", precision=x.precision,
                           reason=x.reason_msg or "") for x in est.per_precision]
            rows.append(ZooRow(
                platform_id=plat.id, platform_name=plat.name, platform_class=plat.class_.value,
                best_precision=None,
                predicted_latency_s=pe_lb.predicted_latency_s if pe_lb else None,
                ideal_latency_s=pe_lb.ideal_latency_s if pe_lb else None,
                latency_is_lower_bound=pe_lb is not None,
                fits_memory=pe_lb.fits if pe_lb else "unknown",
                price_usd=plat.price_usd.value if plat.price_usd.usable else None,
                price_status=plat.price_usd.status,
                toolchain=plat.toolchain[0] if plat.toolchain else "",
                required_format=plat.required_format, note_msgs=reasons))
            continue
        rows.append(ZooRow(
            platform_id=plat.id, platform_name=plat.name, platform_class=plat.class_.value,
            best_precision=pe.precision, predicted_latency_s=pe.predicted_latency_s,
            ideal_latency_s=pe.ideal_latency_s, latency_is_lower_bound=pe.latency_is_lower_bound,
            throughput_per_s=pe.throughput_per_s, fits_memory=pe.fits,
            energy_per_sample_mj=pe.energy_per_sample_mj, power_basis_msg=pe.power_basis_msg,
            price_usd=plat.price_usd.value if plat.price_usd.usable else None,
            price_status=plat.price_usd.status,
            toolchain=plat.toolchain[0] if plat.toolchain else "",
            required_format=plat.required_format, note_msgs=list(pe.note_msgs)))
    return rows
