"""The op trace's record type — the one fact table every later stage reads.

Kept free of torch imports so the roofline and other consumers can be tested on hand-made records.
Units: MACs and FLOPs are counts (FLOPs = 2 × MACs); bytes are bytes at the traced dtype.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from enum import StrEnum, unique


@unique
class OpKind(StrEnum):
    """Coarse op classes used for aggregation, efficiency factors and findings."""

    matmul = "matmul"  # mm, addmm, bmm, baddbmm, linear
    conv = "conv"  # convolution (1d/2d/3d, grouped, depthwise, transposed)
    attention = "attention"  # fused scaled-dot-product attention kernels
    elementwise = "elementwise"  # add, mul, activations, ...
    normalization = "normalization"  # batch/layer/group norm, softmax
    reduction = "reduction"  # mean, sum, pooling
    embedding = "embedding"  # embedding / embedding_bag lookups, index_select, gather
    data_movement = "data_movement"  # copy, cat, contiguous, pad, ...
    view = "view"  # views and aliases: no data moves
    other = "other"  # anything without a known class (listed as not counted)


@dataclass(slots=True)
class OpRecord:
    """One aten op of one forward pass, as dispatched on meta tensors."""

    index: int
    op: str  # e.g. "aten.convolution.default"
    kind: OpKind
    module: str  # qualified module path of the innermost module ("" = the root model)
    module_type: str  # class name of that module, e.g. "Conv2d"
    input_shapes: list[list[int]]
    output_shapes: list[list[int]]
    dtype: str  # dtype of the first floating output (or input), e.g. "float32"
    macs: int = 0  # multiply-accumulates from a FLOP formula (matmul / conv / attention)
    vector_flops: int = 0  # estimated non-MAC FLOPs: elementwise, normalisation, reductions
    weight_bytes: int = 0  # bytes of parameters/buffers read by the op
    act_bytes_read: int = 0  # bytes of activations (non-parameter inputs) read
    bytes_written: int = 0  # bytes of outputs written
    counted: bool = True  # False: no formula is known for this op (see "not counted")
    element_bytes: float = 4.0  # bytes per element of the traced dtype

    @property
    def flops(self) -> int:
        """FLOPs of the MAC-type work (2 × MACs); excludes vector_flops."""
        return 2 * self.macs

    @property
    def total_flops(self) -> int:
        """MAC FLOPs plus the vector (elementwise) estimate."""
        return 2 * self.macs + self.vector_flops

    @property
    def bytes_read(self) -> int:
        return self.weight_bytes + self.act_bytes_read

    @property
    def bytes_moved(self) -> int:
        """Un-fused upper bound on memory traffic: inputs read + outputs written."""
        return self.weight_bytes + self.act_bytes_read + self.bytes_written

    def to_dict(self) -> dict[str, object]:
        return asdict(self)


@dataclass
class ParamGroup:
    """Parameters de-duplicated by tensor identity. Counts are elements."""

    embedding: int = 0
    other: int = 0
    buffers: int = 0
    shared_tensors: int = 0  # tensors reachable under more than one name (counted once)

    @property
    def total(self) -> int:
        return self.embedding + self.other


@dataclass
class Trace:
    """A whole traced forward pass."""

    records: list[OpRecord]
    params: ParamGroup
    param_bytes: int  # bytes of unique parameters at their stored dtype
    buffer_bytes: int
    peak_activation_bytes: int  # peak of live activations from tensor lifetimes
    peak_activation_op: int  # index of the op at which the peak occurs
    input_bytes: int
    output_bytes: int
    modules: dict[str, str] = field(default_factory=dict)  # qualified name -> class name
    module_params: dict[str, int] = field(default_factory=dict)  # name -> own params (dedup)
    input_shapes: list[list[int]] = field(default_factory=list)
    output_shapes: list[list[int]] = field(default_factory=list)
    dtype: str = "float32"
