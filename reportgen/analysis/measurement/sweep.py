"""Measured profiling on real tensors (``measure``): latency (median, p90, p99, mean, std of
repeated runs until the median is stable), throughput across batch sizes, the effect of the thread
count, a few input sizes for the scaling stage (the study's own size reuses the latency runs),
and one torch.profiler pass (see ``profile_ops``), each sweep within its share (``BUDGET``) of
``profiling.time_budget_s``.

On the CPU by default (this machine, the ``host`` platform); on CUDA with ``device="cuda"``:
CUDA events time each run, the profiler records CUDA activity and the peak GPU memory is read.
Everything runs under ``torch.inference_mode()``. Times are seconds, memory bytes. A model over
the RAM guard (``resources.too_big``) raises ``MemoryError`` before it is built.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

from reportgen.analysis.measurement.models import BatchPoint, MeasuredRun, SizePoint, ThreadPoint
from reportgen.analysis.measurement.quality import (
    assess,
    cpu_use,
    implausible_threads,
    process_cpu_seconds,
    sample_load,
    timed_with_retry,
)
from reportgen.analysis.measurement.resources import (
    available_ram,
    machine_info,
    model_memory,
    too_big,
)
from reportgen.analysis.measurement.runner import Runner, make_runner, time_model
from reportgen.analysis.measurement.timing import LatencyStats
from reportgen.spec.schema import Profiling

DEFAULT_BATCHES = [1, 2, 4, 8]
# shares of profiling.time_budget_s
BUDGET = {"latency": 0.4, "batches": 0.25, "threads": 0.2, "sizes": 0.15}
# the profiler pass: about PROFILE_S of profiled runs, or PROFILE_SHARE of a shorter budget
PROFILE_S, PROFILE_SHARE = 1.0, 0.1


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
            if inp == resolved.inputs:  # the study's own input: already timed above
                sizes.append(SizePoint(axis=axis, value=v, latency=latency))
                continue
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
    # about a second of profiled runs (1–3 iterations), or a tenth of a shorter budget: enough
    # samples for the op shares, which are scaled to the unprofiled time anyway, without paying
    # the profiler's overhead thrice
    target_s = min(PROFILE_S, PROFILE_SHARE * budget)
    iters = max(1, min(3, round(target_s / max(latency.median_s, 1e-9))))
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



def _axis_value(inputs: Any, axis: str) -> float | None:
    """The base value of a scaling axis in ``inputs``."""
    part = {"sequence_length": ("text", "sequence_length"), "audio_seconds": ("audio", "seconds"),
            "num_candidates": ("recsys", "num_candidates")}.get(axis)
    if part is None:
        return None
    sec = getattr(inputs, part[0], None)
    return float(getattr(sec, part[1])) if sec is not None else None

