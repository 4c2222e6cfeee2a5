"""Hypothesis generators, one per class of the course. Each builds a Variant (a transformed or
re-traced Trace on a platform at a precision) and evaluates it with the roofline
(``hypotheses.evaluate``). Catalog keys: ``findings.hyp.<method>.*``. Each generator is
registered with ``@method`` (``registry.py``): its class, its run order and the method keys it
produces. This module holds the generators that change the model (quantization, pruning,
distillation, architecture); ``deployment.py`` those that change where or how it runs
(hardware, inference), and importing this module registers both. Shared helpers:
``toolkit.py``."""

from __future__ import annotations

from reportgen.analysis.counting.records import OpKind
from reportgen.analysis.hypotheses import deployment as _deployment  # noqa: F401  (registers hardware, inference)
from reportgen.analysis.hypotheses import transforms as tf
from reportgen.analysis.hypotheses.models import (
    CHANGES_REQUIREMENT,
    Hypothesis,
    MethodClass,
    hyp_msg,
)
from reportgen.analysis.hypotheses.registry import method
from reportgen.analysis.hypotheses.study import Study, Variant, evaluate, make, predict
from reportgen.analysis.hypotheses.toolkit import (
    everywhere,
    knobs,
    mac_share,
    not_applicable,
    portability_precision,
    portability_sparse,
    weight_streaming_share,
)
from reportgen.analysis.prediction.runtime import as_deployed
from reportgen.spec.schema import Precision
from reportgen.text import Arg

Q = MethodClass


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
        share = mac_share(s, lambda r: r.kind == OpKind.matmul)  # type: ignore[attr-defined]
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
        given = getattr(teacher, section).model_dump()
        if section == "audio":
            # the same clip, in the student's own features: a keyword spotter trained on log-mel
            # frames is not fed the teacher's raw waveform (DS-CNN-S took wav2vec2's 80,000
            # samples as one unbatched 1×80000 'image' and was predicted ×307 faster)
            given = {**data[section], "seconds": given["seconds"], "sample_rate": given["sample_rate"]}
        data[section] = given
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

    share = mac_share(s, _standard_conv)
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
    share = mac_share(s, lambda r: r.kind == OpKind.matmul and r.weight_bytes >= min_b)  # type: ignore[attr-defined]
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

