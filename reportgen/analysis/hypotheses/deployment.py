"""Generators that change where or how the model runs, not the model: another power mode, unit
or device of the catalog (hardware; each with what the target demands of the model: format,
precisions, static shapes, runtime), and operator fusion and batching in a compiled runtime
(inference). Registered with ``@method`` like the model-changing generators in ``methods.py``;
catalog keys ``findings.hyp.<method>.*``.
"""

from __future__ import annotations

from reportgen.analysis.counting.records import OpKind
from reportgen.analysis.hypotheses.models import Hypothesis, MethodClass, hyp_msg
from reportgen.analysis.hypotheses.registry import method
from reportgen.analysis.hypotheses.study import Study, Variant, evaluate, make, predict
from reportgen.analysis.hypotheses.toolkit import everywhere, knobs, not_applicable
from reportgen.analysis.prediction.runtime import as_deployed
from reportgen.text import Arg

Q = MethodClass


RUNTIMES = ("TensorRT", "OpenVINO", "ONNX Runtime", "torch.compile", "Core ML", "QNN", "RKNN",
            "HailoRT", "Dataflow Compiler", "edgetpu_compiler", "Vitis AI", "ExecuTorch", "TFLite",
            "X-CUBE-AI", "ESP-DL")


def runtimes_of(platform: object) -> str:
    names = [n for n in RUNTIMES if any(n in t for t in platform.toolchain)]  # type: ignore[attr-defined]
    return ", ".join(names[:3]) or (platform.toolchain[0] if platform.toolchain else "—")  # type: ignore[attr-defined]


def _best_on(s: Study, platform: object, trace: object = None) -> tuple[Variant, float] | None:
    best: tuple[Variant, float] | None = None
    for prec in ("fp32", "bf16", "fp16", "int8"):
        if not platform.runs(prec):  # type: ignore[attr-defined]
            continue
        v = Variant(trace or s.trace, platform, prec)  # type: ignore[arg-type]
        p, _ = predict(s, v)
        if p.status != "ok" or p.latency_s is None or p.fits == "fail":
            continue
        if best is None or p.latency_s < best[1] * 0.999:
            best = (v, p.latency_s)
    return best


def _demands(platform: object, s: Study) -> dict[str, Arg]:
    kinds = platform.supported_op_kinds  # type: ignore[attr-defined]
    bad = 0 if kinds is None else sum(1 for r in s.trace.records if r.kind.value not in kinds)
    static = platform.class_.value in ("specialized", "fpga", "mcu")  # type: ignore[attr-defined]
    return {"format": Arg(v=platform.required_format or "—", f="text"),  # type: ignore[attr-defined]
            "precisions": Arg(v=", ".join(platform.unit().precisions), f="text"),  # type: ignore[attr-defined]
            "static": Arg(v="findings.hyp.hw.static_yes" if static else "findings.hyp.hw.static_no",
                          f="key"),
            "unsupported": Arg(v=bad, f="int"), "runtime": Arg(v=runtimes_of(platform), f="text")}


def power_modes(s: Study, targets: list[str]) -> list[Hypothesis]:
    """Run the target in another of its power modes (nvpmodel, a TDP setting): a lower mode
    trades speed for a lower draw cap; a higher one the reverse. Only modes whose peaks are
    sourced or derived can be predicted; the others are left to measure."""
    out: list[Hypothesis] = []
    current = s.platform.power_mode or next(
        (m.name for m in s.platform.power.power_modes if m.top), None)
    for mode in s.platform.power.power_modes:
        if mode.name == current or not mode.power_w.usable:
            continue
        plat = s.platform.with_power_mode(mode.name)
        # the same precision as the baseline when the mode's peak for it is known: the change
        # is the mode alone, not a quantization in disguise
        same = Variant(s.trace, plat, s.precision)
        ps, _ = predict(s, same)
        if ps.status == "ok" and ps.latency_s is not None and not ps.lower_bound:
            v = same
        else:
            got = _best_on(s, plat)
            if got is None:
                continue
            v = got[0]
        h = make(s, "hw_power_mode", Q.hardware, hid=f"power_mode_{mode.name}".replace(" ", "")
                 .replace("(", "").replace(")", "").lower(), targets=targets, portability=1,
                 title=hyp_msg("hw_power_mode", "title", mode=Arg(v=mode.name, f="text")),
                 mechanism=hyp_msg("hw_power_mode", "mechanism", mode=Arg(v=mode.name, f="text"),
                                   watts=Arg(v=mode.power_w.value, f="num"),
                                   precision=Arg(v=v.precision, f="text")))
        out.append(evaluate(s, h, v))
    return out


def _within_alternative_band(base_platform: object, alt_platform: object,
                             base_s: float | None, alt_s: float) -> bool:
    """True when a calibrated target would be compared with an uncalibrated alternative whose
    error band (its class's, or none known) covers the predicted gain: the two predictions are
    not on the same footing (the ESP32-S3's published points make it ×20 slower than assumed;
    an STM32 predicted at the assumed efficiencies is not thereby faster)."""
    from reportgen.analysis.prediction.calibration import calibration_info

    if base_s is None or alt_s <= 0:
        return False
    alt = calibration_info(alt_platform)  # type: ignore[arg-type]
    if alt.calibrated or not calibration_info(base_platform).calibrated:  # type: ignore[arg-type]
        return False
    return alt.band is None or base_s / alt_s <= alt.band


@method(Q.hardware, order=50, keys=("hw_power_mode", "hw_unit", "hw_device"))
def hardware(s: Study) -> list[Hypothesis]:
    from reportgen.catalog.lookup import get_platform
    from reportgen.catalog.platforms import load_catalog

    out: list[Hypothesis] = []
    targets = s.finding_ids("compute-bound", "memory-bound", "unsupported", "capacity")
    base, _ = predict(s, Variant(s.trace, s.platform, s.precision))
    best_unit: tuple[Variant, float] | None = None
    for u in s.platform.compute_units:
        if u.unit == s.platform.default_unit:
            continue
        p2 = s.platform.model_copy(update={"default_unit": u.unit})
        got = _best_on(s, p2)
        if got and (best_unit is None or got[1] < best_unit[1]):
            best_unit = got
    if best_unit is not None:
        v = best_unit[0]
        h = make(s, "hw_unit", Q.hardware, targets=targets, portability=1,
                 prerequisites=["findings.prereq.toolchain_format"],
                 title=hyp_msg("hw_unit", "title", unit=Arg(v=v.platform.default_unit, f="text")),
                 mechanism=hyp_msg("hw_unit", "mechanism",
                                   unit=Arg(v=v.platform.default_unit, f="text"),
                                   **_demands(v.platform, s)))
        out.append(evaluate(s, h, v))
    out += power_modes(s, targets)
    alts = knobs()["hardware_alternatives"].get(s.platform.id)
    cat = load_catalog()
    if alts is None and s.platform.class_.value in ("powerful", "budget", "cpu"):
        # no listed add-on: the platform's peers in the hardware zoo (SoCs and accelerators
        # with their own formats are not interchangeable, so they get no automatic peers)
        alts = [p.id for p in cat.values() if p.zoo_class == s.platform.zoo_class
                and p.id not in (s.platform.id, "host")]
    best_dev: tuple[Variant, float] | None = None
    for pid in alts or []:
        if pid not in cat:
            continue
        got = _best_on(s, get_platform(pid))
        if got and (best_dev is None or got[1] < best_dev[1]):
            best_dev = got
    if best_dev is not None and not _within_alternative_band(s.platform, best_dev[0].platform,
                                                             base.latency_s, best_dev[1]) \
            and (base.latency_s is None or best_dev[1] < base.latency_s or base.fits == "fail"):
        v = best_dev[0]
        h = make(s, "hw_device", Q.hardware, hid=f"hw_{v.platform.id}", targets=targets,
                 portability=1, prerequisites=["findings.prereq.toolchain_format",
                                               "findings.prereq.hardware_cost"],
                 title=hyp_msg("hw_device", "title", device=Arg(v=v.platform.name, f="text")),
                 mechanism=hyp_msg("hw_device", "mechanism",
                                   device=Arg(v=v.platform.name, f="text"),
                                   **_demands(v.platform, s)))
        out.append(evaluate(s, h, v))
    return out


@method(Q.inference, order=60, keys=("opt_fusion", "opt_batching"))
def inference(s: Study) -> list[Hypothesis]:
    from reportgen.analysis.prediction.runtime import deployed_trace, deployment_runtime

    out: list[Hypothesis] = []
    runtime = s.ctx.products.runtime if s.ctx is not None else None
    compiled = deployment_runtime(s.platform, "compiled")
    fused = deployed_trace(s.trace, compiled)  # BN folding + fusion, as a compiler does
    before_b = sum(r.bytes_moved for r in s.trace.records)
    after_b = sum(r.bytes_moved for r in fused.records)
    ops0 = sum(1 for r in s.trace.records if r.kind != OpKind.view)
    ops1 = sum(1 for r in fused.records if r.kind != OpKind.view)
    h = make(s, "opt_fusion", Q.inference,
             targets=s.finding_ids("memory-bound", subtypes=("elementwise", "normalization",
                                                             "softmax", "reduction")) +
             s.finding_ids("overhead-bound"),
             prerequisites=["findings.prereq.compiler"], portability=everywhere(),
             mechanism=hyp_msg("opt_fusion", "mechanism", ops0=Arg(v=ops0, f="int"),
                               ops1=Arg(v=ops1, f="int"), bytes0=Arg(v=before_b, f="bytes"),
                               bytes1=Arg(v=after_b, f="bytes"),
                               runtime=Arg(v=compiled.name, f="text")))
    if runtime is not None and runtime.fuses_elementwise:
        out.append(not_applicable(h, "findings.na.runtime_fuses"))  # already in the baseline
    else:
        out.append(evaluate(s, h, Variant(fused, s.platform, s.precision)))
    resolved = s.ctx.products.resolved if s.ctx is not None else None
    wants = s.constraints.throughput_per_s is not None or s.domain == "recsys" or \
        s.platform.class_.value in ("powerful", "cpu")
    if wants and resolved is not None:
        from reportgen.analysis.counting.retrace import retrace

        b = knobs()["batch_for_throughput"] * resolved.inputs.batch_size
        inputs2 = resolved.inputs.model_copy(update={"batch_size": b})
        t2 = as_deployed(s.ctx, retrace(s.ctx, inputs2))
        h = make(s, "opt_batching", Q.inference,
                 targets=s.finding_ids("memory-bound", subtypes=("weight_streaming", "embedding")) +
                 s.finding_ids("overhead-bound"),
                 prerequisites=["findings.prereq.batch_queue"], portability=everywhere(),
                 title=hyp_msg("opt_batching", "title", batch=Arg(v=b, f="int")),
                 mechanism=hyp_msg("opt_batching", "mechanism", batch=Arg(v=b, f="int")))
        evaluate(s, h, Variant(t2, s.platform, s.precision, batch=b))
        # batching buys throughput at the cost of each request's latency: never a latency
        # speed-up, so it is ranked and charted on throughput only
        h.speedup = None
        h.notes.append("findings.note.throughput_not_latency")
        out.append(h)
    return out



