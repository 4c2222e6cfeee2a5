"""Hypotheses that make sense for this model: the sanity filter on the method generators."""

from __future__ import annotations

from reportgen.analysis.counting.records import OpKind, OpRecord, ParamGroup, Trace
from reportgen.analysis.hypotheses.methods import (
    architectural,
    quantization,
    weight_streaming_share,
)
from tests.test_hypotheses import conv, relu, study, toy_cnn


def dw_conv(i: int, c: int, hw: int, el: float = 2.0) -> OpRecord:
    return OpRecord(index=i, op="aten.convolution.default", kind=OpKind.conv, module=f"dw{i}",
                    module_type="Conv2d", input_shapes=[[1, c, hw, hw], [c, 1, 3, 3]],
                    output_shapes=[[1, c, hw, hw]], dtype="float16", macs=hw * hw * c * 9,
                    weight_bytes=int(c * 9 * el), act_bytes_read=int(c * hw * hw * el),
                    bytes_written=int(c * hw * hw * el), element_bytes=el)


def mobile_cnn() -> Trace:
    """A standard 3×3 stem (most MACs at this size) followed by depthwise + pointwise blocks."""
    recs = [conv(0, 3, 32, 56), relu(1, 32 * 56 * 56), dw_conv(2, 32, 56), conv(3, 32, 64, 56, k=1),
            dw_conv(4, 64, 56), conv(5, 64, 64, 56, k=1)]
    wb = sum(r.weight_bytes for r in recs)
    return Trace(records=recs, params=ParamGroup(other=wb // 2), param_bytes=wb, buffer_bytes=0,
                 peak_activation_bytes=2 * 64 * 56 * 56 * 2, peak_activation_op=1,
                 input_bytes=3 * 56 * 56 * 2, output_bytes=64 * 56 * 56 * 2, dtype="float16")


def decoder_step(layers: int = 4, d: int = 4096) -> Trace:
    """Batch-1 decode: each linear reads a d×d fp16 matrix for one row of activations."""
    recs = [OpRecord(index=i, op="aten.mm.default", kind=OpKind.matmul, module=f"l{i}",
                     module_type="Linear", input_shapes=[[1, d], [d, d]], output_shapes=[[1, d]],
                     dtype="float16", macs=d * d, weight_bytes=2 * d * d, act_bytes_read=2 * d,
                     bytes_written=2 * d, element_bytes=2.0) for i in range(layers)]
    return Trace(records=recs, params=ParamGroup(other=layers * d * d),
                 param_bytes=layers * 2 * d * d, buffer_bytes=0, peak_activation_bytes=4 * d,
                 peak_activation_op=0, input_bytes=2 * d, output_bytes=2 * d, dtype="float16")


def test_depthwise_is_not_proposed_for_a_model_that_has_it() -> None:
    s = study(mobile_cnn(), "nvidia_a100_80gb_sxm", "fp16")
    h = next(h for h in architectural(s) if h.method == "arch_depthwise")
    assert not h.applicable and h.after is None
    assert h.not_applicable_key == "findings.na.already_depthwise"
    plain = study(toy_cnn(), "nvidia_a100_80gb_sxm", "fp16")
    h2 = next(h for h in architectural(plain) if h.method == "arch_depthwise")
    assert h2.applicable and h2.after is not None  # computed (on the A100 it is memory-bound)
    assert h2.after.macs < h2.before.macs


def test_int4_weight_only_only_where_weights_stream() -> None:
    cnn = study(toy_cnn(), "nvidia_rtx_4090", "fp16")
    assert weight_streaming_share(cnn) == 0.0  # convs: no streamed weights
    h = next(h for h in quantization(cnn) if h.method == "quant_int4")
    assert not h.applicable and h.not_applicable_key == "findings.na.int4_no_weight_streaming"
    llm = study(decoder_step(), "nvidia_rtx_4090", "fp16")
    d = 4096
    share = weight_streaming_share(llm)
    assert share == 2 * d * d / (2 * d * d + 4 * d)  # weights over all bytes of each op
    h4 = next(h for h in quantization(llm) if h.method == "quant_int4")
    assert h4.applicable and h4.after is not None
    assert h4.after.weight_bytes == h4.before.weight_bytes / 4  # 0.5 vs 2 bytes per weight
    assert h4.speedup is not None and h4.speedup > 3  # memory-bound: time follows the bytes
