"""Closed-form counts for the ops the issue names: conv (1d/2d/3d, grouped, depthwise,
transposed), linear, einsum, attention with and without the fused paths, embeddings."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from reportgen.analysis.counting.records import OpKind
from reportgen.analysis.counting.trace import trace_forward

B = 2


def _meta(*shape: int, dtype: torch.dtype = torch.float32) -> torch.Tensor:
    return torch.empty(*shape, device="meta", dtype=dtype)


def _macs(model: nn.Module, *args: torch.Tensor, **kwargs: object) -> int:
    trace, _, _ = trace_forward(model.to("meta").eval(), args, dict(kwargs))
    return sum(r.macs for r in trace.records)


class Fn(nn.Module):
    def __init__(self, fn) -> None:  # type: ignore[no-untyped-def]
        super().__init__()
        self.fn = fn

    def forward(self, *args):  # type: ignore[no-untyped-def]
        return self.fn(*args)


@pytest.mark.parametrize("dims", [1, 2, 3])
def test_conv_nd(dims: int) -> None:
    cin, cout, k, size = 8, 16, 3, 10
    conv = getattr(nn, f"Conv{dims}d")(cin, cout, k, padding=1)
    x = _meta(B, cin, *([size] * dims))
    out_positions = size ** dims
    assert _macs(conv, x) == B * cout * out_positions * cin * k ** dims


def test_grouped_and_depthwise_conv() -> None:
    cin, cout, groups, k, hw = 16, 32, 4, 3, 8
    conv = nn.Conv2d(cin, cout, k, padding=1, groups=groups)
    assert _macs(conv, _meta(B, cin, hw, hw)) == B * cout * hw * hw * (cin // groups) * k * k
    dw = nn.Conv2d(cin, cin, k, padding=1, groups=cin)
    assert _macs(dw, _meta(B, cin, hw, hw)) == B * cin * hw * hw * k * k


def test_strided_and_transposed_conv() -> None:
    conv = nn.Conv2d(4, 8, 3, stride=2, padding=1)
    assert _macs(conv, _meta(1, 4, 16, 16)) == 1 * 8 * 8 * 8 * 4 * 9
    tconv = nn.ConvTranspose2d(8, 4, 2, stride=2)
    # every input pixel scatters a k×k×cout patch: cin × H × W × cout × k²
    assert _macs(tconv, _meta(1, 8, 5, 5)) == 8 * 5 * 5 * 4 * 4


@pytest.mark.parametrize("shape", [(B, 32), (B, 7, 32)])
def test_linear(shape: tuple[int, ...]) -> None:
    lin = nn.Linear(32, 24)
    rows = 1
    for s in shape[:-1]:
        rows *= s
    assert _macs(lin, _meta(*shape)) == rows * 32 * 24


def test_einsum_and_matmul() -> None:
    m = Fn(lambda a, b: torch.einsum("bik,bkj->bij", a, b))
    assert _macs(m, _meta(B, 5, 6), _meta(B, 6, 7)) == B * 5 * 6 * 7
    m2 = Fn(lambda a, b: a @ b)
    assert _macs(m2, _meta(3, B, 5, 6), _meta(3, B, 6, 7)) == 3 * B * 5 * 6 * 7


def _attention_macs(b: int, h: int, lq: int, lk: int, d: int) -> int:
    return 2 * b * h * lq * lk * d  # QKᵀ and AV


@pytest.mark.parametrize("causal", [False, True])
def test_sdpa_counted_in_full_and_tagged(causal: bool) -> None:
    b, h, n, d = B, 4, 16, 8
    m = Fn(lambda q, k, v: F.scaled_dot_product_attention(q, k, v, is_causal=causal))
    trace, _, _ = trace_forward(m.to("meta"), (_meta(b, h, n, d), _meta(b, h, n, d), _meta(b, h, n, d)))
    assert sum(r.macs for r in trace.records) == _attention_macs(b, h, n, n, d)
    assert {r.kind for r in trace.records if r.macs} == {OpKind.attention}


def test_fused_cpu_attention_kernel_has_a_formula() -> None:
    # FlopCounterMode counts this CPU kernel as 0; our table counts it like the math path.
    b, h, n, d = 1, 2, 8, 4
    op = torch.ops.aten._scaled_dot_product_flash_attention_for_cpu.default
    m = Fn(lambda q, k, v: op(q, k, v)[0])
    assert _macs(m, _meta(b, h, n, d), _meta(b, h, n, d), _meta(b, h, n, d)) == _attention_macs(b, h, n, n, d)


def _mha_macs(b: int, n: int, e: int, h: int) -> int:
    return b * n * e * 3 * e + _attention_macs(b, h, n, n, e // h) + b * n * e * e


def test_multihead_attention_under_no_grad_counts_everything() -> None:
    b, n, e, h = B, 12, 32, 4
    mha = nn.MultiheadAttention(e, h, batch_first=True)
    x = _meta(b, n, e)
    m = Fn(lambda q: mha(q, q, q, need_weights=False)[0])
    m.mha = mha
    with torch.no_grad():
        assert _macs(m, x) == _mha_macs(b, n, e, h)


def test_transformer_encoder_layer_fast_path_is_not_taken() -> None:
    b, n, e, h, ff = B, 10, 32, 4, 64
    layer = nn.TransformerEncoderLayer(e, h, dim_feedforward=ff, batch_first=True, dropout=0.0)
    with torch.no_grad():
        got = _macs(layer, _meta(b, n, e))
    assert got == _mha_macs(b, n, e, h) + b * n * e * ff * 2


def test_embedding_reads_only_gathered_rows() -> None:
    vocab, dim, n = 50_000, 64, 10
    emb = nn.Embedding(vocab, dim)
    trace, _, _ = trace_forward(emb.to("meta"), (_meta(B, n, dtype=torch.long),))
    [rec] = [r for r in trace.records if r.kind is OpKind.embedding]
    assert rec.macs == 0
    assert rec.weight_bytes == B * n * dim * 4  # not the 12.8 MB table
    assert rec.act_bytes_read == B * n * 8  # int64 indices
    assert trace.params.embedding == vocab * dim and trace.params.other == 0


def test_embedding_bag_sum() -> None:
    rows, dim, bag = 1000, 16, 5
    eb = nn.EmbeddingBag(rows, dim, mode="sum")
    trace, _, _ = trace_forward(eb.to("meta"), (_meta(B, bag, dtype=torch.long),))
    recs = [r for r in trace.records if r.kind is OpKind.embedding]
    assert sum(r.weight_bytes for r in recs) == B * bag * dim * 4
    assert sum(r.vector_flops for r in recs) == B * bag * dim


def test_views_move_no_bytes() -> None:
    m = Fn(lambda x: x.view(B, -1).unsqueeze(0).transpose(1, 2))
    trace, _, _ = trace_forward(m, (_meta(B, 3, 4),))
    assert trace.records and all(r.kind is OpKind.view for r in trace.records)
    assert sum(r.bytes_moved for r in trace.records) == 0
