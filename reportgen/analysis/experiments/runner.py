"""Run the registered methods on the host, each isolated.

Isolation is in-process: every method runs under try/except and, in the main thread, a
``SIGALRM`` deadline (``method_budget_s``) that interrupts Python-level work such as
``torch.compile`` or a long calibration (a single native kernel still runs to its end). A
method that raises, overruns or is not applicable becomes a row with its reason; the others
still run. A method that needs more of the total budget than is left (``min_budget_s``) is not
started. Nothing is written to disk: ONNX models and state dicts are serialized in memory.

Timing is section 4's harness (``measurement.timing.time_runs`` through
``measurement.runner.time_model``): same warm-up, minimum/maximum runs and stability rule, with
each method's share of the budget.
"""

from __future__ import annotations

import io
import signal
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from reportgen.analysis.experiments.fidelity import compare, output_shape_change
from reportgen.analysis.experiments.models import ExperimentRun, Metric
from reportgen.analysis.experiments.registry import (
    Applied,
    Inputs,
    Method,
    Prepare,
    Subject,
    Unavailable,
    missing_requirement,
)
from reportgen.analysis.measurement.runner import Runner, time_model
from reportgen.analysis.measurement.timing import LatencyStats
from reportgen.text import msg

Evaluate = Callable[[Any], dict[str, float]]
Progress = Callable[[str], None]


class ExperimentTimeout(Exception):
    pass


@contextmanager
def deadline(seconds: float | None) -> Iterator[None]:
    """Raise ExperimentTimeout in the main thread after ``seconds`` (no-op elsewhere)."""
    if (not seconds or threading.current_thread() is not threading.main_thread()
            or not hasattr(signal, "setitimer")):
        yield
        return

    def on_alarm(signum: int, frame: Any) -> None:
        raise ExperimentTimeout(f"over its {seconds:.0f} s budget")
    old = signal.signal(signal.SIGALRM, on_alarm)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, old)


def serialized_size(module: Any) -> int | None:
    """Bytes of ``torch.save(state_dict)`` in memory; None when it cannot be serialized."""
    import torch

    try:
        buf = io.BytesIO()
        torch.save(module.state_dict(), buf)
        return len(buf.getvalue())
    except Exception:  # tensor subclasses without pickling support: size unknown
        return None


def peak_rss_during(fn: Callable[[], Any], every_s: float = 0.002) -> int | None:
    """Process peak resident memory while ``fn`` runs, sampled every ``every_s`` (psutil)."""
    try:
        import psutil
    except ImportError:
        fn()
        return None
    proc = psutil.Process()
    peak = [proc.memory_info().rss]
    stop = threading.Event()

    def sample() -> None:
        while not stop.is_set():
            peak[0] = max(peak[0], proc.memory_info().rss)
            stop.wait(every_s)
    t = threading.Thread(target=sample, daemon=True)
    t.start()
    try:
        fn()
    finally:
        stop.set()
        t.join()
    return max(peak[0], proc.memory_info().rss)


@dataclass
class Timing:
    warmup: int = 3
    min_runs: int = 10
    max_runs: int = 200


def feed(model: Any, inputs: Inputs, prepare: Prepare | None, seed: int = 0) -> Runner:
    """``model`` with ``inputs`` ready for one forward (section 4's ``Runner``). A stateful
    forward has its state filled by ``prepare`` with this very model (a quantized decoder fills
    its own KV cache), from a prompt drawn with ``seed``: every model of one comparison sees the
    same prompt. The state is copied per run, outside the timed region."""
    import torch

    a, k = tuple(inputs[0]), dict(inputs[1])
    if prepare is not None:
        with torch.random.fork_rng(devices=[]), torch.inference_mode():
            torch.manual_seed(seed)
            a, k = prepare(model, a, k)
    return Runner(model, tuple(a), dict(k), fresh_state=prepare is not None)


def time_module(r: Runner, t: Timing, budget_s: float) -> LatencyStats:
    import torch

    return time_model(r, "cpu", warmup=t.warmup, min_runs=t.min_runs, max_runs=t.max_runs,
                      budget_s=budget_s, threads=torch.get_num_threads())


def _metrics(evaluate: Evaluate | None, model: Any) -> dict[str, float]:
    if evaluate is None:
        return {}
    import torch

    with torch.inference_mode():
        got = evaluate(model)
    return {str(k): float(v) for k, v in dict(got).items()}


@dataclass
class Baseline:
    latency: LatencyStats
    size_bytes: int | None
    peak_rss_bytes: int | None
    metrics: dict[str, float]
    outputs: list[Any]
    fidelity_inputs: list[tuple[tuple[Any, ...], dict[str, Any]]]
    runner: Runner | None = None  # the timed baseline, ready to time again
    again: LatencyStats | None = None  # the baseline timed again after the methods

    @property
    def drift(self) -> float | None:
        """Larger / smaller median of the two baseline timings (None: not timed again)."""
        if self.again is None:
            return None
        a, b = self.latency.median_s, self.again.median_s
        return max(a, b) / min(a, b) if min(a, b) > 0 else None


FLOOR_RUNS = 3  # timed runs section 4's harness takes even past its budget (timing.time_runs)


def fit(t: Timing, first_s: float, budget_s: float) -> Timing:
    """The warm-up left after a first (cold) forward of ``first_s``, cut so that warm-up and the
    harness's floor of timed runs fit ``budget_s``: a model whose forward takes seconds on this
    machine (t5-small on a busy CPU: 15 s) spent 3 warm-ups + 3 runs, six times its forward,
    before the budget was even looked at, and the stage ran past its total budget."""
    fits = int(budget_s / max(first_s, 1e-9)) - FLOOR_RUNS
    return Timing(max(0, min(t.warmup - 1, fits)), t.min_runs, t.max_runs)


def _first(r: Runner) -> float:
    ak = r.setup()
    t0 = time.perf_counter()
    r.run(ak)
    return time.perf_counter() - t0


def _with_first(lat: LatencyStats) -> LatencyStats:
    """The first (cold) forward counted among the warm-up runs, as the report states them."""
    return lat.model_copy(update={"warmup": lat.warmup + 1})


def measure_baseline(s: Subject, t: Timing, budget_s: float, fidelity_batches: int,
                     evaluate: Evaluate | None) -> Baseline:
    r = feed(s.module, s.make_inputs(), s.prepare)
    first = _first(r)  # the first warm-up
    lat = _with_first(time_module(r, fit(t, first, budget_s), budget_s))
    rss = peak_rss_during(r.run)
    # as many fidelity batches as half the baseline's budget allows (at least one)
    n = max(1, min(fidelity_batches, int(0.5 * budget_s / max(lat.median_s, 1e-9))))
    fid_in = [s.make_inputs() for _ in range(n)]
    outs = [feed(s.module, x, s.prepare, seed=i).run() for i, x in enumerate(fid_in)]
    return Baseline(lat, serialized_size(s.module), rss, _metrics(evaluate, s.module), outs, fid_in,
                    runner=r)


def timed_out(e: BaseException) -> bool:
    """Whether ``e`` is the deadline's ``ExperimentTimeout``, also when a library caught it and
    raised its own error (inductor wraps it in ``InductorError``, keeping it as the cause or only
    its name in the message)."""
    seen: set[int] = set()
    x: BaseException | None = e
    while x is not None and id(x) not in seen:
        if isinstance(x, ExperimentTimeout) or "ExperimentTimeout" in str(x):
            return True
        seen.add(id(x))
        x = x.__cause__ or x.__context__
    return False


def settle_batchnorm(module: Any, make_inputs: Callable[[], tuple[tuple[Any, ...], dict[str, Any]]],
                     batches: int = 4) -> int:
    """Set the BatchNorm running statistics of a randomly initialised ``module`` from ``batches``
    of its own inputs (cumulative average, no gradient), so that every normalised activation has
    about unit scale, as in a trained model. With the initial statistics (mean 0, variance 1) a
    deep random network's activations can shrink to ~1e-8 (torchvision's MobileNetV2), and any
    quantizer then rounds the output to zero: fidelity would measure that artefact. Returns how
    many layers were set; 0 (and the module untouched) when there are none or a forward in
    training mode fails (a batch of one into a BatchNorm over a single value)."""
    import copy

    import torch

    bns = [m for m in module.modules() if isinstance(m, torch.nn.modules.batchnorm._BatchNorm)
           and m.track_running_stats]
    if not bns:
        return 0
    saved = copy.deepcopy(module.state_dict())
    momenta = [bn.momentum for bn in bns]
    try:
        for bn in bns:
            bn.reset_running_stats()
            bn.momentum = None  # cumulative moving average over the batches
            bn.train()
        with torch.no_grad():
            for _ in range(batches):
                a, k = make_inputs()
                module(*a, **k)
    except Exception:  # the module keeps its own statistics
        module.load_state_dict(saved)
        return 0
    finally:
        for bn, mo in zip(bns, momenta, strict=True):
            bn.momentum = mo
        module.eval()
    return len(bns)


def _reason(e: BaseException) -> Any:
    text = str(e).strip().splitlines()[0][:300] if str(e).strip() else ""
    return msg("experiments.reason.error", error=f"{type(e).__name__}: {text}")


def run_one(m: Method, key: str, hyp: str | None, s: Subject, base: Baseline, t: Timing,
            budget_s: float, evaluate: Evaluate | None) -> ExperimentRun:
    """Apply one method and measure it; never raises (except KeyboardInterrupt)."""
    eid = m.id if not key else f"{m.id}_{key}"
    run = ExperimentRun(id=eid, family=m.family, hypothesis=hyp, state="ok", library=m.library)
    t0 = time.perf_counter()
    applied: Applied | None = None
    try:
        with deadline(budget_s):
            applied = m.apply(s, key)
            own = applied.make_inputs is not None  # a student: its own inputs and state
            prepare = applied.prepare if own else s.prepare
            r = feed(applied.model, applied.make_inputs() if applied.make_inputs else
                     base.fidelity_inputs[0], prepare)
            first = _first(r)  # the first warm-up (compiles, if it does)
            left = max(1.0, budget_s - (time.perf_counter() - t0))
            run.latency = _with_first(time_module(r, fit(t, first, 0.8 * left), 0.8 * left))
            run.speedup = base.latency.median_s / run.latency.median_s
            run.peak_rss_bytes = peak_rss_during(r.run)
            run.size_bytes = applied.size_bytes if applied.size_bytes is not None \
                else serialized_size(applied.model)
            run.notes = list(applied.notes)
            if applied.comparable:
                outs = [feed(applied.model, x, prepare, seed=i).run()
                        for i, x in enumerate(base.fidelity_inputs)]
                changed = output_shape_change(base.outputs, outs)
                if changed is None:
                    run.fidelity = compare(base.outputs, outs)
                else:  # e.g. structured pruning of a model whose output is its hidden states
                    run.notes.append(msg("experiments.note.output_changed", before=changed[0],
                                         after=changed[1]))
                after = _metrics(evaluate, applied.model)
                run.metrics = [Metric(name=k, before=v, after=after.get(k))
                               for k, v in base.metrics.items()]
    except KeyboardInterrupt:
        raise
    except Unavailable as e:
        run.state, run.reason = "unavailable", e.reason
        run.latency = run.speedup = None
    except ExperimentTimeout:
        run.state, run.reason = "timeout", msg("experiments.reason.timeout", budget=budget_s)
        run.latency = run.speedup = None
    except Exception as e:  # any failure of one method stays local
        if timed_out(e):
            run.state, run.reason = "timeout", msg("experiments.reason.timeout", budget=budget_s)
        else:
            run.state, run.reason = "failed", _reason(e)
        run.latency = run.speedup = None
    finally:
        if applied is not None and applied.cleanup is not None:
            try:
                applied.cleanup()
            except Exception:  # cleaning up must not turn a result into a failure
                pass
    run.seconds = round(time.perf_counter() - t0, 3)
    return run


def run_all(s: Subject, methods: list[Method], *, timing: Timing, budget_s: float,
            method_budget_s: float, fidelity_batches: int = 3, evaluate: Evaluate | None = None,
            progress: Progress | None = None) -> tuple[Baseline, list[ExperimentRun]]:
    """The baseline, then every method in order within the total budget."""
    say = progress or (lambda _: None)
    start = time.perf_counter()
    say("baseline")
    base = measure_baseline(s, timing, min(method_budget_s, budget_s) * 0.5, fidelity_batches,
                            evaluate)
    planned: list[tuple[Method, str, str | None]] = []
    runs: list[ExperimentRun] = []
    for m in methods:
        missing = missing_requirement(m)
        na = msg("experiments.na.missing_package", package=missing) if missing else m.applies(s)
        if na is not None:
            runs.append(ExperimentRun(id=m.id, family=m.family, hypothesis=m.hypothesis,
                                      state="unavailable" if missing else "not_applicable",
                                      reason=na, library=m.library))
            continue
        for key, hyp in (m.instances(s) if m.instances else [("", m.hypothesis)]):
            planned.append((m, key, hyp))
    for i, (m, key, hyp) in enumerate(planned, 1):
        left = budget_s - (time.perf_counter() - start)
        eid = m.id if not key else f"{m.id}_{key}"
        if left < max(m.min_budget_s, 1.0):
            reason = msg("experiments.reason.budget", left=max(left, 0.0), need=m.min_budget_s) \
                if m.min_budget_s >= 1.0 and left >= 1.0 else \
                msg("experiments.reason.budget_spent", budget=budget_s)
            runs.append(ExperimentRun(id=eid, family=m.family, hypothesis=hyp, state="budget",
                                      library=m.library, reason=reason))
            continue
        say(f"{i}/{len(planned)} {eid}")
        runs.append(run_one(m, key, hyp, s, base, timing, min(method_budget_s, left), evaluate))
    # the baseline once more, when the budget allows: the machine's load can change between the
    # baseline and the methods (another job starts), which no single timing's CV shows
    left = budget_s - (time.perf_counter() - start)
    if any(r.speedup is not None for r in runs) and left > 4 * base.latency.median_s:
        say("baseline again")
        again = base.runner or feed(s.module, base.fidelity_inputs[0], s.prepare)
        base.again = time_module(again, Timing(1, 3, 10), min(left, 0.5 * min(method_budget_s, budget_s)))
    return base, runs
