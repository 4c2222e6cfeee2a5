"""Power as a model: what a deployment draws, as a typical figure or as bounds, with its scope.

A catalog power figure is one of three things (reportgen/catalog/PLATFORMS-NOTES.md §6):

* a **typical** active draw (``typical_w``): a point estimate;
* an **upper bound** on the draw: a supply rating (``psu_w``), a power mode's budget (``max_w``,
  ``power_modes``), a TDP / board power limit (``tdp_w``, ``base_w``), a peak (``peak_w``);
* a **lower bound**: the idle draw (``idle_w``).

A supply rating or a power mode is never used as a draw. The system is the platform itself, or,
for an add-on accelerator (a USB/PCIe NPU), the host board plus the accelerator; a host that is
not known leaves the upper bound open (the accelerator's own figures are then a lower bound).
Energy per inference = power × predicted time, with the same kind (estimate / at most / at least).
Units: W, mJ. No torch.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from reportgen.catalog.figures import Figure
from reportgen.catalog.schema import Platform
from reportgen.text import Msg, msg

Bound = Literal["typical", "upper", "lower"]

#: catalog power fields and what kind of figure each is
FIELD_KIND: dict[str, Bound] = {"typical_w": "typical", "tdp_w": "upper", "base_w": "upper",
                                "peak_w": "upper", "max_w": "upper", "psu_w": "upper",
                                "idle_w": "lower"}


class PowerPart(BaseModel):
    """One component of the system's draw (the board, the host, the accelerator)."""

    model_config = ConfigDict(extra="forbid")

    platform_id: str
    role: Literal["platform", "host", "accelerator"]
    typical_w: float | None = None
    upper_w: float | None = None
    lower_w: float | None = None
    upper_field: str | None = Field(None, description="catalog field of the upper bound "
                                                      "(psu_w, max_w, power mode, ...)")
    mode: str | None = None
    figures: list[Msg] = Field(default_factory=list, description="the figures used, each "
                                                                 "with its kind and status")


class PowerDraw(BaseModel):
    """The whole system's active draw: a typical figure and/or bounds, in W."""

    model_config = ConfigDict(extra="forbid")

    typical_w: float | None = None
    upper_w: float | None = None
    lower_w: float | None = None
    mode: str | None = Field(None, description="the power mode assumed (None: no modes)")
    parts: list[PowerPart] = Field(default_factory=list)
    basis: Msg = Field(description="what the figure is, where it comes from")
    to_measure: Msg = Field(description="the measurement that settles the draw")

    @property
    def kind(self) -> Literal["typical", "upper", "lower", "unknown"]:
        if self.typical_w is not None:
            return "typical"
        if self.upper_w is not None:
            return "upper"
        return "lower" if self.lower_w else "unknown"

    @property
    def value_w(self) -> float | None:
        """The figure energy is computed from: typical, else the upper, else the lower bound."""
        return self.typical_w if self.typical_w is not None else (
            self.upper_w if self.upper_w is not None else (self.lower_w or None))


def is_addon(platform: Platform) -> bool:
    """A USB/PCIe accelerator that needs a host board to run (Coral, Hailo-8, NCS2)."""
    return platform.class_.value == "specialized" and platform.host_link() is not None


def _fig(label: str, f: Figure) -> Msg:
    assert f.value is not None  # callers pass usable figures only
    return msg("power2.figure", label=msg(f"power2.label.{label}"), value=f.value,
               status=msg(f"status.{f.status}"))


def part(platform: Platform, role: Literal["platform", "host", "accelerator"]) -> PowerPart:
    """One platform's draw from its catalog figures (in its active power mode)."""
    pw = platform.power
    out = PowerPart(platform_id=platform.id, role=role)
    modes = pw.power_modes
    if modes:
        mode = next((m for m in modes if m.name == platform.power_mode), None) or \
            next((m for m in modes if m.top), modes[0])
        out.mode = mode.name
        if mode.power_w.usable:
            assert mode.power_w.value is not None  # usable implies a value
            out.upper_w, out.upper_field = mode.power_w.value, "power_mode"
            out.figures.append(msg("power2.figure_mode", mode=mode.name, value=mode.power_w.value,
                                   status=msg(f"status.{mode.power_w.status}")))
    for name, kind in FIELD_KIND.items():
        f: Figure | None = getattr(pw, name)
        if f is None or not f.usable or (name == "max_w" and modes):
            continue
        assert f.value is not None
        if kind == "typical" and out.typical_w is None:
            out.typical_w = f.value
        elif kind == "upper" and out.upper_w is None:
            out.upper_w, out.upper_field = f.value, name
        elif kind == "lower" and out.lower_w is None:
            out.lower_w = f.value
        else:
            continue
        out.figures.append(_fig(name, f))
    return out


def power_figures(platform: Platform) -> list[tuple[Bound, str, Figure]]:
    """The catalog figures the power model uses for ``platform`` alone, as (kind, catalog
    field or ``mode <name>``, figure): the typical draw, the upper bound (a power mode, supply
    rating, TDP, ...) and the lower bound (idle). Never a supply rating posing as a draw."""
    pw, p = platform.power, part(platform, "platform")
    out: list[tuple[Bound, str, Figure]] = []
    if p.typical_w is not None and pw.typical_w is not None:
        out.append(("typical", "typical_w", pw.typical_w))
    if p.upper_field == "power_mode":
        mode = next(m for m in pw.power_modes if m.name == p.mode)
        out.append(("upper", f"mode {mode.name}", mode.power_w))
    elif p.upper_field is not None and getattr(pw, p.upper_field) is not None:
        out.append(("upper", p.upper_field, getattr(pw, p.upper_field)))
    if p.lower_w is not None and pw.idle_w is not None:
        out.append(("lower", "idle_w", pw.idle_w))
    return out


def system_power(platform: Platform, host: Platform | None = None) -> PowerDraw:
    """The active draw of the system that runs the model on ``platform``.

    An add-on accelerator is counted with its ``host`` (the study's target board when the
    accelerator is a hypothesis); an unknown host leaves only the accelerator's share known."""
    parts = [part(platform, "accelerator" if is_addon(platform) else "platform")]
    addon = is_addon(platform)
    if addon and host is not None and host.id != platform.id:
        parts.insert(0, part(host, "host"))
    if addon and len(parts) == 1:  # the host is not known: its draw is missing from the sum
        acc = parts[0]
        lower = acc.typical_w if acc.typical_w is not None else acc.lower_w
        return PowerDraw(lower_w=lower, parts=parts,
                         basis=msg("power2.basis_no_host", device=platform.name,
                                   figures=_join(acc.figures)),
                         to_measure=msg("power2.measure_system", device=platform.name))
    typicals = [p.typical_w for p in parts if p.typical_w is not None]
    typical = sum(typicals) if len(typicals) == len(parts) else None
    lower_parts = [p.typical_w if p.typical_w is not None else p.lower_w for p in parts]
    lower = sum(x for x in lower_parts if x is not None) or None
    hostp = parts[0] if parts[0].role == "host" else None
    if hostp is not None and hostp.upper_field == "psu_w":
        upper = hostp.upper_w  # the host's supply feeds the accelerator too (USB / PCIe / HAT)
    elif all(p.upper_w is not None for p in parts):
        upper = sum(p.upper_w for p in parts)  # type: ignore[misc]
    else:
        upper = None
    figures = [f for p in parts for f in p.figures]
    basis = msg("power2.basis_system" if len(parts) > 1 else "power2.basis",
                figures=_join(figures) if figures else msg("power2.no_figures"),
                device=platform.name, host=host.name if host is not None else "")
    if typical is not None:
        measure = msg("power2.measure_confirm")
    elif platform.power.power_modes or (host is not None and host.power.power_modes):
        measure = msg("power2.measure_mode")
    else:
        measure = msg("power2.measure_meter")
    return PowerDraw(typical_w=typical, upper_w=upper, lower_w=lower,
                     mode=parts[-1].mode, parts=parts, basis=basis, to_measure=measure)


def _join(items: list[Msg]) -> Msg | str:
    if not items:
        return ""
    out: Msg | str = items[0]
    for m in items[1:]:
        out = msg("power2.and", a=out, b=m)
    return out


def energy_mj(draw: PowerDraw, latency_s: float | None, latency_lower_bound: bool = False
              ) -> tuple[float | None, Bound | None]:
    """Energy per batch in mJ and its kind (typical = estimate, upper = at most, lower = at
    least). A latency lower bound only gives an energy lower bound."""
    if latency_s is None:
        return None, None
    if latency_lower_bound:
        lo = draw.typical_w if draw.typical_w is not None else draw.lower_w
        return (lo * latency_s * 1e3, "lower") if lo else (None, None)
    if draw.typical_w is not None:
        return draw.typical_w * latency_s * 1e3, "typical"
    if draw.upper_w is not None:
        return draw.upper_w * latency_s * 1e3, "upper"
    if draw.lower_w:
        return draw.lower_w * latency_s * 1e3, "lower"
    return None, None
