"""Per-op cost model: regimes, fitting, runtime kinds, calibration cache reuse, roofline wiring.
No timing: fits run on synthetic samples with known parameters."""

from __future__ import annotations

import pytest

from reportgen.analysis.counting.records import OpKind, OpRecord, ParamGroup, Trace
from reportgen.analysis.prediction.costmodel import (
    CostModel,
    Regime,
    RegimeParams,
    fit_regime,
    for_runtime,
    op_time,
    regime_of,
    uniform,
)
from reportgen.analysis.prediction.host_calibration import HostCalibration, HostIdentity, reusable


def rec(i: int, op: str, kind: OpKind, ins: list[list[int]], *, macs: int = 0, vf: int = 0,
        wb: int = 0, ab: int = 0, out: int = 0) -> OpRecord:
    return OpRecord(index=i, op=op, kind=kind, module="m", module_type="X", input_shapes=ins,
                    output_shapes=[], dtype="float32", macs=macs, vector_flops=vf, weight_bytes=wb,
                    act_bytes_read=ab, bytes_written=out)


CONV = "aten.convolution.default"


def test_regimes_by_kind_and_shape() -> None:
    assert regime_of(rec(0, CONV, OpKind.conv, [[1, 32, 56, 56], [64, 32, 3, 3]])) == Regime.dense_conv
    assert regime_of(rec(0, CONV, OpKind.conv, [[1, 32, 56, 56], [32, 1, 3, 3]])) == Regime.depthwise_conv
    assert regime_of(rec(0, CONV, OpKind.conv, [[1, 32, 56, 56], [64, 8, 3, 3]])) == Regime.depthwise_conv
    assert regime_of(rec(0, CONV, OpKind.conv, [[1, 32, 56, 56], [64, 32, 1, 1]])) == Regime.pointwise_conv
    mm = "aten.addmm.default"
    assert regime_of(rec(0, mm, OpKind.matmul, [], macs=512 * 512)) == Regime.gemm_small
    assert regime_of(rec(0, mm, OpKind.matmul, [], macs=128 * 768 * 768)) == Regime.gemm_large
    assert regime_of(rec(0, "aten.relu.default", OpKind.elementwise, [])) == Regime.elementwise
    assert regime_of(rec(0, "aten.foo.default", OpKind.other, [])) == Regime.elementwise
    assert regime_of(rec(0, "aten.view.default", OpKind.view, [])) is None


def test_op_time_closed_form() -> None:
    p = RegimeParams(eta_c=0.5, eta_m=0.25, overhead_us=10.0, origin="assumed")
    # compute 1e9 / (0.5 · 1e12) = 2 ms; memory 1e6 / (0.25 · 1e10) = 0.4 ms → 2 ms + 10 µs
    assert op_time(1e9, 1e6, 1e12, 1e10, p) == pytest.approx(2e-3 + 10e-6)
    assert op_time(0.0, 1e6, None, 1e10, p) == pytest.approx(0.4e-3 + 10e-6)
    assert op_time(1e9, 0.0, None, None, p) is None


def test_fit_recovers_known_parameters() -> None:
    eta_c, eta_m, a = 0.3, 0.6, 20e-6
    samples = []
    for c, m in [(1e-5, 1e-6), (1e-4, 5e-6), (1e-3, 2e-5), (2e-6, 1e-5), (5e-7, 2e-4)]:
        samples.append((c, m, a + max(c / eta_c, m / eta_m)))
    p = fit_regime(samples)
    assert p.origin == "calibrated" and p.points == 5
    assert p.eta_c == pytest.approx(eta_c, rel=0.06)
    assert p.eta_m == pytest.approx(eta_m, rel=0.06)
    assert p.overhead_us == pytest.approx(20.0, rel=0.15)
    assert p.fit_error is not None and p.fit_error < 0.05


def test_fit_never_exceeds_the_peak() -> None:
    # measured faster than the "peak" allows: η is capped at 1 so the ideal stays a bound
    p = fit_regime([(1e-3, 1e-6, 0.5e-3), (2e-3, 1e-6, 1e-3)])
    assert p.eta_c <= 1.0 and p.eta_m <= 1.0


def test_compiled_runtime_keeps_throughput_and_swaps_overhead() -> None:
    fitted = RegimeParams(eta_c=0.8, eta_m=0.4, overhead_us=30.0, origin="calibrated", points=4)
    eager = CostModel(platform_id="host", runtime_kind="eager", params={Regime.dense_conv: fitted},
                      default=fitted, basis="host_calibration")
    comp = for_runtime(eager, "compiled", compiled_overhead_us=2.0)
    p = comp.params[Regime.dense_conv]
    assert (comp.runtime_kind, p.eta_c, p.eta_m, p.overhead_us) == ("compiled", 0.8, 0.4, 2.0)
    assert eager.params[Regime.dense_conv].overhead_us == 30.0  # not mutated
    with pytest.raises(ValueError):
        for_runtime(uniform("x", "compiled", 0.5, 0.7, 5.0), "eager", 0.0)


def _cal(ident: HostIdentity, quiet: bool) -> HostCalibration:
    return HostCalibration(identity=ident, load_before=0.2 if quiet else 5.0, load_after=0.3,
                           quiet=quiet, peak_flops=1e11, bandwidth=1e10,
                           model=uniform("host", "eager", 0.5, 0.5, 5.0), seconds=1.0,
                           measured_at="t")


def test_calibration_cache_reuse_needs_identity_and_matching_load() -> None:
    me = HostIdentity(cpu_model="Xeon", cores=2, torch="2.4", threads=2)
    other = me.model_copy(update={"torch": "2.5"})
    assert reusable(_cal(me, quiet=True), me, load_now=0.5)
    assert reusable(_cal(me, quiet=True), me, load_now=8.0)  # a quiet one is the better one
    assert not reusable(_cal(other, quiet=True), me, load_now=0.5)
    assert not reusable(_cal(me, quiet=False), me, load_now=0.5)  # now quiet: measure again
    assert reusable(_cal(me, quiet=False), me, load_now=6.0)
    assert me.key() != other.key()


def _trace(records: list[OpRecord]) -> Trace:
    return Trace(records=records, params=ParamGroup(), param_bytes=0, buffer_bytes=0,
                 peak_activation_bytes=0, peak_activation_op=0, input_bytes=0, output_bytes=0)


def test_roofline_uses_each_ops_regime_and_ideal_stays_a_bound() -> None:
    from reportgen.analysis.prediction.roofline import estimate
    from reportgen.catalog.lookup import get_platform

    plat = get_platform("raspberry_pi_5")
    dense = rec(0, CONV, OpKind.conv, [[1, 32, 56, 56], [64, 32, 3, 3]], macs=10**8,
                ab=400_000, out=800_000, wb=73_728)
    dw = rec(1, CONV, OpKind.conv, [[1, 32, 56, 56], [32, 1, 3, 3]], macs=10**6,
             ab=400_000, out=400_000, wb=1_152)
    fast = RegimeParams(eta_c=1.0, eta_m=1.0, overhead_us=0.0, origin="calibrated", points=3)
    slow = RegimeParams(eta_c=0.05, eta_m=0.1, overhead_us=50.0, origin="calibrated", points=3)
    cm = CostModel(platform_id=plat.id, runtime_kind="eager",
                   params={Regime.dense_conv: fast, Regime.depthwise_conv: slow}, default=fast,
                   basis="host_calibration")
    est = estimate(_trace([dense, dw]), plat, ["fp32"], cost_model=cm)
    pe = est.get("fp32")
    o_dense, o_dw = pe.ops
    assert o_dense.predicted_time_s == pytest.approx(o_dense.ideal_time_s)  # η = 1, no overhead
    peak = plat.peak("fp32").si
    bw = plat.bandwidth().si
    expected_dw = 50e-6 + max(2e6 / (0.05 * peak), o_dw.bytes / (0.1 * bw))
    assert o_dw.predicted_time_s == pytest.approx(expected_dw)
    assert pe.overhead_time_s == pytest.approx(50e-6)
    assert all(o.predicted_time_s >= o.ideal_time_s for o in pe.ops)
    assert est.cost_model is cm
    # without a cost model: the platform's one η for both
    plain = estimate(_trace([dense, dw]), plat, ["fp32"]).get("fp32")
    assert plain.predicted_latency_s != pytest.approx(pe.predicted_latency_s)


def test_every_micro_benchmark_is_one_regime_and_every_regime_is_covered() -> None:
    from reportgen.analysis.prediction import host_calibration as hc

    seen: dict[Regime, int] = {}
    for name, make in hc.cases():
        module, args = make()
        ops = hc._counted(module.eval(), args)
        assert ops and len({o[0] for o in ops}) == 1, (name, ops)
        assert len(ops) == 1 or name.startswith("sdpa"), (name, ops)  # only attention decomposes
        seen[ops[0][0]] = seen.get(ops[0][0], 0) + 1
    assert set(seen) == set(Regime), set(Regime) - set(seen)
    assert min(seen.values()) >= 3  # at least three sizes per regime to fit three numbers


def test_calibrate_with_a_fake_timer_fits_every_regime(monkeypatch: pytest.MonkeyPatch,
                                                       tmp_path) -> None:
    from reportgen.analysis.prediction import host_calibration as hc

    monkeypatch.setattr(hc, "_median_time", lambda run, **kw: 40e-6)  # every op: 40 µs
    monkeypatch.setattr(hc, "load_avg", lambda: 0.1)
    cal = hc.calibrate({"peaks_tflops": {"fp32": 0.1}, "copy_gbps": 10.0})
    assert cal.quiet and set(cal.model.params) == set(Regime)
    assert len(cal.points) == len(hc.cases())
    for p in cal.model.params.values():
        assert p.origin == "calibrated" and p.overhead_us <= 40.0 + 1e-6
    assert any(pt["ops"] > 1 for pt in cal.points if pt["regime"] == "attention")


def test_calibrate_cli_caches_and_reuses(monkeypatch: pytest.MonkeyPatch, tmp_path) -> None:
    from typer.testing import CliRunner

    from reportgen.analysis.prediction import host_calibration as hc
    from reportgen.catalog import host
    from reportgen.cli.main import app

    monkeypatch.setenv("REPORTGEN_CACHE_DIR", str(tmp_path))
    monkeypatch.setattr(host, "load_or_measure",
                        lambda refresh=False: {"peaks_tflops": {"fp32": 0.1}, "copy_gbps": 10.0})
    calls: list[int] = []

    def fake_time(run: object, **kw: object) -> float:
        calls.append(1)
        return 40e-6

    monkeypatch.setattr(hc, "_median_time", fake_time)
    monkeypatch.setattr(hc, "load_avg", lambda: 0.1)
    res = CliRunner().invoke(app, ["calibrate"])
    assert res.exit_code == 0, res.output
    assert "dense_conv" in res.output and len(list(tmp_path.glob("calibration-*.json"))) == 1
    first = len(calls)
    assert first == len(hc.cases())
    res = CliRunner().invoke(app, ["calibrate", "-q"])  # reused: nothing timed again
    assert res.exit_code == 0 and len(calls) == first
    res = CliRunner().invoke(app, ["calibrate", "--recalibrate", "-q"])
    assert res.exit_code == 0 and len(calls) == 2 * first
