"""``reportgen calibrate``: fit the per-op cost model (``costmodel.py``) of this machine from
micro-benchmarks, eager PyTorch on the CPU (fp32, default intra-op threads).

Each micro-benchmark is a one-op module (a 3×3 conv, a depthwise conv, a 1×1 conv, small and
large GEMMs, attention, add/ReLU, batch/layer norm, softmax, mean, embedding gather, cat/copy) at
3–6 sizes spanning what the model cards use. Its F and B come from the project's own dispatcher
trace on meta tensors (so they are counted exactly as a model's ops are), its time is the median
of repeated runs after a warm-up. The samples of one regime are fitted by ``fit_regime``.

Cache: ``<cache_dir>/calibration-<hash>.json`` (``catalog.host.cache_dir``: $REPORTGEN_CACHE_DIR
or ~/.cache/reportgen). The hash covers the machine's identity (CPU model, logical cores, torch
version, intra-op threads); the file also records the 1-minute load average before and after.
A cached calibration is reused only when its identity matches and it was taken on a quiet
machine (load ≤ ``QUIET_LOAD_PER_CORE`` × cores during it); one taken under load is reused only
while the machine is still loaded, and is marked noisy. ``--recalibrate`` always measures again.
torch is imported lazily.

In-model correction: one-op micro-benchmarks run faster than the same ops inside a model (warm
caches, no allocator churn, no framework work between ops). After fitting the regimes,
``calibrate`` times a few small *synthetic reference networks* whole (``reference_networks``: a
ResNet-style conv stack, an inverted-residual stack with SE, a small transformer encoder, a
depthwise-separable CNN on small inputs, an embedding-bag + MLP recommender and a net of many
tiny ops, each at 2–3 batch sizes; built here, never
the model cards, which stay independent validation) and fits, per regime group
(``costmodel.RegimeGroup``), a factor on the roofline term and an extra per-op overhead
(``fit_in_model``). The runs are cached with their per-op F and B so the correction can be
refitted without timing anything again.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import statistics
import time
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from reportgen.analysis.prediction.costmodel import (
    CostModel,
    GroupCorrection,
    InModelCorrection,
    Regime,
    RegimeGroup,
    RegimeParams,
    fit_regime,
    group_of,
)

QUIET_LOAD_PER_CORE = 0.75
CALIBRATION_VERSION = 2  # 2: in-model correction


class HostIdentity(BaseModel):
    model_config = ConfigDict(extra="forbid")

    cpu_model: str
    cores: int | None
    torch: str
    threads: int

    def key(self) -> str:
        raw = f"{self.cpu_model}|{self.cores}|{self.torch}|{self.threads}|v{CALIBRATION_VERSION}"
        return hashlib.sha256(raw.encode()).hexdigest()[:16]


class ReferenceRun(BaseModel):
    """One synthetic reference network at one batch size, timed whole (median, s), with the
    regime, F and B of each of its ops from the meta trace."""

    model_config = ConfigDict(extra="forbid")

    network: str
    batch: int
    measured_s: float
    ops: list[tuple[Regime, float, float]]


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

    from reportgen.catalog.host import cpu_model

    return HostIdentity(cpu_model=cpu_model(), cores=os.cpu_count(), torch=str(torch.__version__),
                        threads=torch.get_num_threads())


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
    for n in [10_000, 300_000, 3_000_000]:
        out.append((f"cat {n}", fn(lambda a, b: torch.cat([a, b]), (n,), (n,))))
        out.append((f"transpose-copy {n}", fn(lambda a: a.t().contiguous(), (n // 100, 100))))
    return out


def _counted(module: Any, args: tuple[Any, ...]) -> list[tuple[Regime, float, float]]:
    """(regime, F, B) of every non-view op of one forward, from the meta trace."""
    import copy

    from reportgen.analysis.counting.trace import trace_forward
    from reportgen.analysis.prediction.costmodel import regime_of

    meta = copy.deepcopy(module).to("meta")
    margs = tuple(a.to("meta") for a in args)
    trace, _, _ = trace_forward(meta, margs)
    out = []
    for r in trace.records:
        reg = regime_of(r)
        if reg is not None and (r.total_flops or r.bytes_moved):
            out.append((reg, float(r.total_flops), float(r.bytes_moved)))
    return out


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


# ---------------------------------------------------------------------------- in-model correction

# reference networks and their batch sizes: small enough to time in seconds on two cores, with the
# working sets the cards have (224×224 images, so 112×112 … 7×7 feature maps, and at batch 8 ops
# larger than the last-level cache; 128-token sequences of width 512; 32-wide embeddings): how
# much slower an op runs inside a model depends on them
REFERENCE_BATCHES: dict[str, tuple[int, ...]] = {
    "resnet_like": (1, 8), "inverted_residual": (1, 4, 8), "transformer_encoder": (1, 4),
    "small_cnn": (1, 8), "recommender": (1, 8, 64), "tiny_ops": (1, 8),
}


def reference_networks() -> dict[str, Callable[[int], tuple[Any, tuple[Any, ...]]]]:
    """name → builder(batch) → (module in eval mode, example args on CPU). Synthetic: no model card."""
    import torch
    from torch import nn

    def cbr(c_in: int, c_out: int, k: int, s: int = 1, groups: int = 1,
            act: type[nn.Module] | None = nn.ReLU) -> nn.Sequential:
        layers: list[nn.Module] = [nn.Conv2d(c_in, c_out, k, s, k // 2, groups=groups, bias=False),
                                   nn.BatchNorm2d(c_out)]
        return nn.Sequential(*layers, act()) if act is not None else nn.Sequential(*layers)

    class Basic(nn.Module):
        def __init__(self, c_in: int, c_out: int, s: int = 1) -> None:
            super().__init__()
            self.body = nn.Sequential(cbr(c_in, c_out, 3, s), cbr(c_out, c_out, 3, act=None))
            self.short = cbr(c_in, c_out, 1, s, act=None) if s != 1 or c_in != c_out else nn.Identity()

        def forward(self, x: Any) -> Any:
            return torch.relu(self.body(x) + self.short(x))

    class SE(nn.Module):
        def __init__(self, c: int) -> None:
            super().__init__()
            self.fc = nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Conv2d(c, c // 4, 1), nn.ReLU(),
                                    nn.Conv2d(c // 4, c, 1), nn.Hardsigmoid())

        def forward(self, x: Any) -> Any:
            return x * self.fc(x)

    class InvRes(nn.Module):
        def __init__(self, c_in: int, c_out: int, e: int, s: int, act: type[nn.Module], se: bool) -> None:
            super().__init__()
            mid = c_in * e
            self.body = nn.Sequential(cbr(c_in, mid, 1, act=act), cbr(mid, mid, 3, s, groups=mid, act=act),
                                      SE(mid) if se else nn.Identity(), cbr(mid, c_out, 1, act=None))
            self.res = s == 1 and c_in == c_out

        def forward(self, x: Any) -> Any:
            y = self.body(x)
            return x + y if self.res else y

    class Encoder(nn.Module):
        def __init__(self, d: int, heads: int, sdpa: bool) -> None:
            super().__init__()
            self.h, self.sdpa = heads, sdpa
            self.ln1, self.ln2 = nn.LayerNorm(d), nn.LayerNorm(d)
            self.qkv, self.proj = nn.Linear(d, 3 * d), nn.Linear(d, d)
            self.ff = nn.Sequential(nn.Linear(d, 4 * d), nn.GELU(), nn.Linear(4 * d, d))

        def forward(self, x: Any) -> Any:
            b, s, d = x.shape
            q, k, v = self.qkv(self.ln1(x)).view(b, s, 3, self.h, d // self.h).permute(2, 0, 3, 1, 4)
            if self.sdpa:
                a = torch.nn.functional.scaled_dot_product_attention(q, k, v)
            else:
                a = torch.softmax(q @ k.transpose(-1, -2) / (d // self.h) ** 0.5, -1) @ v
            x = x + self.proj(a.transpose(1, 2).reshape(b, s, d))
            return x + self.ff(self.ln2(x))

    class Transformer(nn.Module):
        def __init__(self, vocab: int = 5000, d: int = 512, s: int = 128) -> None:
            super().__init__()
            self.emb, self.pos = nn.Embedding(vocab, d), nn.Parameter(torch.randn(1, s, d) * 0.02)
            self.layers = nn.Sequential(Encoder(d, 8, sdpa=True), Encoder(d, 8, sdpa=False))
            self.ln, self.head = nn.LayerNorm(d), nn.Linear(d, 10)

        def forward(self, ids: Any) -> Any:
            return self.head(self.ln(self.layers(self.emb(ids) + self.pos)).mean(1))

    class Recommender(nn.Module):
        def __init__(self, tables: int = 6, rows: int = 10_000, dim: int = 32, dense: int = 13) -> None:
            super().__init__()
            # bags of ids summed, as the built-in recommenders look up their sparse features
            self.embs = nn.ModuleList(nn.EmbeddingBag(rows, dim, mode="sum") for _ in range(tables))
            self.bottom = nn.Sequential(nn.Linear(dense, 64), nn.ReLU(), nn.Linear(64, dim), nn.ReLU())
            n = tables + 1
            self.top = nn.Sequential(nn.Linear(n * dim + n * n, 256), nn.ReLU(), nn.Linear(256, 128),
                                     nn.ReLU(), nn.Linear(128, 64), nn.ReLU(), nn.Linear(64, 1))

        def forward(self, ids: Any, x: Any) -> Any:
            feats = [self.bottom(x)] + [e(ids[:, i, :]) for i, e in enumerate(self.embs)]
            z = torch.stack(feats, 1)
            inter = torch.bmm(z, z.transpose(1, 2)).flatten(1)
            return torch.sigmoid(self.top(torch.cat([z.flatten(1), inter], 1)))

    class Tiny(nn.Module):
        def __init__(self, d: int = 32, depth: int = 12) -> None:
            super().__init__()
            self.lin = nn.ModuleList(nn.Linear(d, d) for _ in range(depth))
            self.ln = nn.ModuleList(nn.LayerNorm(d) for _ in range(depth))

        def forward(self, x: Any) -> Any:
            for lin, ln in zip(self.lin, self.ln, strict=True):
                y = torch.relu(lin(x))
                x = ln(x * 0.5 + torch.sigmoid(y))
                x = torch.cat([x, y], 1)[:, : y.shape[1]].contiguous()
            return x.sum(1)

    def resnet_like(b: int) -> tuple[Any, tuple[Any, ...]]:
        net = nn.Sequential(cbr(3, 64, 3, 2), Basic(64, 32, 2), Basic(32, 32), Basic(32, 64, 2),
                            Basic(64, 64), Basic(64, 128, 2), nn.AdaptiveAvgPool2d(1), nn.Flatten(),
                            nn.Linear(128, 100))
        return net, (torch.randn(b, 3, 224, 224),)

    def inverted_residual(b: int) -> tuple[Any, tuple[Any, ...]]:
        net = nn.Sequential(cbr(3, 16, 3, 2), InvRes(16, 24, 4, 2, nn.ReLU6, False),
                            InvRes(24, 24, 4, 1, nn.Hardswish, True), InvRes(24, 40, 6, 2, nn.Hardswish, True),
                            InvRes(40, 40, 6, 1, nn.Hardswish, True), InvRes(40, 80, 6, 2, nn.Hardswish, False),
                            InvRes(80, 80, 6, 1, nn.Hardswish, True), cbr(80, 480, 1, act=nn.Hardswish),
                            nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(480, 100))
        return net, (torch.randn(b, 3, 224, 224),)

    def small_cnn(b: int) -> tuple[Any, tuple[Any, ...]]:
        # small inputs (32×32): depthwise-separable convolutions dominated by per-op overheads
        blocks = [nn.Sequential(cbr(c, c, 3, s, groups=c), cbr(c, c_out, 1))
                  for c, c_out, s in [(32, 64, 1), (64, 64, 2), (64, 128, 1), (128, 128, 2)]]
        net = nn.Sequential(cbr(3, 32, 3), *blocks, nn.AdaptiveAvgPool2d(1), nn.Flatten(),
                            nn.Linear(128, 10))
        return net, (torch.randn(b, 3, 32, 32),)

    def transformer_encoder(b: int) -> tuple[Any, tuple[Any, ...]]:
        return Transformer(), (torch.randint(0, 5000, (b, 128)),)

    def recommender(b: int) -> tuple[Any, tuple[Any, ...]]:
        return Recommender(), (torch.randint(0, 10_000, (b, 6, 2)), torch.randn(b, 13))

    def tiny_ops(b: int) -> tuple[Any, tuple[Any, ...]]:
        return Tiny(), (torch.randn(b, 32),)

    return {"resnet_like": resnet_like, "inverted_residual": inverted_residual,
            "transformer_encoder": transformer_encoder, "small_cnn": small_cnn, "recommender": recommender,
            "tiny_ops": tiny_ops}


def last_level_cache_bytes() -> float:
    """The largest CPU cache of this machine (sysfs), or 32 MiB when it cannot be read."""
    sizes = []
    for f in Path("/sys/devices/system/cpu/cpu0/cache").glob("index*/size"):
        try:
            raw = f.read_text(encoding="ascii").strip()
            mult = {"K": 1 << 10, "M": 1 << 20, "G": 1 << 30}.get(raw[-1:], 1)
            sizes.append(float(raw.rstrip("KMG")) * mult)
        except (OSError, ValueError):
            continue
    return max(sizes) if sizes else float(32 << 20)


def _micro_terms(run: ReferenceRun, model: CostModel, peak: float, bw: float,
                 large_op_bytes: float | None = None
                 ) -> tuple[float, dict[RegimeGroup, float], dict[RegimeGroup, int]]:
    """(Σ micro-benchmark overheads s, roofline term s per group, op count per group) of a run,
    with the model's micro-benchmark parameters (no in-model correction)."""
    overhead = 0.0
    work: dict[RegimeGroup, float] = defaultdict(float)
    count: dict[RegimeGroup, int] = defaultdict(int)
    for reg, F, B in run.ops:
        p = model.params.get(reg, model.default)
        overhead += p.overhead_us * 1e-6
        g = group_of(reg, B, large_op_bytes)
        work[g] += max(F / (p.eta_c * peak), B / (p.eta_m * bw))
        count[g] += 1
    return overhead, work, count


def _nnls(rows: list[list[float]], rhs: list[float], sweeps: int = 5000) -> list[float]:
    """min ‖A x − b‖² subject to x ≥ 0, by cyclic coordinate descent (a handful of unknowns)."""
    n = len(rows[0])
    x = [0.0] * n
    col_sq = [sum(r[i] ** 2 for r in rows) for i in range(n)]
    res = [-b for b in rhs]  # A x − b
    for _ in range(sweeps):
        moved = 0.0
        for i in range(n):
            if col_sq[i] == 0:
                continue
            g = sum(r[i] * e for r, e in zip(rows, res, strict=True))
            new = max(0.0, x[i] - g / col_sq[i])
            d = new - x[i]
            if d:
                x[i] = new
                for j, r in enumerate(rows):
                    res[j] += r[i] * d
                moved = max(moved, abs(d))
        if moved < 1e-12:
            break
    return x


# ridge prior toward "no correction": a factor off by 1 weighs as a 10 % error on one run, an
# extra overhead of OVERHEAD_SCALE_US as much
RIDGE_FACTOR = 0.1
RIDGE_OVERHEAD = 0.1
OVERHEAD_SCALE_US = 20.0


def fit_in_model(runs: list[ReferenceRun], model: CostModel, peak: float, bw: float,
                 large_op_bytes: float | None = None) -> InModelCorrection:
    """Per regime group: the factor k_g on the roofline term and the extra per-op overhead a_g
    (both ≥ 0) minimising Σ_runs ((O + Σ_g k_g·W_g + a_g·N_g) / T − 1)² + ridge toward k = 1,
    a = 0, where O is the run's micro-benchmark overheads, W_g its micro-benchmark roofline
    terms and N_g its op count in group g, T its measured time. A memory-bound (vector or
    depthwise) op moving more than ``large_op_bytes`` (the last-level cache) is in the 'large'
    group (``costmodel.group_of``): the micro-benchmarks mostly run in cache, such an op streams
    from DRAM. Groups without ops in any run are left out (no correction)."""
    terms = [(_micro_terms(r, model, peak, bw, large_op_bytes), r.measured_s)
             for r in runs if r.measured_s > 0]
    groups = [g for g in RegimeGroup if any(c.get(g) for (_, _, c), _ in terms)]
    scale = OVERHEAD_SCALE_US * 1e-6
    rows: list[list[float]] = []
    rhs: list[float] = []
    for (o, w, c), t in terms:
        rows.append([w.get(g, 0.0) / t for g in groups] + [c.get(g, 0) * scale / t for g in groups])
        rhs.append((t - o) / t)
    n = len(groups)
    for i in range(n):
        rows.append([RIDGE_FACTOR if j == i else 0.0 for j in range(2 * n)])
        rhs.append(RIDGE_FACTOR)
        rows.append([RIDGE_OVERHEAD if j == n + i else 0.0 for j in range(2 * n)])
        rhs.append(0.0)
    x = _nnls(rows, rhs) if rows and n else []
    k = dict(zip(groups, x[:n], strict=True))
    a = dict(zip(groups, x[n:], strict=True))

    def rms(pred: Callable[[float, dict[RegimeGroup, float], dict[RegimeGroup, int]], float]) -> float | None:
        errs = [(t / pred(o, w, c) - 1) ** 2 for (o, w, c), t in terms]
        return math.sqrt(sum(errs) / len(errs)) if errs else None

    before = rms(lambda o, w, c: o + sum(w.values()))
    after = rms(lambda o, w, c: o + sum(k.get(g, 1.0) * v for g, v in w.items())
                + sum(a.get(g, 0.0) * scale * m for g, m in c.items()))
    return InModelCorrection(
        groups=[GroupCorrection(group=g, factor=round(k[g], 4), extra_overhead_us=round(a[g] * OVERHEAD_SCALE_US, 3))
                for g in groups],
        large_op_bytes=large_op_bytes, networks=sorted({r.network for r in runs}),
        points=len(terms), fit_error_before=before,
        fit_error=after)


def time_reference_networks(*, log: Callable[[str], None] | None = None, budget_s: float = 0.5
                            ) -> list[ReferenceRun]:
    """Time every reference network at each of its batch sizes (median of ≥ 5 runs)."""
    import torch

    say = log or (lambda s: None)
    out = []
    for name, make in reference_networks().items():
        for b in REFERENCE_BATCHES[name]:
            torch.manual_seed(0)
            module, args = make(b)
            module.eval()
            ops = _counted(module, args)
            with torch.inference_mode():
                t = _median_time(lambda: module(*args), min_runs=5, budget_s=budget_s)  # noqa: B023 (called at once)
            out.append(ReferenceRun(network=name, batch=b, measured_s=t, ops=ops))
            say(f"reference {name} batch {b}: {t * 1e3:.2f} ms ({len(ops)} ops)")
    return out


def calibrate(host_bench: dict[str, Any], *, log: Callable[[str], None] | None = None,
              budget_per_case_s: float = 0.6, in_model: bool = True) -> HostCalibration:
    """Run every micro-benchmark, fit each regime, then (``in_model``) time the reference
    networks and fit the in-model correction; return the calibration (not cached)."""
    import torch

    say = log or (lambda s: None)
    ident = identity()
    load0 = load_avg()
    t_start = time.perf_counter()
    peak = float(host_bench["peaks_tflops"]["fp32"]) * 1e12
    bw = float(host_bench["copy_gbps"]) * 1e9
    samples: dict[Regime, list[tuple[float, float, float]]] = defaultdict(list)
    points: list[dict[str, Any]] = []
    for name, make in cases():
        module, args = make()
        module.eval()
        ops = _counted(module, args)
        if not ops or len({o[0] for o in ops}) != 1:  # the time must belong to one regime
            say(f"skip {name}: ops of {sorted({o[0].value for o in ops})}")
            continue
        # a case traced as k ops of one regime (attention decomposed into bmm/softmax/...)
        # is k average ops: per-op time, F and B are the case's divided by k
        k = len(ops)
        reg, F, B = ops[0][0], sum(o[1] for o in ops), sum(o[2] for o in ops)
        with torch.inference_mode():
            t = _median_time(lambda: module(*args), budget_s=budget_per_case_s)  # noqa: B023 (called at once)
        samples[reg].append((F / peak / k, B / bw / k, t / k))
        points.append({"regime": reg.value, "case": name, "ops": k, "flops": F, "bytes": B,
                       "median_s": t})
        say(f"{name}: {t * 1e6:.1f} µs")
    params = {reg: fit_regime(s) for reg, s in samples.items()}
    # ops of a regime without its own benchmark fall back to the elementwise fit
    default = params.get(Regime.elementwise) or RegimeParams(eta_c=0.5, eta_m=0.7, overhead_us=5.0,
                                                             origin="assumed")
    model = CostModel(platform_id="host", runtime_kind="eager", params=params, default=default,
                      basis="host_calibration", calibrated_at=time.strftime("%Y-%m-%dT%H:%M:%S"))
    reference = time_reference_networks(log=log) if in_model else []
    if reference:
        corr = fit_in_model(reference, model, peak, bw, last_level_cache_bytes())
        model = model.model_copy(update={"in_model": corr})
        say("in-model correction: " + "; ".join(f"{g.group.value} ×{g.factor:.2f} + {g.extra_overhead_us:.1f} µs"
                                                for g in corr.groups))
    load1 = load_avg()
    return HostCalibration(
        identity=ident, load_before=load0, load_after=load1,
        quiet=is_quiet(load0, ident.cores) and is_quiet(load1, ident.cores), peak_flops=peak,
        bandwidth=bw, model=model, points=points, reference=reference,
        seconds=time.perf_counter() - t_start,
        measured_at=time.strftime("%Y-%m-%dT%H:%M:%S"))


def load_or_calibrate(recalibrate: bool = False, *, log: Callable[[str], None] | None = None,
                      measure_if_missing: bool = True) -> HostCalibration | None:
    """The cached calibration when ``reusable``; else calibrate (and cache) or return None."""
    from reportgen.catalog.host import load_or_measure

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
    cal = calibrate(load_or_measure(refresh=recalibrate), log=log)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(cal.model_dump(mode="json"), indent=1), encoding="utf-8")
    except OSError:
        pass  # read-only cache: calibrated again next time
    return cal
