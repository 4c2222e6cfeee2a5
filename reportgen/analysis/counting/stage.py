"""The costs stage: the op trace aggregated (totals, by module, op type and layer type, ops not
counted), with a warning on the result when the totals are only lower bounds."""

from __future__ import annotations

from reportgen.analysis.counting.costs import analyse
from reportgen.analysis.stage import Context, StageResult
from reportgen.text import msg


def stage(ctx: Context, result: StageResult) -> None:
    result.costs = analyse(ctx.products.need_trace(), ctx.products.trace_notes)
    if result.costs.summary.at_least:
        w = msg("warning.not_counted", share=result.costs.summary.not_counted_bytes_share)
        result.warning_msgs.append(w)
