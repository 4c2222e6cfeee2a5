"""Hypothesis generators, one per class of the course. Each builds a Variant (a transformed or
re-traced Trace on a platform at a precision) and evaluates it with the roofline
(``hypotheses.evaluate``). Catalog keys: ``findings.hyp.<method>.*``. Each generator is
registered with ``@method`` (``registry.py``): its class, its run order and the method keys it
produces."""

from __future__ import annotations

from collections.abc import Callable
from functools import cache

from reportgen.analysis.counting.records import OpKind
from reportgen.analysis.findings.models import thresholds
from reportgen.analysis.hypotheses import transforms as tf
from reportgen.analysis.hypotheses.models import (
    CHANGES_REQUIREMENT,
    Hypothesis,
    MethodClass,
    hyp_msg,
)
from reportgen.analysis.hypotheses.registry import method
from reportgen.analysis.hypotheses.study import Study, Variant, evaluate, make, predict
from reportgen.analysis.prediction.runtime import as_deployed
from reportgen.spec.schema import Precision
from reportgen.text import Arg

Q = MethodClass


def knobs() -> dict:
    return thresholds()["hypotheses"]


@cache
def _catalog_ids() -> tuple[str, ...]:
    from reportgen.catalog.platforms import load_catalog

    return tuple(load_catalog())


def portability_precision(prec: str) -> int:
    """Catalog platforms whose default unit runs ``prec`` with a usable peak (int4: fp16 peak)."""
    from reportgen.catalog.platforms import load_catalog

    n = 0
    for p in load_catalog().values():
        cp = "fp16" if prec == "int4" else prec
        pk = p.peak(cp) if p.runs(prec) else None
        n += int(pk is not None and pk.usable)
    return n


def portability_sparse() -> int:
    from reportgen.catalog.platforms import load_catalog

    return sum(1 for p in load_catalog().values()
               if any(pk.sparse for pk in p.unit().peak.values() if pk.supported))


def everywhere() -> int:
    return len(_catalog_ids())


def not_applicable(h: Hypothesis, key: str) -> Hypothesis:
    """``h`` marked as not applicable for this model/target (``key``: the reason's catalog key);
    its effect is not computed, so it is never ranked or charted."""
    h.applicable, h.not_applicable_key, h.after = False, key, None
    return h


def weight_streaming_share(s: Study) -> float:
    """Share of the bytes a pass moves that are weights read by matmuls with few activation rows
    (batch-1 / decode linears): the traffic weight-only quantization removes."""
    from reportgen.analysis.counting.classify import memory_category

    rows = thresholds()["findings"]["decode_rows"]
    total = sum(r.bytes_moved for r in s.trace.records) or 1
    return sum(r.weight_bytes for r in s.trace.records
               if memory_category(r, rows) == "weight_streaming") / total


def _mac_share(s: Study, pred: Callable[[object], bool]) -> float:
    total = sum(r.macs for r in s.trace.records) or 1
    return sum(r.macs for r in s.trace.records if pred(r)) / total


_PREREQ = {
    "fp16": ["findings.prereq.cast"],
    "bf16": ["findings.prereq.cast"],
    "int8": ["findings.prereq.calibration", "findings.prereq.toolchain_int8",
             "findings.prereq.qat_fallback"],
    "int4": ["findings.prereq.calibration_gptq", "findings.prereq.int4_kernels"],
}


@method(Q.quantization, order=20, keys=("quant_fp16", "quant_bf16", "quant_int8", "quant_int4",
                                            "quant_int8_dynamic"))
def quantization(s: Study) -> list[Hypothesis]:
    out: list[Hypothesis] = []
    base = Precision(s.precision).bytes
    targets = s.finding_ids("memory-bound", "capacity", "compute-bound", "bandwidth-io",
                            "unsupported")
    bp, _ = predict(s, Variant(s.trace, s.platform, s.precision))
    for prec in ("fp16", "bf16", "int8", "int4"):
        if Precision(prec).bytes >= base or not s.platform.runs(prec):
            continue
        if prec == "bf16" and s.platform.runs("fp16") and "fp16" != s.precision:
            continue  # same bytes and peak as fp16 on the catalog's units: one is enough
        method = f"quant_{prec}"
        h = make(s, method, Q.quantization, targets=targets, prerequisites=_PREREQ[prec],
                 portability=portability_precision(prec),
                 title=hyp_msg(method, "title", precision=Arg(v=prec, f="text")))
        h.mechanism = hyp_msg(h.method, "mechanism", precision=Arg(v=prec, f="text"),
                              base=Arg(v=s.precision, f="text"), bw=Arg(v=Precision(prec).bytes),
                              bw0=Arg(v=base), peak=Arg(v=None, f="si"),
                              peak0=Arg(v=bp.peak_op_per_s, f="si"))
        if prec == "int4" and weight_streaming_share(s) < knobs()["int4_min_weight_streaming"]:
            # W4A16 only shrinks weight reads: it pays where weights are streamed (decode,
            # batch-1 linears), not in compute-bound convs or large-batch GEMMs
            out.append(not_applicable(h, "findings.na.int4_no_weight_streaming"))
            continue
        v = Variant(s.trace, s.platform, prec)
        evaluate(s, h, v)
        assert h.after is not None
        h.mechanism = hyp_msg(h.method, "mechanism", precision=Arg(v=prec, f="text"),
                              base=Arg(v=s.precision, f="text"), bw=Arg(v=Precision(prec).bytes),
                              bw0=Arg(v=base), peak=Arg(v=h.after.peak_op_per_s, f="si"),
                              peak0=Arg(v=bp.peak_op_per_s, f="si"))
        out.append(h)
    if s.platform.default_unit.startswith("cpu") and s.precision == "fp32" and s.platform.runs("fp32"):
        share = _mac_share(s, lambda r: r.kind == OpKind.matmul)  # type: ignore[attr-defined]
        if share >= knobs()["min_share_to_propose"]:
            h = make(s, "quant_int8_dynamic", Q.quantization, targets=targets,
                     prerequisites=["findings.prereq.none_dynamic"],
                     portability=portability_precision("fp32"),
                     mechanism=hyp_msg("quant_int8_dynamic", "mechanism",
                                       share=Arg(v=share, f="pct")))
            out.append(evaluate(s, h, Variant(tf.weight_only(s.trace, 1.0, kinds=(OpKind.matmul,)),
                                                s.platform, "fp32")))
    return out


@method(Q.pruning, order=30, keys=("prune_unstructured", "prune_structured", "prune_2_4"))
def pruning(s: Study) -> list[Hypothesis]:
    k = knobs()
    out: list[Hypothesis] = []
    targets = s.finding_ids("compute-bound", "memory-bound", "capacity")
    bp, _ = predict(s, Variant(s.trace, s.platform, s.precision))
    sp = k["unstructured_sparsity"]
    bits = Precision(s.precision).bytes * 8
    stored = bp.weight_bytes * (1 - sp) + bp.weight_bytes / bits  # values kept + 1-bit mask
    h = make(s, "prune_unstructured", Q.pruning, targets=s.finding_ids("capacity"),
             prerequisites=["findings.prereq.finetune"], portability=everywhere(),
             title=hyp_msg("prune_unstructured", "title", sparsity=Arg(v=sp, f="pct")),
             mechanism=hyp_msg("prune_unstructured", "mechanism", sparsity=Arg(v=sp, f="pct")),
             notes=["findings.note.no_sparse_kernels"])
    evaluate(s, h, Variant(s.trace, s.platform, s.precision, storage_bytes=stored))
    if not s.finding_ids("capacity") and (h.speedup is None or h.speedup < 1.01):
        # ×1.00 without sparse kernels: a fact about the method on this target, not a candidate
        not_applicable(h, "findings.na.storage_only")
    out.append(h)
    if len(tf.mac_positions(s.trace)) >= 3:
        f = k["prune_fraction"]
        h = make(s, "prune_structured", Q.pruning, targets=targets,
                 prerequisites=["findings.prereq.finetune", "findings.prereq.train_data"],
                 portability=everywhere(),
                 title=hyp_msg("prune_structured", "title", fraction=Arg(v=f, f="pct")),
                 mechanism=hyp_msg("prune_structured", "mechanism", fraction=Arg(v=f, f="pct")))
        out.append(evaluate(s, h, Variant(tf.prune_channels(s.trace, f), s.platform, s.precision)))
    cands = [p for p in dict.fromkeys([s.precision, "fp16", "int8"])
             if s.platform.runs(p) and (pk := s.platform.peak(p, sparse=True)) is not None
             and pk.si and pk.usable]
    h = make(s, "prune_2_4", Q.pruning, targets=s.finding_ids("compute-bound"),
             prerequisites=["findings.prereq.finetune", "findings.prereq.sparse_runtime"],
             portability=portability_sparse())
    if cands:
        prec = cands[0]
        h.title = hyp_msg(h.method, "title", precision=Arg(v=prec, f="text"))
        h.mechanism = hyp_msg(h.method, "mechanism", precision=Arg(v=prec, f="text"))
        out.append(evaluate(s, h, Variant(tf.sparse_weights(s.trace, 0.5, 2.0), s.platform,
                                          prec, sparse=True)))
    else:
        h.applicable, h.not_applicable_key = False, "findings.na.no_sparse"
        h.title = hyp_msg(h.method, "title", precision=Arg(v=s.precision, f="text"))
        h.mechanism = hyp_msg(h.method, "mechanism", **h.title.params)
        out.append(h)
    return out


def _student_inputs(s: Study, student_card: object) -> object:
    from reportgen.spec.schema import Inputs

    assert s.ctx is not None  # the caller skips students when there is no study context
    teacher = s.ctx.products.need_resolved().inputs
    data = student_card.inputs.model_dump()  # type: ignore[attr-defined]
    section = teacher.section_for(student_card.domain)  # type: ignore[attr-defined]
    if getattr(teacher, section) is not None and data.get(section) is not None:
        data[section] = getattr(teacher, section).model_dump()
    data["batch_size"] = teacher.batch_size
    return Inputs.model_validate(data)


@method(Q.distillation, order=10, keys=("distillation",))
def distillation(s: Study) -> list[Hypothesis]:
    from reportgen.analysis.counting.retrace import retrace
    from reportgen.catalog.cards import load_card
    from reportgen.models.build import Resolved

    out: list[Hypothesis] = []
    targets = s.finding_ids("compute-bound", "memory-bound", "capacity", "scaling")
    students = list(s.card.distillation_students) if s.card is not None else []
    teacher_params = s.trace.params.total or 1
    for sid in students[:2]:
        sc = load_card(sid)
        if sc.domain.value != s.domain or s.ctx is None:
            continue
        res = Resolved(source=sc.build, card=sc, domain=sc.domain, task=sc.task,
                       inputs=sc.inputs)
        own_input = False
        try:
            trace = as_deployed(s.ctx, retrace(s.ctx, _student_inputs(s, sc), resolved=res))  # type: ignore[arg-type]
        except Exception:
            trace, own_input = as_deployed(s.ctx, retrace(s.ctx, sc.inputs, resolved=res)), True
        ratio = trace.params.total / teacher_params
        same_task = s.card is not None and sc.task.split("(")[0].strip() == \
            s.card.task.split("(")[0].strip()
        risk = "high" if ratio < 0.1 or not same_task else "medium"
        h = make(s, "distillation", Q.distillation, hid=f"distill_{sid}", targets=targets,
                 prerequisites=["findings.prereq.teacher_data", "findings.prereq.training"],
                 risk=risk, portability=everywhere(),  # type: ignore[arg-type]
                 title=hyp_msg("distillation", "title", student=Arg(v=sc.name, f="text")),
                 mechanism=hyp_msg("distillation", "mechanism", student=Arg(v=sc.name, f="text"),
                                   teacher=Arg(v=s.card.name if s.card else "", f="text")),
                 risk_note=hyp_msg("distillation", "risk", ratio=Arg(v=ratio, f="pct"),
                                   task=Arg(v=sc.task, f="text")),
                 notes=["findings.note.student_own_input"] if own_input else [])
        if not same_task:
            h.notes.append("findings.note.student_other_task")
        if ratio >= 1.0:
            out.append(not_applicable(h, "findings.na.student_not_smaller"))
            continue
        out.append(evaluate(s, h, Variant(trace, s.platform, s.precision)))
    if not any(h.applicable for h in out):
        found = tf.repeated_layers(s.trace)
        if found is not None:
            prefix, idx = found
            t2 = tf.drop_layers(s.trace)
            h = make(s, "distillation", Q.distillation, hid="distill_half_depth", targets=targets,
                     prerequisites=["findings.prereq.teacher_data", "findings.prereq.training"],
                     portability=everywhere(),
                     title=hyp_msg("distillation", "title",
                                   student=Arg(v="findings.hyp.distillation.half_depth", f="key")),
                     mechanism=hyp_msg("distillation", "mechanism",
                                       student=Arg(v="findings.hyp.distillation.half_depth", f="key"),
                                       teacher=Arg(v=f"{prefix} ×{len(idx)}", f="code")),
                     risk_note=hyp_msg("distillation", "risk",
                                       ratio=Arg(v=t2.param_bytes / (s.trace.param_bytes or 1), f="pct"),
                                       task=Arg(v="", f="text")))
            out.append(evaluate(s, h, Variant(t2, s.platform, s.precision)))
    return out


def _standard_conv(r: object) -> bool:
    shapes = r.input_shapes  # type: ignore[attr-defined]
    if r.kind != OpKind.conv or len(shapes) < 2 or len(shapes[1]) != 4:  # type: ignore[attr-defined]
        return False
    cout, cin_g, kh, kw = shapes[1]
    return kh * kw > 1 and len(shapes[0]) > 1 and cin_g == shapes[0][1]


@method(Q.architectural, order=40, keys=("arch_depthwise", "arch_low_rank",
                                             "arch_efficient_attention", "arch_hashed_embeddings",
                                             "arch_smaller_input"))
def architectural(s: Study) -> list[Hypothesis]:
    k = knobs()
    out: list[Hypothesis] = []
    from reportgen.analysis.counting.classify import depthwise

    share = _mac_share(s, _standard_conv)
    has_dw = any(r.kind == OpKind.conv and depthwise(r) for r in s.trace.records)
    if share >= k["min_share_to_propose"] or (has_dw and share > 0):
        h = make(s, "arch_depthwise", Q.architectural, targets=s.finding_ids("compute-bound"),
                 prerequisites=["findings.prereq.retrain"], portability=everywhere(),
                 mechanism=hyp_msg("arch_depthwise", "mechanism", share=Arg(v=share, f="pct")))
        if has_dw:  # MobileNet, ShuffleNet, EfficientNet: the property is already there
            out.append(not_applicable(h, "findings.na.already_depthwise"))
        else:
            out.append(evaluate(s, h, Variant(tf.depthwise_separable(s.trace), s.platform,
                                              s.precision)))
    min_b = k["low_rank_min_weight_mb"] * 1e6
    share = _mac_share(s, lambda r: r.kind == OpKind.matmul and r.weight_bytes >= min_b)  # type: ignore[attr-defined]
    if share >= k["min_share_to_propose"]:
        f = k["low_rank_fraction"]
        h = make(s, "arch_low_rank", Q.architectural,
                 targets=s.finding_ids("compute-bound", "memory-bound", "capacity"),
                 prerequisites=["findings.prereq.finetune"], portability=everywhere(),
                 mechanism=hyp_msg("arch_low_rank", "mechanism", share=Arg(v=share, f="pct"),
                                   rank=Arg(v=f, f="pct")))
        out.append(evaluate(s, h, Variant(tf.low_rank(s.trace, f, min_b), s.platform, s.precision)))
    total_b = sum(r.bytes_moved for r in s.trace.records) or 1
    att = tf.attention_score_bytes(s.trace) / total_b
    if att >= k["min_share_to_propose"]:
        h = make(s, "arch_efficient_attention", Q.architectural,
                 targets=s.finding_ids("memory-bound", subtypes=("softmax", "elementwise")) +
                 s.finding_ids("scaling"),
                 prerequisites=["findings.prereq.runtime_sdpa"], portability=everywhere(),
                 mechanism=hyp_msg("arch_efficient_attention", "mechanism",
                                   share=Arg(v=att, f="pct")))
        out.append(evaluate(s, h, Variant(tf.flash_attention(s.trace), s.platform, s.precision)))
    emb = s.trace.params.embedding / (s.trace.params.total or 1)
    if emb >= 0.5:
        rows = k["hashed_embedding_rows"]
        h = make(s, "arch_hashed_embeddings", Q.architectural,
                 targets=s.finding_ids("capacity", "memory-bound"),
                 prerequisites=["findings.prereq.retrain"], portability=everywhere(),
                 mechanism=hyp_msg("arch_hashed_embeddings", "mechanism", share=Arg(v=emb, f="pct"),
                                   rows=Arg(v=rows, f="pct")))
        out.append(evaluate(s, h, Variant(tf.hash_embeddings(s.trace, rows), s.platform, s.precision)))
    scale = k["input_scale"].get(s.domain)
    resolved = s.ctx.products.resolved if s.ctx is not None else None
    if scale and resolved is not None:
        from reportgen.analysis.counting.axes import scaled_inputs
        from reportgen.analysis.counting.retrace import retrace

        factor = scale * scale if s.domain == "cv" else scale
        inputs2, axis, size, achieved = scaled_inputs(resolved.inputs, s.domain, factor)
        t2 = as_deployed(s.ctx, retrace(s.ctx, inputs2))
        new = inputs2.image.height if s.domain == "cv" and inputs2.image else size * achieved
        old = resolved.inputs.image.height if s.domain == "cv" and resolved.inputs.image else size
        if s.domain == "cv":
            axis = "image_size"
        h = make(s, "arch_smaller_input", Q.architectural,
                 targets=s.finding_ids("compute-bound", "memory-bound", "scaling"),
                 prerequisites=["findings.prereq.finetune"], portability=everywhere(),
                 title=hyp_msg("arch_smaller_input", "title",
                               axis=Arg(v=f"findings.axis.{axis}", f="key")),
                 mechanism=hyp_msg("arch_smaller_input", "mechanism",
                                   axis=Arg(v=f"findings.axis.{axis}", f="key"), old=Arg(v=old),
                                   new=Arg(v=new)))
        h.notes.append(CHANGES_REQUIREMENT)
        out.append(evaluate(s, h, Variant(t2, s.platform, s.precision)))
    return out


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
    if best_dev is not None and (base.latency_s is None or best_dev[1] < base.latency_s or base.fits == "fail"):
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



