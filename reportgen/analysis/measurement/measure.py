"""Measured profiling on real tensors: latency (median, p90, p99, mean, std of repeated runs
until the median is stable), throughput across batch sizes, the effect of the thread count, a
few input sizes for the scaling stage, and one torch.profiler pass (see ``profile_ops``).

On the CPU by default (this machine, the ``host`` platform); on CUDA with ``device="cuda"``:
CUDA events time each run, the profiler records CUDA activity and the peak GPU memory is read.
Everything runs under ``torch.inference_mode()``. Times are seconds, memory bytes.

Resource guard: a model whose weights + peak activations (from the meta trace) exceed
``RAM_SHARE`` of the available RAM is not materialised; cards marked ``meta_only`` never are.
"""

from __future__ import annotations

import copy
import os
import platform as pyplatform
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from reportgen.analysis.measurement.models import (
    BatchPoint,
    Machine,
    MeasuredRun,
    Measurements,
    ModelMemory,
    ProfilePass,
    SizePoint,
    ThreadPoint,
)
from reportgen.analysis.measurement.quality import (
    assess,
    cpu_use,
    implausible_efficiency,
    implausible_threads,
    process_cpu_seconds,
    sample_load,
    timed_with_retry,
)
from reportgen.analysis.measurement.timing import LatencyStats, time_runs
from reportgen.analysis.stage import Context
from reportgen.spec.schema import Profiling

RAM_SHARE = 0.5
CUDA_SPINUP_S = 1.0  # untimed GPU warm-up before each CUDA timing, s
DEFAULT_BATCHES = [1, 2, 4, 8]
# shares of profiling.time_budget_s
BUDGET = {"latency": 0.4, "batches": 0.25, "threads": 0.2, "sizes": 0.15}


# ---------------------------------------------------------------------------- guard (pure)

def too_big(param_bytes: float, activation_bytes: float, available_bytes: float | None,
            share: float = RAM_SHARE) -> str | None:
    """Why a model must not be materialised here, or None when it fits the safe share of RAM."""
    need = param_bytes + activation_bytes
    if available_bytes is None:
        return None
    if need > share * available_bytes:
        return (f"the model needs about {need / 1e9:.2f} GB on the host (weights "
                f"{param_bytes / 1e9:.2f} GB + peak activations {activation_bytes / 1e9:.2f} GB, "
                f"from the trace), more than {share:.0%} of the {available_bytes / 1e9:.2f} GB of "
                "RAM available: not measured, counted and predicted numbers stand")
    return None


def available_ram() -> int | None:
    try:
        import psutil

        return int(psutil.virtual_memory().available)
    except Exception:  # psutil missing or unsupported OS: no guard
        return None


# ---------------------------------------------------------------------------- machine

def machine_info(device: str = "cpu") -> Machine:
    import torch

    from reportgen.catalog.host import cpu_model

    try:
        import psutil

        phys = psutil.cpu_count(logical=False)
        ram = int(psutil.virtual_memory().total)
    except Exception:  # psutil missing: unknown
        phys, ram = None, None
    gpu, gpu_mem = None, None
    if device == "cuda":
        props = torch.cuda.get_device_properties(torch.cuda.current_device())
        gpu, gpu_mem = props.name, int(props.total_memory)
    return Machine(cpu_model=cpu_model(), cores=os.cpu_count(), physical_cores=phys, ram_bytes=ram,
                   os=pyplatform.platform(), python=sys.version.split()[0],
                   torch=str(torch.__version__), device=device, gpu_name=gpu, gpu_memory_bytes=gpu_mem)


# ---------------------------------------------------------------------------- runners

def _to(tree: Any, device: str, dtype: Any) -> Any:
    import torch
    from torch.utils._pytree import tree_map

    def f(x: Any) -> Any:
        if isinstance(x, torch.Tensor):
            x = x.to(device)
            return x.to(dtype) if dtype is not None and x.is_floating_point() else x
        return x
    return tree_map(f, tree)


@dataclass
class Runner:
    """A model on a device with inputs ready: ``setup`` (untimed) and ``run`` one forward."""

    module: Any
    args: tuple[Any, ...]
    kwargs: dict[str, Any]
    fresh_state: bool  # kwargs hold state a forward mutates (a KV cache): copied per run

    def setup(self) -> tuple[tuple[Any, ...], dict[str, Any]]:
        return (self.args, copy.deepcopy(self.kwargs)) if self.fresh_state else (self.args, self.kwargs)

    def run(self, ak: tuple[tuple[Any, ...], dict[str, Any]] | None = None) -> Any:
        import torch

        a, k = ak if ak is not None else self.setup()
        with torch.inference_mode():
            return self.module(*a, **k)


def make_runner(module: Any, make_inputs: Callable[[str], Any], prepare: Any, device: str,
                dtype: Any) -> Runner:
    import torch

    args, kwargs = make_inputs("cpu")
    args, kwargs = _to(args, device, dtype), _to(kwargs, device, dtype)
    if prepare is not None:
        with torch.inference_mode():
            args, kwargs = prepare(module, args, kwargs)
    return Runner(module, tuple(args), dict(kwargs), fresh_state=prepare is not None)


def time_model(r: Runner, device: str, *, warmup: int, min_runs: int, max_runs: int,
               budget_s: float, threads: int | None) -> LatencyStats:
    """Latency of ``r`` on ``device``: perf_counter on the CPU, CUDA events on CUDA."""
    if device != "cuda":
        return time_runs(r.run, setup=r.setup, warmup=warmup, min_runs=min_runs,
                         max_runs=max_runs, budget_s=budget_s, threads=threads)
    import torch

    # GPUs idle at low clocks: run for a while before the counted warm-up lets them ramp up
    t_end = time.perf_counter() + CUDA_SPINUP_S
    while time.perf_counter() < t_end:
        r.run(r.setup())
        torch.cuda.synchronize()
    events: list[tuple[Any, Any]] = []

    def run(ak: Any) -> None:
        start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        start.record()
        r.run(ak)
        end.record()
        events.append((start, end))

    # CUDA events give the device time of each run; perf_counter only bounds the budget
    stats = time_runs(run, setup=r.setup, sync=torch.cuda.synchronize, warmup=warmup,
                      min_runs=min_runs, max_runs=max_runs, budget_s=budget_s, threads=threads)
    torch.cuda.synchronize()
    from reportgen.analysis.measurement.timing import summarize

    samples = [s.elapsed_time(e) / 1e3 for s, e in events[warmup:]]
    return summarize(samples, warmup=warmup, stop_reason=stats.stop_reason, threads=threads)


def default_threads(cores: int | None) -> list[int]:
    n = max(1, cores or 1)
    out, t = [], 1
    while t < n:
        out.append(t)
        t *= 2
    return sorted(set(out + [n]))


# ---------------------------------------------------------------------------- the measurement

def measure(resolved: Any, trace: Any, prof: Profiling, *, device: str = "cpu",
            precision: str = "fp32", base_dir: Path | None = None, allow_code: bool = False,
            platform: str = "host", size_axis: tuple[str, list[float]] | None = None,
            log: Callable[[str], None] | None = None) -> MeasuredRun:
    """Build the model on ``device`` and measure it (see the module docstring).

    ``size_axis``: (axis, values) of the scaling sweep to measure latency at."""
    import torch

    from reportgen.analysis.measurement.profile_ops import profile_pass, trace_packet
    from reportgen.analysis.measurement.scaling import with_size
    from reportgen.models.build import build

    say = log or (lambda s: None)
    t_start = time.perf_counter()
    dtype = {"fp32": torch.float32, "fp16": torch.float16, "bf16": torch.bfloat16}[precision]
    avail = available_ram() if device == "cpu" else None
    act0 = float(trace.peak_activation_bytes)
    reason = too_big(float(trace.param_bytes), act0, avail)
    if reason:
        raise MemoryError(reason)
    cores = os.cpu_count()
    threads0 = torch.get_num_threads()
    loaded = build(resolved, device="cpu", base_dir=base_dir, allow_code=allow_code)
    module = loaded.module.to(device=device, dtype=dtype).eval()
    sync = torch.cuda.synchronize if device == "cuda" else None
    budget = prof.time_budget_s
    notes: list[str] = []

    def runner_for(inputs: Any) -> Runner:
        lm = build(replace(resolved, inputs=inputs), device="meta", base_dir=base_dir,
                   allow_code=allow_code) if inputs is not resolved.inputs else loaded
        return make_runner(module, lm.make_inputs, lm.prepare, device, dtype)

    def fits(scale: float) -> bool:
        return too_big(float(trace.param_bytes), act0 * scale, avail) is None

    say("latency")
    before = sample_load()
    main = runner_for(resolved.inputs)

    def time_latency() -> tuple[float, tuple[LatencyStats, float, float]]:
        c0, w0 = process_cpu_seconds(), time.perf_counter()
        st = time_model(main, device, warmup=prof.warmup, min_runs=prof.min_runs,
                        max_runs=prof.max_runs, budget_s=budget * BUDGET["latency"],
                        threads=threads0)
        return st.cv, (st, process_cpu_seconds() - c0, time.perf_counter() - w0)

    # contention: a noisy first timing is re-timed once and the steadier run kept
    kept, retimed = timed_with_retry(time_latency, before, sample_load, cores)
    latency, cpu_s, wall_s = kept
    small = {"warmup": min(prof.warmup, 1), "min_runs": min(prof.min_runs, 5),
             "max_runs": min(prof.max_runs, 30)}

    def affordable(what: str, scale: float, per_point_s: float) -> bool:
        """Skip a sweep point whose warm-up + 3 runs would overrun its budget 3 times (and 2 s)
        (estimated from the base latency × the size ratio)."""
        est = latency.median_s * scale * (small["warmup"] + 3)
        if est > max(3 * per_point_s, 2.0):
            notes.append(f"{what} not measured: about {est:.1f} s for warm-up and 3 runs, over "
                         f"its share of the time budget ({per_point_s:.1f} s)")
            return False
        return True

    say("batch sizes")
    b0 = resolved.inputs.batch_size
    batches: list[BatchPoint] = []
    sizes_b = sorted(set(prof.batch_sizes or DEFAULT_BATCHES) | {b0})
    per = budget * BUDGET["batches"] / max(1, len(sizes_b))
    for b in sizes_b:
        if b == b0:
            st = latency
        elif not fits(b / b0):
            notes.append(f"batch {b} not measured: it would exceed the RAM guard")
            continue
        elif not affordable(f"batch {b}", b / b0, per):
            continue
        else:
            st = time_model(runner_for(resolved.inputs.model_copy(update={"batch_size": b})),
                            device, budget_s=per, threads=threads0, **small)
        batches.append(BatchPoint(batch_size=b, latency=st, throughput_per_s=b / st.median_s))

    thread_points: list[ThreadPoint] = []
    if device == "cpu":
        say("threads")
        counts = prof.threads or default_threads(cores)
        per = budget * BUDGET["threads"] / max(1, len(counts))
        try:
            for n in counts:
                if n != threads0 and not affordable(f"{n} thread(s)", max(1.0, threads0 / n), per):
                    continue
                torch.set_num_threads(n)
                st = latency if n == threads0 else time_model(main, device, budget_s=per, threads=n, **small)
                thread_points.append(ThreadPoint(threads=n, latency=st, speedup=1.0))
        finally:
            torch.set_num_threads(threads0)
        if thread_points:
            ref = thread_points[0].latency.median_s
            for tp in thread_points:
                tp.speedup = ref / tp.latency.median_s

    sizes: list[SizePoint] = []
    if size_axis is not None:
        say("input sizes")
        axis, values = size_axis
        per = budget * BUDGET["sizes"] / max(1, len(values))
        base_v = {"image_size": float(getattr(resolved.inputs.image, "height", 0) or 0)}.get(axis)
        for v in values:
            inp = with_size(resolved.inputs, axis, v)  # type: ignore[arg-type]
            ref_v = base_v or _axis_value(resolved.inputs, axis)
            scale = (v / ref_v) ** (2 if axis == "image_size" else 1) if ref_v else 1.0
            if scale > 1 and not affordable(f"{axis} = {v:g}", scale, per):
                continue
            try:
                r = runner_for(inp)
                st = time_model(r, device, budget_s=per, threads=threads0, **small)
            except Exception as e:  # the model may not accept this size: noted, not fatal
                notes.append(f"{axis} = {v:g} not measured: {type(e).__name__}: {str(e)[:120]}")
                continue
            sizes.append(SizePoint(axis=axis, value=v, latency=st))

    say("profiler")
    packets = {trace_packet(r.op) for r in trace.records}
    iters = 1 if latency.median_s > 1.0 else 3
    profile = profile_pass(module, main.run, device=device, iterations=iters,
                           trace_packets=packets, sync=sync)
    host_bench = None
    if platform == "host" and device == "cpu":
        from reportgen.catalog.host import load_or_measure

        host_bench = load_or_measure()
    quality = assess(latency.cv, before, sample_load(), cores,
                     cpu=cpu_use(cpu_s, wall_s, threads0 if device == "cpu" else None),
                     retimed=retimed)
    quality.implausible += implausible_threads([(p.threads, p.speedup) for p in thread_points])
    return MeasuredRun(
        machine=machine_info(device), platform=platform, host_benchmarks=host_bench, device=device,
        dtype=str(dtype).replace("torch.", ""), input_description=loaded.input_description,
        batch_size=b0, latency=latency, batches=batches, threads=thread_points, sizes=sizes,
        profile=profile, time_budget_s=budget, seconds=time.perf_counter() - t_start,
        measured_at=time.strftime("%Y-%m-%dT%H:%M:%S"), notes=notes, quality=quality,
        model_memory=model_memory(module, profile, device))


def weights_bytes(module: Any) -> int:
    """Bytes of a module's parameters and buffers, each storage once (tied weights)."""
    seen: set[int] = set()
    total = 0
    for t in [*module.parameters(), *module.buffers()]:
        key = t.untyped_storage().data_ptr() if t.device.type != "meta" else id(t)
        if key in seen:
            continue
        seen.add(key)
        total += t.untyped_storage().nbytes()
    return total


def model_memory(module: Any, profile: ProfilePass | None, device: str) -> ModelMemory:
    """Weights + the allocator's forward peak (see ``ModelMemory`` for the mechanisms)."""
    w = weights_bytes(module)
    if device == "cuda":
        peak = None
        if profile and profile.device_peak_bytes is not None:
            peak = max(0, profile.device_peak_bytes - (profile.device_baseline_bytes or 0))
        return ModelMemory(weights_bytes=w, forward_peak_bytes=peak,
                           mechanism="cuda_max_memory_allocated")
    return ModelMemory(weights_bytes=w,
                       forward_peak_bytes=profile.peak_allocated_bytes if profile else None,
                       mechanism="profiler_cpu_allocator")


def _axis_value(inputs: Any, axis: str) -> float | None:
    """The base value of a scaling axis in ``inputs``."""
    part = {"sequence_length": ("text", "sequence_length"), "audio_seconds": ("audio", "seconds"),
            "num_candidates": ("recsys", "num_candidates")}.get(axis)
    if part is None:
        return None
    sec = getattr(inputs, part[0], None)
    return float(getattr(sec, part[1])) if sec is not None else None


# ---------------------------------------------------------------------------- comparison

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
