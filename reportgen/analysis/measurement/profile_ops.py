"""One torch.profiler pass over a built model: self time per op, per leaf-module type, input
shapes and memory per op. Kept apart from the timing runs because the profiler adds overhead.

Profiler names (``aten::mkldnn_convolution``) are mapped to the trace's op packets
(``convolution``) and to op classes (``formulas.classify``). Self time excludes child ops, so a
composite op (``aten::conv2d``) keeps only its dispatch overhead and the kernel its work.
Leaf modules are wrapped in ``record_function("module::<name>")`` ranges by forward hooks.
"""

from __future__ import annotations

import contextlib
import os
import resource
import sys
import time
from collections import defaultdict
from collections.abc import Callable, Iterator
from typing import Any

from reportgen.analysis.counting.formulas import classify
from reportgen.analysis.measurement.models import GROUPS, LayerTime, ProfiledOp, ProfilePass

# CPU/CUDA kernel names → the op packet the meta trace records for the same work
ALIASES: dict[str, str] = {
    "mkldnn_convolution": "convolution", "_convolution": "convolution", "conv1d": "convolution",
    "conv2d": "convolution", "conv3d": "convolution", "_slow_conv2d_forward": "convolution",
    "thnn_conv2d": "convolution", "_nnpack_spatial_convolution": "convolution",
    "cudnn_convolution": "convolution", "conv_transpose2d": "convolution",
    "_batch_norm_impl_index": "native_batch_norm", "batch_norm": "native_batch_norm",
    "_native_batch_norm_legit_no_training": "native_batch_norm",
    "cudnn_batch_norm": "native_batch_norm", "layer_norm": "native_layer_norm",
    "group_norm": "native_group_norm", "clamp_min_": "relu_", "clamp_min": "relu",
    "linear": "addmm", "matmul": "mm", "softmax": "_softmax", "max_pool2d": "max_pool2d_with_indices",
    "adaptive_avg_pool2d": "mean", "_adaptive_avg_pool2d": "mean", "index_select": "embedding",
    "embedding_bag": "_embedding_bag", "_embedding_bag_forward_only": "_embedding_bag",
    "scaled_dot_product_attention": "_scaled_dot_product_attention",
    "dropout": "clone", "contiguous": "clone", "copy_": "clone",
}

MODULE_PREFIX = "module::"


def packet(profiler_name: str) -> str:
    """``aten::addmm`` → ``addmm``; other names unchanged."""
    return profiler_name.split("::", 1)[1] if "::" in profiler_name else profiler_name


def trace_packet(op: str) -> str:
    """``aten.addmm.default`` → ``addmm``."""
    parts = op.split(".")
    return parts[1] if len(parts) >= 3 and parts[0] in ("aten", "prims") else op


def canonical(profiler_name: str, trace_packets: set[str] | None = None) -> str:
    """The trace packet a profiler op most likely corresponds to."""
    p = packet(profiler_name)
    if trace_packets is not None and p in trace_packets:
        return p
    return ALIASES.get(p, p)


def kind_of(profiler_name: str) -> str:
    p = packet(profiler_name)
    k = classify(p)
    if k.value == "other" and p in ALIASES:
        k = classify(ALIASES[p])
    if k.value == "other" and "attention" in p:  # fused kernels: _cudnn_attention_forward, ...
        return "attention"
    return k.value


@contextlib.contextmanager
def leaf_module_ranges(model: Any) -> Iterator[None]:
    """Wrap every leaf module's forward in a ``module::<qualified name>`` profiler range."""
    import torch

    stacks: dict[int, list[Any]] = defaultdict(list)
    handles = []
    for name, mod in model.named_modules():
        if next(mod.children(), None) is not None:
            continue
        label = f"{MODULE_PREFIX}{type(mod).__name__}::{name or '<root>'}"

        def pre(m: Any, args: Any, _label: str = label) -> None:
            rf = torch.profiler.record_function(_label)
            rf.__enter__()
            stacks[id(m)].append(rf)

        def post(m: Any, args: Any, out: Any) -> None:
            if stacks[id(m)]:
                stacks[id(m)].pop().__exit__(None, None, None)

        handles.append(mod.register_forward_pre_hook(pre))
        handles.append(mod.register_forward_hook(post, always_call=True))
    try:
        yield
    finally:
        for h in handles:
            h.remove()


def peak_rss_bytes() -> int | None:
    """Peak resident set size of this process since it started (ru_maxrss), bytes."""
    try:
        rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    except (OSError, ValueError):
        return None
    return int(rss) if sys.platform == "darwin" else int(rss) * 1024


def quiet_kineto(device: str) -> None:
    """Silence the profiler's CUDA probe on a CPU run. A CUDA build of torch starts kineto, which
    asks the driver for devices and prints ``ERROR: ... gpuGetDeviceCount failed with code 35``
    (and ``USDT ... profiler_start``) to stderr on a machine without a GPU: noise, not a fault.
    Kineto reads ``KINETO_LOG_LEVEL`` when the first profiler starts; 6 is above its highest level.
    A value the user set is kept."""
    if device != "cuda":
        os.environ.setdefault("KINETO_LOG_LEVEL", "6")


def profile_pass(model: Any, run: Callable[[], Any], *, device: str = "cpu", iterations: int = 3,
                 trace_packets: set[str] | None = None, top: int = 25,
                 sync: Callable[[], None] | None = None) -> ProfilePass:
    """Profile ``iterations`` calls of ``run`` (already warmed up) and aggregate per pass."""
    import torch

    quiet_kineto(device)
    from torch.profiler import ProfilerActivity, profile, schedule

    activities = [ProfilerActivity.CPU]
    if device == "cuda":
        activities.append(ProfilerActivity.CUDA)
        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats()
    baseline = int(torch.cuda.memory_allocated()) if device == "cuda" else None
    # one untimed step inside the profiler first: the first profiled call pays set-up costs
    sched = schedule(wait=0, warmup=1, active=iterations, repeat=1)
    with leaf_module_ranges(model), profile(activities=activities, record_shapes=True,
                                            profile_memory=True, schedule=sched) as prof:
        run()
        prof.step()
        if sync:
            sync()
        t0 = time.perf_counter()
        for _ in range(iterations):
            run()
            prof.step()
        if sync:
            sync()
        wall = (time.perf_counter() - t0) / iterations
    n = max(1, iterations)
    events = prof.events()
    ops, layers, mem_events = _split(events)
    use_device = device == "cuda"

    if use_device:  # kernels are attributed to the CPU-side op that launched them
        ops = [e for e in ops if str(getattr(e, "device_type", "")).endswith("CPU")]
    by_op: dict[str, dict[str, Any]] = {}
    for e in ops:
        key = e.name
        t = (getattr(e, "self_device_time_total", 0.0) if use_device else e.self_cpu_time_total)
        d = by_op.setdefault(key, {"calls": 0, "time_us": 0.0, "mem": 0, "shapes": set()})
        d["calls"] += 1
        d["time_us"] += float(t or 0.0)
        d["mem"] += int(getattr(e, "self_device_memory_usage" if use_device else "self_cpu_memory_usage", 0) or 0)
        shapes = getattr(e, "input_shapes", None)
        if shapes and len(d["shapes"]) < 3:
            d["shapes"].add(_fmt_shapes(shapes))
    total_us = sum(d["time_us"] for d in by_op.values()) or 1.0
    rows: list[ProfiledOp] = []
    by_group: dict[str, float] = defaultdict(float)
    for name, d in by_op.items():
        kind = kind_of(name)
        group = GROUPS.get(kind, "other")
        by_group[group] += d["time_us"] / 1e6 / n
        rows.append(ProfiledOp(
            name=name, trace_op=canonical(name, trace_packets), kind=kind, group=group,
            calls=d["calls"] // n, self_time_s=d["time_us"] / 1e6 / n, share=d["time_us"] / total_us,
            self_memory_bytes=d["mem"] // n, input_shapes=sorted(d["shapes"])))
    rows.sort(key=lambda r: -r.self_time_s)

    layer_time: dict[str, list[float]] = defaultdict(list)
    for e in layers:
        layer_type = e.name[len(MODULE_PREFIX):].split("::", 1)[0]
        t_layer = getattr(e, "device_time_total", 0.0) if use_device else e.cpu_time_total
        layer_time[layer_type].append(float(t_layer or 0.0))
    in_layers = sum(sum(v) for v in layer_time.values()) / 1e6 / n
    fwd = wall if not use_device else total_us / 1e6 / n
    layer_rows = sorted(
        (LayerTime(layer_type=k, modules=max(1, len(v) // n), time_s=sum(v) / 1e6 / n,
                   share=(sum(v) / 1e6 / n) / fwd if fwd > 0 else 0.0) for k, v in layer_time.items()),
        key=lambda r: -r.time_s)
    return ProfilePass(
        iterations=n, activities=[a.name for a in activities], total_self_time_s=total_us / 1e6 / n,
        wall_time_s=wall, ops=rows[:top], by_group=dict(by_group), layers=layer_rows,
        outside_leaf_modules_s=max(0.0, fwd - in_layers), peak_allocated_bytes=_peak(mem_events, n),
        device_peak_bytes=int(torch.cuda.max_memory_allocated()) if use_device else None,
        device_baseline_bytes=baseline,
        process_peak_rss_bytes=peak_rss_bytes())


def _split(events: Any) -> tuple[list[Any], list[Any], list[Any]]:
    """(ops, leaf-module ranges, memory events) of a profile, ops at the top of their nesting
    or below: every op is kept because self time does not double count."""
    ops, layers, mem = [], [], []
    for e in events:
        if e.name == "[memory]":
            mem.append(e)
        elif e.name.startswith(MODULE_PREFIX):
            layers.append(e)
        elif getattr(e, "is_user_annotation", False) or e.name.startswith("ProfilerStep"):
            continue
        else:
            ops.append(e)
    return ops, layers, mem


def _peak(mem_events: list[Any], n: int) -> int | None:
    """Peak of the running sum of allocations over the profiled passes, bytes."""
    if not mem_events:
        return None
    evs = sorted(mem_events, key=lambda e: e.time_range.start)
    live = peak = 0
    for e in evs:
        live += int(e.cpu_memory_usage or 0) + int(getattr(e, "device_memory_usage", 0) or 0)
        peak = max(peak, live)
    return peak


def _fmt_shapes(shapes: Any) -> str:
    parts = []
    for s in shapes:
        if isinstance(s, (list, tuple)) and s and all(isinstance(x, int) for x in s):
            parts.append("×".join(str(x) for x in s))
        elif isinstance(s, (list, tuple)) and not s:
            continue
    return ", ".join(parts) if parts else "—"
