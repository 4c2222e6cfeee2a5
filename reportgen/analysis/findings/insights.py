"""Findings that teach: facts an engineer looks for besides the bottleneck classes. No torch.

* ``placement``: the block whose share of the parameters most exceeds its share of the MACs
  (ResNet-50: layer4 holds ~59 % of the weights for ~20 % of the MACs) — counted.
* ``memory``: what dominates the memory at the baseline precision: weights (and, of those,
  embedding tables) or peak live activations — counted, at the baseline's bytes per element.
* ``streaming``: weight reads as a share of all bytes moved, and how the predicted time splits
  between compute-bound and memory-bound ops — counted and predicted.
Thresholds: ``thresholds.yaml`` → ``insights``. Shares are fractions.
"""

from __future__ import annotations

from reportgen.analysis.counting.costs import CostAnalysis
from reportgen.analysis.counting.records import OpRecord, Trace
from reportgen.analysis.findings.models import Evidence, Insight, thresholds
from reportgen.analysis.findings.registry import FinderContext, insight, insight_fns
from reportgen.analysis.prediction.estimates import OpEstimate, PrecisionEstimate
from reportgen.text import Arg, msg


def placement(costs: CostAnalysis) -> list[Insight]:
    """The block holding far more of the parameters than of the MACs (or the reverse)."""
    k = thresholds()["insights"]
    total_p = costs.params.total or 0
    total_m = costs.summary.macs or 0
    if not total_p or not total_m:
        return []
    rows = [(b.name, (b.params or 0) / total_p, b.macs / total_m) for b in costs.blocks
            if b.params is not None and not b.name.startswith("<")]
    heavy = [r for r in rows if r[1] >= k["placement_min_share"] and r[1] >= k["placement_ratio"] * r[2]]
    out: list[Insight] = []
    if heavy:
        name, ps, ms = max(heavy, key=lambda r: r[1] - r[2])
        out.append(Insight(id=f"insight:placement:{name}",
                           text=msg("findings.insight.params_not_macs", block=Arg(v=name, f="code"),
                                    params=Arg(v=ps, f="pct"), macs=Arg(v=ms, f="pct")),
                           evidence=[Evidence(label="params_share", value=ps, unit="fraction",
                                              f="pct", origin="counted"),
                                     Evidence(label="macs_share", value=ms, unit="fraction",
                                              f="pct", origin="counted")]))
    light = [r for r in rows if r[2] >= k["placement_min_share"] and r[2] >= k["placement_ratio"] * r[1]]
    if light and costs.params.embedding / total_p < 0.5:  # beside huge tables every layer is "light"
        name, ps, ms = max(light, key=lambda r: r[2] - r[1])
        out.append(Insight(id=f"insight:placement_compute:{name}",
                           text=msg("findings.insight.macs_not_params", block=Arg(v=name, f="code"),
                                    params=Arg(v=ps, f="pct"), macs=Arg(v=ms, f="pct")),
                           evidence=[Evidence(label="macs_share", value=ms, unit="fraction",
                                              f="pct", origin="counted")]))
    return out


def memory(pe: PrecisionEstimate, trace: Trace) -> list[Insight]:
    """Weights (embedding tables among them) vs peak live activations at ``pe``'s precision."""
    w, a = pe.weight_bytes, pe.peak_activation_bytes
    if w + a <= 0:
        return []
    emb = trace.params.embedding / (trace.params.total or 1)
    what = "weights" if w >= a else "activations"
    key = "findings.insight.memory_" + (("embeddings" if emb >= 0.5 else "weights")
                                        if what == "weights" else "activations")
    return [Insight(id=f"insight:memory:{what}",
                    text=msg(key, precision=Arg(v=pe.precision, f="text"), weights=Arg(v=w, f="bytes"),
                             acts=Arg(v=a, f="bytes"), share=Arg(v=max(w, a) / (w + a), f="pct"),
                             emb=Arg(v=emb, f="pct")),
                    evidence=[Evidence(label="weights", value=w, unit="B", f="bytes", origin="counted"),
                              Evidence(label="peak_act", value=a, unit="B", f="bytes",
                                       origin="counted")])]


def streaming(pairs: list[tuple[OpEstimate, OpRecord]], pe: PrecisionEstimate) -> list[Insight]:
    """Weight reads against all bytes moved; predicted time in compute- vs memory-bound ops."""
    moved = sum(r.bytes_moved for _, r in pairs)
    total_t = sum(o.predicted_time_s or 0.0 for o, _ in pairs)
    if not moved or not total_t:
        return []
    wshare = sum(r.weight_bytes for _, r in pairs) / moved
    cshare = sum(o.predicted_time_s or 0.0 for o, _ in pairs if o.bound == "compute") / total_t
    mshare = sum(o.predicted_time_s or 0.0 for o, _ in pairs if o.bound == "memory") / total_t
    k = thresholds()["insights"]
    kind = "weight_streaming" if wshare >= k["streaming_weight_share"] and mshare > cshare else \
        ("compute" if cshare >= mshare else "activation_traffic")
    return [Insight(id=f"insight:streaming:{kind}",
                    text=msg(f"findings.insight.{kind}", weights=Arg(v=wshare, f="pct"),
                             compute=Arg(v=cshare, f="pct"), memory=Arg(v=mshare, f="pct"),
                             precision=Arg(v=pe.precision, f="text")),
                    evidence=[Evidence(label="weight_bytes_share", value=wshare, unit="fraction",
                                       f="pct", origin="counted"),
                              Evidence(label="compute_time_share", value=cshare, unit="fraction",
                                       f="pct", origin="predicted")])]


@insight(order=10, name="placement")
def _placement(ctx: FinderContext) -> list[Insight]:
    return placement(ctx.costs) if ctx.costs is not None else []


@insight(order=20, name="memory")
def _memory(ctx: FinderContext) -> list[Insight]:
    return memory(ctx.pe, ctx.trace) if ctx.pe is not None and ctx.trace is not None else []


@insight(order=30, name="streaming")
def _streaming(ctx: FinderContext) -> list[Insight]:
    return streaming(ctx.pairs, ctx.pe) if ctx.pe is not None and ctx.pairs else []


def insights(ctx: FinderContext) -> list[Insight]:
    """Every registered insight, in its order."""
    out: list[Insight] = []
    for f in insight_fns():
        out += f.fn(ctx)
    return out
