"""Efficiency assumptions (η_c, η_m, per-op overhead) from ``catalog/assumptions.yaml``, overridable
in the spec, and the record of every figure and rule a prediction rests on.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field

from reportgen.analysis.prediction.calibration import platform_overhead_us, platform_scale
from reportgen.analysis.prediction.power import power_figures
from reportgen.catalog.figures import Figure
from reportgen.catalog.schema import Platform
from reportgen.spec.choices import Precision
from reportgen.text import Msg, msg

ASSUMPTIONS_PATH = Path(__file__).resolve().parents[2] / "catalog" / "assumptions.yaml"


class Model(BaseModel):
    model_config = ConfigDict(extra="forbid")


def compute_precision(precision: Precision) -> str:
    """The peak used for compute: int4 is weight-only, so it computes at fp16."""
    return "fp16" if precision is Precision.int4 else precision.value


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


def efficiency_for(platform: Platform, overrides: dict[str, Any] | Efficiency | None = None,
                   *, calibrated: bool = True, runtime_kind: str | None = None) -> Efficiency:
    """η_c, η_m and per-op overhead for ``platform``: class default < per-platform < overrides.

    ``calibrated``: divide η_c and η_m by the scale fitted to the platform's published
    measurements (``calibration.py``; η clipped at 1) and use the fitted per-op overhead (or,
    when only the scale was fitted, the assumed overhead times the scale) — unless the
    calibration was fitted on another ``runtime_kind`` (eager / compiled). Overrides win."""
    cfg = load_assumptions()
    base = cfg.classes[platform.class_.value].model_dump()
    base.update(cfg.platforms.get(platform.id, {}))
    if isinstance(overrides, Efficiency):
        return overrides
    if overrides:
        base.update(overrides)
        base["why"] = (base.get("why", "") + " " + OVERRIDDEN).strip()
    elif calibrated:
        s = platform_scale(platform, runtime_kind)
        o = platform_overhead_us(platform, runtime_kind)
        if s != 1.0 or o is not None:
            base["eta_c"] = min(1.0, base["eta_c"] / s)
            base["eta_m"] = min(1.0, base["eta_m"] / s)
            base["op_overhead_us"] = o if o is not None else base["op_overhead_us"] * s
    return Efficiency.model_validate(base)


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
    figures: list[UsedFigure]
    # where η comes from (catalog prose is quoted, not translated) and the rules applied
    efficiency_msgs: list[Msg] = Field(default_factory=list)
    rule_msgs: list[Msg] = Field(default_factory=list)


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
    power = power_figures(plat)  # what the power model uses: a draw or bounds, never a PSU as draw
    for kind, field, fig in power:
        label = {"typical": "typical draw", "upper": "upper bound", "lower": "lower bound"}[kind]
        figs.append(UsedFigure.of(f"power {label} ({field})", fig))
    if not power:
        figs.append(UsedFigure.of("power", None))
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
                       figures=figs, efficiency_msgs=eff_msgs,
                       rule_msgs=rules)


