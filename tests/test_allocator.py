"""The steady CPU allocator (reportgen.allocator): on glibc, freed activations stay with the
process, so a timed forward does not page-fault them in again every run."""

from __future__ import annotations

import os
import platform
import subprocess
import sys

import pytest

pytestmark = pytest.mark.skipif(platform.libc_ver()[0] != "glibc", reason="glibc's mallopt only")

# forwards of a small convolutional network (the calibration's resnet_like, batch 1) after a
# warm-up: minor page faults counted around 10 of them
PROBE = """
import resource, sys, torch
from reportgen.allocator import steady_allocator
from reportgen.analysis.prediction.host_reference import reference_networks
if sys.argv[1] == "steady":
    assert steady_allocator() is not None
torch.manual_seed(0)
net, args = reference_networks()["resnet_like"](1)
net.eval()
with torch.inference_mode():
    for _ in range(5):
        net(*args)
    f0 = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    for _ in range(10):
        net(*args)
print(resource.getrusage(resource.RUSAGE_SELF).ru_minflt - f0)
"""


def _faults(mode: str) -> int:
    out = subprocess.run([sys.executable, "-c", PROBE, mode], capture_output=True, text=True,
                         check=True, env={**os.environ, "OMP_NUM_THREADS": "1"})
    return int(out.stdout.strip().splitlines()[-1])


def test_steady_allocator_stops_page_faults_on_every_run() -> None:
    default, steady = _faults("system"), _faults("steady")
    # glibc's default maps the larger activations afresh (and trims the heap) on every forward,
    # faulting their pages in again: thousands of faults per forward
    assert default > 10 * 1000, (default, steady)
    assert steady < default / 20, (default, steady)


def test_the_setting_is_said_and_can_be_declined(monkeypatch: pytest.MonkeyPatch) -> None:
    from reportgen import allocator

    monkeypatch.setattr(allocator, "_done", False)
    monkeypatch.setattr(allocator, "_state", None)
    monkeypatch.setenv("REPORTGEN_MALLOC", "system")
    assert allocator.mode() == "system" and allocator.steady_allocator() is None
    monkeypatch.setattr(allocator, "_done", False)
    monkeypatch.delenv("REPORTGEN_MALLOC")
    assert allocator.mode() == "steady"
    said = allocator.steady_allocator()
    assert said is not None and "32 MiB" in said


def test_cpu_timings_record_the_allocator_setting() -> None:
    import torch

    from reportgen.analysis.measurement.runner import make_runner, time_model

    lin = torch.nn.Linear(8, 8)
    r = make_runner(lin, lambda dev: ((torch.randn(2, 8),), {}), None, "cpu", torch.float32)
    st = time_model(r, "cpu", warmup=1, min_runs=3, max_runs=5, budget_s=0.2, threads=1)
    from reportgen import allocator

    assert st.allocator == allocator.steady_allocator() and st.allocator
