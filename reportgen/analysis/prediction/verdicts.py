"""Constraint verdicts and the hardware-zoo comparison, over roofline estimates. No torch.

Margins are relative headroom: positive passes, negative fails.
* upper limits (latency, memory, power, energy, cost, data rate): (limit − value) / limit
* lower limits (throughput, sensor frame rate): (value − limit) / limit
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Literal

from pydantic import Field

from reportgen.analysis.counting.records import Trace
from reportgen.analysis.prediction.estimates import (
    Model,
    PlatformEstimate,
    PrecisionEstimate,
    Verdict,
)
from reportgen.analysis.prediction.power import energy_mj, system_power
from reportgen.analysis.prediction.roofline import estimate
from reportgen.analysis.prediction.rules import status_msg
from reportgen.analysis.prediction.runtime import deployed_trace, deployment_runtime
from reportgen.catalog.lookup import get_platform
from reportgen.catalog.schema import Platform
from reportgen.spec.choices import Precision
from reportgen.spec.schema import Constraints
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
    origin: Literal["predicted", "published", "spec", "counted"] = "predicted"
    basis_msgs: list[Msg] = Field(default_factory=list, description="what the predicted value is "
                                  "and how it was obtained (sentences, concatenated)")
    bound: Literal["value", "upper", "lower"] = Field(
        "value", description="what ``predicted`` is: the value, or an upper / lower bound of it")
    reason_msg: Msg | None = Field(None, description="why the verdict is unknown")
    to_measure: Msg | None = Field(None, description="the measurement that would settle it")

    def add_basis(self, m: Msg) -> None:
        self.basis_msgs.append(m)


def _check(name: str, req: float, unit: str, cmp: Literal["<=", ">="], value: float | None,
           basis: Msg, origin: Literal["predicted", "published", "spec", "counted"] = "predicted",
           lower_bound: bool = False, bound: Literal["value", "upper", "lower"] = "value",
           to_measure: Msg | None = None, reason: Msg | None = None) -> ConstraintVerdict:
    """Judge ``value`` against ``req``. ``bound`` says what ``value`` is: the value itself, an
    upper or a lower bound of it (``lower_bound`` is the old spelling of bound="lower" for "<="
    and bound="upper" for ">=": a latency lower bound bounds throughput from above)."""
    if lower_bound:
        bound = "lower" if cmp == "<=" else "upper"
    if value is None:
        return ConstraintVerdict(name=name, requirement=req, unit=unit, comparison=cmp,
                                 predicted=None, verdict="unknown",
                                 basis_msgs=[basis], origin=origin, bound=bound,
                                 reason_msg=reason or msg("verdict2.no_value"),
                                 to_measure=to_measure)
    margin = (req - value) / req if cmp == "<=" else (value - req) / req
    verdict: Verdict = "pass" if margin >= 0 else "fail"
    out = ConstraintVerdict(name=name, requirement=req, unit=unit, comparison=cmp,
                            predicted=value, verdict=verdict, margin=margin,
                            basis_msgs=[basis], origin=origin, bound=bound)
    # a bound decides only on one side: an upper bound within an upper limit passes, a lower
    # bound beyond it fails; otherwise the bound proves nothing
    proves = bound == "value" or (verdict == "pass") == ((bound == "upper") == (cmp == "<="))
    if not proves:
        out.verdict, out.margin = "unknown", None
        out.reason_msg = reason or msg(f"verdict2.bound_{bound}")
        out.to_measure = to_measure
        if lower_bound:
            out.add_basis(msg("verdict.lower_bound_le" if cmp == "<=" else "verdict.lower_bound_ge"))
    return out


def _pick(est: PlatformEstimate, precision: Precision | str | None) -> PrecisionEstimate | None:
    if precision is not None:
        return est.get(str(precision))
    if est.best_precision is not None:
        return est.get(est.best_precision)
    known = [pe for pe in est.per_precision if pe.predicted_latency_s]
    return known[0] if known else None


def _why_no_latency(est: PlatformEstimate, pe: PrecisionEstimate | None) -> Msg | None:
    """Why the latency is not predicted (or only bounded): the precisions' reasons."""
    if pe is not None and pe.predicted_latency_s is not None and not pe.latency_is_lower_bound:
        return None
    if pe is not None and pe.latency_is_lower_bound:
        return msg("verdict2.bound_lower")
    reasons = [x.reason_msg for x in est.per_precision if x.reason_msg is not None]
    return reasons[0] if reasons else msg("verdict2.no_value")


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
                        precision: Precision | str | None = None,
                        host: Platform | None = None) -> list[ConstraintVerdict]:
    """A verdict for every constraint given, at ``precision`` (default: the best runnable one).

    ``host``: the board an add-on accelerator plugs into (its draw is part of the system's)."""
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
                          lower_bound=lb, to_measure=msg("verdict2.measure_latency"),
                          reason=_why_no_latency(est, pe)))
    if c.throughput_per_s is not None:
        out.append(_check("throughput_per_s", c.throughput_per_s, "samples/s", ">=",
                          pe.throughput_per_s if pe else None,
                          msg("verdict.throughput", batch=est.batch_size, where=where),
                          lower_bound=lb, to_measure=msg("verdict2.measure_latency"),
                          reason=_why_no_latency(est, pe)))
    if c.memory_mb is not None:
        # counted: judged whenever the counts exist, even when the speed cannot be predicted
        mem_pe = pe or next((x for x in est.per_precision if x.weight_bytes), None)
        need = (mem_pe.weight_bytes + mem_pe.peak_activation_bytes) / 1e6 if mem_pe else None
        out.append(_check("memory_mb", c.memory_mb, "MB", "<=", need,
                          msg("verdict.memory", precision=mem_pe.precision if mem_pe else prec),
                          origin="counted" if mem_pe else "predicted"))
    draw = system_power(platform, host)
    if c.power_w is not None:
        kind = draw.kind
        value = draw.value_w if kind != "unknown" else None
        out.append(_check("power_w", c.power_w, "W", "<=", value, draw.basis, origin="published",
                          bound="value" if kind == "typical" else
                          ("lower" if kind == "lower" else "upper"),
                          to_measure=draw.to_measure,
                          reason=msg("verdict2.power_unknown") if kind == "unknown" else None))
    if c.energy_mj is not None:
        lat_s = pe.predicted_latency_s if pe else None
        e, ekind = energy_mj(draw, lat_s, lb)
        e_sample = e / est.batch_size if e is not None else None
        out.append(_check("energy_mj", c.energy_mj, "mJ", "<=", e_sample,
                          msg("verdict.energy", power=draw.basis),
                          bound="value" if ekind is None or ekind == "typical" else ekind,
                          to_measure=draw.to_measure,
                          reason=msg("verdict2.energy_unknown") if e is None else None))
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
            # the stream arrives over the sensor's own interface (CSI-2, USB, I2S), which the
            # catalog does not describe; DRAM bandwidth is not the link that carries it
            avail, via = None, msg("verdict2.via_sensor_interface")
        out.append(_check("input_bandwidth_mb_s", rate / 1e6, "MB/s", ">=",
                          None if avail is None else avail / 1e6,
                          msg("verdict.input_bw", via=via, rate=rate_basis), origin="published",
                          reason=msg("verdict2.link_unknown"),
                          to_measure=msg("verdict2.measure_link")))
    if c.sensor is not None:
        out.append(_check("sensor_rate_hz", c.sensor.rate_hz, "samples/s", ">=",
                          pe.throughput_per_s if pe else None,
                          msg("verdict.sensor", where=where),
                          lower_bound=lb, to_measure=msg("verdict2.measure_latency"),
                          reason=_why_no_latency(est, pe)))
    if c.connectivity is not None:
        out.append(ConstraintVerdict(name="connectivity", requirement=c.connectivity, unit="",
                                     comparison="info", predicted=None, verdict="info",
                                     basis_msgs=[msg("verdict.info")], origin="spec"))
    return out


def first_constraint_to_break(verdicts: list[ConstraintVerdict]) -> ConstraintVerdict | None:
    """The failing constraint with the worst margin; if none fails, the one closest to failing.
    Only judged constraints count: an unknown one is listed as "to measure", never ranked."""
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
    energy_bound: Literal["typical", "upper", "lower"] | None = None
    power_basis_msg: Msg | None = None
    price_usd: float | None = None
    price_status: str = "unsourced"
    toolchain: str = ""
    required_format: str = ""
    runtime: str = Field("", description="the platform's own deployment runtime the row assumes")
    note_msgs: list[Msg] = Field(default_factory=list)
    origin: Literal["predicted"] = "predicted"


def zoo_comparison(trace: Trace, platforms: Sequence[Platform | str],
                   precisions: list[Precision] | list[str], *, batch_size: int = 1,
                   runtime: str | None = None) -> list[ZooRow]:
    """The traced model predicted on each platform as it would ship there: deployed with that
    platform's own runtime (``runtime``: the spec's choice, None/auto = each platform's usual
    one), at its best runnable precision. ``platforms``: resolved platforms (the build resolves
    them once) or catalog ids."""
    # unknown ids fail before any work
    plats = [p if not isinstance(p, str) else get_platform(p) for p in platforms]
    rows: list[ZooRow] = []
    for plat in plats:
        rt = deployment_runtime(plat, runtime)
        dtrace = deployed_trace(trace, rt)
        est = estimate(dtrace, plat, precisions, batch_size=batch_size, keep_ops=False,
                       runtime_kind=rt.kind.value)
        unit_note: list[Msg] = []
        if not est.best_precision:
            # the default unit predicts none of the precisions (e.g. an NPU without fp32 or
            # without a sourced peak): the unit of the same chip that does predict one
            alt = _other_unit(dtrace, plat, precisions, batch_size)
            if alt is not None:
                # keep why the default unit could not (how to confirm its peak, say)
                unit_note = [msg("zoo.other_unit", unit=alt[0], default=plat.default_unit)] + [
                    msg("zoo.precision_reason", precision=x.precision, reason=x.reason_msg or "")
                    for x in est.per_precision if x.reason_msg]
                est = alt[1]
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
                required_format=plat.required_format, runtime=rt.name, note_msgs=reasons))
            continue
        rows.append(ZooRow(
            platform_id=plat.id, platform_name=plat.name, platform_class=plat.class_.value,
            best_precision=pe.precision, predicted_latency_s=pe.predicted_latency_s,
            ideal_latency_s=pe.ideal_latency_s, latency_is_lower_bound=pe.latency_is_lower_bound,
            throughput_per_s=pe.throughput_per_s, fits_memory=pe.fits,
            energy_per_sample_mj=pe.energy_per_sample_mj, energy_bound=pe.energy_bound,
            power_basis_msg=pe.power_basis_msg,
            price_usd=plat.price_usd.value if plat.price_usd.usable else None,
            price_status=plat.price_usd.status,
            toolchain=plat.toolchain[0] if plat.toolchain else "",
            required_format=plat.required_format, runtime=rt.name,
            note_msgs=unit_note + _calibration_note(est) + list(pe.note_msgs)))
    return rows


def _calibration_note(est: PlatformEstimate) -> list[Msg]:
    """An uncalibrated row says so, with its class's band: a calibrated target's row and an
    uncalibrated peer's are not on the same footing (the ESP32-S3's published points make it
    ×20 slower than assumed; the STM32 beside it is predicted at the assumed efficiencies)."""
    cal = est.calibration
    if cal is None or cal.calibrated:
        return []
    return [msg("zoo.uncalibrated_band", band=cal.band) if cal.band is not None
            else msg("zoo.uncalibrated")]


def _other_unit(trace: Trace, plat: Platform, precisions: list[Precision] | list[str],
                batch_size: int) -> tuple[str, PlatformEstimate] | None:
    """(unit, estimate) on the non-default compute unit with the lowest predicted latency at
    its best precision; None when no other unit predicts any of ``precisions``."""
    best: tuple[str, PlatformEstimate] | None = None
    best_s = math.inf
    for u in plat.compute_units:
        if u.unit == plat.default_unit:
            continue
        est = estimate(trace, plat.model_copy(update={"default_unit": u.unit}), precisions,
                       batch_size=batch_size, keep_ops=False)
        pe = est.get(est.best_precision) if est.best_precision else None
        if pe is not None and pe.predicted_latency_s is not None and pe.predicted_latency_s < best_s:
            best, best_s = (u.unit, est), pe.predicted_latency_s
    return best
