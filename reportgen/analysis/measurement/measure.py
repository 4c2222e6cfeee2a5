"""Pipeline stage ``measure``: merge a measurements file (``reportgen profile``), or measure the
model on this host (``sweep.measure``) unless the study is in snapshot mode, has profiling off,
names a meta-only card or is over the RAM guard; then compare the measured run with the roofline
prediction on the measured machine's platform (``comparison_for``; host: from the run's own
micro-benchmarks and, when cached, this machine's eager cost model) and reject op classes measured
faster than their ideal bound (``note_implausible``).
"""

from __future__ import annotations

from typing import Any

from reportgen.analysis.measurement.models import MeasuredRun, Measurements
from reportgen.analysis.measurement.quality import implausible_efficiency
from reportgen.analysis.measurement.resources import RAM_SHARE, available_ram, too_big
from reportgen.analysis.measurement.sweep import measure
from reportgen.analysis.stage import Context


def comparison_for(run: MeasuredRun, trace: Any, catalog_platform: Any | None = None) -> Any:
    """Prediction vs measurement on the measured machine's platform (host: from the run's own
    micro-benchmarks, so a merged file compares the same way on any machine)."""
    from reportgen.analysis.measurement.compare import compare
    from reportgen.analysis.measurement.profile_ops import trace_packet
    from reportgen.analysis.prediction.roofline import estimate
    from reportgen.catalog.host import platform_from_measurements
    from reportgen.catalog.lookup import get_platform

    if run.platform == "host":
        if not run.host_benchmarks:
            raise ValueError("the measurement holds no host micro-benchmarks to predict with")
        plat = platform_from_measurements(run.host_benchmarks)
    else:
        plat = catalog_platform if catalog_platform is not None and catalog_platform.id == run.platform \
            else get_platform(run.platform)
    prec = {"float32": "fp32", "float16": "fp16", "bfloat16": "bf16"}.get(run.dtype, "fp32")
    est = estimate(trace, plat, [prec], batch_size=run.batch_size, keep_ops=True,
                   cost_model=host_cost_model(run) if prec == "fp32" else None).get(prec)
    if est.status != "ok":
        raise ValueError(f"no prediction for {prec} on {plat.id}: status {est.status}"
                         + (f" ({est.reason_msg.code})" if est.reason_msg else ""))
    not_counted = {trace_packet(r.op) for r in trace.records if not r.counted}
    return compare(run, est, plat.id, plat.name, not_counted)


def host_cost_model(run: MeasuredRun) -> Any:
    """The cached eager cost model of this machine (``reportgen calibrate``) when the run was
    measured here on the CPU and the cache is reusable; never calibrates during a build."""
    if run.platform != "host" or run.device != "cpu":
        return None
    try:
        from reportgen.analysis.prediction.host_calibration import identity, load_or_calibrate

        ident = identity()
        if (ident.cpu_model, ident.cores) != (run.machine.cpu_model, run.machine.cores):
            return None  # a file measured on another machine
        cal = load_or_calibrate(measure_if_missing=False)
    except Exception:  # a broken cache costs the calibration, not the comparison
        return None
    return cal.model if cal is not None else None


def note_implausible(meas: Measurements) -> None:
    """Reject op classes measured faster than their ideal bound (added to the run's quality)."""
    cmp = meas.comparison
    if cmp is None or meas.run.quality is None:
        return
    rows = [(g.group, g.achieved_efficiency) for g in [*cmp.groups, cmp.total]
            if g.measured_share >= 0.05 or g.group == "total"]
    for m in implausible_efficiency(rows):
        if m not in meas.run.quality.implausible:
            meas.run.quality.implausible.append(m)


# ---------------------------------------------------------------------------- stage

def stage(ctx: Context, result: Any) -> None:
    """Pipeline stage ``measure``: merge a measurements file, or measure on this host."""
    from reportgen.analysis.measurement.scaling import domain_axis, measured_values
    from reportgen.analysis.stage import StageSkipped

    resolved = ctx.products.need_resolved()
    trace = ctx.products.need_trace()
    given = ctx.products.measurements_file
    if given is not None:
        run, source, fname = given.run, "file", ctx.products.measurements_path
    else:
        if ctx.deterministic:
            raise StageSkipped("snapshot mode measures nothing on this machine",
                               hint="merge a file from `reportgen profile` with --measurements",
                               code="measure_snapshot")
        if not ctx.spec.profiling.enabled:
            raise StageSkipped("measurement is disabled in the spec (profiling.enabled: false)",
                               code="measure_disabled")
        if resolved.card is not None and resolved.card.meta_only:
            raise StageSkipped(f"model card '{resolved.card.id}' is meta-only: too big to "
                               "materialise, so it is analysed on meta tensors only",
                               hint="measure it on a bigger machine with `reportgen profile`",
                               code="measure_meta_only", card=resolved.card.id)
        ram = available_ram()
        reason = too_big(float(trace.param_bytes), float(trace.peak_activation_bytes), ram)
        if reason:
            w, a = float(trace.param_bytes) / 1e9, float(trace.peak_activation_bytes) / 1e9
            raise StageSkipped(reason, code="measure_too_big", need_gb=w + a, weights_gb=w,
                               acts_gb=a, share=RAM_SHARE, available_gb=(ram or 0) / 1e9)
        axis, _, base, values = domain_axis(resolved.domain.value, resolved.inputs)
        base_dir = ctx.spec_path.parent if ctx.spec_path else None
        run = measure(resolved, trace, ctx.spec.profiling, base_dir=base_dir,
                      allow_code=ctx.allow_code, size_axis=(axis, measured_values(values, base)))
        source, fname = "this_build", None
    meas = Measurements(source=source, file=fname, run=run)
    try:
        meas.comparison = comparison_for(run, trace, ctx.products.platform)
    except Exception as e:  # the measurement stands without the comparison
        meas.comparison_error = f"{type(e).__name__}: {e}"
    note_implausible(meas)
    result.measurements = meas
