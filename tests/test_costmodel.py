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
        ops, _ = hc._counted(module.eval(), args)
        assert ops and len({o[0] for o in ops}) == 1, (name, ops)
        assert len(ops) == 1 or name.startswith("sdpa"), (name, ops)  # only attention decomposes
        seen[ops[0][0]] = seen.get(ops[0][0], 0) + 1
    assert set(seen) == set(Regime), set(Regime) - set(seen)
    assert min(seen.values()) >= 3  # at least three sizes per regime to fit three numbers


def test_calibrate_with_a_fake_timer_fits_every_regime(monkeypatch: pytest.MonkeyPatch,
                                                       tmp_path) -> None:
    from reportgen.analysis.prediction import host_calibration as hc

    monkeypatch.setattr(hc, "_median_time", lambda run, **kw: 40e-6)  # every op (and net): 40 µs
    monkeypatch.setattr(hc, "load_avg", lambda: 0.1)
    cal = hc.calibrate({"peaks_tflops": {"fp32": 0.1}, "copy_gbps": 10.0})
    assert cal.quiet and set(cal.model.params) == set(Regime)
    assert len(cal.points) == len(hc.cases())
    assert len(cal.reference) == sum(len(b) for b in hc.REFERENCE_BATCHES.values())
    assert cal.model.in_model is not None and cal.model.in_model.points == len(cal.reference)
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
    assert first == hc.MICRO_ROUNDS * len(hc.cases()) + hc.REFERENCE_ROUNDS * sum(len(b) for b in hc.REFERENCE_BATCHES.values())
    assert "in-model correction" in res.output
    # every case took 40 µs: the convolutions achieved far more than the 0.1 TFLOPS probe, so the
    # peak the fits divide by is the best achieved rate, and the host platform is told so
    cal = hc.HostCalibration.model_validate_json(next(tmp_path.glob("calibration-*.json")).read_text())
    best = max(p["flops"] / p["median_s"] for p in cal.points
               if p["regime"] in {r.value for r in hc.COMPUTE_REGIMES})
    assert cal.peak_flops == pytest.approx(best) and best > 0.1e12
    assert all(r.eta_c <= 1 for r in cal.model.params.values())  # the ideal stays a bound
    res = CliRunner().invoke(app, ["calibrate", "-q"])  # reused: nothing timed again
    assert res.exit_code == 0 and len(calls) == first
    res = CliRunner().invoke(app, ["calibrate", "--recalibrate", "-q"])
    assert res.exit_code == 0 and len(calls) == 2 * first


# ---------------------------------------------------------------------------- in-model correction

def _micro_model() -> CostModel:
    p = {Regime.dense_conv: RegimeParams(eta_c=0.5, eta_m=0.5, overhead_us=10.0, origin="calibrated", points=5),
         Regime.elementwise: RegimeParams(eta_c=1.0, eta_m=1.0, overhead_us=2.0, origin="calibrated", points=5),
         Regime.gemm_small: RegimeParams(eta_c=0.25, eta_m=1.0, overhead_us=3.0, origin="calibrated", points=5)}
    return CostModel(platform_id="host", runtime_kind="eager", params=p, default=p[Regime.elementwise],
                     basis="host_calibration")


def _synthetic_runs(model: CostModel, k: dict, a_us: dict, peak: float, bw: float) -> list:
    """Reference runs whose 'measured' time follows the in-model law exactly with factors ``k``
    and extra overheads ``a_us`` per group."""
    from reportgen.analysis.prediction.costmodel import GROUP_OF
    from reportgen.analysis.prediction.host_calibration import ReferenceRun

    runs = []
    # each group dominates one network, at three batch sizes (the factor scales with the batch,
    # the extra overhead does not): every number is identified
    nets = {"convnet": [(Regime.dense_conv, 4e7, 1e6)] * 6 + [(Regime.elementwise, 0.0, 4e3)] * 2,
            "vecnet": [(Regime.elementwise, 0.0, 4e5)] * 20 + [(Regime.dense_conv, 1e5, 1e4)],
            "mlp": [(Regime.gemm_small, 2e5, 4e4)] * 5 + [(Regime.elementwise, 0.0, 2e3)] * 2,
            "mixed": [(Regime.dense_conv, 1e7, 2e5)] * 2 + [(Regime.gemm_small, 1e6, 1e5)] * 4
            + [(Regime.elementwise, 0.0, 1e5)] * 3}
    for name, ops in nets.items():
        for b in (1, 4, 16):
            scaled = [(r, F * b, B * b) for r, F, B in ops]
            t = 0.0
            for reg, F, B in scaled:
                p = model.params[reg]
                g = GROUP_OF[reg]
                t += p.overhead_us * 1e-6 + a_us[g] * 1e-6 + k[g] * max(F / (p.eta_c * peak), B / (p.eta_m * bw))
            runs.append(ReferenceRun(network=name, batch=b, measured_s=t, ops=scaled))
    return runs


def test_in_model_fit_recovers_a_known_correction() -> None:
    from reportgen.analysis.prediction import host_calibration as hc
    from reportgen.analysis.prediction.costmodel import RegimeGroup as G

    model, peak, bw = _micro_model(), 1e11, 1e10
    k = {G.conv: 1.4, G.gemm: 1.2, G.vector: 1.8}
    a = {G.conv: 0.0, G.gemm: 15.0, G.vector: 5.0}
    runs = _synthetic_runs(model, k, a, peak, bw)
    corr = hc.fit_in_model(runs, model, peak, bw)
    got = {g.group: g for g in corr.groups}
    assert set(got) == {G.conv, G.gemm, G.vector}  # no depthwise op in any run: not fitted
    for g in got:
        # the ridge prior pulls mildly toward no correction: recovered within a few per cent
        assert got[g].factor == pytest.approx(k[g], rel=0.08), g
        assert got[g].extra_overhead_us == pytest.approx(a[g], abs=2.0), g
    assert corr.points == len(runs) and corr.networks == ["convnet", "mixed", "mlp", "vecnet"]
    assert corr.fit_error_before is not None and corr.fit_error_before > 0.2
    assert corr.fit_error is not None and corr.fit_error < 0.03


def test_in_model_fit_without_evidence_is_no_correction() -> None:
    from reportgen.analysis.prediction import host_calibration as hc
    from reportgen.analysis.prediction.costmodel import RegimeGroup as G

    model, peak, bw = _micro_model(), 1e11, 1e10
    none = {g: 1.0 for g in G}
    runs = _synthetic_runs(model, none, {g: 0.0 for g in G}, peak, bw)
    corr = hc.fit_in_model(runs, model, peak, bw)
    for g in corr.groups:
        assert g.factor == pytest.approx(1.0, abs=0.01) and g.extra_overhead_us == pytest.approx(0.0, abs=0.05)
    assert corr.fit_error == pytest.approx(0.0, abs=1e-3)


def test_corrected_cost_model_predicts_the_in_model_law() -> None:
    from reportgen.analysis.prediction.costmodel import (
        GroupCorrection,
        InModelCorrection,
        RegimeGroup,
    )

    model = _micro_model()
    corr = InModelCorrection(groups=[GroupCorrection(group=RegimeGroup.conv, factor=2.0, extra_overhead_us=5.0),
                                     GroupCorrection(group=RegimeGroup.vector, factor=0.5, extra_overhead_us=1.0)])
    cm = model.model_copy(update={"in_model": corr})
    conv = rec(0, CONV, OpKind.conv, [[1, 32, 56, 56], [64, 32, 3, 3]])
    p = cm.for_op(conv)
    assert p is not None and (p.eta_c, p.eta_m, p.overhead_us) == (0.25, 0.25, 15.0)
    # a factor below 1 cannot push η above 1: the ideal stays a bound
    e = cm.for_op(rec(1, "aten.relu.default", OpKind.elementwise, []))
    assert e is not None and (e.eta_c, e.eta_m, e.overhead_us) == (1.0, 1.0, 3.0)
    # a regime without its own parameters takes the default, corrected by its own group
    red = cm.for_op(rec(2, "aten.mean.dim", OpKind.reduction, []))
    assert red is not None and red.overhead_us == 3.0
    g = cm.for_op(rec(3, "aten.addmm.default", OpKind.matmul, [], macs=100))
    assert g is not None and g == model.params[Regime.gemm_small]  # no gemm correction
    # dropping the correction (model_copy shares private state) gives the micro-benchmark values back
    micro = cm.model_copy(update={"in_model": None})
    assert micro.for_op(conv) == model.params[Regime.dense_conv]
    assert cm.for_op(conv) == p
    # a compiled runtime keeps the factors and drops the eager extra overhead
    comp = for_runtime(cm, "compiled", compiled_overhead_us=2.0).for_op(conv)
    assert comp is not None and (comp.eta_c, comp.overhead_us) == (0.25, 2.0)


def test_calibration_cache_round_trips_the_in_model_fields(tmp_path) -> None:
    from reportgen.analysis.prediction import host_calibration as hc

    model, peak, bw = _micro_model(), 1e11, 1e10
    from reportgen.analysis.prediction.costmodel import RegimeGroup as G

    runs = _synthetic_runs(model, {g: 1.3 for g in G}, {g: 4.0 for g in G}, peak, bw)
    cm = model.model_copy(update={"in_model": hc.fit_in_model(runs, model, peak, bw)})
    ident = HostIdentity(cpu_model="Xeon", cores=2, torch="2.4", threads=2)
    cal = HostCalibration(identity=ident, load_before=0.1, load_after=0.2, quiet=True, peak_flops=peak,
                          bandwidth=bw, model=cm, reference=runs, seconds=1.0, measured_at="t")
    path = tmp_path / "c.json"
    path.write_text(cal.model_dump_json(), encoding="utf-8")
    back = HostCalibration.model_validate_json(path.read_text(encoding="utf-8"))
    assert back == cal
    assert back.model.in_model == cm.in_model and back.reference[0].ops[0][0] is Regime.dense_conv
    # refitting from the cached runs gives the same correction (nothing timed again)
    assert hc.fit_in_model(back.reference, back.model, peak, bw) == cm.in_model


def test_reference_networks_are_synthetic_and_cover_every_group() -> None:
    from reportgen.analysis.prediction import host_calibration as hc
    from reportgen.analysis.prediction.costmodel import GROUP_OF, RegimeGroup, group_of

    nets = hc.reference_networks()
    assert set(nets) == set(hc.REFERENCE_BATCHES)
    assert all(len(b) >= 2 for b in hc.REFERENCE_BATCHES.values())
    seen = set()
    cache = 32 << 20
    for name, make in nets.items():
        module, args = make(max(hc.REFERENCE_BATCHES[name]))
        ops, _ = hc._counted(module.eval(), args)
        assert len(ops) >= 15, name
        seen |= {GROUP_OF[r] for r, _, _ in ops} | {group_of(r, B, cache) for r, _, B in ops}
    assert seen == set(RegimeGroup)  # at the largest batches some ops exceed a 32 MiB cache


def test_a_build_that_reuses_the_calibration_gets_the_corrected_prediction(
        monkeypatch: pytest.MonkeyPatch) -> None:
    from reportgen.analysis.measurement import measure
    from reportgen.analysis.prediction import host_calibration as hc
    from reportgen.analysis.prediction.costmodel import (
        GroupCorrection,
        InModelCorrection,
        RegimeGroup,
    )
    from reportgen.analysis.prediction.roofline import estimate
    from reportgen.catalog.lookup import get_platform

    ident = HostIdentity(cpu_model="Xeon", cores=2, torch="2.4", threads=2)
    corr = InModelCorrection(groups=[GroupCorrection(group=RegimeGroup.conv, factor=1.5, extra_overhead_us=20.0)])
    cal = HostCalibration(identity=ident, load_before=0.1, load_after=0.1, quiet=True, peak_flops=1e11,
                          bandwidth=1e10, model=_micro_model().model_copy(update={"in_model": corr}),
                          seconds=1.0, measured_at="t")
    monkeypatch.setattr(hc, "identity", lambda: ident)
    monkeypatch.setattr(hc, "load_or_calibrate", lambda **kw: cal)

    class Run:
        platform, device = "host", "cpu"
        machine = type("M", (), {"cpu_model": "Xeon", "cores": 2})()

    cm = measure.host_cost_model(Run())  # type: ignore[arg-type]
    assert cm is cal.model and cm.in_model == corr
    plat = get_platform("raspberry_pi_5")
    conv = rec(0, CONV, OpKind.conv, [[1, 32, 56, 56], [64, 32, 3, 3]], macs=10**8, ab=400_000,
               out=800_000, wb=73_728)
    with_c = estimate(_trace([conv]), plat, ["fp32"], cost_model=cm).get("fp32")
    without = estimate(_trace([conv]), plat, ["fp32"], cost_model=cm.model_copy(update={"in_model": None})).get("fp32")
    (o,) = without.ops
    # corrected time = micro overhead + extra + factor × the micro roofline term
    assert with_c.predicted_latency_s == pytest.approx(10e-6 + 20e-6 + 1.5 * (o.predicted_time_s - 10e-6))


@pytest.mark.parametrize(("lang", "title", "group"), [
    ("en", "In-model correction", "dense and 1×1 convolutions"),
    ("ru", "Поправка на работу внутри модели", "плотные свёртки и свёртки 1×1")])
def test_the_in_model_correction_is_shown_with_the_cost_model(tmp_path, lang: str, title: str,
                                                              group: str) -> None:
    from reportgen import pipeline
    from reportgen.analysis.prediction.costmodel import (
        GroupCorrection,
        InModelCorrection,
        RegimeGroup,
    )
    from reportgen.report.render import render_markdown
    from reportgen.spec.load import parse_spec

    text = f"title: t\nlanguage: {lang}\nmodel: {{card: ncf}}\nplatform: raspberry_pi_5\n"
    p = tmp_path / "study.yaml"
    p.write_text(text, encoding="utf-8")
    stages = [s for s in pipeline.STAGES if s.name in ("model", "trace", "costs", "platform", "roofline")]
    result = pipeline.run(parse_spec(text, str(p)), p, deterministic=True, stages=stages)
    assert result.roofline is not None
    corr = InModelCorrection(groups=[GroupCorrection(group=RegimeGroup.conv, factor=1.37, extra_overhead_us=12.0)],
                             networks=["resnet_like", "tiny_ops"], points=5, fit_error_before=0.6,
                             fit_error=0.12)
    result.roofline.cost_model = _micro_model().model_copy(update={"in_model": corr})
    md = render_markdown(result, {})
    assert title in md and group in md
    assert "×1.4" in md.replace(",", ".") and "resnet\\_like, tiny\\_ops" in md  # Markdown-escaped
    assert "12 µs" in md or "12 мкс" in md


def test_ops_beyond_the_cache_take_the_large_group_correction() -> None:
    from reportgen.analysis.prediction import host_calibration as hc
    from reportgen.analysis.prediction.costmodel import (
        GroupCorrection,
        InModelCorrection,
        RegimeGroup,
    )

    model, peak, bw = _micro_model(), 1e11, 1e10
    cache = 8e6
    k = {g: 1.0 for g in RegimeGroup} | {RegimeGroup.large: 2.5}
    a = {g: 0.0 for g in RegimeGroup}
    runs = []
    for b in (1, 2, 4, 8):  # elementwise ops of 3 MB × b: beyond the 8 MB cache from b = 4 on
        ops = [(Regime.elementwise, 0.0, 3e6 * b)] * 10
        t = sum(2e-6 + (2.5 if B > cache else 1.0) * B / bw for _, _, B in ops)
        runs.append(hc.ReferenceRun(network="stream", batch=b, measured_s=t, ops=ops))
    corr = hc.fit_in_model(runs, model, peak, bw, large_op_bytes=cache)
    got = {g.group: g for g in corr.groups}
    assert set(got) == {RegimeGroup.vector, RegimeGroup.large} and corr.large_op_bytes == cache
    assert got[RegimeGroup.large].factor == pytest.approx(k[RegimeGroup.large], rel=0.05)
    assert got[RegimeGroup.vector].factor == pytest.approx(1.0, rel=0.05)
    assert a[RegimeGroup.vector] == pytest.approx(got[RegimeGroup.vector].extra_overhead_us, abs=0.5)
    cm = model.model_copy(update={"in_model": InModelCorrection(
        groups=[GroupCorrection(group=RegimeGroup.large, factor=2.0, extra_overhead_us=0.0)],
        large_op_bytes=cache)})
    small = rec(0, "aten.relu.default", OpKind.elementwise, [], ab=1_000_000, out=1_000_000)
    big = rec(1, "aten.relu.default", OpKind.elementwise, [], ab=5_000_000, out=5_000_000)
    assert cm.for_op(small) == model.params[Regime.elementwise]
    p = cm.for_op(big)
    assert p is not None and p.eta_m == 0.5  # 1.0 / 2


def test_reference_networks_take_the_median_of_interleaved_rounds(monkeypatch: pytest.MonkeyPatch) -> None:
    """A slow window of a shared machine hits one round of one network, not its result."""
    from reportgen.analysis.prediction import host_calibration as hc

    n = sum(len(b) for b in hc.REFERENCE_BATCHES.values())
    # rounds 2 and 4 are slow for every network
    seq = iter([1e-3] * n + [9e-3] * n + [2e-3] * n + [8e-3] * n + [1.5e-3] * n)
    order: list[int] = []

    def fake_time(run: object, **kw: object) -> float:
        order.append(1)
        return next(seq)

    monkeypatch.setattr(hc, "_median_time", fake_time)
    runs = hc.time_reference_networks()
    assert len(order) == hc.REFERENCE_ROUNDS * n == 5 * n
    assert [r.measured_s for r in runs] == [2e-3] * n  # median of (1, 9, 2, 8, 1.5) ms


def test_micro_benchmarks_take_the_median_of_interleaved_rounds(monkeypatch: pytest.MonkeyPatch) -> None:
    """The same for the one-op micro-benchmarks: every case is timed once per round, all cases
    in turn, and a round that ran slow for every case does not move the fit."""
    from reportgen.analysis.prediction import host_calibration as hc

    n = len(hc.cases())
    slow = {1}  # the second round
    calls: list[int] = []

    def fake_time(run: object, **kw: object) -> float:
        calls.append(1)
        return 50e-6 if (len(calls) - 1) // n in slow else 20e-6

    monkeypatch.setattr(hc, "_median_time", fake_time)
    monkeypatch.setattr(hc, "time_reference_networks", lambda **kw: [])
    cal = hc.calibrate({"peaks_tflops": {"fp32": 0.1}, "copy_gbps": 10.0})
    assert len(calls) == hc.MICRO_ROUNDS * n == 3 * n
    assert {p["median_s"] for p in cal.points} == {20e-6}


def test_memory_time_has_two_levels_and_the_ideal_stays_a_bound() -> None:
    """The host's memory term: the first C bytes of an op at the cache's bandwidth, the rest at
    DRAM's; in the ideal time too, so an in-cache op's measured time can sit above it."""
    from reportgen.analysis.prediction.costmodel import CacheLevel, memory_time
    from reportgen.analysis.prediction.roofline import estimate
    from reportgen.catalog.lookup import get_platform

    cache = CacheLevel(bytes=32e6, bandwidth=200e9)
    assert memory_time(1e6, 40e9, None) == pytest.approx(1e6 / 40e9)
    assert memory_time(1e6, 40e9, cache) == pytest.approx(1e6 / 200e9)  # fits: all in cache
    assert memory_time(64e6, 40e9, cache) == pytest.approx(32e6 / 200e9 + 32e6 / 40e9)
    # a cache slower than DRAM (a misread) is ignored rather than making things slower
    assert memory_time(1e6, 40e9, CacheLevel(bytes=32e6, bandwidth=10e9)) == pytest.approx(1e6 / 40e9)

    plat = get_platform("raspberry_pi_5")
    add = rec(0, "aten.add.Tensor", OpKind.elementwise, [[10**6], [10**6]], vf=10**6,
              ab=8_000_000, out=4_000_000)
    big = rec(1, "aten.add.Tensor", OpKind.elementwise, [[10**7], [10**7]], vf=10**7,
              ab=80_000_000, out=40_000_000)
    p = RegimeParams(eta_c=1.0, eta_m=0.5, overhead_us=0.0, origin="calibrated", points=3)
    cm = CostModel(platform_id=plat.id, runtime_kind="eager", params={}, default=p,
                   basis="host_calibration", cache=cache)
    o_small, o_big = estimate(_trace([add, big]), plat, ["fp32"], cost_model=cm).get("fp32").ops
    bw = plat.bandwidth().si
    assert o_small.ideal_time_s == pytest.approx(12e6 / 200e9)
    assert o_small.predicted_time_s == pytest.approx(12e6 / 200e9 / 0.5)
    assert o_big.ideal_time_s == pytest.approx(32e6 / 200e9 + 88e6 / bw)
    assert o_small.bound == o_big.bound == "memory"
    # without the cache level both stream from DRAM
    plain = estimate(_trace([add]), plat, ["fp32"],
                     cost_model=cm.model_copy(update={"cache": None})).get("fp32").ops[0]
    assert plain.ideal_time_s == pytest.approx(12e6 / bw)
    assert plain.ideal_time_s > o_small.ideal_time_s


def test_in_model_fit_recovers_a_cost_per_view_op_and_predictions_charge_it() -> None:
    from reportgen.analysis.prediction import host_calibration as hc
    from reportgen.analysis.prediction.costmodel import RegimeGroup as G
    from reportgen.analysis.prediction.roofline import estimate
    from reportgen.catalog.lookup import get_platform

    model, peak, bw = _micro_model(), 1e11, 1e10
    k = {G.conv: 1.0, G.gemm: 1.0, G.vector: 1.0}
    a = {G.conv: 0.0, G.gemm: 0.0, G.vector: 0.0}
    runs = _synthetic_runs(model, k, a, peak, bw)
    # the view-heavy networks pay 3 µs per view on top of the law
    views = {"convnet": 2, "vecnet": 0, "mlp": 40, "mixed": 25}
    runs = [r.model_copy(update={"views": views[r.network],
                                 "measured_s": r.measured_s + 3e-6 * views[r.network]}) for r in runs]
    corr = hc.fit_in_model(runs, model, peak, bw)
    assert corr.view_overhead_us == pytest.approx(3.0, abs=0.4)
    assert corr.fit_error is not None and corr.fit_error < 0.03
    # without the views in the runs the same times need a (worse) per-op explanation
    blind = hc.fit_in_model([r.model_copy(update={"views": 0}) for r in runs], model, peak, bw)
    assert blind.view_overhead_us == 0 and blind.fit_error > corr.fit_error

    plat = get_platform("raspberry_pi_5")
    view = rec(0, "aten.view.default", OpKind.view, [[4, 4]])
    cm = model.model_copy(update={"in_model": corr, "platform_id": plat.id})
    pe = estimate(_trace([view] * 10), plat, ["fp32"], cost_model=cm).get("fp32")
    assert pe.predicted_latency_s == pytest.approx(10 * corr.view_overhead_us * 1e-6)
    assert pe.overhead_time_s == pytest.approx(pe.predicted_latency_s)
    assert pe.ideal_latency_s == 0  # a view launches no kernel
    # a compiled runtime has no eager dispatch: views are free again
    compiled = for_runtime(cm, "compiled", compiled_overhead_us=1.0)
    assert compiled.view_overhead_s == 0
    assert not estimate(_trace([view] * 10), plat, ["fp32"], cost_model=compiled).get("fp32").predicted_latency_s


def test_embedding_bag_is_its_own_regime_in_the_embedding_group() -> None:
    from reportgen.analysis.prediction.costmodel import GROUP_OF, RegimeGroup

    bag = rec(0, "aten._embedding_bag.default", OpKind.embedding, [[100, 32], [8], [8]], wb=12_800)
    gather = rec(1, "aten.embedding.default", OpKind.embedding, [[100, 32], [8]], wb=1_024)
    assert regime_of(bag) == Regime.embedding_bag and regime_of(gather) == Regime.embedding
    assert GROUP_OF[Regime.embedding_bag] == GROUP_OF[Regime.embedding] == RegimeGroup.embedding
