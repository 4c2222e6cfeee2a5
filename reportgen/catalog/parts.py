"""The parts of a platform entry in the catalog, each a pydantic model of one block of
``catalog/platforms.yaml``: its class (:class:`PlatformClass`), compute units with their peaks per
precision, main memory, on-chip memories and resources (names carry units), host links, power
figures and configurable power modes (``Power.for_energy`` picks the figure used for energy), the
memory model the roofline applies, and published latency measurements for calibration
(:class:`CalibrationPoint`). Every number is a :class:`~reportgen.catalog.figures.Figure`.
No torch.
"""

from __future__ import annotations

from enum import StrEnum, unique
from typing import ClassVar, Literal

from pydantic import Field

from reportgen.catalog.figures import Figure, Peak, Strict


@unique
class PlatformClass(StrEnum):
    powerful = "powerful"
    budget = "budget"
    specialized = "specialized"
    fpga = "fpga"
    mcu = "mcu"
    cpu = "cpu"


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
    unit: str | None = Field(None, description="compute unit measured (None: the platform's "
                                               "default unit); a fit applies only to predictions "
                                               "on its unit")
    batch: int = Field(1, ge=1)
    kwargs: dict[str, int | float | str | bool] = Field(
        default_factory=dict, description="builder arguments of a torchvision model as published "
                                          "(e.g. width_mult: 0.5, num_classes: 11)")
    latency_ms: float = Field(gt=0)
    url: str = Field(description="primary source (vendor documentation or datasheet)")
    use: Literal["fit", "validate"] = "validate"
    note: str | None = None

