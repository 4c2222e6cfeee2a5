"""The hardware platform catalog: pydantic models over ``catalog/platforms.yaml``. No torch.

Every number is a :class:`Figure` carrying its value, unit, ``status`` (how much to trust it) and
source ids that resolve to URLs in the platform's ``sources:`` list. Units follow the catalog:
peaks in TFLOPS/TOPS (1e12 op/s, 1 MAC = 2 ops), bandwidth in GB/s (1e9 B/s), capacity in GB
(1e9 B), power in W, price in USD. ``Figure.si`` converts to base SI units (op/s, B/s, B).

Peaks are **dense** unless ``sparse=True`` is asked for explicitly (2:4 structured sparsity).
"""

from __future__ import annotations

from enum import StrEnum, unique
from typing import Any, ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

Status = Literal["sourced", "derived", "claim_low", "unsourced", "measured", "user"]


#: statuses whose value the roofline uses without asking (claim_low needs user confirmation)
USABLE_STATUSES: frozenset[str] = frozenset({"sourced", "derived", "measured", "user"})


STATUS_MEANING: dict[str, str] = {
    "sourced": "appears on the cited page",
    "derived": "computed from sourced numbers (estimate)",
    "claim_low": "only on a low-reliability page; not used unless confirmed",
    "unsourced": "not found; unknown",
    "measured": "measured on this machine",
    "user": "given in the spec",
}


#: multiplier from a catalog unit to base SI (op/s, B/s, B, W, USD)
UNIT_SCALE: dict[str, float] = {
    "TFLOPS": 1e12, "TOPS": 1e12, "GFLOPS": 1e9, "GOPS": 1e9,
    "GB/s": 1e9, "MB/s": 1e6,
    "GB": 1e9, "MB": 1e6, "KB": 1e3, "B": 1.0,
    "W": 1.0, "USD": 1.0, "count": 1.0,
}


@unique
class PlatformClass(StrEnum):
    powerful = "powerful"
    budget = "budget"
    specialized = "specialized"
    fpga = "fpga"
    mcu = "mcu"
    cpu = "cpu"


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)


class Source(Strict):
    id: str
    url: str
    kind: str = ""
    note: str | None = None


class Figure(Strict):
    """One number with its unit and provenance. ``value`` is ``None`` when unknown."""

    value: float | None = None
    unit: str = ""
    status: Status
    src: list[str] = Field(default_factory=list, description="ids into the platform's sources")
    note: str | None = None
    derivation: str | None = Field(None, description="formula, for status 'derived'")
    claimed_value: float | None = Field(None, description="the low-reliability value (claim_low)")
    text: str | None = Field(None, description="vendor wording when not a single number")
    confidence: str | None = None
    urls: list[str] = Field(default_factory=list, description="src resolved to URLs (filled on load)")

    @property
    def usable(self) -> bool:
        """True when the roofline may use the value without asking the user."""
        return self.value is not None and self.status in USABLE_STATUSES

    @property
    def si(self) -> float | None:
        """The value in base SI units (op/s, B/s, B, W, USD), or None when unknown/unusable."""
        if not self.usable:
            return None
        assert self.value is not None
        return self.value * UNIT_SCALE.get(self.unit, 1.0)

    def problems(self) -> list[str]:
        """Schema rules that a figure must satisfy for its status."""
        out: list[str] = []
        if self.status == "sourced" and not self.src:
            out.append("status 'sourced' needs at least one src id")
        if self.status == "derived" and not self.derivation:
            out.append("status 'derived' needs a derivation")
        if self.status == "claim_low" and (self.value is not None or self.claimed_value is None):
            out.append("status 'claim_low' keeps value null and gives claimed_value")
        if self.status == "unsourced" and self.value is not None:
            out.append("status 'unsourced' must have value null")
        if self.status in ("measured", "user") and self.value is None and self.note is None:
            out.append(f"status '{self.status}' needs a value (or a note saying how it is filled)")
        if self.unit and self.unit not in UNIT_SCALE:
            out.append(f"unknown unit '{self.unit}' (known: {', '.join(UNIT_SCALE)})")
        return out


class Peak(Strict):
    """Peak throughput of one compute unit at one precision, dense and (optionally) sparse."""

    dense: float | None = None
    sparse: float | None = None
    unit: str = "TOPS"
    status: Status
    dense_status: Status | None = Field(None, description="status of dense when it differs "
                                                          "(dense = sparse / 2 → derived)")
    supported: bool = Field(True, description="false: the unit cannot run this precision")
    src: list[str] = Field(default_factory=list)
    note: str | None = None
    derivation: str | None = None
    claimed_value: float | None = None
    confidence: str | None = None

    def figure(self, sparse: bool = False) -> Figure:
        if sparse:
            return Figure(value=self.sparse, unit=self.unit, status=self.status if self.sparse
                          is not None else "unsourced", src=self.src, note=self.note,
                          derivation=self.derivation, confidence=self.confidence)
        status = self.dense_status or self.status
        derivation = self.derivation
        if self.dense_status == "derived" and not derivation:
            derivation = "dense = sparse / 2 (2:4 structured sparsity doubles the rate)"
        return Figure(value=self.dense, unit=self.unit, status=status, src=self.src,
                      note=self.note, derivation=derivation, claimed_value=self.claimed_value,
                      confidence=self.confidence)


class ComputeUnit(Strict):
    unit: str = Field(description="id of the unit within the platform: gpu, npu, cpu, dla, ...")
    description: str = ""
    src: list[str] = Field(default_factory=list)
    precisions: list[str] = Field(default_factory=list,
                                  description="precisions this unit runs (fp32, fp16, bf16, int8, "
                                              "int4 = W4A16 weight-only, ...)")
    peak: dict[str, Peak] = Field(default_factory=dict)
    figures: dict[str, Figure] = Field(default_factory=dict,
                                       description="other published figures (not used for the roofline)")


class Memory(Strict):
    capacity_gb: Figure
    bandwidth_gbps: Figure
    type: str | None = None
    unified: bool = Field(False, description="one memory shared by CPU/GPU/NPU")
    external: str | None = None
    note: str | None = None


class OnChip(Strict):
    """On-chip memories and resources. Names carry units."""

    param_cache_mb: Figure | None = Field(None, description="Edge TPU parameter cache, MB")
    sram_mb: Figure | None = None
    sram_kb: Figure | None = Field(None, description="MCU total internal SRAM, KB")
    usable_sram_kb: Figure | None = Field(None, description="SRAM available for the tensor arena, KB")
    flash_mb: Figure | None = Field(None, description="MCU flash for weights, MB")
    l2_cache_mb: Figure | None = None
    l3_mb: Figure | None = None
    slc_mb: Figure | None = None
    shared_mem_per_sm_kb: Figure | None = None
    gpu_l2_kb: Figure | None = None
    gpu_l2_mb: Figure | None = None
    cmx_sram_mb: Figure | None = None
    bram_uram_mb: Figure | None = Field(None, description="FPGA BRAM + URAM (or M20K) capacity, MB")
    dsp_slices: Figure | None = Field(None, description="FPGA DSP blocks, count")
    bram_36kb_blocks: Figure | None = None
    uram_288kb_blocks: Figure | None = None
    note: str | None = None


class HostLink(Strict):
    name: str
    bandwidth_gbps: Figure
    note: str | None = None


class PowerMode(Strict):
    """One configurable power mode (Jetson nvpmodel, a TDP setting). ``power_w`` is the mode's
    budget: a cap on the module's draw, an upper bound, not the draw. ``peaks`` and
    ``bandwidth_gbps`` replace the default unit's peaks and the memory bandwidth in this mode;
    a precision not listed is unknown in this mode. The top mode lists no peaks: the catalog's
    peaks are for it."""

    name: str
    power_w: Figure
    peaks: dict[str, Peak] = Field(default_factory=dict)
    bandwidth_gbps: Figure | None = None
    top: bool = Field(False, description="the mode the catalog's peaks are for (the default)")
    note: str | None = None


class Power(Strict):
    tdp_w: Figure | None = None
    typical_w: Figure | None = None
    peak_w: Figure | None = None
    min_w: Figure | None = Field(None, description="lowest configurable power mode")
    max_w: Figure | None = Field(None, description="highest configurable power mode")
    base_w: Figure | None = None
    design_w: Figure | None = Field(None, description="estimated design power (FPGA reference design)")
    psu_w: Figure | None = Field(None, description="supply rating: an upper bound, not the draw")
    idle_w: Figure | None = Field(None, description="idle draw: a lower bound of the active draw")
    modes: str | None = None
    power_modes: list[PowerMode] = Field(default_factory=list)
    efficiency: str | None = None
    note: str | None = None

    #: order in which a power figure is picked for energy estimates (first usable wins)
    ORDER: ClassVar[tuple[str, ...]] = ("tdp_w", "max_w", "peak_w", "design_w", "typical_w", "base_w", "psu_w")

    def for_energy(self) -> tuple[str, Figure] | None:
        """The power figure used for energy per inference: (field name, figure)."""
        for name in self.ORDER:
            f = getattr(self, name)
            if f is not None and f.usable:
                return name, f
        return None


MemoryModel = Literal["dram", "param_cache", "on_chip", "mcu"]


class CalibrationPoint(Strict):
    """A published latency measurement of a reference model on this platform: fitting data (at
    most two per platform, ``use: fit``) or validation data (``use: validate``)."""

    model: str = Field(description="model card id, e.g. mobilenet_v2")
    input: str = Field(description="input as published, e.g. 1x3x224x224")
    precision: str
    runtime: str = Field(description="e.g. TensorRT 8.6, LiteRT (XNNPACK), Edge TPU compiler")
    runtime_kind: Literal["eager", "compiled"] = "compiled"
    batch: int = Field(1, ge=1)
    latency_ms: float = Field(gt=0)
    url: str = Field(description="primary source (vendor documentation or datasheet)")
    use: Literal["fit", "validate"] = "validate"
    note: str | None = None


class Platform(Strict):
    """One hardware platform. Conventions: reportgen/catalog/PLATFORMS-NOTES.md."""

    id: str = Field(pattern=r"^[a-z0-9_]+$")
    name: str
    class_: PlatformClass = Field(alias="class")
    zoo_class: str
    vendor: str
    form_factor: str = ""
    release_year: int | str | None = None
    status_note: str | None = None
    default_unit: str = Field(description="compute unit that runs the model by default")
    memory_model: MemoryModel = Field(
        "dram", description="dram: DRAM roofline; param_cache: on-chip weight cache + host-link "
                            "streaming (Edge TPU); on_chip: everything on chip (Hailo-8); "
                            "mcu: SRAM arena + flash weights")
    compute_units: list[ComputeUnit]
    memory: Memory
    on_chip: OnChip = Field(default_factory=OnChip)
    host_links: list[HostLink] = Field(default_factory=list)
    power: Power = Field(default_factory=Power)
    power_mode: str | None = Field(None, description="the active power mode (None: the top one)")
    price_usd: Figure
    headline_tops: Figure | None = None
    precisions_supported: list[str] = Field(default_factory=list, description="vendor wording")
    supported_op_kinds: list[str] | None = Field(
        None, description="op kinds the default unit runs; the first other op and everything "
                          "after it fall back to the host CPU (Edge TPU rule). None = all.")
    max_tensor_dims: int | None = Field(None, description="tensors may have at most this many "
                                                          "dims > 1 (Edge TPU: 3)")
    sparsity: str | None = None
    toolchain: list[str] = Field(default_factory=list)
    required_format: str = ""
    acceleration_methods: list[str] = Field(default_factory=list)
    constraints: list[str] = Field(default_factory=list)
    operator_support: str | None = None
    variants: list[str] = Field(default_factory=list)
    related_devices: list[str] = Field(default_factory=list)
    notable: str | None = None
    evidence: dict[str, list[str]] = Field(default_factory=dict)
    confidence: str | None = None
    sources: list[Source] = Field(default_factory=list)
    calibration: list[CalibrationPoint] = Field(
        default_factory=list, description="published measurements; ≤ 2 with use: fit")

    # ------------------------------------------------------------------ validation
    @model_validator(mode="after")
    def _check(self) -> Platform:
        problems: list[str] = []
        ids = {s.id for s in self.sources}
        units = [u.unit for u in self.compute_units]
        if self.default_unit not in units:
            problems.append(f"default_unit '{self.default_unit}' is not one of the compute units "
                            f"({', '.join(units) or 'none'})")
        for path, fig in self.figures():
            for p in fig.problems():
                problems.append(f"{path}: {p}")
            for s in fig.src:
                if s not in ids:
                    problems.append(f"{path}: src '{s}' is not in sources")
        for u in self.compute_units:
            for s in u.src:
                if s not in ids:
                    problems.append(f"compute_units.{u.unit}.src: '{s}' is not in sources")
        for key, srcs in self.evidence.items():
            for s in srcs:
                if s not in ids:
                    problems.append(f"evidence.{key}: '{s}' is not in sources")
        if sum(c.use == "fit" for c in self.calibration) > 2:
            problems.append("calibration: at most two points may be used for fitting (use: fit); "
                            "the rest are validation")
        for c in self.calibration:
            if not c.url.startswith("https://"):
                problems.append(f"calibration.{c.model}: url must be an https primary source")
        if problems:
            raise ValueError("; ".join(problems))
        return self

    # ------------------------------------------------------------------ access
    def figures(self) -> list[tuple[str, Figure]]:
        """Every number in the entry as (dotted path, Figure); peaks as their dense figure."""
        out: list[tuple[str, Figure]] = []
        for u in self.compute_units:
            for prec, pk in u.peak.items():
                out.append((f"compute_units.{u.unit}.peak.{prec}", pk.figure()))
                if pk.sparse is not None:
                    out.append((f"compute_units.{u.unit}.peak.{prec}.sparse", pk.figure(True)))
            for name, f in u.figures.items():
                out.append((f"compute_units.{u.unit}.figures.{name}", f))
        out += [("memory.capacity_gb", self.memory.capacity_gb),
                ("memory.bandwidth_gbps", self.memory.bandwidth_gbps)]
        for name in OnChip.model_fields:
            f = getattr(self.on_chip, name)
            if isinstance(f, Figure):
                out.append((f"on_chip.{name}", f))
        for i, link in enumerate(self.host_links):
            out.append((f"host_links.{i}.bandwidth_gbps", link.bandwidth_gbps))
        for name in Power.model_fields:
            f = getattr(self.power, name)
            if isinstance(f, Figure):
                out.append((f"power.{name}", f))
        for m in self.power.power_modes:
            out.append((f"power.power_modes.{m.name}.power_w", m.power_w))
            for prec, pk in m.peaks.items():
                out.append((f"power.power_modes.{m.name}.peaks.{prec}", pk.figure()))
            if m.bandwidth_gbps is not None:
                out.append((f"power.power_modes.{m.name}.bandwidth_gbps", m.bandwidth_gbps))
        out.append(("price_usd", self.price_usd))
        if self.headline_tops is not None:
            out.append(("headline_tops", self.headline_tops))
        urls = {s.id: s.url for s in self.sources}
        for _, fig in out:
            fig.urls = [urls[s] for s in fig.src if s in urls]
        return out

    def unit(self, name: str | None = None) -> ComputeUnit:
        """A compute unit by name (default: the one that runs the model)."""
        name = name or self.default_unit
        for u in self.compute_units:
            if u.unit == name:
                return u
        raise KeyError(f"{self.id} has no compute unit '{name}'")

    def runs(self, precision: str, unit: str | None = None) -> bool:
        """Whether the unit can run ``precision`` at all (its peak may still be unknown)."""
        u = self.unit(unit)
        pk = u.peak.get(precision)
        if pk is not None and not pk.supported:
            return False
        return precision in u.precisions

    def peak(self, precision: str, sparse: bool = False, unit: str | None = None) -> Figure | None:
        """Peak throughput (TFLOPS/TOPS; ``.si`` in op/s). Dense unless ``sparse=True``.

        None when the unit has no entry for this precision."""
        pk = self.unit(unit).peak.get(precision)
        if pk is None or not pk.supported:
            return None
        fig = pk.figure(sparse)
        urls = {s.id: s.url for s in self.sources}
        fig.urls = [urls[s] for s in fig.src if s in urls]
        return fig

    def bandwidth(self) -> Figure:
        """Main-memory bandwidth, GB/s (``.si`` in B/s)."""
        return self.memory.bandwidth_gbps

    def capacity(self) -> Figure:
        """Main-memory capacity, GB (``.si`` in B)."""
        return self.memory.capacity_gb

    def with_power_mode(self, name: str) -> Platform:
        """This platform in power mode ``name``: the mode's peaks (precisions it does not list
        become unknown) and memory bandwidth replace the top mode's."""
        mode = next(m for m in self.power.power_modes if m.name == name)
        if mode.top:
            return self.model_copy(update={"power_mode": name})
        units = []
        for u in self.compute_units:
            if u.unit == self.default_unit:
                peaks = {p: mode.peaks.get(p, Peak(status="unsourced", unit=pk.unit,
                                                   supported=pk.supported))
                         for p, pk in u.peak.items()}
                peaks.update({p: pk for p, pk in mode.peaks.items() if p not in peaks})
                u = u.model_copy(update={"peak": peaks})
            units.append(u)
        mem = self.memory if mode.bandwidth_gbps is None else self.memory.model_copy(
            update={"bandwidth_gbps": mode.bandwidth_gbps})
        return self.model_copy(update={"compute_units": units, "memory": mem,
                                       "power_mode": name})

    def host_link(self) -> HostLink | None:
        """The link to the host (first listed), for USB/PCIe accelerators."""
        return self.host_links[0] if self.host_links else None

    def ridge_point(self, precision: str, sparse: bool = False) -> float | None:
        """Ridge point I* = P_peak / BW in op/byte, or None when either is unknown."""
        pk = self.peak(precision, sparse)
        bw = self.bandwidth().si
        if pk is None or pk.si is None or not bw:
            return None
        return pk.si / bw

    def source_url(self, source_id: str) -> str | None:
        for s in self.sources:
            if s.id == source_id:
                return s.url
        return None

    def dump(self) -> dict[str, Any]:
        """JSON-ready dict in catalog form (``class`` key, no resolved URLs)."""
        data = self.model_dump(mode="json", by_alias=True, exclude_none=True)
        _strip_urls(data)
        return data


class Catalog(Strict):
    schema_version: int
    units: dict[str, str] = Field(default_factory=dict)
    classes: dict[str, str] = Field(default_factory=dict)
    status_meaning: dict[str, str] = Field(default_factory=dict)
    platforms: list[dict[str, Any]]

def _strip_urls(node: Any) -> None:
    if isinstance(node, dict):
        node.pop("urls", None)
        for v in node.values():
            _strip_urls(v)
    elif isinstance(node, list):
        for v in node:
            _strip_urls(v)
