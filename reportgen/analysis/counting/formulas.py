"""Op → (kind, MAC formula, vector-FLOP estimate, byte rule) tables.

MAC formulas reuse ``torch.utils.flop_counter.flop_registry`` (which returns FLOPs = 2 × MACs)
and add the ones it lacks, registered here with the same shape-only signature. A new MAC op is
one function under ``@register_formula(aten.op, kind=OpKind.matmul)`` (the decorator is its table
row: packets and kind); a new non-MAC op is one name in the kind's set below, which picks its
vector-FLOP rule (fvcore's ``_DEFAULT_SUPPORTED_OPS`` idea).

Conventions (shown in every report's methodology):
- MACs: multiply-accumulates of matmul / conv / attention ops only, from shapes. Causal attention
  is counted in full (the math path computes the whole score matrix), not halved.
- vector FLOPs (an estimate, not exact): elementwise ops 1 per output element; normalisation
  (batch/layer/group/RMS norm) 5 per element; softmax 4 per element; reductions and pooling
  1 per input element read; embedding-bag sums 1 per gathered element.
- Bytes: inputs read + outputs written at the op's dtype (un-fused upper bound); views move
  nothing; embedding lookups read only the gathered rows.
"""

from __future__ import annotations

from collections.abc import Callable
from math import prod
from typing import Any

import torch
from torch.utils.flop_counter import flop_registry, sdpa_flop_count

from reportgen.analysis.counting.records import OpKind

aten = torch.ops.aten

# --------------------------------------------------------------------------- extra MAC formulas
# Each takes the op's (args, kwargs, out) and returns FLOPs (2 × MACs) like torch's registry.
FlopFormula = Callable[..., int]
_EXTRA: dict[Any, FlopFormula] = {}
_KIND: dict[str, OpKind] = {}  # kinds given at registration, by overload-packet name


def register_formula(*packets: Any, kind: OpKind | None = None) -> Callable[[FlopFormula], FlopFormula]:
    """Register a FLOP formula for op packets torch's flop_counter does not cover; ``kind``
    classifies them (else the name sets below do). Registering a packet twice raises."""

    def deco(fn: FlopFormula) -> FlopFormula:
        for p in packets:
            if p in _EXTRA or p in flop_registry:
                raise RuntimeError(f"formula for {p} registered twice")
            _EXTRA[p] = fn
            if kind is not None:
                _KIND[p.__name__] = kind
        return fn

    return deco


def unregister_formula(*packets: Any) -> None:
    """Remove formulas registered here (tests that register a toy op clean up with this)."""
    for p in packets:
        _EXTRA.pop(p, None)
        _KIND.pop(p.__name__, None)


def _shape(t: Any) -> tuple[int, ...]:
    return tuple(int(s) for s in t.shape)


@register_formula(aten._scaled_dot_product_flash_attention_for_cpu,
                  aten._scaled_dot_product_fused_attention_overrideable,
                  aten._scaled_dot_product_attention_math)
def _sdpa_cpu_flop(query: Any, key: Any, value: Any, *args: Any, out: Any = None, **kwargs: Any) -> int:
    # The CPU fused kernel is invisible to FlopCounterMode (counts 0); same work as the math path.
    return int(sdpa_flop_count(_shape(query), _shape(key), _shape(value)))


@register_formula(aten._native_multi_head_attention)
def _native_mha_flop(query: Any, key: Any, value: Any, embed_dim: int, num_head: int,
                     *args: Any, out: Any = None, **kwargs: Any) -> int:
    # Fused nn.MultiheadAttention fast path: q/k/v projections, attention, output projection.
    b, lq, e = _shape(query)
    lk = _shape(key)[1]
    d = e // num_head
    proj = b * lq * e * e + 2 * b * lk * e * e + b * lq * e * e
    attn = 2 * b * num_head * lq * lk * d
    return 2 * (proj + attn)


@register_formula(aten.mv, aten.addmv)
def _mv_flop(*args: Any, out: Any = None, **kwargs: Any) -> int:
    mats = [a for a in args if isinstance(a, torch.Tensor) and a.dim() == 2]
    if not mats:
        return 0
    m, n = _shape(mats[0])
    return 2 * m * n


@register_formula(aten.dot, aten.vdot)
def _dot_flop(a: Any, b: Any, *args: Any, out: Any = None, **kwargs: Any) -> int:
    return 2 * a.numel()


def mac_flops(packet: Any, args: tuple[Any, ...], kwargs: dict[str, Any], out: Any) -> int | None:
    """FLOPs (2 × MACs) of a MAC-type op, or None when no formula is registered."""
    fn = _EXTRA.get(packet)
    if fn is not None:
        return int(fn(*args, out=out, **kwargs))
    fn = flop_registry.get(packet)
    if fn is not None:
        return int(fn(*args, **kwargs, out_val=out))
    return None


# --------------------------------------------------------------------------- classification

_MATMUL = {"mm", "addmm", "bmm", "baddbmm", "_scaled_mm", "mv", "addmv", "dot", "vdot"}
_CONV = {"convolution", "_convolution", "convolution_overrideable", "cudnn_convolution",
         "_slow_conv2d_forward", "mkldnn_convolution", "thnn_conv2d", "_conv_depthwise2d",
         "slow_conv3d_forward", "slow_conv_transpose2d", "slow_conv_dilated2d"}
_ATTENTION_PREFIX = ("_scaled_dot_product", "_flash_attention", "_efficient_attention",
                     "_native_multi_head_attention", "flex_attention")
_NORM = {"native_batch_norm", "_native_batch_norm_legit", "_native_batch_norm_legit_no_training",
         "_native_batch_norm_legit_functional", "native_layer_norm", "native_group_norm",
         "batch_norm", "layer_norm", "group_norm", "rms_norm", "_fused_rms_norm",
         "instance_norm", "_batch_norm_impl_index", "cudnn_batch_norm"}
_SOFTMAX = {"_softmax", "_safe_softmax", "_log_softmax", "softmax", "log_softmax"}
_REDUCTION = {"mean", "sum", "amax", "amin", "max", "min", "var", "std", "var_mean", "std_mean",
              "cumsum", "cumprod", "argmax", "argmin", "logsumexp", "norm", "linalg_vector_norm",
              "prod", "all", "any", "avg_pool1d", "avg_pool2d", "avg_pool3d", "max_pool1d",
              "max_pool2d", "max_pool3d", "max_pool2d_with_indices", "max_pool3d_with_indices",
              "adaptive_avg_pool1d", "adaptive_avg_pool2d", "_adaptive_avg_pool2d",
              "adaptive_avg_pool3d", "_adaptive_avg_pool3d", "adaptive_max_pool2d",
              "adaptive_max_pool1d", "mkldnn_adaptive_avg_pool2d", "topk", "sort", "cummax"}
_EMBEDDING = {"embedding", "_embedding_bag", "_embedding_bag_forward_only", "embedding_bag",
              "index_select", "gather", "index", "take", "embedding_renorm_"}
_DATA = {"clone", "copy", "copy_", "_to_copy", "cat", "stack", "constant_pad_nd", "pad",
         "reflection_pad1d", "reflection_pad2d", "replication_pad1d", "replication_pad2d",
         "contiguous", "repeat", "repeat_interleave", "index_put", "index_put_", "_index_put_impl_",
         "scatter", "scatter_", "scatter_add", "scatter_add_", "roll", "flip", "fill", "fill_",
         "zero_", "empty", "empty_like", "empty_strided", "new_empty", "new_empty_strided",
         "zeros", "zeros_like", "new_zeros", "ones", "ones_like", "new_ones", "full", "full_like",
         "new_full", "arange", "scalar_tensor", "tril", "triu", "masked_scatter", "slice_scatter",
         "select_scatter", "narrow_copy", "split_with_sizes_copy", "unfold_copy", "lift_fresh_copy",
         "_pad_packed_sequence", "linspace", "randn", "rand", "randint", "normal", "uniform_",
         "normal_", "bernoulli", "resize_", "set_", "_unsafe_index", "im2col", "col2im",
         "pixel_shuffle", "channel_shuffle", "native_channel_shuffle", "one_hot", "eye",
         "_assert_tensor_metadata", "nonzero", "unique", "_unique2", "bucketize", "searchsorted"}
_VIEW = {"view", "_unsafe_view", "reshape", "alias", "detach", "lift_fresh", "t", "transpose",
         "permute", "expand", "squeeze", "unsqueeze", "select", "slice", "narrow", "as_strided",
         "split", "split_with_sizes", "chunk", "unbind", "unfold", "view_as", "expand_as",
         "_reshape_alias", "movedim", "diagonal", "_local_scalar_dense", "sym_size", "sym_numel",
         "sym_stride", "sym_storage_offset", "is_nonzero", "_to_dense", "view_as_real",
         "view_as_complex", "conj", "_conj", "resolve_conj", "resolve_neg", "_neg_view",
         "unflatten", "flatten", "_nested_tensor_from_mask_left_aligned"}
_ELEMENTWISE = {
    "add", "add_", "sub", "sub_", "rsub", "mul", "mul_", "div", "div_", "neg", "reciprocal",
    "relu", "relu_", "relu6", "gelu", "gelu_", "silu", "silu_", "sigmoid", "sigmoid_", "tanh",
    "tanh_", "hardswish", "hardswish_", "hardsigmoid", "hardsigmoid_", "hardtanh", "hardtanh_",
    "leaky_relu", "leaky_relu_", "elu", "elu_", "selu", "celu", "mish", "softplus", "softsign",
    "clamp", "clamp_", "clamp_min", "clamp_min_", "clamp_max", "clamp_max_", "pow", "pow_",
    "rsqrt", "sqrt", "exp", "exp_", "expm1", "log", "log1p", "log2", "log10", "abs", "sign",
    "erf", "erfc", "erfinv", "cos", "sin", "tan", "atan", "atan2", "floor", "ceil", "round",
    "trunc", "frac", "remainder", "fmod", "minimum", "maximum", "where", "masked_fill",
    "masked_fill_", "eq", "ne", "lt", "gt", "le", "ge", "logical_and", "logical_or",
    "logical_not", "logical_xor", "bitwise_and", "bitwise_or", "bitwise_not", "bitwise_xor",
    "threshold", "native_dropout", "dropout", "addcmul", "addcdiv", "lerp", "square",
    "upsample_nearest1d", "upsample_nearest2d", "upsample_nearest3d", "upsample_bilinear2d",
    "upsample_bicubic2d", "upsample_linear1d", "_upsample_nearest_exact2d",
    "_upsample_bilinear2d_aa", "glu", "prelu", "_prelu_kernel", "isnan", "isinf", "nan_to_num",
    "sgn", "exp2", "logit", "xlogy", "floor_divide", "cosh", "sinh", "polar", "heaviside",
    "_log_softmax_backward_data", "logaddexp", "hypot", "copysign", "signbit", "digamma",
    "lgamma", "mvlgamma", "i0", "fill_diagonal_", "tril_", "triu_", "masked_select",
    "_masked_softmax", "grid_sampler_2d", "affine_grid_generator", "cumulative_trapezoid",
}


# Factories that allocate without writing: no bytes move.
ALLOC_ONLY = {"empty", "empty_like", "empty_strided", "new_empty", "new_empty_strided"}


def classify(name: str) -> OpKind:
    """OpKind of an aten op by its overload-packet name (e.g. 'addmm')."""
    if name in _KIND:
        return _KIND[name]
    if name in _MATMUL:
        return OpKind.matmul
    if name in _CONV:
        return OpKind.conv
    if name.startswith(_ATTENTION_PREFIX):
        return OpKind.attention
    if name in _NORM or name in _SOFTMAX:
        return OpKind.normalization
    if name in _REDUCTION:
        return OpKind.reduction
    if name in _EMBEDDING:
        return OpKind.embedding
    if name in _VIEW:
        return OpKind.view
    if name in _DATA:
        return OpKind.data_movement
    if name in _ELEMENTWISE:
        return OpKind.elementwise
    return OpKind.other


def vector_flops(name: str, kind: OpKind, in_numel: int, out_numel: int) -> int:
    """Estimated non-MAC FLOPs of one op (see the module docstring for the rules)."""
    if kind is OpKind.elementwise:
        return out_numel
    if kind is OpKind.normalization:
        return (4 if name in _SOFTMAX else 5) * out_numel
    if kind is OpKind.reduction:
        return in_numel
    return 0


def numel(shape: list[int] | tuple[int, ...]) -> int:
    return int(prod(shape)) if shape else 1
