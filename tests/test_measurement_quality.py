"""Measurements that resist noise: contention detection, re-timing, rejected impossible results,
host measurements kept out of other targets' findings, model memory. Fake samplers only."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from reportgen.analysis.findings.finders import usable_measurements
from reportgen.analysis.measurement.models import ProfilePass
from reportgen.analysis.measurement.quality import (
    LoadSample,
    assess,
    cpu_use,
    implausible_efficiency,
    implausible_threads,
    timed_with_retry,
)
from reportgen.analysis.measurement.resources import model_memory, weights_bytes

QUIET = LoadSample(load_avg_1m=0.3, cpu_freq_mhz=2400.0)


def codes(msgs: list) -> list[str]:
    return [m.code for m in msgs]


def test_quiet_machine_is_trusted() -> None:
    q = assess(0.03, QUIET, QUIET, cores=2)
    assert not q.noisy and q.reasons == [] and q.trusted


def test_high_cv_is_noisy() -> None:
    q = assess(0.45, QUIET, QUIET, cores=2)
    assert q.noisy and codes(q.reasons) == ["quality.cv"]
    assert q.reasons[0].params["cv"] == pytest.approx(0.45)


def test_load_above_core_count_is_noisy_even_with_a_tight_cv() -> None:
    loaded = LoadSample(load_avg_1m=4.5, cpu_freq_mhz=2400.0)
    q = assess(0.02, QUIET, loaded, cores=2)
    assert q.noisy and codes(q.reasons) == ["quality.load"]
    assert q.reasons[0].params == {"load": 4.5, "cores": 2}
    # the same load on a 16-core machine is not contention
    assert not assess(0.02, QUIET, loaded, cores=16).noisy


def test_clock_drop_is_noisy_and_missing_samplers_are_not() -> None:
    q = assess(0.02, QUIET, LoadSample(load_avg_1m=0.3, cpu_freq_mhz=1200.0), cores=2)
    assert codes(q.reasons) == ["quality.freq"]
    unknown = LoadSample()
    assert not assess(0.02, unknown, unknown, cores=2).noisy


def test_retry_retimes_once_and_keeps_the_steadier_run() -> None:
    results = iter([(0.40, "first"), (0.05, "second"), (0.01, "never")])
    calls: list[int] = []

    def once() -> tuple[float, object]:
        calls.append(1)
        return next(results)

    kept, retimed = timed_with_retry(once, QUIET, lambda: QUIET, cores=2)
    assert (kept, retimed, len(calls)) == ("second", True, 2)


def test_retry_keeps_the_first_when_the_second_is_worse_and_skips_when_quiet() -> None:
    worse = iter([(0.40, "first"), (0.60, "second")])
    assert timed_with_retry(lambda: next(worse), QUIET, lambda: QUIET, cores=2) == ("first", True)
    quiet = iter([(0.02, "only")])
    assert timed_with_retry(lambda: next(quiet), QUIET, lambda: QUIET, cores=2) == ("only", False)
    # a tight CV under a load above the core count is still re-timed
    loaded = iter([(0.02, "a"), (0.03, "b")])
    hot = LoadSample(load_avg_1m=5.0)
    assert timed_with_retry(lambda: next(loaded), hot, lambda: hot, cores=2) == ("a", True)


def test_efficiency_above_the_ideal_bound_is_rejected() -> None:
    notes = implausible_efficiency([("matmul_conv", 1.524), ("total", 0.4), ("attention", None)])
    assert codes(notes) == ["quality.beats_bound"]
    assert notes[0].params["efficiency"] == pytest.approx(1.524)
    assert notes[0].params["group"].code == "quality.group.matmul_conv"


def test_negative_thread_scaling_is_rejected() -> None:
    notes = implausible_threads([(2, 0.08), (1, 1.0)])
    assert codes(notes) == ["quality.thread_slowdown"]
    assert notes[0].params == {"threads": 2, "base": 1, "speedup": 0.08}
    assert implausible_threads([(1, 1.0), (2, 1.7), (4, 0.95)]) == []


def test_cpu_use_is_cpu_time_over_wall_time() -> None:
    c = cpu_use(3.0, 2.0, threads=2)
    assert c is not None and c.busy_cores == pytest.approx(1.5) and c.utilisation == pytest.approx(0.75)
    assert cpu_use(1.0, 0.0, threads=2) is None


def _meas(platform_id: str, *, noisy: bool = False, implausible: bool = False) -> SimpleNamespace:
    q = assess(0.5 if noisy else 0.02, QUIET, QUIET, cores=2)
    if implausible:
        q.implausible += implausible_efficiency([("total", 1.5)])
    return SimpleNamespace(comparison=SimpleNamespace(platform_id=platform_id),
                           run=SimpleNamespace(quality=q))


def test_host_measurements_never_feed_another_targets_findings() -> None:
    m = _meas("host")
    assert usable_measurements(m, "host") is m
    assert usable_measurements(m, "nvidia_jetson_orin_nano") is None
    assert usable_measurements(m, "esp32_s3") is None
    assert usable_measurements(None, "host") is None


def test_noisy_or_impossible_measurements_feed_no_findings() -> None:
    assert usable_measurements(_meas("host", noisy=True), "host") is None
    assert usable_measurements(_meas("host", implausible=True), "host") is None


def test_find_bottlenecks_drops_a_host_profile_on_a_target() -> None:
    from reportgen.analysis.findings.finders import find_bottlenecks
    from reportgen.catalog.lookup import get_platform

    m = _meas("host")
    m.class_times = lambda: [("matmul_conv", 0.050, 0.001)]  # measured ×50 the prediction
    pi5 = get_platform("raspberry_pi_5")
    as_host = pi5.model_copy(update={"id": "host"})
    on_host = find_bottlenecks(None, None, None, as_host, measurements=m)
    assert [f.id for f in on_host.items if f.subtype == "measured"] == [
        "overhead-bound:measured:matmul_conv"]
    on_target = find_bottlenecks(None, None, None, pi5, measurements=m)
    assert not any(f.subtype == "measured" for f in on_target.items)


def test_weights_bytes_counts_tied_storage_once() -> None:
    import torch

    lin = torch.nn.Linear(8, 4)  # 8·4 + 4 floats
    assert weights_bytes(lin) == (8 * 4 + 4) * 4
    emb = torch.nn.Embedding(10, 8)
    head = torch.nn.Linear(8, 10, bias=False)
    head.weight = emb.weight  # tied
    tied = torch.nn.ModuleDict({"emb": emb, "head": head})
    assert weights_bytes(tied) == 10 * 8 * 4


def test_model_memory_names_its_mechanism() -> None:
    import torch

    prof = ProfilePass(iterations=1, activities=["CPU"], total_self_time_s=1.0, wall_time_s=1.0,
                       ops=[], by_group={}, peak_allocated_bytes=4096,
                       device_peak_bytes=10_000, device_baseline_bytes=6_000)
    lin = torch.nn.Linear(8, 4)
    cpu = model_memory(lin, prof, "cpu")
    assert (cpu.weights_bytes, cpu.forward_peak_bytes, cpu.mechanism) == (
        144, 4096, "profiler_cpu_allocator")
    gpu = model_memory(lin, prof, "cuda")
    assert (gpu.forward_peak_bytes, gpu.mechanism) == (4_000, "cuda_max_memory_allocated")
