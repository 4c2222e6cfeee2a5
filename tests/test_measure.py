"""Measured profiling: statistics on a controlled timer, the RAM guard, a real small measurement
and the measurements file round trip through the CLI (profile → build --measurements)."""

from __future__ import annotations

import json
import os
import statistics
from pathlib import Path
from types import SimpleNamespace

import pytest
from typer.testing import CliRunner

from reportgen import pipeline
from reportgen.analysis.measurement import measure, resources
from reportgen.analysis.measurement.timing import median_is_stable, percentile, summarize, time_runs
from reportgen.analysis.stage import Products, StageSkipped
from reportgen.spec.schema import Profiling, StudySpec

KWS = """\
title: "KWS"
model:
  card: ds_cnn_s
platform: raspberry_pi_5
profiling: {time_budget_s: 1.5, min_runs: 5, max_runs: 40, warmup: 1}
output: {formats: [md]}
"""


class FakeClock:
    """A timer whose runs take the given durations (s); each read advances by ``tick``."""

    def __init__(self, durations: list[float], tick: float = 0.0) -> None:
        self.durations = list(durations)
        self.now = 0.0
        self.tick = tick
        self.reads = 0

    def __call__(self) -> float:
        self.reads += 1
        self.now += self.tick
        return self.now

    def run(self, _: object) -> None:
        self.now += self.durations.pop(0) if self.durations else 0.0


# ---------------------------------------------------------------------------- statistics

def test_percentiles_interpolate_linearly() -> None:
    xs = [float(x) for x in range(1, 101)]  # 1..100
    assert percentile(xs, 50) == pytest.approx(50.5)
    assert percentile(xs, 90) == pytest.approx(90.1)
    assert percentile(xs, 99) == pytest.approx(99.01)
    assert percentile([3.0], 99) == 3.0
    with pytest.raises(ValueError):
        percentile([], 50)


def test_summarize_closed_form() -> None:
    xs = [0.010, 0.012, 0.011, 0.013, 0.050]
    s = summarize(xs, warmup=2, stop_reason="stable", threads=4)
    assert s.median_s == pytest.approx(0.012)
    assert s.mean_s == pytest.approx(statistics.fmean(xs))
    assert s.std_s == pytest.approx(statistics.stdev(xs))
    assert s.cv == pytest.approx(s.std_s / s.mean_s)
    assert (s.min_s, s.max_s, s.runs, s.warmup, s.threads) == (0.010, 0.050, 5, 2, 4)
    assert s.median_s <= s.p90_s <= s.p99_s <= s.max_s


def test_time_runs_stops_when_the_median_is_stable() -> None:
    clock = FakeClock([0.02] * 100)
    s = time_runs(clock.run, timer=clock, warmup=3, min_runs=10, max_runs=100, budget_s=1e9)
    assert s.stop_reason == "stable"
    assert s.runs == 10  # constant samples: stable as soon as min_runs allows
    assert s.median_s == pytest.approx(0.02)
    assert s.p99_s == pytest.approx(0.02)
    assert len(clock.durations) == 100 - 3 - 10  # warm-up runs consumed, untimed


def test_time_runs_max_runs_when_never_stable() -> None:
    noisy = [0.01 * (1 + i) for i in range(60)]  # a drifting machine: the median keeps moving
    clock = FakeClock(noisy)
    s = time_runs(clock.run, timer=clock, warmup=0, min_runs=5, max_runs=30, budget_s=1e9)
    assert s.stop_reason == "max_runs"
    assert s.runs == 30
    assert s.samples_s == pytest.approx(noisy[:30])


def test_time_runs_budget_keeps_a_floor_of_runs() -> None:
    clock = FakeClock([1.0] * 50)  # 1 s per run, budget 2 s: the floor of 3 runs still holds
    s = time_runs(clock.run, timer=clock, warmup=1, min_runs=10, max_runs=100, budget_s=2.0)
    assert s.stop_reason == "time_budget"
    assert s.runs == 3
    assert s.median_s == pytest.approx(1.0)


def test_median_stability_rule() -> None:
    assert not median_is_stable([1.0] * 5)  # too few samples
    assert median_is_stable([1.0] * 10)
    assert not median_is_stable([1.0] * 6 + [2.0] * 6)


# ---------------------------------------------------------------------------- guard

def test_too_big_says_why() -> None:
    assert resources.too_big(1e9, 1e9, available_bytes=8e9) is None
    reason = resources.too_big(3e9, 2e9, available_bytes=8e9)
    assert reason is not None
    assert "5.00 GB" in reason and "50%" in reason and "8.00 GB" in reason and "not measured" in reason
    assert resources.too_big(1e12, 0, available_bytes=None) is None  # unknown RAM: no guard


def _spec(card: str, **extra: object) -> StudySpec:
    return StudySpec.model_validate({"title": "t", "model": {"card": card},
                                     "platform": "raspberry_pi_5", **extra})


def _stages(*names: str) -> list[pipeline.Stage]:
    return [s for s in pipeline.STAGES if s.name in names]


def test_model_too_big_for_ram_is_skipped_with_reason(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(measure, "available_ram", lambda: 10_000)  # 10 kB "available"
    r = pipeline.run(_spec("ds_cnn_s"), stages=_stages("model", "trace", "measure"))
    st = r.stage("measure")
    assert st is not None and st.state == "not_available"
    assert "RAM" in (st.reason or "") and "not measured" in (st.reason or "")
    assert r.measurements is None


def test_meta_only_card_is_never_materialised() -> None:
    ctx = SimpleNamespace(
        products=Products(resolved=SimpleNamespace(card=SimpleNamespace(id="llama_7b", meta_only=True)),
                          trace=SimpleNamespace(param_bytes=1, peak_activation_bytes=1)),
        deterministic=False, spec=SimpleNamespace(profiling=Profiling()))
    with pytest.raises(StageSkipped, match="meta-only"):
        measure.stage(ctx, SimpleNamespace())


def test_snapshot_mode_measures_nothing() -> None:
    r = pipeline.run(_spec("ds_cnn_s"), deterministic=True, stages=_stages("model", "trace", "measure"))
    st = r.stage("measure")
    assert st is not None and st.state == "not_available" and "snapshot" in (st.reason or "")


# ---------------------------------------------------------------------------- real measurement

def test_real_small_measurement_is_sane() -> None:
    spec = _spec("ds_cnn_s", profiling={"time_budget_s": 1.5, "min_runs": 5, "max_runs": 40,
                                        "warmup": 1, "batch_sizes": [1, 2], "threads": [1]})
    r = pipeline.run(spec, stages=_stages("model", "trace", "measure"))
    assert r.stage("measure").state == "ok", r.stage("measure")
    m = r.measurements
    run = m.run
    lat = run.latency
    assert 0 < lat.min_s <= lat.median_s <= lat.p90_s <= lat.p99_s <= lat.max_s < 1.0
    assert lat.runs >= 3 and lat.runs == len(lat.samples_s)
    assert run.machine.cores and run.machine.torch and run.device == "cpu"
    batches = [b.batch_size for b in run.batches]
    # a point is skipped (and noted) only when a loaded machine makes it too slow for the budget
    assert batches == [1, 2] or (batches == [1] and any("batch 2" in n for n in run.notes))
    assert run.batches[-1].throughput_per_s == pytest.approx(batches[-1] / run.batches[-1].latency.median_s)
    threads = [t.threads for t in run.threads]
    assert threads == [1] or (threads == [] and any("thread" in n for n in run.notes))
    # the scaling sweep's point at the study's own input size is the latency run itself
    base = [p for p in run.sizes if p.value == 1.0]  # ds_cnn_s: 1 s of audio
    assert len(base) == 1 and base[0].latency == lat, [p.value for p in run.sizes]
    prof = run.profile
    assert prof is not None and prof.ops
    assert sum(o.share for o in prof.ops) <= 1.0 + 1e-9
    # a CNN spends a large part of its time in convolutions (summed over the conv ops: the single
    # rows reorder under load, e.g. ReLU's clamp_min can rank above each convolution row alone)
    conv_share = sum(o.share for o in prof.ops if o.kind == "conv")
    assert conv_share > 0.2, [(o.kind, o.name, round(o.share, 3)) for o in prof.ops[:6]]
    assert any(layer.layer_type == "Conv2d" for layer in prof.layers)
    assert prof.process_peak_rss_bytes and prof.process_peak_rss_bytes > 1e6
    q = run.quality
    assert q is not None and q.cv == pytest.approx(lat.cv) and q.cores == run.machine.cores
    assert q.noisy == bool(q.reasons)
    assert q.cpu is not None and q.cpu.busy_cores > 0  # the timed runs used CPU time
    mm = run.model_memory
    assert mm is not None and mm.mechanism == "profiler_cpu_allocator"
    assert mm.weights_bytes > 50_000  # DS-CNN-S: tens of thousands of fp32 parameters
    cmp = m.comparison
    assert cmp is not None, m.comparison_error
    assert cmp.total.measured_s == pytest.approx(lat.median_s)
    assert cmp.total.predicted_s > 0 and cmp.total.ratio is not None and cmp.total.ratio > 0
    assert sum(g.measured_s for g in cmp.groups) == pytest.approx(lat.median_s)


# ---------------------------------------------------------------------------- CLI round trip

@pytest.fixture(scope="module")
def profiled(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    from reportgen.cli.main import app

    d = tmp_path_factory.mktemp("profile")
    spec = d / "kws.yaml"
    spec.write_text(KWS, encoding="utf-8")
    out = d / "measurements.json"
    res = CliRunner().invoke(app, ["profile", str(spec), "-o", str(out), "--budget", "1"])
    assert res.exit_code == 0, res.output
    return spec, out


def test_profile_writes_a_measurements_file(profiled: tuple[Path, Path]) -> None:
    _, out = profiled
    data = json.loads(out.read_text(encoding="utf-8"))
    assert data["kind"] == "reportgen-measurements" and data["model"] == "card:ds_cnn_s"
    assert data["run"]["latency"]["median_s"] > 0
    assert data["run"]["host_benchmarks"]["peaks_tflops"]["fp32"] > 0


def test_build_merges_measurements_file(profiled: tuple[Path, Path], tmp_path: Path) -> None:
    from reportgen.cli.main import app

    spec, out = profiled
    res = CliRunner().invoke(app, ["build", str(spec), "--measurements", str(out), "--deterministic",
                                   "-f", "md", "-o", str(tmp_path / "o")])
    assert res.exit_code in (0, 1), res.output
    data = json.loads((tmp_path / "o" / "kws" / "data.json").read_text(encoding="utf-8"))
    assert data["measurements"]["source"] == "file"
    assert data["measurements"]["comparison"]["total"]["ratio"] > 0
    md = (tmp_path / "o" / "kws" / "report.md").read_text(encoding="utf-8")
    assert "Merged from the measurements file" in md and "Measured vs predicted" in md


@pytest.mark.parametrize("change, message", [
    (lambda d: d.update(model="card:resnet18"), "this study is model"),
    (lambda d: d["inputs"]["audio"].update(seconds=2.0), "other inputs"),
    (lambda d: d.update(kind="something-else"), "not a measurements file"),
    (lambda d: d["run"].pop("latency"), "malformed"),
])
def test_build_rejects_a_wrong_measurements_file(profiled: tuple[Path, Path], tmp_path: Path,
                                                 change: object, message: str) -> None:
    from reportgen.cli.main import app

    spec, out = profiled
    data = json.loads(out.read_text(encoding="utf-8"))
    change(data)  # type: ignore[operator]
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps(data), encoding="utf-8")
    res = CliRunner().invoke(app, ["build", str(spec), "--measurements", str(bad), "-f", "md",
                                   "-o", str(tmp_path / "o")])
    assert res.exit_code == 2
    assert message in res.output
    assert not (tmp_path / "o" / "kws").exists()


# ---------------------------------------------------------------------------- comparison (pure)

def _op(i: int, op: str, kind: str, t: float) -> object:
    from reportgen.analysis.prediction.estimates import OpEstimate

    return OpEstimate(index=i, op=op, kind=kind, module="m", flops=1, bytes=1.0,
                      arithmetic_intensity_flop_per_byte=1.0, compute_time_s=t, memory_time_s=t,
                      ideal_time_s=t / 2, predicted_time_s=t, bound="compute")


def test_compare_classes_efficiency_and_flags() -> None:
    from reportgen.analysis.measurement.compare import compare
    from reportgen.analysis.measurement.models import Machine, MeasuredRun, ProfiledOp, ProfilePass
    from reportgen.analysis.prediction.estimates import PrecisionEstimate

    def row(name: str, trace_op: str | None, kind: str, group: str, t: float) -> ProfiledOp:
        return ProfiledOp(name=name, trace_op=trace_op, kind=kind, group=group, calls=1,
                          self_time_s=t, share=t / 10.0)

    prof = ProfilePass(
        iterations=1, activities=["CPU"], total_self_time_s=10.0, wall_time_s=10.0,
        ops=[row("aten::addmm", "addmm", "matmul", "matmul_conv", 5.0),
             row("aten::_cudnn_attention_forward", None, "attention", "attention", 2.0),
             row("aten::copy_", "clone", "data_movement", "data_movement", 2.0),
             row("aten::gelu", "gelu", "elementwise", "elementwise_norm", 1.0)],
        by_group={"matmul_conv": 5.0, "attention": 2.0, "data_movement": 2.0, "elementwise_norm": 1.0})
    run = MeasuredRun(machine=Machine(cpu_model="x", torch="t", device="cpu"), device="cpu",
                      dtype="float32", input_description="i", batch_size=1,
                      latency=summarize([0.020, 0.020, 0.020]), profile=prof, time_budget_s=1.0,
                      seconds=1.0, measured_at="now")
    est = PrecisionEstimate(precision="fp32", status="ok", ops=[
        _op(0, "aten.addmm.default", "matmul", 0.005), _op(1, "aten.bmm.default", "attention", 0.002),
        _op(2, "aten.gelu.default", "elementwise", 0.001)])
    c = compare(run, est, "host", "Host")
    by = {g.group: g for g in c.groups}
    assert c.total.measured_s == pytest.approx(0.020) and c.total.predicted_s == pytest.approx(0.008)
    assert by["matmul_conv"].measured_s == pytest.approx(0.010)  # 50 % of self time × median
    assert by["matmul_conv"].ratio == pytest.approx(2.0)
    assert by["matmul_conv"].achieved_efficiency == pytest.approx(0.0025 / 0.010)
    # the cast copies are eager-only work the trace never saw; the fused attention kernel is
    # the trace's bmm/softmax decomposition under another name: not flagged
    assert [(f.op, f.reason) for f in c.flags] == [("clone", "not_traced")]
    assert c.ratio_low == pytest.approx(2.0) and c.ratio_high == pytest.approx(2.0)


def test_profiler_on_cpu_prints_no_cuda_probe_noise() -> None:
    """A CUDA build of torch on a CPU-only machine: kineto's device probe used to print
    ``gpuGetDeviceCount failed`` to stderr on every profiled build."""
    import subprocess
    import sys

    code = (
        "import os, torch\n"
        "os.environ.pop('KINETO_LOG_LEVEL', None)\n"
        "from reportgen.analysis.measurement.profile_ops import profile_pass\n"
        "m = torch.nn.Linear(4, 4)\n"
        "x = torch.ones(1, 4)\n"
        "p = profile_pass(m, lambda: m(x), iterations=1)\n"
        "print('ops', len(p.ops))\n")
    env = {k: v for k, v in os.environ.items() if k != "KINETO_LOG_LEVEL"}
    env["CUDA_VISIBLE_DEVICES"] = ""  # CPU-only, even on a machine with a GPU
    env["PYTHONPATH"] = str(Path(__file__).resolve().parent.parent)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env,
                         timeout=300)
    assert out.returncode == 0, out.stderr
    assert "ops " in out.stdout  # the profiler really ran
    assert "gpuGetDeviceCount" not in out.stderr
    assert "profiler_start" not in out.stderr
