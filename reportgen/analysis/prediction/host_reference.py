"""Host calibration, part two: the *synthetic reference networks* timed whole by ``reportgen
calibrate`` and the fit of the in-model correction (``fit_in_model``) to them.

One-op micro-benchmarks run faster than the same ops inside a model (warm caches, no allocator
churn, no framework work between ops). The reference networks (``reference_networks``) are built
here, never from the model cards (which stay independent validation); per regime group
(``costmodel.RegimeGroup``) a factor on the roofline term and an extra per-op overhead are
fitted by non-negative least squares on relative error with a mild ridge toward "no correction".
Pure Python apart from the network builders (torch imported lazily); the timing itself lives in
``host_calibration.time_reference_networks``.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Callable
from typing import Any

from pydantic import BaseModel, ConfigDict

from reportgen.analysis.prediction.costmodel import (
    CostModel,
    GroupCorrection,
    InModelCorrection,
    Regime,
    RegimeGroup,
    group_of,
    memory_time,
)


class ReferenceRun(BaseModel):
    """One synthetic reference network at one batch size, timed whole (median, s), with the
    regime, F and B of each of its ops from the meta trace."""

    model_config = ConfigDict(extra="forbid")

    network: str
    batch: int
    measured_s: float
    ops: list[tuple[Regime, float, float]]
    views: int = 0  # view ops (no kernel, an eager dispatch each)


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
        work[g] += max(F / (p.eta_c * peak), memory_time(B, bw, model.cache) / p.eta_m)
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
    """Per regime group: the factor k_g on the roofline term and the extra per-op overhead a_g,
    and one cost v per view op (all ≥ 0) minimising
    Σ_runs ((O + Σ_g k_g·W_g + a_g·N_g + v·V) / T − 1)² + ridge toward k = 1, a = 0, v = 0,
    where O is the run's micro-benchmark overheads, W_g its micro-benchmark roofline terms and
    N_g its op count in group g, V its view ops, T its measured time. A memory-bound (vector or
    depthwise) op moving more than ``large_op_bytes`` (the last-level cache) is in the 'large'
    group (``costmodel.group_of``): the micro-benchmarks mostly run in cache, such an op streams
    from DRAM. Groups without ops in any run are left out (no correction)."""
    terms = [(_micro_terms(r, model, peak, bw, large_op_bytes), r.views, r.measured_s)
             for r in runs if r.measured_s > 0]
    groups = [g for g in RegimeGroup if any(c.get(g) for (_, _, c), _, _ in terms)]
    scale = OVERHEAD_SCALE_US * 1e-6
    rows: list[list[float]] = []
    rhs: list[float] = []
    for (o, w, c), v, t in terms:
        rows.append([w.get(g, 0.0) / t for g in groups] + [c.get(g, 0) * scale / t for g in groups]
                    + [v * scale / t])
        rhs.append((t - o) / t)
    n = len(groups)
    width = 2 * n + 1
    for i in range(n):
        rows.append([RIDGE_FACTOR if j == i else 0.0 for j in range(width)])
        rhs.append(RIDGE_FACTOR)
        rows.append([RIDGE_OVERHEAD if j == n + i else 0.0 for j in range(width)])
        rhs.append(0.0)
    rows.append([RIDGE_OVERHEAD if j == 2 * n else 0.0 for j in range(width)])
    rhs.append(0.0)
    x = _nnls(rows, rhs) if terms and n else [0.0] * width
    k = dict(zip(groups, x[:n], strict=True))
    a = dict(zip(groups, x[n:2 * n], strict=True))
    view = x[2 * n]

    def rms(pred: Callable[[float, dict[RegimeGroup, float], dict[RegimeGroup, int], int], float]
            ) -> float | None:
        errs = [(t / pred(o, w, c, v) - 1) ** 2 for (o, w, c), v, t in terms]
        return math.sqrt(sum(errs) / len(errs)) if errs else None

    before = rms(lambda o, w, c, v: o + sum(w.values()))
    after = rms(lambda o, w, c, v: o + sum(k.get(g, 1.0) * u for g, u in w.items())
                + sum(a.get(g, 0.0) * scale * m for g, m in c.items()) + view * scale * v)
    return InModelCorrection(
        groups=[GroupCorrection(group=g, factor=round(k[g], 4), extra_overhead_us=round(a[g] * OVERHEAD_SCALE_US, 3))
                for g in groups],
        view_overhead_us=round(view * OVERHEAD_SCALE_US, 3),
        large_op_bytes=large_op_bytes, networks=sorted({r.network for r in runs}),
        points=len(terms), fit_error_before=before,
        fit_error=after)
