"""Closed-form checks of the trace transforms (hypotheses and the deployment baseline)."""

from __future__ import annotations

import pytest

from reportgen.analysis.counting.records import OpKind, OpRecord, ParamGroup, Trace
from reportgen.analysis.hypotheses import transforms as tf
from reportgen.analysis.prediction import deploy


def linear(i: int, rows: int, n_in: int, n_out: int, *, bias: bool = True,
           module: str | None = None) -> OpRecord:
    """addmm(bias[n_out], x[rows, n_in], wT[n_in, n_out]) at fp32, as the tracer records it."""
    shapes = ([[n_out]] if bias else []) + [[rows, n_in], [n_in, n_out]]
    return OpRecord(index=i, op="aten.addmm.default" if bias else "aten.mm.default",
                    kind=OpKind.matmul, module=module or f"fc{i}", module_type="Linear",
                    input_shapes=shapes, output_shapes=[[rows, n_out]], dtype="float32",
                    macs=rows * n_in * n_out,
                    weight_bytes=4 * (n_in * n_out + (n_out if bias else 0)),
                    act_bytes_read=4 * rows * n_in, bytes_written=4 * rows * n_out)


def lookup(i: int, ids: int, dim: int) -> OpRecord:
    return OpRecord(index=i, op="aten.embedding.default", kind=OpKind.embedding, module="emb",
                    module_type="Embedding", input_shapes=[[1000, dim], [ids]],
                    output_shapes=[[ids, dim]], dtype="float32", weight_bytes=4 * ids * dim,
                    act_bytes_read=8 * ids, bytes_written=4 * ids * dim)


def int64_op(i: int, n: int) -> OpRecord:
    """An op on int64 ids (offsets, a cast): element size 8, no weights."""
    return OpRecord(index=i, op="aten.add.Tensor", kind=OpKind.elementwise, module="ids",
                    module_type="Module", input_shapes=[[n]], output_shapes=[[n]], dtype="int64",
                    act_bytes_read=8 * n, bytes_written=8 * n, element_bytes=8.0)


def wide_and_deep() -> Trace:
    """1000×64 embedding table (256 000 B) + two linears 64→256 and 256→1 with biases."""
    recs = [int64_op(0, 26), lookup(1, 26, 64), linear(2, 1, 64, 256), linear(3, 1, 256, 1)]
    emb, other = 1000 * 64, 64 * 256 + 256 + 256 + 1
    return Trace(records=recs, params=ParamGroup(embedding=emb, other=other),
                 param_bytes=4 * (emb + other), buffer_bytes=0, peak_activation_bytes=4096,
                 peak_activation_op=2, input_bytes=8 * 26, output_bytes=4)


def test_dynamic_int8_quantizes_only_linear_weight_matrices() -> None:
    t = wide_and_deep()
    q = tf.weight_only(t, 1.0, kinds=(OpKind.matmul,))
    # the int64 op does not set the scale: each matrix goes from 4 to 1 byte, biases stay fp32
    assert q.records[2].weight_bytes == 64 * 256 * 1 + 256 * 4
    assert q.records[3].weight_bytes == 256 * 1 + 1 * 4
    assert q.records[1].weight_bytes == t.records[1].weight_bytes  # embedding untouched
    saved = (64 * 256 + 256) * 3
    assert q.param_bytes == t.param_bytes - saved
    # the embedding table stays at fp32: far above full int8 (every parameter at 1 byte)
    assert q.param_bytes - t.param_bytes / 4 >= 4 * 1000 * 64 * 3 / 4


def test_weight_only_everything_scales_embedding_tables_too() -> None:
    t = wide_and_deep()
    q = tf.weight_only(t, 0.5)  # int4 weights
    emb_bytes = 4 * 1000 * 64
    assert q.records[1].weight_bytes == t.records[1].weight_bytes // 8
    want = t.param_bytes - emb_bytes * 7 / 8 - (64 * 256 + 256) * 3.5
    assert q.param_bytes == pytest.approx(want, abs=1)


def test_low_rank_factorises_linears_with_a_bias() -> None:
    n_in, n_out, rows = 768, 3072, 128
    t = Trace(records=[linear(0, rows, n_in, n_out)], params=ParamGroup(other=n_in * n_out + n_out),
              param_bytes=4 * (n_in * n_out + n_out), buffer_bytes=0, peak_activation_bytes=0,
              peak_activation_op=0, input_bytes=0, output_bytes=0)
    lr = tf.low_rank(t, 0.25, 1e6)
    r = 192  # 0.25 × min(768, 3072)
    f = r * (n_in + n_out) / (n_in * n_out)
    assert f == pytest.approx(0.3125)
    assert lr.records[0].macs == round(rows * n_in * n_out * f)
    assert lr.records[0].weight_bytes == round(4 * n_in * n_out * f) + 4 * n_out
    assert lr.param_bytes == t.param_bytes - round(4 * n_in * n_out * (1 - f))


def test_low_rank_leaves_small_linears() -> None:
    t = wide_and_deep()
    lr = tf.low_rank(t, 0.25, 1e6)  # the biggest matrix is 65 536 B < 1 MB
    assert [r.macs for r in lr.records] == [r.macs for r in t.records]


def conv_bn_relu(bias: bool) -> Trace:
    c, hw = 8, 6
    conv = OpRecord(index=0, op="aten.convolution.default", kind=OpKind.conv, module="conv",
                    module_type="Conv2d",
                    input_shapes=[[1, 3, 8, 8], [c, 3, 3, 3]] + ([[c]] if bias else []),
                    output_shapes=[[1, c, hw, hw]], dtype="float32", macs=c * 27 * hw * hw,
                    weight_bytes=4 * (c * 27 + (c if bias else 0)), act_bytes_read=4 * 192,
                    bytes_written=4 * c * hw * hw)
    empty = OpRecord(index=1, op="aten.empty.memory_format", kind=OpKind.data_movement,
                     module="bn", module_type="BatchNorm2d", input_shapes=[], output_shapes=[[0]],
                     dtype="float32")
    bn = OpRecord(index=2, op="aten._native_batch_norm_legit_no_training.default",
                  kind=OpKind.normalization, module="bn", module_type="BatchNorm2d",
                  input_shapes=[[1, c, hw, hw]] + [[c]] * 4, output_shapes=[[1, c, hw, hw]],
                  dtype="float32", vector_flops=5 * c * hw * hw, weight_bytes=4 * 4 * c,
                  act_bytes_read=4 * c * hw * hw, bytes_written=4 * c * hw * hw)
    relu = OpRecord(index=3, op="aten.relu.default", kind=OpKind.elementwise, module="act",
                    module_type="ReLU", input_shapes=[[1, c, hw, hw]],
                    output_shapes=[[1, c, hw, hw]], dtype="float32", vector_flops=c * hw * hw,
                    act_bytes_read=4 * c * hw * hw, bytes_written=4 * c * hw * hw)
    pb = 4 * (c * 27 + (c if bias else 0) + 2 * c)
    return Trace(records=[conv, empty, bn, relu],
                 params=ParamGroup(other=c * 27 + (c if bias else 0) + 2 * c), param_bytes=pb,
                 buffer_bytes=4 * 2 * c, peak_activation_bytes=0, peak_activation_op=0,
                 input_bytes=4 * 192, output_bytes=4 * c * 36)


@pytest.mark.parametrize("bias", [False, True])
def test_fold_batchnorm_removes_the_bn_op_and_its_traffic(bias: bool) -> None:
    t = conv_bn_relu(bias)
    f = deploy.fold_batchnorm(t)
    c = 8
    assert [r.kind for r in f.records] == [OpKind.conv, OpKind.data_movement, OpKind.elementwise]
    # the conv gains a bias of C_out when it had none; its MACs are unchanged
    assert f.records[0].weight_bytes == 4 * (c * 27 + c)
    assert f.records[0].macs == t.records[0].macs
    moved = sum(r.bytes_moved for r in t.records) - sum(r.bytes_moved for r in f.records)
    assert moved == t.records[2].bytes_moved - (0 if bias else 4 * c)
    assert f.param_bytes == 4 * (c * 27 + c)  # conv weight + one bias; BN's γ, β are gone
    assert f.buffer_bytes == 0  # running mean / var folded away
    assert t.records[2].kind == OpKind.normalization  # the original is untouched


def test_compiled_baseline_folds_then_fuses_to_one_kernel() -> None:
    t = conv_bn_relu(False)
    f = deploy.fuse(deploy.fold_batchnorm(t))
    kernels = [r for r in f.records if r.bytes_moved]
    assert len(kernels) == 1 and kernels[0].kind == OpKind.conv
    c, hw = 8, 6
    # one read of the input and weights, one write of the ReLU output
    assert kernels[0].bytes_moved == 4 * (192 + c * 27 + c + c * hw * hw)


def test_fold_batchnorm_on_a_real_trace() -> None:
    import torch

    from reportgen.analysis.counting.trace import trace_forward

    m = torch.nn.Sequential(torch.nn.Conv2d(3, 8, 3, bias=False), torch.nn.BatchNorm2d(8),
                            torch.nn.ReLU()).eval().to("meta")
    t, _, _ = trace_forward(m, (torch.empty(1, 3, 8, 8, device="meta"),), {})
    f = deploy.fold_batchnorm(t)
    assert not any(deploy.is_batchnorm(r) for r in f.records)
    assert any(deploy.is_batchnorm(r) for r in t.records)
    assert f.param_bytes == 4 * (8 * 27 + 8)
