"""Experiments on the host (issue 14): fidelity metrics in closed form, failure isolation of one
method, and an experiments build of a small model the test trains itself, with a checkpoint
(``model.weights``) and an ``experiments.evaluate`` callable reporting the task metric."""

from __future__ import annotations

import json
import math
import time
from pathlib import Path
from typing import Any

import pytest
import torch
from rich.console import Console
from torch import nn

from reportgen.analysis.experiments.fidelity import compare
from reportgen.analysis.experiments.registry import Applied, Method, Subject
from reportgen.analysis.experiments.runner import Timing, run_all

# ---------------------------------------------------------------------------- fidelity


def test_fidelity_identical_outputs() -> None:
    ref = [torch.tensor([[1.0, 3.0, 2.0], [0.5, -1.0, 4.0]])]
    f = compare(ref, [r.clone() for r in ref])
    assert f.max_abs_error == 0 and f.sqnr_db is None
    assert f.cosine == pytest.approx(1.0) and f.top1_agreement == 1.0 and f.topk_agreement == 1.0


def test_fidelity_closed_form() -> None:
    ref = torch.tensor([[3.0, 4.0], [1.0, 0.0]])  # Σref² = 26
    out = ref + torch.tensor([[0.0, 1.0], [0.0, 0.0]])  # noise: one element off by 1
    f = compare([ref], [out], k=1)
    assert f.max_abs_error == pytest.approx(1.0) and f.mean_abs_error == pytest.approx(0.25)
    assert f.sqnr_db == pytest.approx(10 * math.log10(26 / 1))
    # row 0: cos([3,4],[3,5]) = 29 / (5·√34); row 1 identical
    assert f.cosine == pytest.approx((29 / (5 * math.sqrt(34)) + 1) / 2)
    assert f.top1_agreement == 1.0  # arg-max stays at column 1 and 0
    flipped = compare([ref], [torch.tensor([[4.0, 3.0], [1.0, 0.0]])], k=1)
    assert flipped.top1_agreement == 0.5


# ---------------------------------------------------------------------------- isolation


def _tiny() -> Subject:
    m = nn.Sequential(nn.Linear(8, 16), nn.ReLU(), nn.Linear(16, 4)).eval()
    return Subject(module=m, make_inputs=lambda: ((torch.randn(2, 8),), {}), domain="cv")


def _boom(s: Subject, key: str) -> Applied:
    raise RuntimeError("unsupported op for the quantizer")


def _forever(s: Subject, key: str) -> Applied:
    while True:  # Python-level work: the deadline interrupts it
        time.sleep(0.01)


def _half(s: Subject, key: str) -> Applied:
    import copy

    return Applied(copy.deepcopy(s.module).half().float())


def test_a_failing_or_hanging_method_stays_local() -> None:
    ms = [Method("boom", "quantization", "test", _boom, order=1),
          Method("forever", "inference", "test", _forever, order=2),
          Method("needs_pkg", "inference", "test", _half, requires=("no_such_package_xyz",)),
          Method("ok", "quantization", "test", _half, order=3)]
    t0 = time.perf_counter()
    base, runs = run_all(_tiny(), ms, timing=Timing(1, 3, 5), budget_s=30, method_budget_s=1.5)
    assert time.perf_counter() - t0 < 20
    by = {r.id: r for r in runs}
    assert by["boom"].state == "failed" and by["boom"].reason is not None
    assert "unsupported op" in str(by["boom"].reason.params["error"])
    assert by["forever"].state == "timeout"
    assert by["needs_pkg"].state == "unavailable"
    assert by["ok"].state == "ok" and by["ok"].speedup is not None and by["ok"].speedup > 0
    assert by["ok"].fidelity is not None and by["ok"].fidelity.max_abs_error < 1e-2
    assert base.latency.runs >= 3


def _wrapped_timeout(s: Subject, key: str) -> Applied:
    class InductorError(RuntimeError):  # inductor catches the alarm and raises its own error
        pass
    try:
        _forever(s, key)
    except Exception as e:
        raise InductorError(f"{type(e).__name__}: {e}") from None
    raise AssertionError("unreachable")


def test_a_timeout_a_library_wraps_is_still_a_timeout() -> None:
    ms = [Method("compiled", "inference", "test", _wrapped_timeout)]
    _, runs = run_all(_tiny(), ms, timing=Timing(1, 3, 5), budget_s=30, method_budget_s=1.0)
    assert runs[0].state == "timeout", runs[0].reason
    assert runs[0].reason is not None and runs[0].reason.code == "experiments.reason.timeout"


def test_budget_spent_methods_are_not_started() -> None:
    ms = [Method("slow", "inference", "test", _half, min_budget_s=1e6)]
    _, runs = run_all(_tiny(), ms, timing=Timing(1, 3, 5), budget_s=5, method_budget_s=2)
    assert runs[0].state == "budget"


# ---------------------------------------------------------------------------- a real build

_last: dict[str, object] = {}

TINYNET = '''
import torch
from torch import nn

class TinyNet(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(3, 8, 3, padding=1)
        self.relu = nn.ReLU()
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(8, 2)

    def forward(self, x):
        return self.fc(torch.flatten(self.pool(self.relu(self.conv(x))), 1))

def build():
    return TinyNet()

def data(n=128, seed=0):
    g = torch.Generator().manual_seed(seed)
    y = torch.randint(0, 2, (n,), generator=g)
    x = torch.randn(n, 3, 8, 8, generator=g) + (2.0 * y - 1.0)[:, None, None, None]
    return x, y

def evaluate(model):
    x, y = data(seed=1)
    return {"accuracy": float((model(x).argmax(1) == y).float().mean())}
'''


def _train(tmp_path: Path) -> None:
    import importlib.util

    (tmp_path / "tinynet.py").write_text(TINYNET, encoding="utf-8")
    spec = importlib.util.spec_from_file_location("tinynet_train", tmp_path / "tinynet.py")
    mod = importlib.util.module_from_spec(spec)  # type: ignore[arg-type]
    spec.loader.exec_module(mod)  # type: ignore[union-attr]
    torch.manual_seed(0)
    net = mod.build()
    opt = torch.optim.Adam(net.parameters(), lr=0.05)
    x, y = mod.data()
    for _ in range(60):
        opt.zero_grad()
        nn.functional.cross_entropy(net(x), y).backward()
        opt.step()
    torch.save(net.state_dict(), tmp_path / "model.pt")


@pytest.mark.slow
def test_experiments_build_reports_task_metric_before_and_after(tmp_path: Path, monkeypatch) -> None:
    from reportgen.analysis.experiments import learning
    from reportgen.build import build_one

    # the measured pairs go to a store of this test, not to this machine's cache
    store = tmp_path.parent / f"{tmp_path.name}-experiments.json"
    monkeypatch.setattr(learning, "store_path", lambda: store)
    _train(tmp_path)
    spec = tmp_path / "tiny.yaml"
    spec.write_text(
        "title: Tiny classifier\n"
        "model: {source: python, callable: 'tinynet:build', path: '.', weights: model.pt}\n"
        "domain: cv\ninputs: {batch_size: 4, image: {height: 8, width: 8, channels: 3}}\n"
        "platform: raspberry_pi_5\nprofiling: {enabled: false, warmup: 1, min_runs: 3, max_runs: 20}\n"
        "experiments:\n  methods: [quant_dynamic_int8, quant_static_int8, prune_unstructured]\n"
        "  time_budget_s: 60\n  method_budget_s: 20\n  evaluate: 'tinynet:evaluate'\n  path: '.'\n"
        "output: {formats: [md]}\n", encoding="utf-8")
    out = tmp_path / "out"
    outcome = build_one(spec, output=out, formats=None, deterministic=False, allow_code=True,
                        template_root=None, console=Console(file=None, quiet=True), experiments=True)
    _last["folder"] = outcome.folder
    data = json.loads((outcome.folder / "data.json").read_text(encoding="utf-8"))  # type: ignore[operator]
    stage = next(s for s in data["stages"] if s["name"] == "experiments")
    assert stage["state"] == "ok", stage
    x = data["experiments"]
    assert x["weights"] == "given"
    acc0 = x["baseline_metrics"][0]["before"]
    assert acc0 >= 0.9  # the checkpoint was loaded: random weights score about 0.5
    runs = {r["id"]: r for r in x["runs"]}
    assert set(runs) == {"quant_dynamic_int8", "quant_static_int8", "prune_unstructured"}
    for r in runs.values():
        assert r["state"] == "ok", r
        assert r["latency"]["runs"] >= 3 and r["speedup"] > 0
        assert r["fidelity"]["samples"] == 3 and r["fidelity"]["top1_agreement"] is not None
        (m,) = r["metrics"]
        assert m["name"] == "accuracy" and m["before"] == acc0 and 0 <= m["after"] <= 1
    # int8 of a well-separated task keeps its accuracy within a few points
    assert runs["quant_static_int8"]["metrics"][0]["after"] >= acc0 - 0.1
    md = (outcome.folder / "report.md").read_text(encoding="utf-8")  # type: ignore[operator]
    assert "Measured on this host" in md and "`quant_static_int8`" in md
    assert "accuracy:" in md and "is not the target" in md
    assert x["prediction_basis"] in ("host_calibration", "roofline")
    assert "Host predictions use" in md  # the basis is said in the report
    # nothing written outside the build's folder (the spec folder holds only what the test made)
    made = {p.name for p in tmp_path.iterdir()} - {"__pycache__"}
    assert made == {"model.pt", "out", "tiny.yaml", "tinynet.py"}
    # its measured pairs that are not noisy are kept for later builds, with their basis
    kept = json.loads(store.read_text(encoding="utf-8"))["pairs"]
    assert x["pairs"] and {p["basis"] for p in x["pairs"]} == {x["prediction_basis"]}
    assert sorted(p["method"] for p in kept) == sorted(p["method"] for p in x["pairs"] if not p["noisy"])


def test_experiments_do_not_run_in_snapshot_mode(tmp_path: Path) -> None:
    from reportgen import pipeline
    from reportgen.spec.load import parse_spec

    spec = parse_spec("title: t\nmodel: {card: resnet18}\nplatform: raspberry_pi_5\n"
                      "experiments: {enabled: true}\n")
    stages = [s for s in pipeline.STAGES if s.name in ("model", "trace", "costs", "platform",
                                                       "roofline", "findings", "hypotheses",
                                                       "experiments")]
    result = pipeline.run(spec, deterministic=True, stages=stages)
    st = result.stage("experiments")
    assert st is not None and st.state == "not_available" and st.code == "experiments_snapshot"
    assert result.experiments is None


# ---------------------------------------------------------------------------- int4 on the CPU


def test_int4_weight_only_runs_or_says_why() -> None:
    """torchao's int4 CPU path on a tiny model: one layer fits the kernel (64→32), the 4-class
    head does not (N % 16) and stays bf16; the run is measured, or unavailable with a reason."""
    from reportgen.analysis.experiments.available import methods
    from reportgen.analysis.experiments.quantization import int4_fits

    m = nn.Sequential(nn.Linear(64, 32), nn.ReLU(), nn.Linear(32, 4)).eval()
    assert [int4_fits(x) for x in m if isinstance(x, nn.Linear)] == [True, False]
    s = Subject(module=m, make_inputs=lambda: ((torch.randn(2, 64),), {}), domain="cv")
    _, (run,) = run_all(s, methods(["quant_weight_int4"]), timing=Timing(1, 3, 5), budget_s=60,
                        method_budget_s=30)
    if run.state == "unavailable":
        assert run.reason is not None and run.reason.code.startswith("experiments.na.int4_")
        return
    assert run.state == "ok", run.reason
    assert run.speedup is not None and run.speedup > 0 and run.size_bytes is not None
    codes = {n.code: n for n in run.notes}
    layers = codes["experiments.note.int4_layers"].params
    assert layers["quantized"] == 1 and layers["linears"] == 2
    # 4-bit weights with groups of 32 on random weights: the outputs stay close
    assert run.fidelity is not None and run.fidelity.cosine > 0.95


def test_int4_without_a_fitting_layer_is_unavailable() -> None:
    from reportgen.analysis.experiments.available import methods

    _, (run,) = run_all(_tiny(), methods(["quant_weight_int4"]), timing=Timing(1, 3, 5),
                        budget_s=30, method_budget_s=20)
    assert run.state == "unavailable" and run.reason is not None
    assert run.reason.code.startswith("experiments.na.int4_")


# ---------------------------------------------------------------------------- combinations


def test_prune_then_dynamic_int8_is_one_isolated_experiment() -> None:
    """Structured pruning then dynamic int8 on a tiny MLP: the hidden Linear loses channels, the
    result holds dynamically quantized Linear layers, the baseline is untouched."""
    from torch.ao.nn.quantized.dynamic import Linear as DynLinear

    from reportgen.analysis.experiments.available import methods
    from reportgen.analysis.experiments.combinations import _prune_then_dynamic

    torch.manual_seed(0)
    m = nn.Sequential(nn.Linear(32, 64), nn.ReLU(), nn.Linear(64, 64), nn.ReLU(), nn.Linear(64, 4)).eval()
    before = [p.clone() for p in m.parameters()]
    s = Subject(module=m, make_inputs=lambda: ((torch.randn(2, 32),), {}), domain="cv",
                knobs={"prune_fraction": 0.25})
    applied = _prune_then_dynamic(s, "")
    dyn = [x for x in applied.model.modules() if isinstance(x, DynLinear)]
    assert len(dyn) == 3
    assert dyn[0].out_features == 48 and dyn[2].out_features == 4  # 25% of 64 removed; head whole
    assert {n.code for n in applied.notes} == {"experiments.note.recounted"}
    assert all(torch.equal(a, b) for a, b in zip(before, m.parameters(), strict=True))
    assert m[0].out_features == 64  # the baseline keeps its channels

    (combo,) = methods(["combo_prune_dynamic_int8"])
    _, (run,) = run_all(s, [combo], timing=Timing(1, 3, 5), budget_s=30, method_budget_s=20)
    assert run.state == "ok", run.reason
    assert run.family == "combined" and run.speedup is not None and run.speedup > 0
    assert run.fidelity is not None and run.fidelity.samples == 3


def test_combination_not_applicable_says_why() -> None:
    from reportgen.analysis.experiments.available import methods

    _, (run,) = run_all(_tiny(), methods(["combo_channels_last_compile"]), timing=Timing(1, 3, 5),
                        budget_s=60, method_budget_s=20)
    assert run.state == "not_applicable" and run.reason is not None
    assert run.reason.code == "experiments.na.no_conv2d"  # an MLP has no Conv2d to lay out NHWC


# ---------------------------------------------------------------------------- host predictions


def test_correction_leaves_the_model_out_and_needs_two_others() -> None:
    from reportgen.analysis.experiments.learning import Pair, correction

    pairs = [Pair("a", "quant_bf16", 2.0, 1.0),  # measured / predicted = 0.5
             Pair("b", "quant_bf16", 1.0, 2.0),  # 2.0
             Pair("b", "quant_bf16", 1.0, 8.0),  # b again (8.0): b counts once, by √(2·8) = 4
             Pair("c", "quant_bf16", 4.0, 100.0),  # the held-out model's own pair: never used
             Pair("d", "prune_structured", 1.0, 3.0)]  # another method: never used
    c = correction(pairs, "quant_bf16", "c")
    assert c is not None and c.models == 2 and c.pairs == 3
    assert c.factor == pytest.approx(math.sqrt(0.5 * 4.0))  # geometric mean over the models
    # correcting "a" uses b and c, never a itself: √(4 · 25)
    assert correction(pairs, "quant_bf16", "a").factor == pytest.approx(10.0)  # type: ignore[union-attr]
    # without c, "a" has one other model ("b"): no correction
    two = [p for p in pairs if p.model != "c"]
    assert correction(two, "quant_bf16", "a") is None
    assert correction(two, "quant_bf16", "a", min_models=1).factor == pytest.approx(4.0)  # type: ignore[union-attr]
    assert correction(pairs, "prune_structured", "c") is None  # one model only


def test_pair_store_keeps_identity_basis_and_load_rule(tmp_path: Path, monkeypatch) -> None:
    from reportgen.analysis.experiments import learning

    monkeypatch.setenv("REPORTGEN_CACHE_DIR", str(tmp_path))
    learning.record("m1", "roofline", [("quant_bf16", 2.0, 1.0), ("x", 0.0, 1.0)], quiet=True)
    learning.record("m2", "roofline", [("quant_bf16", 2.0, 3.0)], quiet=False)
    learning.record("m1", "roofline", [("quant_bf16", 2.0, 1.5)], quiet=True)  # replaces m1's
    learning.record("m3", "host_calibration", [("quant_bf16", 1.0, 1.0)], quiet=True)
    assert learning.store_path().parent == tmp_path
    assert learning.store_path().name.startswith("experiments-")
    monkeypatch.setattr(learning, "_loaded_now", lambda: True)
    got = sorted((p.model, p.measured) for p in learning.load_pairs("roofline"))
    assert got == [("m1", 1.5), ("m2", 3.0)]  # one pair per (model, method), basis kept apart
    monkeypatch.setattr(learning, "_loaded_now", lambda: False)
    assert [p.model for p in learning.load_pairs("roofline")] == ["m1"]  # noisy pair: not now
    # another machine (identity) does not read this store
    data = json.loads(learning.store_path().read_text(encoding="utf-8"))
    data["identity"]["cpu_model"] = "another CPU"
    learning.store_path().write_text(json.dumps(data), encoding="utf-8")
    assert learning.load_pairs("roofline") == []


def _fake_host_bench(int8: float | None) -> dict:
    peaks = {"fp32": 0.1, "bf16": 0.2} | ({"int8": int8} if int8 else {})
    return {"cpu_model": "Test CPU", "cores": 2, "torch_threads": 2, "torch_version": "x",
            "peaks_tflops": peaks, "fp16_measured_tflops": 0.001, "fp16_fast": False,
            "bf16_measured_tflops": 0.2, "bf16_fast": True, "int8_measured_tops": int8,
            "int8_fast": bool(int8), "int8_how": "torch._int_mm", "copy_gbps": 10.0,
            "ram_gb": 8.0, "matmul_n": 1024, "copy_mb": 268.4, "repeats": 3, "seconds": 1.0,
            "measured_at": "t", "load_avg_1m": 0.0}


def test_host_platform_has_an_int8_peak_when_measured(tmp_path: Path, monkeypatch) -> None:
    from reportgen.catalog import host as host_mod

    tops, how = host_mod._int8_tops(n=128, repeats=1)  # the real micro-benchmark, small
    assert (tops is not None and tops > 0 and "int8" in how) or (tops is None and how)
    p = host_mod.platform_from_measurements(_fake_host_bench(0.4))
    assert p.runs("int8") and p.peak("int8").unit == "TOPS" and p.peak("int8").si == pytest.approx(0.4e12)
    slow = _fake_host_bench(None) | {"int8_measured_tops": 0.01}
    assert not host_mod.platform_from_measurements(slow).runs("int8")  # under half of fp32
    # a cache written before int8 was measured is measured again, not read as "no int8"
    monkeypatch.setenv("REPORTGEN_CACHE_DIR", str(tmp_path))
    old = {k: v for k, v in _fake_host_bench(None).items() if not k.startswith(("int8", "bf16_"))}
    host_mod.cache_path().write_text(json.dumps(old), encoding="utf-8")
    monkeypatch.setattr(host_mod, "measure", lambda: _fake_host_bench(0.4))
    assert host_mod.load_or_measure()["peaks_tflops"]["int8"] == 0.4
    assert "int8_fast" in json.loads(host_mod.cache_path().read_text(encoding="utf-8"))


def _experiments_on_ncf(tmp_path: Path, monkeypatch, methods: str) -> Any:
    from reportgen import pipeline
    from reportgen.catalog import host as host_mod
    from reportgen.spec.load import parse_spec

    monkeypatch.setenv("REPORTGEN_CACHE_DIR", str(tmp_path))
    monkeypatch.setattr(host_mod, "host_platform",
                        lambda refresh=False: host_mod.platform_from_measurements(_fake_host_bench(0.4)))
    spec = parse_spec("title: t\nmodel: {card: ncf}\nplatform: raspberry_pi_5\n"
                      "profiling: {enabled: false, warmup: 1, min_runs: 3, max_runs: 10}\n"
                      f"experiments: {{enabled: true, methods: [{methods}], time_budget_s: 30, "
                      "method_budget_s: 10}\n")
    result = pipeline.run(spec, deterministic=False)
    assert result.experiments is not None, result.stage("experiments")
    return result.experiments


def test_experiments_record_the_prediction_basis_and_learn(tmp_path: Path, monkeypatch) -> None:
    """No calibration: the one-η roofline, said so; dynamic int8 predicted at the measured int8
    rate; with pairs of two other models stored, the prediction is corrected and says so; this
    build's pairs are stored. With a calibration in the cache: the calibrated cost model."""
    from reportgen.analysis.experiments import learning
    from reportgen.analysis.prediction import host_calibration as hc
    from reportgen.analysis.prediction.costmodel import uniform

    monkeypatch.setenv("REPORTGEN_CACHE_DIR", str(tmp_path))
    learning.record("other_a", "roofline", [("quant_dynamic_int8", 2.0, 1.0)], quiet=True)
    learning.record("other_b", "roofline", [("quant_dynamic_int8", 2.0, 4.0)], quiet=True)
    x = _experiments_on_ncf(tmp_path, monkeypatch, "quant_dynamic_int8")
    assert x.prediction_basis == "roofline"
    assert x.prediction_basis_msg.code == "experiments.basis.roofline"
    (run,) = x.runs
    assert run.state == "ok", run.reason
    assert run.predicted_host_uncorrected is not None and run.predicted_host_uncorrected > 1.0
    assert run.host_correction == pytest.approx(1.0)  # √(0.5 · 2)
    codes = [n.code for n in run.host_prediction_notes]
    assert codes == ["experiments.predict.dynamic", "experiments.predict.corrected"]
    assert x.learned_from == 2
    assert x.pairs[0].basis == "roofline" and x.pairs[0].card == "ncf"
    monkeypatch.setattr(learning, "_loaded_now", lambda: True)  # whatever the load was
    # stored for later builds unless its timing was noisy
    assert ("ncf" in {p.model for p in learning.load_pairs("roofline")}) == (not x.pairs[0].noisy)

    cm = uniform("host", "eager", 0.5, 0.5, 5.0).model_copy(update={"basis": "host_calibration",
                                                                   "calibrated_at": "T"})
    cal = hc.HostCalibration(identity=hc.identity(), load_before=0.0, load_after=0.0, quiet=True,
                             peak_flops=1e11, bandwidth=1e10, model=cm, seconds=0.0,
                             measured_at="T")
    hc.cache_path(hc.identity()).write_text(cal.model_dump_json(), encoding="utf-8")
    x = _experiments_on_ncf(tmp_path, monkeypatch, "quant_dynamic_int8")
    assert x.prediction_basis == "host_calibration"
    assert x.prediction_basis_msg.code == "experiments.basis.host_calibration"
    assert x.runs[0].host_correction is None  # the stored pairs were on the other basis


def test_host_rules_for_dynamic_int8_and_combinations() -> None:
    """Dynamic int8: the Linear matmuls at the int8 rate, the rest at fp32 (faster than fp32, and
    not predicted without an int8 peak). A combination is one variant when one step changes the
    graph and the other the precision; two graph changes, or a step without a host prediction,
    are 'not predicted' (never a product of speed-ups)."""
    from types import SimpleNamespace

    from reportgen.analysis.counting.trace import trace_forward
    from reportgen.analysis.experiments.host_prediction import HostModel, Rule, latency, rule_for
    from reportgen.analysis.experiments.registry import Method
    from reportgen.catalog import host as host_mod

    net = nn.Sequential(nn.Linear(256, 256), nn.ReLU(), nn.Linear(256, 256)).to("meta")
    trace, _, _ = trace_forward(net, (torch.randn(64, 256, device="meta"),))
    pruned, _, _ = trace_forward(nn.Sequential(nn.Linear(256, 128), nn.ReLU(), nn.Linear(128, 256)).to("meta"),
                                 (torch.randn(64, 256, device="meta"),))
    hm = HostModel(host_mod.platform_from_measurements(_fake_host_bench(0.4)))
    fp32 = latency(hm, Rule(trace), 1)
    mixed = latency(hm, Rule(trace, "fp32", "int8"), 1)
    assert fp32 and mixed and mixed < fp32
    no_int8 = HostModel(host_mod.platform_from_measurements(_fake_host_bench(None)))
    assert latency(no_int8, Rule(trace, "fp32", "int8"), 1) is None

    def ap(s: Any, k: str) -> Applied:
        raise AssertionError("not applied here")
    by_id = {m.id: m for m in [
        Method("prune_structured", "pruning", "", ap, hypothesis="prune_structured"),
        Method("distill", "distillation", "", ap, hypothesis="distill_x"),
        Method("quant_dynamic_int8", "quantization", "", ap, hypothesis="q", host_matmul_precision="int8"),
        Method("opt_channels_last", "inference", "", ap),
        Method("c1", "combined", "", ap, pieces=("prune_structured", "quant_dynamic_int8")),
        Method("c2", "combined", "", ap, pieces=("opt_channels_last", "quant_dynamic_int8")),
        Method("c3", "combined", "", ap, pieces=("prune_structured", "distill"))]}
    variant = SimpleNamespace(trace=pruned, batch=None)
    s: Any = SimpleNamespace(trace=trace, variants={"prune_structured": variant, "distill_x": variant})
    r1 = rule_for(hm, by_id["c1"], None, s, by_id)
    assert isinstance(r1, Rule) and r1.trace is pruned and (r1.precision, r1.matmul_precision) == ("fp32", "int8")
    c1 = latency(hm, r1, 1)
    assert c1 is not None and c1 < mixed  # the pruned graph with int8 matmuls
    r2 = rule_for(hm, by_id["c2"], None, s, by_id)
    assert not isinstance(r2, Rule) and r2.code == "experiments.predict.piece_unpredicted"
    r3 = rule_for(hm, by_id["c3"], None, s, by_id)
    assert not isinstance(r3, Rule) and r3.code == "experiments.predict.overlap_graph"


def test_noisy_pairs_are_kept_in_data_but_not_learned_from(tmp_path: Path, monkeypatch) -> None:
    from reportgen.analysis.experiments import learning
    from reportgen.analysis.experiments.models import ExperimentRun
    from reportgen.analysis.experiments.stage import learn, noisy
    from reportgen.analysis.measurement.timing import summarize

    monkeypatch.setenv("REPORTGEN_CACHE_DIR", str(tmp_path))
    steady, jumpy = summarize([1.0, 1.01, 0.99, 1.0]), summarize([1.0, 3.0, 0.5, 2.0])
    runs = [ExperimentRun(id=i, family="quantization", state="ok", latency=lat, speedup=2.0,
                          predicted_host_uncorrected=1.0, predicted_host_speedup=1.0)
            for i, lat in (("steady", steady), ("jumpy", jumpy))]
    assert not noisy(runs[0], 0.05) and noisy(runs[1], 0.05) and noisy(runs[0], 0.5)
    for r in runs:
        r.noisy = noisy(r, 0.05)  # as the stage sets it
    monkeypatch.setattr(learning, "_loaded_now", lambda: True)  # whatever the load was
    learn(runs, "m", "roofline")
    assert [(p.model, p.method) for p in learning.load_pairs("roofline")] == [("m", "steady")]


def test_batchnorm_statistics_of_a_random_model_keep_activations_at_scale() -> None:
    """A random conv net whose activations vanish (conv weights ×1e-2 per layer, BatchNorm at
    its initial mean 0 / variance 1) gives dynamic int8 an all-zero output; with the statistics
    set from its own inputs the output has unit scale and dynamic int8 reproduces it."""
    from reportgen.analysis.experiments.quantization import _dynamic
    from reportgen.analysis.experiments.runner import settle_batchnorm

    torch.manual_seed(0)
    layers: list[nn.Module] = []
    for c_in in (3, 8, 8, 8):
        conv = nn.Conv2d(c_in, 8, 3, padding=1)
        with torch.no_grad():
            conv.weight.mul_(1e-2)
            conv.bias.zero_()
        layers += [conv, nn.BatchNorm2d(8), nn.ReLU()]
    net = nn.Sequential(*layers, nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(8, 4)).eval()
    with torch.no_grad():
        net[-1].bias.zero_()
    s = Subject(module=net, make_inputs=lambda: ((torch.randn(2, 3, 8, 8),), {}), domain="cv")
    x = [s.make_inputs() for _ in range(3)]

    def fid() -> Any:
        q = _dynamic(s, "").model
        with torch.inference_mode():
            return compare([net(*a) for a, _ in x], [q(*a) for a, _ in x])
    with torch.inference_mode():
        assert net(*x[0][0]).abs().max() < 1e-6  # vanished
    assert fid().cosine < 0.5
    assert settle_batchnorm(net, s.make_inputs) == 4
    assert not net.training and all(bn.momentum == 0.1 for bn in net.modules()
                                    if isinstance(bn, nn.BatchNorm2d))
    with torch.inference_mode():
        assert net(*x[0][0]).abs().max() > 1e-3
    after = fid()
    assert after.cosine > 0.99 and after.sqnr_db is not None and after.sqnr_db > 20


def test_settling_batchnorm_that_cannot_train_leaves_the_model_as_it_was() -> None:
    from reportgen.analysis.experiments.runner import settle_batchnorm

    net = nn.Sequential(nn.Linear(4, 4), nn.BatchNorm1d(4)).eval()  # batch of one: cannot train
    before = {k: v.clone() for k, v in net.state_dict().items()}
    assert settle_batchnorm(net, lambda: ((torch.randn(1, 4),), {})) == 0
    assert not net.training
    assert all(torch.equal(before[k], v) for k, v in net.state_dict().items())


class _Branchy(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(3, 4, 3)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.dim() == 3:  # FX cannot trace a branch on a proxy
            x = x.unsqueeze(0)
        return self.conv(x).mean((2, 3))


def test_static_int8_of_an_untraceable_forward_says_why() -> None:
    from reportgen.analysis.experiments.available import methods

    s = Subject(module=_Branchy().eval(), make_inputs=lambda: ((torch.randn(2, 3, 8, 8),), {}),
                domain="cv")
    _, (run,) = run_all(s, methods(["quant_static_int8"]), timing=Timing(1, 3, 5), budget_s=30,
                        method_budget_s=15)
    assert run.state == "unavailable" and run.reason is not None
    assert run.reason.code == "experiments.na.fx_untraceable"


def test_ds_cnn_static_int8_runs() -> None:
    """DS-CNN branches on its input's rank; the branch is an FX leaf, so FX static int8 applies."""
    from reportgen.analysis.experiments.available import methods
    from reportgen.models.kws import ds_cnn_s

    torch.manual_seed(0)
    s = Subject(module=ds_cnn_s().eval(), make_inputs=lambda: ((torch.randn(2, 10, 49),), {}),
                domain="speech")
    _, (run,) = run_all(s, methods(["quant_static_int8"]), timing=Timing(1, 3, 5), budget_s=60,
                        method_budget_s=30)
    assert run.state == "ok", run.reason
    assert run.fidelity is not None and run.fidelity.cosine > 0.9


def test_section_6_marks_noisy_and_slower_runs_in_russian(tmp_path: Path, monkeypatch) -> None:
    """A Russian report: units in Russian, a run slower than the baseline said so (not
    'speed-up ×0.8' as a win), noisy speed-ups marked † with the reason, and the budget reason
    names the budget when the methods before spent it."""
    from reportgen import pipeline
    from reportgen.analysis.experiments.runner import Timing, run_all
    from reportgen.catalog import host as host_mod
    from reportgen.report.render import render_markdown
    from reportgen.spec.load import parse_spec

    monkeypatch.setenv("REPORTGEN_CACHE_DIR", str(tmp_path))
    monkeypatch.setattr(host_mod, "host_platform",
                        lambda refresh=False: host_mod.platform_from_measurements(_fake_host_bench(0.4)))
    spec = parse_spec("title: t\nlanguage: ru\nmodel: {card: ncf}\nplatform: raspberry_pi_5\n"
                      "profiling: {enabled: false, warmup: 1, min_runs: 3, max_runs: 10}\n"
                      "experiments: {enabled: true, methods: [quant_dynamic_int8, combo_prune_dynamic_int8], "
                      "time_budget_s: 30, method_budget_s: 10}\n")
    result = pipeline.run(spec, deterministic=False)
    x = result.experiments
    assert x is not None, result.stage("experiments")
    run = x.get("quant_dynamic_int8")
    assert run is not None and run.state == "ok"
    run.speedup, run.noisy = 0.8, True
    assert result.hypotheses is not None  # shown under a hypothesis of section 5 that applies
    run.hypothesis = next(h.id for h in result.hypotheses.items if h.after)
    for r in x.runs[1:]:
        r.noisy = False
    _, (late,) = run_all(_tiny(), [Method("late", "inference", "t", _half)], timing=Timing(1, 3, 5),
                         budget_s=0.5, method_budget_s=5)
    assert late.state == "budget" and late.reason is not None
    assert late.reason.code == "experiments.reason.budget_spent"
    x.runs.append(late)
    md = render_markdown(result, {})
    sec = md[md.index("### Измерено на этой машине"):]
    assert "медленнее базы (ускорение ×0,800, меньше 1)" in md
    assert "×0,800 †" in sec and "† Шумные измерения (1)" in sec
    # the table and the † paragraph stand apart from the sentences around them
    assert "\n\n| Эксперимент |" in sec and "\n\nЭта машина не целевая платформа" in sec
    assert "весь бюджет экспериментов (0,5 с)" in sec
    assert " s " not in sec and " s." not in sec and " dB" not in sec


class _UnusedFirst(nn.Module):
    """NCF's shape: a first input the graph never reads (no dense features), then the ids."""

    def __init__(self) -> None:
        super().__init__()
        self.emb = nn.Embedding(10, 4)

    def forward(self, dense: torch.Tensor, ids: torch.Tensor) -> torch.Tensor:
        return self.emb(ids).sum(1)


def test_onnxruntime_feeds_inputs_by_name_when_the_export_drops_one() -> None:
    from reportgen.analysis.experiments.available import methods

    s = Subject(module=_UnusedFirst().eval(),
                make_inputs=lambda: ((torch.zeros(2, 0), torch.randint(0, 10, (2, 3))), {}),
                domain="recsys")
    _, (run,) = run_all(s, methods(["opt_onnxruntime"]), timing=Timing(1, 3, 5), budget_s=30,
                        method_budget_s=20)
    assert run.state == "ok", run.reason
    assert run.fidelity is not None and run.fidelity.max_abs_error < 1e-5


class _Slow(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.fc = nn.Linear(4, 4)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        time.sleep(0.25)
        return self.fc(x)


def test_a_slow_forward_keeps_the_baseline_within_its_budget() -> None:
    """Forward 0.25 s, baseline budget 0.9 s: one cold forward + the floor of 3 timed runs, no
    further warm-up, one fidelity batch: about 1.75 s, not the 2.5 s of 3 warm-ups + 3 runs + 3
    fidelity batches."""
    from reportgen.analysis.experiments.runner import fit, measure_baseline

    assert fit(Timing(3, 10, 200), 0.25, 0.9).warmup == 0
    assert fit(Timing(3, 10, 200), 0.25, 1.0).warmup == 1  # one more warm-up fits 1 s
    assert fit(Timing(3, 10, 200), 0.01, 1.0).warmup == 2  # a fast model keeps its warm-up
    s = Subject(module=_Slow().eval(), make_inputs=lambda: ((torch.randn(2, 4),), {}), domain="cv")
    t0 = time.perf_counter()
    base = measure_baseline(s, Timing(3, 10, 200), 0.9, 3, None)
    took = time.perf_counter() - t0
    assert base.latency.warmup == 1 and base.latency.runs <= 4  # the cold forward only
    assert len(base.fidelity_inputs) == 1
    assert took < 2.1  # before: 3 warm-ups + 3 runs + 3 fidelity batches, 2.5 s


def test_the_library_column_names_code_not_english_prose() -> None:
    """The library column is shown as is in every language: code names and the packages'
    own names only ('student built from its model card (not trained)' read in English in a
    Russian report)."""
    import re

    from reportgen.analysis.experiments.available import methods

    names = {"torch", "torchao", "ONNX", "Runtime", "MetaPruner", "Int8WeightOnlyConfig", "int4",
             "weight-only", "(tinygemm,", "CPU)", "(inductor)", "(x86)", "(ORT_ENABLE_ALL)",
             "+", "→"}
    for m in methods():
        for word in m.library.split():
            assert word in names or re.search(r"[._]|\(p=", word), (m.id, word)


class _LoadDrops(nn.Module):
    """A forward that is slow until ``until`` (another job held the CPU), fast afterwards."""

    def __init__(self, until: float) -> None:
        super().__init__()
        self.fc = nn.Linear(4, 4)
        self.until = until

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        time.sleep(0.05 if time.perf_counter() < self.until else 0.002)
        return self.fc(x)


def test_a_baseline_that_drifts_marks_every_speed_up_noisy() -> None:
    """The baseline is timed while the machine is busy and the method after it is not: each
    timing is steady on its own (low CV), but the baseline timed again after the methods
    differs, and the speed-ups are marked noisy."""
    from reportgen.analysis.experiments.models import ExperimentRun
    from reportgen.analysis.experiments.stage import noisy

    def wait_then_copy(s: Subject, key: str) -> Applied:
        import copy

        time.sleep(max(0.0, s.module.until - time.perf_counter()))
        return Applied(copy.deepcopy(s.module))

    until = time.perf_counter() + 1.2
    s = Subject(module=_LoadDrops(until).eval(), make_inputs=lambda: ((torch.randn(2, 4),), {}),
                domain="cv")
    base, (run,) = run_all(s, [Method("m", "inference", "t", wait_then_copy)],
                           timing=Timing(1, 3, 5), budget_s=20, method_budget_s=8)
    assert run.state == "ok" and run.speedup is not None and run.speedup > 5  # a fake gain
    assert base.again is not None and base.drift is not None and base.drift > 5
    assert noisy(run, 0.0, base.drift)
    steady = ExperimentRun(id="x", family="f", state="ok")  # no timing of its own: drift decides
    assert not noisy(steady, 0.0, 1.1) and noisy(steady, 0.0, 1.6) and not noisy(steady, 0.0, None)


def _narrowed(s: Subject, key: str) -> Applied:
    """A transformed model whose output is narrower (as structured pruning of a model that
    returns its hidden states): 4 → 2 features."""
    return Applied(nn.Sequential(nn.Linear(8, 16), nn.ReLU(), nn.Linear(16, 2)).eval())


def test_a_changed_output_shape_keeps_the_latency_and_says_why_there_is_no_fidelity() -> None:
    # BERT's structured pruning narrowed its hidden states and the whole run was lost as
    # "failed: output shapes differ"
    _, runs = run_all(_tiny(), [Method("narrow", "pruning", "test", _narrowed)],
                      timing=Timing(1, 3, 5), budget_s=30, method_budget_s=10)
    r = runs[0]
    assert r.state == "ok" and r.speedup is not None and r.fidelity is None, r.reason
    note = next(n for n in r.notes if n.code == "experiments.note.output_changed")
    assert note.params == {"before": "2×4", "after": "2×2"}


# ---------------------------------------------------------------------------- stateful forward


def _tiny_decoder() -> Subject:
    """A 2-layer GPT-2 in decode mode (one token on a KV cache of 24), built the way a spec does."""
    from reportgen.models.build import Resolved, build
    from reportgen.spec.choices import Domain
    from reportgen.spec.inputs import Inputs, TextInput
    from reportgen.spec.sources import TransformersSource

    src = TransformersSource(source="transformers", model_type="gpt2", auto_class="AutoModelForCausalLM",
                             config={"n_layer": 2, "n_embd": 32, "n_head": 2, "vocab_size": 64,
                                     "n_positions": 64})
    loaded = build(Resolved(source=src, card=None, domain=Domain.nlp, task=None,
                            inputs=Inputs(text=TextInput(sequence_length=24, mode="decode"))), device="cpu")
    assert loaded.prepare is not None
    torch.manual_seed(0)
    return Subject(module=loaded.module.float().eval(), make_inputs=lambda: loaded.make_inputs("cpu"),
                   domain="nlp", host_precisions=frozenset({"fp32", "bf16"}), prepare=loaded.prepare,
                   knobs={"sparsity": 0.0})


def test_a_decode_step_is_measured_with_each_model_filling_its_own_cache_from_one_prompt() -> None:
    """A decoder's forward reads a KV cache: every model (the baseline, a bf16 cast, a pruned
    copy) fills its own cache by a prefill of the same prompt before it is timed or compared. A
    prompt that differed between the baseline and the transformed model, or a cast that lost the
    cache, would show as output fidelity far from 1."""
    from reportgen.analysis.experiments.available import methods

    s = _tiny_decoder()
    seen: list[int] = []
    prepare = s.prepare
    assert prepare is not None

    def counting(m: Any, a: tuple[Any, ...], k: dict[str, Any]) -> Any:
        args, kwargs = prepare(m, a, k)
        cache = kwargs.get("cache", kwargs.get("past_key_values"))
        seen.append(cache.get_seq_length())
        return args, kwargs
    s.prepare = counting
    base, runs = run_all(s, methods(["prune_unstructured", "quant_bf16"]), timing=Timing(1, 3, 5),
                         budget_s=60, method_budget_s=20, fidelity_batches=2)
    assert base.latency.median_s > 0 and set(seen) == {24}  # every forward saw a 24-token cache
    by = {r.id: r for r in runs}
    zero = by["prune_unstructured"]  # sparsity 0: the same weights, so the same output exactly
    assert zero.state == "ok" and zero.fidelity is not None
    assert zero.fidelity.max_abs_error == 0 and zero.fidelity.cosine == pytest.approx(1.0)
    bf16 = by["quant_bf16"]  # bf16 rounding only: the cast wrapper keeps the cache it was given
    assert bf16.state == "ok" and bf16.fidelity is not None and bf16.fidelity.cosine > 0.99
