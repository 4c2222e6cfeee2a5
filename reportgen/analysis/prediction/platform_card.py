"""The platform as the report shows it: every catalog number with its status and sources, the
toolchain and required network format, and the per-block predicted time on it."""

from __future__ import annotations

from pydantic import BaseModel, Field

from reportgen.analysis.counting.costs import CostRow
from reportgen.analysis.prediction.estimates import PrecisionEstimate
from reportgen.catalog.figures import Figure
from reportgen.catalog.schema import Platform
from reportgen.text import Msg, msg


class PlatformFact(BaseModel):
    """One catalog number: value in its unit, status (sourced / derived / claim_low /
    unsourced / measured / user) and the URLs it was taken from."""

    key: str  # stable id, e.g. "peak.int8", "memory.bandwidth"
    label_msg: Msg  # what the number is
    value: float | None
    unit: str
    status: str
    urls: list[str] = Field(default_factory=list)
    note: str | None = None


class PlatformSource(BaseModel):
    id: str
    url: str
    kind: str = ""


class PlatformCard(BaseModel):
    id: str
    name: str
    platform_class: str
    zoo_class: str
    vendor: str
    form_factor: str = ""
    compute_unit: str  # the unit that runs the model, with its description
    memory_type: str | None = None
    unified_memory: bool = False
    memory_model: str
    facts: list[PlatformFact]
    toolchain: list[str] = Field(default_factory=list)
    required_format: str = ""
    operator_support: str | None = None
    notes: list[str] = Field(default_factory=list)  # the catalog's deployment constraints
    acceleration_methods: list[str] = Field(default_factory=list)
    sources: list[PlatformSource] = Field(default_factory=list)


class BlockTime(BaseModel):
    """Predicted time of one architecture block at one precision (roofline, derated)."""

    name: str
    predicted_time_s: float
    share: float


def _fact(key: str, label: Msg, fig: Figure | None) -> PlatformFact | None:
    if fig is None:
        return None
    value = fig.value if fig.value is not None else fig.claimed_value if fig.status == "claim_low" else None
    return PlatformFact(key=key, label_msg=label, value=value, unit=fig.unit,
                        status=fig.status, urls=list(fig.urls), note=fig.note or fig.derivation)


def platform_card(p: Platform) -> PlatformCard:
    p.figures()  # resolves source URLs on every figure
    unit = p.unit()
    facts: list[PlatformFact | None] = []
    for prec in ("fp32", "tf32", "fp16", "bf16", "fp8", "int8", "int4"):
        if prec in unit.peak:
            facts.append(_fact(f"peak.{prec}", msg("fact.peak", unit=unit.unit, precision=prec),
                               p.peak(prec) or unit.peak[prec].figure()))
    facts.append(_fact("memory.capacity", msg("fact.memory_capacity"), p.memory.capacity_gb))
    facts.append(_fact("memory.bandwidth", msg("fact.memory_bandwidth"), p.memory.bandwidth_gbps))
    for name in ("param_cache_mb", "sram_kb", "usable_sram_kb", "sram_mb", "flash_mb",
                 "bram_uram_mb", "dsp_slices", "l2_cache_mb", "cmx_sram_mb"):
        facts.append(_fact(f"on_chip.{name}", msg(f"fact.on_chip.{name}"), getattr(p.on_chip, name)))
    for link in p.host_links:
        facts.append(_fact("host_link", msg("fact.host_link", link=link.name), link.bandwidth_gbps))
    for name in ("tdp_w", "typical_w", "max_w", "min_w"):
        facts.append(_fact(f"power.{name}", msg(f"fact.power.{name}"), getattr(p.power, name)))
    facts.append(_fact("price", msg("fact.price"), p.price_usd))
    return PlatformCard(
        id=p.id, name=p.name, platform_class=p.class_.value, zoo_class=p.zoo_class, vendor=p.vendor,
        form_factor=p.form_factor, compute_unit=f"{unit.unit}: {unit.description}".rstrip(": "),
        memory_type=p.memory.type, unified_memory=p.memory.unified, memory_model=p.memory_model,
        facts=[f for f in facts if f is not None], toolchain=list(p.toolchain),
        required_format=p.required_format, operator_support=p.operator_support,
        notes=list(p.constraints), acceleration_methods=list(p.acceleration_methods),
        sources=[PlatformSource(id=s.id, url=s.url, kind=s.kind) for s in p.sources])


def block_times(blocks: list[CostRow], est: PrecisionEstimate) -> list[BlockTime]:
    """Sum per-op predicted times into the architecture blocks of section 1."""
    names = sorted((b.name for b in blocks), key=len, reverse=True)
    totals: dict[str, float] = {b.name: 0.0 for b in blocks}
    other = 0.0
    for op in est.ops:
        t = op.predicted_time_s or 0.0
        owner = next((n for n in names if op.module == n or op.module.startswith(n + ".")), None)
        if owner is None:
            other += t
        else:
            totals[owner] += t
    total = sum(totals.values()) + other
    rows = [BlockTime(name=b.name, predicted_time_s=totals[b.name],
                      share=totals[b.name] / total if total else 0.0) for b in blocks]
    if other > 0:
        rows.append(BlockTime(name="<model> (own ops)", predicted_time_s=other,
                              share=other / total if total else 0.0))
    return rows
