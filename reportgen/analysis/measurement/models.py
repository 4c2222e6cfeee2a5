"""Result models of the measurement stage (no torch). Every measured number says the machine,
the repetitions and the spread (``LatencyStats``); every predicted one its platform.

Units: seconds (``_s``), bytes (``_bytes``), samples per second (``_per_s``).
"""

from __future__ import annotations

from typing import Any, Final, Literal

from pydantic import BaseModel, ConfigDict, Field

from reportgen.analysis.measurement.quality import MeasurementQuality
from reportgen.analysis.measurement.timing import LatencyStats

FILE_KIND: Final = "reportgen-measurements"
FILE_VERSION = 1

# op classes compared between the profiler and the roofline (OpKind values → group)
GROUPS: dict[str, str] = {
    "matmul": "matmul_conv", "conv": "matmul_conv", "attention": "attention",
    "elementwise": "elementwise_norm", "normalization": "elementwise_norm",
    "reduction": "elementwise_norm", "embedding": "data_movement",
    "data_movement": "data_movement", "view": "data_movement", "other": "other",
}
GROUP_ORDER = ["matmul_conv", "attention", "elementwise_norm", "data_movement", "other"]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Machine(Strict):
    """The machine a measurement ran on."""

    cpu_model: str
    cores: int | None = Field(None, description="logical cores (os.cpu_count)")
    physical_cores: int | None = None
    ram_bytes: int | None = None
    os: str | None = None
    python: str | None = None
    torch: str
    device: str = Field(description="cpu or cuda")
    gpu_name: str | None = None
    gpu_memory_bytes: int | None = None

    @property
    def label(self) -> str:
        if self.device == "cuda" and self.gpu_name:
            return f"{self.gpu_name} (torch {self.torch})"
        return f"{self.cpu_model}, {self.cores} cores (torch {self.torch})"


class BatchPoint(Strict):
    batch_size: int
    latency: LatencyStats
    throughput_per_s: float = Field(description="samples/s = batch / median latency")


class ThreadPoint(Strict):
    threads: int
    latency: LatencyStats
    speedup: float = Field(description="median latency at the fewest threads / this one")


class SizePoint(Strict):
    """Latency at one point of the input-size sweep (see the scaling stage)."""

    axis: str
    value: float
    latency: LatencyStats


class ProfiledOp(Strict):
    """One profiler op (aggregated over calls). Self time excludes time in child ops."""

    name: str = Field(description="profiler name, e.g. aten::addmm")
    trace_op: str | None = Field(None, description="the trace's op packet it maps to, e.g. addmm")
    kind: str
    group: str
    calls: int
    self_time_s: float = Field(description="self time per forward pass, s")
    share: float = Field(description="of the summed self time")
    self_memory_bytes: int = Field(0, description="net bytes allocated by the op itself, per pass")
    input_shapes: list[str] = Field(default_factory=list)


class LayerTime(Strict):
    """Time inside leaf modules of one type (inclusive of their ops), per forward pass."""

    layer_type: str
    modules: int
    time_s: float
    share: float = Field(description="of the profiled forward time")


class ProfilePass(Strict):
    """One torch.profiler pass, separate from the timing runs (the profiler adds overhead)."""

    iterations: int
    activities: list[str]
    total_self_time_s: float = Field(description="sum of op self times per pass, s")
    wall_time_s: float = Field(description="profiled forward wall time per pass, s")
    ops: list[ProfiledOp]
    by_group: dict[str, float] = Field(description="self time per op class per pass, s")
    layers: list[LayerTime] = Field(default_factory=list)
    outside_leaf_modules_s: float = 0.0
    peak_allocated_bytes: int | None = Field(None, description="peak of profiler-tracked "
                                                               "allocations during a pass")
    device_peak_bytes: int | None = Field(None, description="torch.cuda.max_memory_allocated")
    device_baseline_bytes: int | None = Field(None, description="torch.cuda.memory_allocated "
                                                                "before the profiled pass")
    process_peak_rss_bytes: int | None = Field(None, description="peak RSS of the whole process "
                                                                 "since it started")


class ModelMemory(Strict):
    """Memory of the model itself (not of the whole process), measured on the device it ran on.

    ``weights_bytes``: bytes of the materialised parameters and buffers (tensor.nbytes, summed
    once per storage). ``forward_peak_bytes``: the allocator's peak above what was allocated
    before a forward: activations, workspaces and outputs. ``mechanism`` names how it was read:
    ``profiler_cpu_allocator`` = torch.profiler memory events (CPU allocator alloc/free, running
    sum over one profiled pass); ``cuda_max_memory_allocated`` = torch.cuda.max_memory_allocated
    minus memory_allocated before the pass (CUDA caching allocator)."""

    weights_bytes: int
    forward_peak_bytes: int | None = None
    mechanism: Literal["profiler_cpu_allocator", "cuda_max_memory_allocated"]

    @property
    def total_bytes(self) -> int:
        return self.weights_bytes + (self.forward_peak_bytes or 0)


class MeasuredRun(Strict):
    """Everything measured for one model on one machine: what a measurements file holds."""

    machine: Machine
    platform: str = Field("host", description="catalog id the measured machine corresponds to")
    host_benchmarks: dict[str, Any] | None = Field(
        None, description="host micro-benchmarks (catalog.host) when platform is 'host'")
    device: str
    dtype: str
    input_description: str
    batch_size: int
    latency: LatencyStats
    batches: list[BatchPoint] = Field(default_factory=list)
    threads: list[ThreadPoint] = Field(default_factory=list)
    sizes: list[SizePoint] = Field(default_factory=list)
    profile: ProfilePass | None = None
    time_budget_s: float
    seconds: float = Field(description="wall time of the whole measurement, s")
    measured_at: str
    notes: list[str] = Field(default_factory=list)
    quality: MeasurementQuality | None = Field(
        None, description="load/clock before and after, CPU use, contention and rejections")
    model_memory: ModelMemory | None = None


class MeasurementsFile(Strict):
    """``reportgen profile`` output; ``reportgen build --measurements`` merges it."""

    kind: Literal["reportgen-measurements"] = FILE_KIND
    version: int = FILE_VERSION
    model: str = Field(description="card id or source identity")
    inputs: dict[str, Any] = Field(description="the resolved inputs (card defaults + spec)")
    spec_title: str | None = None
    run: MeasuredRun


class GroupComparison(Strict):
    """Measured vs predicted time of one op class on the machine that was measured."""

    group: str
    measured_s: float = Field(description="median latency × the class's profiler time share")
    predicted_s: float = Field(description="roofline with the assumed η and overheads")
    ideal_s: float = Field(description="roofline at η = 1, no overhead")
    measured_share: float
    predicted_share: float
    ratio: float | None = Field(None, description="measured / predicted")
    achieved_efficiency: float | None = Field(None, description="ideal / measured")


class OpFlag(Strict):
    """An op measured as expensive but counted as cheap (or not counted / not in the trace)."""

    op: str
    reason: Literal["not_traced", "not_counted", "underpredicted"]
    measured_share: float
    predicted_share: float
    measured_s: float
    predicted_s: float


class Comparison(Strict):
    """Prediction vs measurement on the measured machine's platform."""

    platform_id: str
    platform_name: str
    precision: str
    groups: list[GroupComparison]
    total: GroupComparison
    flags: list[OpFlag] = Field(default_factory=list)
    ratio_low: float | None = Field(None, description="smallest measured/predicted among classes "
                                                      "with ≥ 5 % of the measured time")
    ratio_high: float | None = None
    note: str = ""


class Measurements(Strict):
    """The measure stage's result. ``source``: measured in this build or merged from a file."""

    origin: Literal["measured"] = "measured"
    source: Literal["this_build", "file"]
    file: str | None = None
    run: MeasuredRun
    comparison: Comparison | None = None
    comparison_error: str | None = None

    def class_times(self) -> list[tuple[str, float, float]]:
        """(op class, measured s, predicted s) per class, without the total row."""
        if self.comparison is None:
            return []
        return [(g.group, g.measured_s, g.predicted_s) for g in self.comparison.groups]
