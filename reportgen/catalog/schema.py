"""The hardware platform catalog: the :class:`Platform` entry of ``catalog/platforms.yaml`` (its
validation: default unit, figures' status rules, source ids, calibration points; and access:
peaks per precision, bandwidth, capacity, power modes, ridge point) and the :class:`Catalog` file
around the entries. No torch. Numbers are figures with provenance (``catalog/figures.py``); the
blocks of an entry are in ``catalog/parts.py``.

Peaks are **dense** unless ``sparse=True`` is asked for explicitly (2:4 structured sparsity).
"""

from __future__ import annotations

from typing import Any

from pydantic import Field, model_validator

from reportgen.catalog.figures import Figure, Peak, Source, Strict
from reportgen.catalog.parts import (
    CalibrationPoint,
    ComputeUnit,
    HostLink,
    Memory,
    MemoryModel,
    OnChip,
    PlatformClass,
    Power,
)


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
        if len({c.unit or self.default_unit for c in self.calibration}) > 1:
            problems.append("calibration: every point must be measured on one compute unit "
                            "(unit:)")
        for c in self.calibration:
            if c.unit is not None and c.unit not in units:
                problems.append(f"calibration.{c.model}: unit '{c.unit}' is not one of the "
                                f"compute units ({', '.join(units)})")
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
