"""A model on a device with its inputs ready, and its latency: ``Runner`` (untimed ``setup``, one
forward under ``torch.inference_mode()`` per ``run``; state a forward mutates, such as a KV cache,
is copied per run), ``make_runner`` (inputs moved to the device and dtype, ``prepare`` applied) and
``time_model`` (``timing.time_runs`` with perf_counter on the CPU; on CUDA an untimed spin-up of
``CUDA_SPINUP_S`` and CUDA events per run). Times are seconds.
"""

from __future__ import annotations

import copy
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from reportgen.analysis.measurement.timing import LatencyStats, time_runs

CUDA_SPINUP_S = 1.0  # untimed GPU warm-up before each CUDA timing, s


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
        from reportgen.allocator import steady_allocator

        alloc = steady_allocator()  # before the warm-up: its activations are kept from then on
        st = time_runs(r.run, setup=r.setup, warmup=warmup, min_runs=min_runs,
                       max_runs=max_runs, budget_s=budget_s, threads=threads)
        return st.model_copy(update={"allocator": alloc}) if alloc else st
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

