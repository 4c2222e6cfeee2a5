"""Prediction vs measurement on the machine that was measured (pure Python, no torch).

Measured time per op class = the measured median latency × the class's share of profiler self
time (the profiler's own overhead is spread evenly). Predicted = the roofline of the trace on the
measured machine's platform at the measured dtype (assumed η and per-op overhead); ideal = η = 1,
no overhead. Achieved efficiency = ideal / measured; ratio = measured / predicted.
"""

from __future__ import annotations

from collections import defaultdict

from reportgen.analysis.measurement.models import (
    GROUP_ORDER,
    GROUPS,
    Comparison,
    GroupComparison,
    MeasuredRun,
    OpFlag,
)
from reportgen.analysis.measurement.profile_ops import trace_packet
from reportgen.analysis.prediction.estimates import PrecisionEstimate

FLAG_SHARE = 0.05  # ops with at least this share of measured time are checked
UNDERPREDICTED = 3.0  # flagged when measured share ≥ 3 × predicted share
TRUST_SHARE = 0.05  # classes with at least this share of measured time enter the ratio range


def _row(group: str, measured: float, predicted: float, ideal: float, m_total: float,
         p_total: float) -> GroupComparison:
    return GroupComparison(
        group=group, measured_s=measured, predicted_s=predicted, ideal_s=ideal,
        measured_share=measured / m_total if m_total > 0 else 0.0,
        predicted_share=predicted / p_total if p_total > 0 else 0.0,
        ratio=measured / predicted if predicted > 0 else None,
        achieved_efficiency=ideal / measured if measured > 0 and ideal > 0 else None)


def compare(run: MeasuredRun, estimate: PrecisionEstimate, platform_id: str,
            platform_name: str, not_counted: set[str] | frozenset[str] = frozenset()) -> Comparison:
    """Per op class and in total; flags ops measured as expensive but predicted as cheap.
    ``not_counted``: trace op packets without a FLOP formula."""
    prof = run.profile
    if prof is None:
        raise ValueError("the measurement has no profiler pass")
    median = run.latency.median_s
    self_total = sum(prof.by_group.values()) or 1.0
    measured = {g: median * t / self_total for g, t in prof.by_group.items()}
    pred: dict[str, float] = defaultdict(float)
    ideal: dict[str, float] = defaultdict(float)
    pred_by_op: dict[str, float] = defaultdict(float)
    for est in estimate.ops:
        g = GROUPS.get(est.kind, "other")
        pred[g] += est.predicted_time_s or 0.0
        ideal[g] += est.ideal_time_s or 0.0
        p = trace_packet(est.op)
        pred_by_op[p] += est.predicted_time_s or 0.0
    p_total = sum(pred.values())
    m_total = sum(measured.values())
    groups = [_row(g, measured.get(g, 0.0), pred.get(g, 0.0), ideal.get(g, 0.0), m_total, p_total)
              for g in GROUP_ORDER if measured.get(g, 0.0) > 0 or pred.get(g, 0.0) > 0]
    total = _row("total", m_total, p_total, sum(ideal.values()), m_total, p_total)

    flags: list[OpFlag] = []
    by_trace_op: dict[str, float] = defaultdict(float)
    group_of: dict[str, str] = {}
    for row in prof.ops:
        by_trace_op[row.trace_op or row.name] += row.share
        group_of[row.trace_op or row.name] = row.group
    for op, share in sorted(by_trace_op.items(), key=lambda kv: -kv[1]):
        if share < FLAG_SHARE:
            continue
        p_share = pred_by_op.get(op, 0.0) / p_total if p_total > 0 else 0.0
        if op not in pred_by_op and group_of.get(op) == "attention" and pred.get("attention"):
            # a fused attention kernel: the trace counts the same work as its decomposition
            p_share = pred["attention"] / p_total
            if share < UNDERPREDICTED * p_share:
                continue
            reason = "underpredicted"
        elif op not in pred_by_op:
            reason = "not_traced"
        elif op in not_counted:
            reason = "not_counted"
        elif share >= UNDERPREDICTED * p_share:
            reason = "underpredicted"
        else:
            continue
        flags.append(OpFlag(op=op, reason=reason, measured_share=share, predicted_share=p_share,
                            measured_s=share * median, predicted_s=pred_by_op.get(op, 0.0)))
    ratios = [g.ratio for g in groups if g.ratio is not None and g.measured_share >= TRUST_SHARE]
    return Comparison(
        platform_id=platform_id, platform_name=platform_name, precision=estimate.precision,
        groups=groups, total=total, flags=flags, ratio_low=min(ratios) if ratios else None,
        ratio_high=max(ratios) if ratios else None,
        note="measured per class = median latency × profiler self-time share")
