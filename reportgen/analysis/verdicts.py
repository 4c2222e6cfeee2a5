"""Constraint verdicts and the hardware-zoo comparison, over roofline estimates. No torch.

Margins are relative headroom: positive passes, negative fails.
* upper limits (latency, memory, power, energy, cost, data rate): (limit − value) / limit
* lower limits (throughput, sensor frame rate): (value − limit) / limit
"""

from __future__ import annotations

import math
from typing import Literal

from pydantic import Field

from reportgen.analysis.records import Trace
from reportgen.analysis.roofline import (
    Model,
    PlatformEstimate,
    PrecisionEstimate,
    Verdict,
    estimate,
)
from reportgen.catalog.platforms import Platform, get_platform
from reportgen.spec import Constraints, Precision


class ConstraintVerdict(Model):
    """One deployment constraint checked against a prediction."""

    name: str = Field(description="constraint key, e.g. latency_ms")
    requirement: float | str | None
    unit: str
    comparison: Literal["<=", ">=", "info"]
    predicted: float | None = Field(description="the platform's value in the same unit")
    verdict: Verdict
    margin: float | None = Field(None, description="relative headroom; < 0 fails")
    basis: str = Field("", description="what the predicted value is and how it was obtained")
    origin: Literal["predicted", "published", "spec"] = "predicted"


def _check(name: str, req: float, unit: str, cmp: Literal["<=", ">="], value: float | None,
           basis: str, origin: Literal["predicted", "published", "spec"] = "predicted",
           lower_bound: bool = False) -> ConstraintVerdict:
    if value is None:
        return ConstraintVerdict(name=name, requirement=req, unit=unit, comparison=cmp,
                                 predicted=None, verdict="unknown", basis=basis, origin=origin)
    margin = (req - value) / req if cmp == "<=" else (value - req) / req
    verdict: Verdict = "pass" if margin >= 0 else "fail"
    if lower_bound and verdict == "pass" and cmp == "<=":
        verdict = "unknown"  # a lower bound below the limit proves nothing
        basis += " (lower bound: the true value may be higher)"
    elif lower_bound and verdict == "pass" and cmp == ">=":
        verdict = "unknown"
        basis += " (from a latency lower bound: the true value may be lower)"
    return ConstraintVerdict(name=name, requirement=req, unit=unit, comparison=cmp,
                             predicted=value, verdict=verdict, margin=margin, basis=basis,
                             origin=origin)


def _pick(est: PlatformEstimate, precision: Precision | str | None) -> PrecisionEstimate | None:
    if precision is not None:
        return est.get(str(precision))
    if est.best_precision is not None:
        return est.get(est.best_precision)
    known = [pe for pe in est.per_precision if pe.predicted_latency_s]
    return known[0] if known else None


def input_rate_b_per_s(c: Constraints) -> tuple[float | None, str]:
    """Required input data rate in B/s, from ``input_bandwidth_mb_s`` or ``sensor``."""
    if c.input_bandwidth_mb_s is not None:
        return c.input_bandwidth_mb_s * 1e6, f"{c.input_bandwidth_mb_s:g} MB/s given"
    if c.sensor is not None:
        s = c.sensor
        return s.bytes_per_s, (f"sensor {s.width}×{s.height}×{s.channels}×{s.bytes_per_sample:g} B "
                               f"× {s.rate_hz:g} Hz")
    return None, ""


def constraint_verdicts(constraints: Constraints, est: PlatformEstimate, platform: Platform,
                        precision: Precision | str | None = None) -> list[ConstraintVerdict]:
    """A verdict for every constraint given, at ``precision`` (default: the best runnable one)."""
    pe = _pick(est, precision)
    prec = pe.precision if pe else "none"
    lb = pe.latency_is_lower_bound if pe else False
    where = f"{platform.name}, {prec}, roofline with η_c={est.assumptions.eta_c:g}, " \
            f"η_m={est.assumptions.eta_m:g}"
    out: list[ConstraintVerdict] = []
    c = constraints
    lat = pe.predicted_latency_s if pe else None
    if c.latency_ms is not None:
        out.append(_check("latency_ms", c.latency_ms, "ms", "<=",
                          lat * 1e3 if lat is not None else None,
                          f"predicted latency per batch of {est.batch_size} ({where})",
                          lower_bound=lb))
    if c.throughput_per_s is not None:
        out.append(_check("throughput_per_s", c.throughput_per_s, "samples/s", ">=",
                          pe.throughput_per_s if pe else None,
                          f"batch {est.batch_size} / predicted latency ({where})", lower_bound=lb))
    if c.memory_mb is not None:
        need = (pe.weight_bytes + pe.peak_activation_bytes) / 1e6 if pe else None
        out.append(_check("memory_mb", c.memory_mb, "MB", "<=", need,
                          f"weights + peak activations at {prec} (counted)"))
    if c.power_w is not None:
        picked = platform.power.for_energy()
        v = _check("power_w", c.power_w, "W", "<=", picked[1].value if picked else None,
                   (pe.power_basis if pe and pe.power_basis else
                    "no usable power figure") if picked else "power unsourced",
                   origin="published")
        if picked and picked[0] == "psu_w" and v.verdict == "fail":
            # a supply rating bounds the draw from above: exceeding the budget proves nothing
            v.verdict = "unknown"
            v.basis += "; the supply rating is an upper bound, not the draw: measure the board"
        out.append(v)
    if c.energy_mj is not None:
        out.append(_check("energy_mj", c.energy_mj, "mJ", "<=",
                          pe.energy_per_sample_mj if pe else None,
                          f"power × predicted latency per sample ({pe.power_basis if pe else ''})",
                          lower_bound=lb))
    if c.cost_usd is not None:
        price = platform.price_usd
        out.append(_check("cost_usd", c.cost_usd, "USD", "<=", price.value if price.usable else None,
                          f"platform price ({price.status}"
                          + (f", {price.text}" if price.text else "")
                          + (f", claimed {price.claimed_value:g}" if price.claimed_value else "")
                          + ")", origin="published"))
    rate, rate_basis = input_rate_b_per_s(c)
    if rate is not None:
        link = platform.host_link()
        if link is not None and link.bandwidth_gbps.usable:
            avail = link.bandwidth_gbps.si
            via = f"host link {link.name} ({link.bandwidth_gbps.status})"
        elif link is not None:
            avail, via = None, f"host link {link.name} bandwidth {link.bandwidth_gbps.status}"
        else:
            avail = platform.bandwidth().si
            via = f"memory bandwidth ({platform.bandwidth().status}); no host link in the catalog"
        out.append(_check("input_bandwidth_mb_s", rate / 1e6, "MB/s", ">=",
                          None if avail is None else avail / 1e6,
                          f"available {via} must carry {rate_basis}", origin="published"))
    if c.sensor is not None:
        out.append(_check("sensor_rate_hz", c.sensor.rate_hz, "samples/s", ">=",
                          pe.throughput_per_s if pe else None,
                          f"predicted throughput must keep up with the sensor ({where})",
                          lower_bound=lb))
    if c.connectivity is not None:
        out.append(ConstraintVerdict(name="connectivity", requirement=c.connectivity, unit="",
                                     comparison="info", predicted=None, verdict="info",
                                     basis="not modelled: informational", origin="spec"))
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
    power_basis: str = ""
    price_usd: float | None = None
    price_status: str = "unsourced"
    toolchain: str = ""
    required_format: str = ""
    note: str = ""
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
            reasons = "; ".join(f"{x.precision}: {x.reason}" for x in est.per_precision)
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
                required_format=plat.required_format, note=reasons))
            continue
        rows.append(ZooRow(
            platform_id=plat.id, platform_name=plat.name, platform_class=plat.class_.value,
            best_precision=pe.precision, predicted_latency_s=pe.predicted_latency_s,
            ideal_latency_s=pe.ideal_latency_s, latency_is_lower_bound=pe.latency_is_lower_bound,
            throughput_per_s=pe.throughput_per_s, fits_memory=pe.fits,
            energy_per_sample_mj=pe.energy_per_sample_mj, power_basis=pe.power_basis,
            price_usd=plat.price_usd.value if plat.price_usd.usable else None,
            price_status=plat.price_usd.status,
            toolchain=plat.toolchain[0] if plat.toolchain else "",
            required_format=plat.required_format, note="; ".join(pe.notes)))
    return rows
