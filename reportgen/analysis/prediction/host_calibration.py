"""``reportgen calibrate``: fit the per-op cost model (``costmodel.py``) of this machine from
micro-benchmarks, eager PyTorch on the CPU (fp32, default intra-op threads).

Each micro-benchmark is a one-op module (a 3×3 conv, a depthwise conv, a 1×1 conv, small and
large GEMMs, attention, add/ReLU, batch/layer norm, softmax, mean, embedding gather and bag,
cat/copy) at
3–6 sizes spanning what the model cards use. Its F and B come from the project's own dispatcher
trace on meta tensors (so they are counted exactly as a model's ops are), its time is the median
of repeated runs after a warm-up, taken in ``MICRO_ROUNDS`` interleaved rounds over all cases
(median of the rounds). The samples of one regime are fitted by ``fit_regime``, the memory term
with the host's two levels (``costmodel.CacheLevel``: the last-level cache at its measured
bandwidth, then DRAM).

Cache: ``<cache_dir>/calibration-<hash>.json`` (``catalog.host.cache_dir``: $REPORTGEN_CACHE_DIR
or ~/.cache/reportgen). The hash covers the machine's identity (CPU model, logical cores, torch
version, intra-op threads, allocator mode: ``reportgen.allocator``, under which everything is
timed); the file also records the 1-minute load average before and after.
A cached calibration is reused only when its identity matches and it was taken on a quiet
machine (load ≤ ``QUIET_LOAD_PER_CORE`` × cores during it); one taken under load is reused only
while the machine is still loaded, and is marked noisy. ``--recalibrate`` always measures again.
torch is imported lazily.

In-model correction: one-op micro-benchmarks run faster than the same ops inside a model (warm
caches, no allocator churn, no framework work between ops). After fitting the regimes,
``calibrate`` times a few small *synthetic reference networks* whole (``time_reference_networks``;
the networks and the fit of the correction, ``fit_in_model``, live in ``host_reference.py``). The runs are cached with their per-op F and B so the correction can be
refitted without timing anything again.
"""

from __future__ import annotations

import hashlib
import json
import os
import statistics
import time
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from reportgen.analysis.prediction.costmodel import (
    CacheLevel,
    CostModel,
    Regime,
    RegimeParams,
    fit_regime,
    memory_time,
)
from reportgen.analysis.prediction.host_reference import (
    REFERENCE_BATCHES,
    ReferenceRun,
    fit_in_model,
    reference_networks,
)
from reportgen.catalog.host import last_level_cache_bytes

QUIET_LOAD_PER_CORE = 0.75
CALIBRATION_VERSION = 3  # 2: in-model correction; 3: cache level, view cost, steady allocator


class HostIdentity(BaseModel):
    model_config = ConfigDict(extra="forbid")

    cpu_model: str
    cores: int | None
    torch: str
    threads: int
    allocator: str = "system"  # reportgen.allocator.mode(): timings differ ×2 between the two

    def key(self) -> str:
        raw = (f"{self.cpu_model}|{self.cores}|{self.torch}|{self.threads}|{self.allocator}"
               f"|v{CALIBRATION_VERSION}")
        return hashlib.sha256(raw.encode()).hexdigest()[:16]


class HostCalibration(BaseModel):
    """What ``reportgen calibrate`` caches: identity, load, the fitted model and the raw points."""

    model_config = ConfigDict(extra="forbid")

    identity: HostIdentity
    load_before: float | None
    load_after: float | None
    quiet: bool = Field(description="load ≤ QUIET_LOAD_PER_CORE × cores before and after")
    peak_flops: float = Field(description="host fp32 matmul peak the η refer to, FLOP/s")
    bandwidth: float = Field(description="host copy bandwidth the η refer to, B/s")
    model: CostModel
    points: list[dict[str, Any]] = Field(default_factory=list,
                                         description="regime, case, F, B, measured median s")
    reference: list[ReferenceRun] = Field(default_factory=list,
                                          description="reference networks timed whole")
    seconds: float
    measured_at: str


def identity() -> HostIdentity:
    import torch

    from reportgen.allocator import mode
    from reportgen.catalog.host import cpu_model

    return HostIdentity(cpu_model=cpu_model(), cores=os.cpu_count(), torch=str(torch.__version__),
                        threads=torch.get_num_threads(), allocator=mode())


def cache_path(ident: HostIdentity) -> Path:
    from reportgen.catalog.host import cache_dir

    return cache_dir() / f"calibration-{ident.key()}.json"


def load_avg() -> float | None:
    try:
        return os.getloadavg()[0]
    except (OSError, AttributeError):
        return None


def is_quiet(load: float | None, cores: int | None) -> bool:
    return load is None or not cores or load <= QUIET_LOAD_PER_CORE * cores


def reusable(cal: HostCalibration, ident: HostIdentity, load_now: float | None) -> bool:
    """A cached calibration is used only for the same machine identity, and (quiet) always or
    (taken under load) only while the machine is still loaded."""
    if cal.identity != ident:
        return False
    return cal.quiet or not is_quiet(load_now, ident.cores)


# ---------------------------------------------------------------------------- micro-benchmarks

def cases() -> list[tuple[str, Callable[[], tuple[Any, tuple[Any, ...]]]]]:
    """(name, builder → (module, example args on CPU)) for every micro-benchmark."""
    import torch
    from torch import nn

    def conv(c_in: int, c_out: int, hw: int, k: int, groups: int = 1) -> Callable[[], Any]:
        return lambda: (nn.Conv2d(c_in, c_out, k, padding=k // 2, groups=groups, bias=False),
                        (torch.randn(1, c_in, hw, hw),))

    def lin(m: int, k: int, n: int) -> Callable[[], Any]:
        return lambda: (nn.Linear(k, n), (torch.randn(m, k),))

    def bn(c: int, hw: int) -> Callable[[], Any]:
        return lambda: (nn.BatchNorm2d(c).eval(), (torch.randn(1, c, hw, hw),))

    def ln(s: int, d: int) -> Callable[[], Any]:
        return lambda: (nn.LayerNorm(d), (torch.randn(1, s, d),))

    def emb(rows: int, dim: int) -> Callable[[], Any]:
        return lambda: (nn.Embedding(50_000, dim), (torch.randint(0, 50_000, (rows,)),))

    def bag(bags: int, ids: int, dim: int) -> Callable[[], Any]:
        # 1-D ids with explicit offsets: a 2-D input adds the offsets' arange (another regime)
        return lambda: (nn.EmbeddingBag(50_000, dim, mode="sum"),
                        (torch.randint(0, 50_000, (bags * ids,)), torch.arange(0, bags * ids, ids)))

    class Fn(nn.Module):
        def __init__(self, f: Callable[..., Any]) -> None:
            super().__init__()
            self.f = f

        def forward(self, *a: Any) -> Any:
            return self.f(*a)

    def fn(f: Callable[..., Any], *shapes: tuple[int, ...]) -> Callable[[], Any]:
        return lambda: (Fn(f), tuple(torch.randn(*s) for s in shapes))

    sdpa = torch.nn.functional.scaled_dot_product_attention
    out: list[tuple[str, Callable[[], Any]]] = []
    for c_in, c_out, hw in [(16, 32, 56), (32, 64, 56), (64, 64, 28), (128, 128, 14), (256, 256, 7)]:
        out.append((f"conv3x3 {c_in}->{c_out} {hw}x{hw}", conv(c_in, c_out, hw, 3)))
    for c, hw in [(32, 112), (96, 56), (144, 28), (384, 14), (960, 7)]:
        out.append((f"depthwise3x3 {c} {hw}x{hw}", conv(c, c, hw, 3, groups=c)))
    for c_in, c_out, hw in [(32, 16, 112), (64, 256, 56), (256, 64, 28), (512, 1024, 14), (960, 160, 7)]:
        out.append((f"conv1x1 {c_in}->{c_out} {hw}x{hw}", conv(c_in, c_out, hw, 1)))
    for m, k, n in [(1, 256, 256), (1, 1024, 1000), (8, 512, 512), (100, 64, 128), (1, 2048, 1000)]:
        out.append((f"linear {m}x{k}->{n}", lin(m, k, n)))
    for m, k, n in [(128, 768, 768), (128, 768, 3072), (512, 512, 512), (1024, 1024, 1024)]:
        out.append((f"linear {m}x{k}->{n}", lin(m, k, n)))
    for b, h, s, d in [(1, 4, 64, 32), (1, 12, 128, 64), (1, 8, 256, 64)]:
        out.append((f"sdpa {h}x{s}x{d}", fn(sdpa, (b, h, s, d), (b, h, s, d), (b, h, s, d))))
    for n in [1_000, 30_000, 300_000, 3_000_000]:
        out.append((f"add {n}", fn(torch.add, (n,), (n,))))
        out.append((f"relu {n}", fn(torch.relu, (n,))))
    for c, hw in [(32, 112), (128, 28), (512, 7)]:
        out.append((f"batchnorm {c} {hw}x{hw}", bn(c, hw)))
    for s, d in [(16, 64), (128, 768), (512, 1024)]:
        out.append((f"layernorm {s}x{d}", ln(s, d)))
        out.append((f"softmax {s}x{d}", fn(lambda x: torch.softmax(x, -1), (1, s, d))))
    for c, hw in [(64, 56), (512, 14), (1280, 7)]:
        out.append((f"mean {c} {hw}x{hw}", fn(lambda x: x.mean((2, 3)), (1, c, hw, hw))))
    for rows, dim in [(100, 32), (1_000, 64), (10_000, 64)]:
        out.append((f"embedding {rows}x{dim}", emb(rows, dim)))
    for bags, ids, dim in [(1, 1, 16), (64, 2, 32), (512, 8, 64)]:
        out.append((f"embedding_bag {bags}x{ids}x{dim}", bag(bags, ids, dim)))
    for n in [10_000, 300_000, 3_000_000]:
        out.append((f"cat {n}", fn(lambda a, b: torch.cat([a, b]), (n,), (n,))))
        out.append((f"transpose-copy {n}", fn(lambda a: a.t().contiguous(), (n // 100, 100))))
    return out


def _counted(module: Any, args: tuple[Any, ...]) -> tuple[list[tuple[Regime, float, float]], int]:
    """((regime, F, B) of every non-view op, number of view ops) of one forward, from the meta
    trace."""
    import copy

    from reportgen.analysis.counting.trace import trace_forward
    from reportgen.analysis.prediction.costmodel import regime_of

    meta = copy.deepcopy(module).to("meta")
    margs = tuple(a.to("meta") for a in args)
    trace, _, _ = trace_forward(meta, margs)
    out = []
    views = 0
    for r in trace.records:
        reg = regime_of(r)
        if reg is not None and (r.total_flops or r.bytes_moved):
            out.append((reg, float(r.total_flops), float(r.bytes_moved)))
        views += reg is None
    return out, views


def _median_time(run: Callable[[], Any], *, warmup: int = 3, min_runs: int = 15,
                 budget_s: float = 0.6, timer: Callable[[], float] = time.perf_counter) -> float:
    for _ in range(warmup):
        run()
    samples: list[float] = []
    start = timer()
    while len(samples) < min_runs or (timer() - start < budget_s and len(samples) < 200):
        t0 = timer()
        run()
        samples.append(timer() - t0)
        if timer() - start > 4 * budget_s and len(samples) >= 5:
            break
    return statistics.median(samples)




def _interleaved(runs: list[tuple[Any, tuple[Any, ...]]], rounds: int, budget_s: float
                 ) -> list[list[float]]:
    """Each (module, args) timed once per round, all of them in turn, ``rounds`` times (a median
    of ≥ 5 runs in ``budget_s / rounds`` each): per run, its ``rounds`` medians."""
    import torch

    times: list[list[float]] = [[] for _ in runs]
    with torch.inference_mode():
        for _ in range(rounds):
            for i, (module, args) in enumerate(runs):
                times[i].append(_median_time(lambda: module(*args), min_runs=5,  # noqa: B023 (called at once)
                                             budget_s=budget_s / rounds))
    return times


REFERENCE_ROUNDS = 5  # interleaved rounds over all reference runs (a slow window hits one round)
MICRO_ROUNDS = 3  # the same for the micro-benchmarks
# micro-benchmark regimes whose achieved rate bounds the fp32 peak from below
COMPUTE_REGIMES = frozenset({Regime.dense_conv, Regime.pointwise_conv, Regime.gemm_large})


def time_reference_networks(*, log: Callable[[str], None] | None = None, budget_s: float = 0.8
                            ) -> list[ReferenceRun]:
    """Time every reference network at each of its batch sizes: ``REFERENCE_ROUNDS`` rounds
    over all of them in turn (each a median of ≥ 5 runs in a ``REFERENCE_ROUNDS``-th of ``budget_s``), then the
    median of the rounds. Timed one after the other, a network that fell into a slow minute of a
    shared machine moved its group's correction by ×2 between two calibrations."""
    import torch

    say = log or (lambda s: None)
    cases: list[tuple[str, int, Any, tuple[Any, ...], tuple[list[tuple[Regime, float, float]], int]]] = []
    for name, make in reference_networks().items():
        for b in REFERENCE_BATCHES[name]:
            torch.manual_seed(0)
            module, args = make(b)
            module.eval()
            cases.append((name, b, module, args, _counted(module, args)))
    times = _interleaved([(c[2], c[3]) for c in cases], REFERENCE_ROUNDS, budget_s)
    out = []
    for (name, b, _, _, (ops, views)), ts in zip(cases, times, strict=True):
        t = statistics.median(ts)
        out.append(ReferenceRun(network=name, batch=b, measured_s=t, ops=ops, views=views))
        say(f"reference {name} batch {b}: {t * 1e3:.2f} ms ({len(ops)} ops, {views} views; rounds "
            f"{', '.join(f'{x * 1e3:.2f}' for x in ts)} ms)")
    return out


def cache_level(host_bench: dict[str, Any]) -> CacheLevel | None:
    """The host's last-level cache as a memory level (None for a benchmark without it)."""
    if not host_bench.get("cache_gbps") or not host_bench.get("llc_mb"):
        return None
    return CacheLevel(bytes=float(host_bench["llc_mb"]) * 1e6,
                      bandwidth=float(host_bench["cache_gbps"]) * 1e9,
                      note=f"last-level cache {float(host_bench['llc_mb']):.1f} MB (sysfs), "
                           f"{float(host_bench['cache_gbps']):.0f} GB/s streaming in it (measured)")


def fit_model(points: list[dict[str, Any]], peak: float, bw: float, cache: CacheLevel | None,
              reference: list[ReferenceRun], *, calibrated_at: str | None = None) -> CostModel:
    """The eager cost model from timed micro-benchmark ``points`` (see ``calibrate``) and, when
    ``reference`` runs are given, its in-model correction. No timing: a cached calibration can be
    refitted with the current code."""
    samples: dict[Regime, list[tuple[float, float, float]]] = defaultdict(list)
    for pt in points:
        k, F, B, t = pt["ops"], pt["flops"], pt["bytes"], pt["median_s"]
        samples[Regime(pt["regime"])].append((F / peak / k, memory_time(B / k, bw, cache), t / k))
    params = {reg: fit_regime(s) for reg, s in samples.items()}
    # ops of a regime without its own benchmark fall back to the elementwise fit
    default = params.get(Regime.elementwise) or RegimeParams(eta_c=0.5, eta_m=0.7, overhead_us=5.0,
                                                             origin="assumed")
    model = CostModel(platform_id="host", runtime_kind="eager", params=params, default=default,
                      basis="host_calibration", calibrated_at=calibrated_at, cache=cache)
    if reference:
        llc = cache.bytes if cache is not None else last_level_cache_bytes()
        model = model.model_copy(update={"in_model": fit_in_model(reference, model, peak, bw, llc)})
    return model


def calibrate(host_bench: dict[str, Any], *, log: Callable[[str], None] | None = None,
              budget_per_case_s: float = 0.75, in_model: bool = True) -> HostCalibration:
    """Run every micro-benchmark, fit each regime, then (``in_model``) time the reference
    networks and fit the in-model correction; return the calibration (not cached)."""

    from reportgen.allocator import steady_allocator

    steady_allocator()  # timed as the measurements are (``reportgen.allocator``)
    say = log or (lambda s: None)
    ident = identity()
    load0 = load_avg()
    t_start = time.perf_counter()
    peak = float(host_bench["peaks_tflops"]["fp32"]) * 1e12
    bw = float(host_bench["copy_gbps"]) * 1e9
    cache = cache_level(host_bench)
    built: list[tuple[str, Any, tuple[Any, ...], Regime, int, float, float]] = []
    for name, make in cases():
        module, args = make()
        module.eval()
        ops, _ = _counted(module, args)
        if not ops or len({o[0] for o in ops}) != 1:  # the time must belong to one regime
            say(f"skip {name}: ops of {sorted({o[0].value for o in ops})}")
            continue
        # a case traced as k ops of one regime (attention decomposed into bmm/softmax/...)
        # is k average ops: per-op time, F and B are the case's divided by k
        built.append((name, module, args, ops[0][0], len(ops), sum(o[1] for o in ops),
                      sum(o[2] for o in ops)))
    # MICRO_ROUNDS interleaved rounds over every case, then the median of the rounds: a slow
    # window of a shared machine hits one round of many cases, not every round of one regime
    times = _interleaved([(b[1], b[2]) for b in built], MICRO_ROUNDS, budget_per_case_s)
    points: list[dict[str, Any]] = []
    for (name, _, _, reg, k, F, B), ts in zip(built, times, strict=True):
        t = statistics.median(ts)
        points.append({"regime": reg.value, "case": name, "ops": k, "flops": F, "bytes": B,
                       "median_s": t})
        say(f"{name}: {t * 1e6:.1f} µs (rounds {', '.join(f'{x * 1e6:.1f}' for x in ts)})")
    # a peak below a rate the machine achieved is no bound (a slow window during the matmul
    # probe): the fits and every host prediction use the best of the two
    achieved = max((p["flops"] / p["median_s"] for p in points
                    if Regime(p["regime"]) in COMPUTE_REGIMES and p["median_s"] > 0), default=0.0)
    if achieved > peak:
        say(f"fp32 peak {peak / 1e12:.3f} TFLOPS below the achieved {achieved / 1e12:.3f}: raised")
        peak = achieved
    reference = time_reference_networks(log=log) if in_model else []
    model = fit_model(points, peak, bw, cache, reference,
                      calibrated_at=time.strftime("%Y-%m-%dT%H:%M:%S"))
    if model.in_model is not None:
        say("in-model correction: " + "; ".join(f"{g.group.value} ×{g.factor:.2f} + {g.extra_overhead_us:.1f} µs"
                                                for g in model.in_model.groups))
    load1 = load_avg()
    return HostCalibration(
        identity=ident, load_before=load0, load_after=load1,
        quiet=is_quiet(load0, ident.cores) and is_quiet(load1, ident.cores), peak_flops=peak,
        bandwidth=bw, model=model, points=points, reference=reference,
        seconds=time.perf_counter() - t_start,
        measured_at=time.strftime("%Y-%m-%dT%H:%M:%S"))


def refit(cal: HostCalibration) -> CostModel:
    """``cal``'s model fitted again from its cached points and reference runs (nothing timed)."""
    return fit_model(cal.points, cal.peak_flops, cal.bandwidth, cal.model.cache, cal.reference,
                     calibrated_at=cal.model.calibrated_at)


def load_or_calibrate(recalibrate: bool = False, *, log: Callable[[str], None] | None = None,
                      measure_if_missing: bool = True) -> HostCalibration | None:
    """The cached calibration when ``reusable``; else calibrate (and cache) or return None."""
    from reportgen.catalog.host import load_or_measure, store

    ident = identity()
    path = cache_path(ident)
    if not recalibrate and path.is_file():
        try:
            cal = HostCalibration.model_validate_json(path.read_text(encoding="utf-8"))
            if reusable(cal, ident, load_avg()):
                return cal
        except (OSError, ValueError):
            pass
    if not measure_if_missing and not recalibrate:
        return None
    bench = load_or_measure(refresh=recalibrate)
    cal = calibrate(bench, log=log)
    if cal.peak_flops > float(bench["peaks_tflops"]["fp32"]) * 1e12:
        # the host platform's predictions divide by the peak the cost model was fitted to
        bench["peaks_tflops"]["fp32"] = cal.peak_flops / 1e12
        bench["fp32_peak_raised_by"] = "calibration: a micro-benchmark achieved more than the matmul probe"
        store(bench)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(cal.model_dump(mode="json"), indent=1), encoding="utf-8")
    except OSError:
        pass  # read-only cache: calibrated again next time
    return cal
