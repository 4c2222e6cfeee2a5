"""A per-op cost model: op kind × shape regime → achieved throughput and per-op overhead, per
runtime kind. Pure Python, no torch.

One η per platform cannot fit both a dense 3×3 convolution (close to the matmul rate) and a
depthwise convolution or a tiny elementwise op (far below it, dominated by dispatch). So each op
is put into a **regime** (``regime_of``) and each regime has its own three numbers:

    t(op) = overhead_us · 1e-6 + max(F / (η_c · P_peak), B / (η_m · BW))          [s]

where F = FLOPs and B = bytes of the op at the prediction's precision (the same un-fused counts as
the roofline), P_peak and BW the platform's peak and bandwidth. The achieved throughput of a
regime, F / t, is therefore a saturating curve of the op's size: overhead-bound for small ops,
η_c · P_peak (or η_m · BW) for large ones. η ≤ 1 always, so the ideal (η = 1, no overhead) time is
a lower bound of every prediction.

Where the numbers come from (``RegimeParams.origin``):

* ``calibrated``: fitted to micro-benchmarks on this machine (``reportgen calibrate``,
  ``host_calibration.py``), eager PyTorch: the fit minimises the squared *relative* error over a
  grid of (η_c, η_m) with the overhead solved in closed form;
* ``assumed``: the platform class's η and per-op overhead from ``catalog/assumptions.yaml``
  (unsourced), the same for every regime: targets until their published measurements calibrate
  them.

Runtime kind: ``eager`` (PyTorch dispatching op by op: measured per-op overhead) or ``compiled``
(TensorRT / ONNX Runtime / LiteRT / a vendor compiler: one graph, the class's compiled per-op
overhead from assumptions.yaml). A compiled model keeps the measured throughputs but not the
eager dispatch cost; folding and fusion (fewer ops) are the runtime's job, not this module's.

Memory levels (``CacheLevel``, optional, the host's): B / BW above is then the time of a
two-level memory, the first C bytes of an op at the cache's bandwidth and the rest at DRAM's
(``memory_time``). An op whose operands fit in the last-level cache runs far faster than the
DRAM bandwidth allows (an add of 3.6 MB at ×4.7 the DRAM rate on the development VM): with DRAM
alone, the fit of every memory-bound regime was off by ×2 (relative RMS 1.5–2.1), and the ideal
of such an op was no bound. Both rates are measured maxima, so the ideal stays a bound.

In-model correction (``InModelCorrection``, optional): one-op micro-benchmarks run faster than
the same ops inside a model, so a calibrated model may carry, per op group (``RegimeGroup``: a
few regimes together, plus 'large' for streaming ops beyond the last-level cache),

    t(op) = overhead_us · 1e-6 + extra_overhead_us · 1e-6 + factor · max(F / (η_c · P), B / (η_m · BW))

folded into the parameters ``for_op`` returns (η / factor, capped at 1 so the ideal stays a
bound; overhead + extra). A compiled runtime keeps the factors and drops the extra (eager)
overhead.
"""

from __future__ import annotations

import math
from enum import StrEnum, unique
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, PrivateAttr

from reportgen.analysis.counting.records import OpKind, OpRecord

RuntimeKind = Literal["eager", "compiled"]

# GEMMs with fewer multiply-accumulates than this are "small" (GEMV, batch-1 heads): their
# achieved rate is bounded by packing and dispatch, not by the FMA units
GEMM_SMALL_MACS = 1 << 22


@unique
class Regime(StrEnum):
    dense_conv = "dense_conv"
    depthwise_conv = "depthwise_conv"  # depthwise and grouped convolutions
    pointwise_conv = "pointwise_conv"  # 1×1 convolutions (a GEMM over pixels)
    gemm_small = "gemm_small"
    gemm_large = "gemm_large"
    attention = "attention"
    elementwise = "elementwise"
    normalization = "normalization"
    reduction = "reduction"
    embedding = "embedding"
    # an embedding-bag kernel (offsets, a reduction per bag): ×2–5 the CPU time of a plain gather
    # of the same bytes (21 µs vs 4–9 µs per lookup on the development VM)
    embedding_bag = "embedding_bag"
    data_movement = "data_movement"


def regime_of(r: OpRecord) -> Regime | None:
    """The regime of one op (None for views: no kernel runs)."""
    k = r.kind
    if k == OpKind.view:
        return None
    if k == OpKind.conv:
        if len(r.input_shapes) >= 2 and len(r.input_shapes[1]) >= 3 and len(r.input_shapes[0]) > 1:
            w, x = r.input_shapes[1], r.input_shapes[0]
            if w[1] > 0 and x[1] // w[1] > 1:
                return Regime.depthwise_conv
            if all(d == 1 for d in w[2:]):
                return Regime.pointwise_conv
        return Regime.dense_conv
    if k == OpKind.matmul:
        return Regime.gemm_small if r.macs < GEMM_SMALL_MACS else Regime.gemm_large
    if k == OpKind.embedding and "embedding_bag" in r.op:
        return Regime.embedding_bag
    return {OpKind.attention: Regime.attention, OpKind.normalization: Regime.normalization,
            OpKind.reduction: Regime.reduction, OpKind.embedding: Regime.embedding,
            OpKind.data_movement: Regime.data_movement}.get(k, Regime.elementwise)


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class RegimeParams(Strict):
    """Achieved efficiency (fractions of the platform's peak / bandwidth) and per-op overhead."""

    eta_c: float = Field(gt=0, le=1)
    eta_m: float = Field(gt=0, le=1)
    overhead_us: float = Field(ge=0)
    origin: Literal["calibrated", "assumed"]
    points: int = Field(0, description="micro-benchmark points fitted (0 = assumed)")
    fit_error: float | None = Field(None, description="RMS of measured/fitted − 1 over the points")


@unique
class RegimeGroup(StrEnum):
    """Regimes that share one in-model correction (few numbers, each identified by the
    reference networks that are dominated by it)."""

    conv = "conv"  # dense and 1×1 convolutions
    depthwise = "depthwise"
    gemm = "gemm"  # small and large GEMMs, attention
    vector = "vector"  # elementwise, normalisation, reduction, data movement
    embedding = "embedding"  # gathers: embedding (bag) lookups carry Python-side work in a model
    # a memory-bound op (vector or depthwise group) moving more bytes than the last-level cache
    # holds: it streams from DRAM, while its micro-benchmarks mostly ran in cache
    large = "large"


GROUP_OF: dict[Regime, RegimeGroup] = {
    Regime.dense_conv: RegimeGroup.conv, Regime.pointwise_conv: RegimeGroup.conv,
    Regime.depthwise_conv: RegimeGroup.depthwise,
    Regime.gemm_small: RegimeGroup.gemm, Regime.gemm_large: RegimeGroup.gemm,
    Regime.attention: RegimeGroup.gemm,
    Regime.elementwise: RegimeGroup.vector, Regime.normalization: RegimeGroup.vector,
    Regime.reduction: RegimeGroup.vector, Regime.embedding: RegimeGroup.embedding,
    Regime.embedding_bag: RegimeGroup.embedding,
    Regime.data_movement: RegimeGroup.vector,
}


class GroupCorrection(Strict):
    """How the ops of one regime group run inside a model relative to their micro-benchmarks:
    in-model time = micro-benchmark overhead + extra_overhead_us · 1e-6 + factor · roofline term."""

    group: RegimeGroup
    factor: float = Field(ge=0, description="multiplies max(F / (η_c·P), B / (η_m·BW)); 1 = none")
    extra_overhead_us: float = Field(ge=0, description="per-op framework overhead inside a model, µs")


class InModelCorrection(Strict):
    """The in-model correction of a micro-benchmark cost model, fitted to reference networks
    timed whole on the same machine (``host_calibration.fit_in_model``)."""

    groups: list[GroupCorrection]
    large_op_bytes: float | None = Field(
        None, description="a vector or depthwise op moving more bytes than this (the last-level "
                          "cache) is in the 'large' group; None: no such group")
    view_overhead_us: float = Field(
        0.0, ge=0, description="eager cost of a view op (reshape, slice, transpose: no kernel, "
                               "but a dispatch and often a Python call), µs")
    networks: list[str] = Field(default_factory=list, description="reference networks fitted")
    points: int = Field(0, description="timed (network, batch) runs fitted")
    fit_error_before: float | None = Field(None, description="RMS of measured/predicted − 1 "
                                           "over the runs with the micro-benchmark model alone")
    fit_error: float | None = Field(None, description="the same with the correction")
    description: str = ("per op group: the roofline term multiplied by a factor and an extra "
                        "per-op overhead added, and a cost per view op, fitted by non-negative "
                        "least squares on the relative error of synthetic reference networks "
                        "(ridge prior: factor 1, no extra overhead)")

    def get(self, group: RegimeGroup) -> GroupCorrection | None:
        return next((g for g in self.groups if g.group == group), None)

    def is_large(self, reg: Regime, nbytes: float) -> bool:
        return group_of(reg, nbytes, self.large_op_bytes) == RegimeGroup.large


# the groups whose ops are memory-bound: beyond the cache they go to the 'large' group (a large
# GEMM or dense convolution stays compute-bound and keeps its own group)
_STREAMING = (RegimeGroup.vector, RegimeGroup.depthwise)


def group_of(reg: Regime, nbytes: float, large_op_bytes: float | None) -> RegimeGroup:
    """The correction group of an op: 'large' for a vector or depthwise op moving more than
    ``large_op_bytes``, else its regime's group."""
    g = GROUP_OF[reg]
    if g in _STREAMING and large_op_bytes is not None and nbytes > large_op_bytes:
        return RegimeGroup.large
    return g


def corrected(p: RegimeParams, c: GroupCorrection | None) -> RegimeParams:
    """``p`` with an in-model correction folded in: η divided by the factor (capped at 1, so the
    ideal stays a bound) and the extra overhead added."""
    if c is None or (c.factor == 1 and c.extra_overhead_us == 0):
        return p
    k = max(c.factor, 1e-9)
    return p.model_copy(update={"eta_c": min(1.0, p.eta_c / k), "eta_m": min(1.0, p.eta_m / k),
                                "overhead_us": p.overhead_us + c.extra_overhead_us})


class CacheLevel(Strict):
    """A memory level in front of DRAM: an op's first ``bytes`` move at ``bandwidth``."""

    bytes: float = Field(gt=0, description="capacity, B (the last-level cache)")
    bandwidth: float = Field(gt=0, description="measured streaming bandwidth in cache, B/s")
    note: str = ""


def memory_time(nbytes: float, bw: float, cache: CacheLevel | None) -> float:
    """Ideal (η_m = 1) time to move ``nbytes``: the first ``cache.bytes`` at the cache's
    bandwidth, the rest at ``bw`` (all at ``bw`` without a cache level)."""
    if cache is None or cache.bandwidth <= bw:
        return nbytes / bw
    hit = min(nbytes, cache.bytes)
    return hit / cache.bandwidth + (nbytes - hit) / bw


class CostModel(Strict):
    """Per-regime parameters for one platform and runtime kind (see the module docstring)."""

    platform_id: str
    runtime_kind: RuntimeKind
    params: dict[Regime, RegimeParams]
    default: RegimeParams = Field(description="for regimes without their own parameters")
    basis: Literal["host_calibration", "assumptions"]
    calibrated_at: str | None = None
    in_model: InModelCorrection | None = Field(
        None, description="applied on top of ``params`` by ``for_op`` (None: micro-benchmarks only)")
    cache: CacheLevel | None = Field(None, description="memory level in front of DRAM (None: DRAM only)")
    # (params, default, in_model, effective params per (regime, large)): rebuilt when any of the
    # three is replaced (model_copy shares private state, so identity is checked, not a flag)
    _effective: tuple[object, object, object, dict[tuple[Regime, bool], RegimeParams]] | None = \
        PrivateAttr(None)

    def effective(self, reg: Regime, large: bool = False) -> RegimeParams:
        """The parameters an op of regime ``reg`` is predicted with, in-model correction applied
        (``large``: the op moves more than the correction's ``large_op_bytes``)."""
        e = self._effective
        if e is None or e[0] is not self.params or e[1] is not self.default or e[2] is not self.in_model:
            c = self.in_model
            table = {(r, big): corrected(self.params.get(r, self.default),
                                         c.get(RegimeGroup.large if big else GROUP_OF[r]) if c else None)
                     for r in Regime for big in (False, True)}  # big only for _STREAMING regimes
            e = self._effective = (self.params, self.default, self.in_model, table)
        return e[3][(reg, large)]

    @property
    def view_overhead_s(self) -> float:
        """Predicted time of a view op (eager dispatch; 0 without an in-model correction)."""
        return self.in_model.view_overhead_us * 1e-6 if self.in_model is not None else 0.0

    def for_op(self, r: OpRecord) -> RegimeParams | None:
        reg = regime_of(r)
        if reg is None:
            return None
        return self.effective(reg, self.in_model is not None and self.in_model.is_large(reg, r.bytes_moved))

    @property
    def calibrated(self) -> bool:
        return any(p.origin == "calibrated" for p in self.params.values())


def op_time(flops: float, nbytes: float, peak: float | None, bw: float | None,
            p: RegimeParams, cache: CacheLevel | None = None) -> float | None:
    """Predicted time of one op, s (None when neither rate is known)."""
    tc = flops / (p.eta_c * peak) if peak and flops else (0.0 if not flops else None)
    tm = memory_time(nbytes, bw, cache) / p.eta_m if bw and nbytes else (0.0 if not nbytes else None)
    if (tc is None and flops) and not tm:  # the work that dominates has no known rate
        return None
    known = [t for t in (tc, tm) if t is not None]
    return p.overhead_us * 1e-6 + max(known) if known else None


def uniform(platform_id: str, runtime_kind: RuntimeKind, eta_c: float, eta_m: float,
            overhead_us: float) -> CostModel:
    """The assumed model: the same η and overhead for every regime (today's roofline)."""
    p = RegimeParams(eta_c=eta_c, eta_m=eta_m, overhead_us=overhead_us, origin="assumed")
    return CostModel(platform_id=platform_id, runtime_kind=runtime_kind, params={}, default=p,
                     basis="assumptions")


def for_runtime(model: CostModel, runtime_kind: RuntimeKind, compiled_overhead_us: float) -> CostModel:
    """``model`` for another runtime kind: a compiled runtime keeps the achieved throughputs and
    replaces every regime's measured dispatch overhead by the compiled per-op overhead."""
    if runtime_kind == model.runtime_kind:
        return model
    if runtime_kind == "eager":
        raise ValueError("an eager model is only measured, never derived from a compiled one")

    def swap(p: RegimeParams) -> RegimeParams:
        return p.model_copy(update={"overhead_us": compiled_overhead_us})

    # the in-model correction keeps its throughput factors; its extra and view overheads are
    # eager dispatch
    im = model.in_model
    if im is not None:
        im = im.model_copy(update={"groups": [g.model_copy(update={"extra_overhead_us": 0.0})
                                              for g in im.groups], "view_overhead_us": 0.0})
    return model.model_copy(update={"runtime_kind": runtime_kind,
                                    "params": {k: swap(v) for k, v in model.params.items()},
                                    "default": swap(model.default), "in_model": im})


# ---------------------------------------------------------------------------- fitting

Sample = tuple[float, float, float]  # (ideal compute time F/P, ideal memory time B/BW, measured t), s


def _grid(lo: float = 0.005, hi: float = 1.0, n: int = 48) -> list[float]:
    r = (hi / lo) ** (1 / (n - 1))
    return [lo * r**i for i in range(n)]


def _overhead(samples: list[Sample], ec: float, em: float) -> tuple[float, float]:
    """Closed-form overhead (≥ 0, s) minimising Σ((a + m_i − t_i) / t_i)² and that sum."""
    ms = [max(c / ec, m / em) for c, m, _ in samples]
    num = sum((t - mi) / t**2 for (_, _, t), mi in zip(samples, ms, strict=True))
    den = sum(1 / t**2 for _, _, t in samples)
    a = max(0.0, num / den)
    sse = sum(((a + mi - t) / t) ** 2 for (_, _, t), mi in zip(samples, ms, strict=True))
    return a, sse


def fit_regime(samples: list[Sample]) -> RegimeParams:
    """Fit (η_c, η_m, overhead) of one regime to ``samples`` (see ``Sample``)."""
    good = [s for s in samples if s[2] > 0]
    if not good:
        raise ValueError("no positive timings to fit")
    best: tuple[float, float, float, float] | None = None
    grid = _grid()
    for ec in grid:
        for em in grid:
            a, sse = _overhead(good, ec, em)
            # ties (a term that never binds): prefer the larger η, the less pessimistic one
            if best is None or sse < best[0] - 1e-12 or (abs(sse - best[0]) <= 1e-12 and ec + em > best[1] + best[2]):
                best = (sse, ec, em, a)
    assert best is not None
    sse, ec, em, a = best
    return RegimeParams(eta_c=round(ec, 4), eta_m=round(em, 4), overhead_us=round(a * 1e6, 3),
                        origin="calibrated", points=len(good),
                        fit_error=math.sqrt(sse / len(good)))
