"""The deployment runtime a study's baseline assumes: eager PyTorch, or a compiled runtime
(TensorRT, ONNX Runtime, LiteRT, a vendor NPU compiler) that folds BatchNorm into the preceding
conv/linear and fuses elementwise chains into their producer (``prediction.deploy``).

Default (spec ``runtime: auto``): the platform's usual deployment runtime, named from its catalog
toolchain; plain CPUs (the host, Raspberry Pi, server CPUs) default to eager PyTorch, which is what
a student runs there first. No torch.
"""

from __future__ import annotations

from enum import StrEnum, unique
from typing import TYPE_CHECKING, Literal

from pydantic import BaseModel

from reportgen.analysis.counting.records import Trace

if TYPE_CHECKING:
    from reportgen.analysis.stage import Context
    from reportgen.catalog.schema import Platform


@unique
class RuntimeKind(StrEnum):
    eager = "eager"
    compiled = "compiled"


class Runtime(BaseModel):
    """The runtime behind the baseline prediction (one for the whole report)."""

    kind: RuntimeKind
    name: str  # e.g. "TensorRT", "ONNX Runtime", "LiteRT", "Edge TPU compiler", "eager PyTorch"
    folds_batchnorm: bool  # BN folded into the preceding conv/linear
    fuses_elementwise: bool  # activation/add fused into the producer
    origin: Literal["spec", "platform_toolchain", "default"]


class Baseline(BaseModel):
    """The one baseline the whole report judges: a precision on a runtime, and what the runtime
    did to the traced model (counts of ops before and after, BatchNorms folded)."""

    precision: str
    runtime: Runtime
    ops_traced: int = 0  # kernels (non-view ops that move bytes or compute) in the traced model
    ops_deployed: int = 0  # ... after the runtime's transforms
    batchnorms_folded: int = 0


EAGER_NAME = "eager PyTorch"

# (text in a catalog toolchain line, runtime name), most specific first: the first match names
# the platform's usual compiled runtime.
TOOLCHAIN_RUNTIMES: tuple[tuple[str, str], ...] = (
    ("TensorRT", "TensorRT"),
    ("Core ML", "Core ML"),
    ("QNN", "Qualcomm QNN"),
    ("edgetpu_compiler", "Edge TPU compiler"),
    ("Dataflow Compiler", "Hailo Dataflow Compiler"),
    ("RKNN", "RKNN-Toolkit2"),
    ("Vitis AI", "Vitis AI"),
    ("OpenVINO", "OpenVINO"),
    ("X-CUBE-AI", "STM32Cube.AI"),
    ("ESP-DL", "ESP-DL"),
    ("LiteRT", "LiteRT"),
    ("TFLite", "LiteRT"),
    ("TensorFlow Lite", "LiteRT"),
    ("ONNX Runtime", "ONNX Runtime"),
)


def compiled_runtime_name(platform: Platform, *, prefer_portable: bool = False) -> str | None:
    """The compiled runtime the platform's toolchain names (``prefer_portable``: ONNX Runtime
    first where listed, for CPUs whose usual runtime is eager)."""
    text = " | ".join(platform.toolchain)
    if prefer_portable and "ONNX Runtime" in text:
        return "ONNX Runtime"
    return next((name for key, name in TOOLCHAIN_RUNTIMES if key in text), None)


def _plain_cpu(platform: Platform) -> bool:
    return platform.class_.value in ("cpu", "budget") and platform.default_unit.startswith("cpu")


def _eager(origin: Literal["spec", "platform_toolchain", "default"]) -> Runtime:
    return Runtime(kind=RuntimeKind.eager, name=EAGER_NAME, folds_batchnorm=False,
                   fuses_elementwise=False, origin=origin)


def _compiled(name: str, origin: Literal["spec", "platform_toolchain", "default"]) -> Runtime:
    return Runtime(kind=RuntimeKind.compiled, name=name, folds_batchnorm=True,
                   fuses_elementwise=True, origin=origin)


def deployment_runtime(platform: Platform, requested: str | None) -> Runtime:
    """The runtime the baseline assumes on ``platform``; ``requested`` is the spec's
    ``runtime:`` (None or "auto" = the platform's usual one)."""
    req = str(requested.value if hasattr(requested, "value") else requested) \
        if requested is not None else "auto"
    if req == "eager":
        return _eager("spec")
    cpu = _plain_cpu(platform)
    if req == "compiled":
        return _compiled(compiled_runtime_name(platform, prefer_portable=cpu) or "ONNX Runtime",
                         "spec")
    if req != "auto":
        raise ValueError(f"unknown runtime {requested!r}: auto, eager or compiled")
    if cpu:
        return _eager("default")
    name = compiled_runtime_name(platform)
    return _compiled(name, "platform_toolchain") if name else _eager("default")


def deployed_trace(trace: Trace, runtime: Runtime) -> Trace:
    """The trace as the runtime would run it: BN folded and elementwise chains fused when it
    does so; the traced model unchanged under eager PyTorch."""
    from reportgen.analysis.prediction.deploy import fold_batchnorm, fuse

    if runtime.folds_batchnorm:
        trace = fold_batchnorm(trace)
    if runtime.fuses_elementwise:
        trace = fuse(trace)
    return trace


def kernel_count(trace: Trace) -> int:
    """Ops that launch work: not views, and moving bytes or computing."""
    from reportgen.analysis.counting.records import OpKind

    return sum(1 for r in trace.records if r.kind != OpKind.view and (r.bytes_moved or r.total_flops))


def describe(traced: Trace, deployed: Trace, runtime: Runtime, precision: str) -> Baseline:
    from reportgen.analysis.prediction.deploy import is_batchnorm

    bn = sum(map(is_batchnorm, traced.records)) - sum(map(is_batchnorm, deployed.records))
    return Baseline(precision=precision, runtime=runtime, ops_traced=kernel_count(traced),
                    ops_deployed=kernel_count(deployed), batchnorms_folded=bn)


def runtime_kind_of(ctx: Context | None) -> str | None:
    """eager | compiled: the study's baseline runtime (None before the roofline stage set it)."""
    rt = ctx.products.runtime if ctx is not None else None
    return rt.kind.value if isinstance(rt, Runtime) else None


def as_deployed(ctx: Context | None, trace: Trace) -> Trace:
    """``trace`` (e.g. a re-trace at another input size) under the study's baseline runtime, so
    every prediction of a report is made on the same runtime."""
    rt = ctx.products.runtime if ctx is not None else None
    return deployed_trace(trace, rt) if isinstance(rt, Runtime) else trace
