"""The roofline stage: the model as it would ship on the target (the platform's runtime and its
free transforms applied to the trace), every precision's predicted time, the constraint verdicts
at that baseline, and the same model on the spec's comparison platforms."""

from __future__ import annotations

from reportgen.analysis.prediction.baseline import baseline_precision
from reportgen.analysis.prediction.platform_card import block_times
from reportgen.analysis.prediction.roofline import estimate
from reportgen.analysis.prediction.runtime import deployed_trace, deployment_runtime, describe
from reportgen.analysis.prediction.verdicts import (
    constraint_verdicts,
    first_constraint_to_break,
    zoo_comparison,
)
from reportgen.analysis.stage import Context, StageResult
from reportgen.catalog.lookup import get_platform
from reportgen.catalog.schema import Platform


def stage(ctx: Context, result: StageResult) -> None:
    traced, plat = ctx.products.need_trace(), ctx.products.need_platform()
    # the baseline is what would ship: the platform's runtime with its free transforms applied
    runtime = deployment_runtime(plat, ctx.spec.runtime)
    trace = deployed_trace(traced, runtime)
    ctx.products.runtime, ctx.products.baseline_trace = runtime, trace
    batch = ctx.products.need_resolved().inputs.batch_size
    est = estimate(trace, plat, ctx.spec.precisions, batch_size=batch, runtime_kind=runtime.kind.value)
    base = baseline_precision(est, trace.dtype)
    if base is not None:
        result.baseline = describe(traced, trace, runtime, base.precision)
    # the full estimate (every precision's per-op rows) stays in memory for the later stages;
    # data.json keeps the baseline's rows only (StudyResult.as_written)
    keep = base.precision if base is not None else \
        (est.per_precision[0].precision if est.per_precision else None)
    result.roofline = est
    if keep is not None and result.costs is not None:
        result.block_times = block_times(result.costs.blocks, est.get(keep))
    # judged at the one baseline (precision + runtime) the hypotheses start from
    result.verdicts = constraint_verdicts(ctx.spec.constraints, est, plat, keep)
    result.first_to_break = first_constraint_to_break(result.verdicts)
    if ctx.spec.compare_platforms:
        # each platform as it would ship there: the traced model under that platform's runtime
        result.zoo = zoo_comparison(traced, _compare_platforms(ctx), ctx.spec.precisions,
                                    batch_size=batch, runtime=ctx.spec.runtime)


def _compare_platforms(ctx: Context) -> list[Platform]:
    """The spec's comparison platforms, resolved once: by the caller that checked the spec, else
    here. 'host' is measured on this machine, or left out of a deterministic build."""
    given = ctx.products.compare_platforms
    if given is None:  # unknown ids fail here, before any work
        given = tuple(get_platform(pid, measure_host=False) for pid in ctx.spec.compare_platforms)
        ctx.products.compare_platforms = given
    out: list[Platform] = []
    for plat in given:
        if plat.id == "host":
            if ctx.deterministic:
                continue
            plat = get_platform("host")  # the catalog entry holds no figures: measure them
        out.append(plat)
    return out
