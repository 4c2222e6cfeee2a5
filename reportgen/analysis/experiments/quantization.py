"""Quantization on the host: dynamic int8 (torch.ao), static int8 PTQ with calibration (FX graph
mode, x86 backend), weight-only int8 / int4 (torchao; int4 on the CPU kernel where it exists), fp16 / bf16 casts."""

from __future__ import annotations

import copy
import warnings
from collections.abc import Callable

from reportgen.analysis.experiments.registry import (
    Applied,
    CastInputs,
    Method,
    Subject,
    Unavailable,
    has,
    register,
)
from reportgen.text import Msg, msg


def _linear_types() -> tuple[type, ...]:
    import torch.nn as nn

    return (nn.Linear, nn.LSTM, nn.GRU)


def _needs_linear(s: Subject) -> Msg | None:
    return None if has(s.module, *_linear_types()) else msg("experiments.na.no_linear")


def _dynamic(s: Subject, key: str) -> Applied:
    import torch
    from torch.ao.quantization import quantize_dynamic

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        q = quantize_dynamic(copy.deepcopy(s.module), set(_linear_types()), dtype=torch.qint8)
    return Applied(q.eval())


def _needs_conv(s: Subject) -> Msg | None:
    import torch.nn as nn

    return None if has(s.module, nn.Conv1d, nn.Conv2d, nn.Conv3d) else msg("experiments.na.no_conv")


def _static(s: Subject, key: str) -> Applied:
    import torch
    from torch.ao.quantization import get_default_qconfig_mapping
    from torch.ao.quantization.quantize_fx import convert_fx, prepare_fx

    torch.backends.quantized.engine = "x86"
    args, kwargs = s.make_inputs()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            prepared = prepare_fx(copy.deepcopy(s.module), get_default_qconfig_mapping("x86"), args)
        except torch.fx.proxy.TraceError:
            # FX graph mode needs a symbolically traceable forward: a Python branch on a tensor's
            # value or shape (``if x.dim() == 3``) is not; eager-mode quantization would need the
            # model edited (QuantStub/DeQuantStub, fused modules)
            raise Unavailable(msg("experiments.na.fx_untraceable")) from None
        with torch.inference_mode():
            for _ in range(s.calibration_batches):
                a, k = s.make_inputs()
                prepared(*a, **k)
        q = convert_fx(prepared)
    return Applied(q.eval(), notes=[msg("experiments.note.calibrated", batches=s.calibration_batches)])


def _torchao(config: str) -> Callable[[Subject, str], Applied]:
    def apply(s: Subject, key: str) -> Applied:
        import torchao.quantization as tq

        m = copy.deepcopy(s.module)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            tq.quantize_(m, getattr(tq, config)())
        return Applied(m.eval())
    return apply


INT4_GROUP = 32  # the CPU tinygemm kernel takes groups of 32, 64 or 128 input features
INT4_N_MULTIPLE = 16  # ... and packs output features in tiles of 16


def int4_cpu_config() -> tuple[object, str]:
    """(config, where it came from) for int4 weight-only on the CPU with the installed torchao.

    torchao ≥ 0.14 moved the CPU path (``Int4CPULayout`` in ``torchao.dtypes``) to
    ``torchao.prototype.quantization.int4.PrototypeInt4WeightOnlyConfig`` (``Int4OpaqueTensor``
    on ``aten._weight_int4pack_mm_for_cpu``); the stable ``Int4WeightOnlyConfig`` now packs for
    CUDA/XPU/NPU kernels only. Raises ``Unavailable`` when neither API nor the kernel is there.
    """
    import torch

    for op in ("_convert_weight_to_int4pack_for_cpu", "_weight_int4pack_mm_for_cpu"):
        if not hasattr(torch.ops.aten, op):
            raise Unavailable(msg("experiments.na.int4_kernel", op=f"aten.{op}",
                                  torch=torch.__version__))
    try:
        from torchao.prototype.quantization.int4 import PrototypeInt4WeightOnlyConfig

        return (PrototypeInt4WeightOnlyConfig(group_size=INT4_GROUP, set_inductor_config=False),
                "torchao.prototype.quantization.int4.PrototypeInt4WeightOnlyConfig")
    except ImportError:
        pass
    try:  # torchao ≤ 0.13
        import torchao.quantization as tq
        from torchao.dtypes import Int4CPULayout

        return (tq.Int4WeightOnlyConfig(group_size=INT4_GROUP, layout=Int4CPULayout()),
                "torchao.quantization.Int4WeightOnlyConfig(layout=Int4CPULayout())")
    except ImportError:
        import torchao

        raise Unavailable(msg("experiments.na.int4_api", version=torchao.__version__)) from None


def int4_fits(layer: object) -> bool:
    """Whether the CPU int4 kernel takes this layer's weight (N % 16, K % group size)."""
    import torch.nn as nn

    return (isinstance(layer, nn.Linear) and layer.out_features % INT4_N_MULTIPLE == 0
            and layer.in_features % INT4_GROUP == 0)


def _int4(s: Subject, key: str) -> Applied:
    import torch
    import torch.nn as nn
    import torchao.quantization as tq

    cfg, api = int4_cpu_config()
    m = copy.deepcopy(s.module)
    linears = [x for x in m.modules() if isinstance(x, nn.Linear)]
    fits = [x for x in linears if int4_fits(x)]
    if not fits:
        raise Unavailable(msg("experiments.na.int4_shapes", group=INT4_GROUP, n=INT4_N_MULTIPLE))
    m = m.to(torch.bfloat16)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        tq.quantize_(m, cfg, filter_fn=lambda mod, fqn: int4_fits(mod))
    notes = [msg("experiments.note.bf16_activations"),
             msg("experiments.note.int4_layers", quantized=len(fits), linears=len(linears),
                 group=INT4_GROUP, n=INT4_N_MULTIPLE, api=api)]
    return Applied(CastInputs.wrap(m.eval(), dtype=torch.bfloat16, out_dtype=torch.float32),
                   notes=notes)


def _cast(prec: str) -> tuple[Callable[[Subject], Msg | None], Callable[[Subject, str], Applied]]:
    def applies(s: Subject) -> Msg | None:
        return None if prec in s.host_precisions else msg("experiments.na.host_precision", precision=prec)

    def apply(s: Subject, key: str) -> Applied:
        import torch

        dt = {"fp16": torch.float16, "bf16": torch.bfloat16}[prec]
        return Applied(CastInputs.wrap(copy.deepcopy(s.module).to(dt), dtype=dt,
                                       out_dtype=torch.float32))
    return applies, apply


register(Method("quant_dynamic_int8", "quantization", "torch.ao.quantization.quantize_dynamic",
                _dynamic, hypothesis="quant_int8_dynamic", host_matmul_precision="int8",
                applies=_needs_linear, order=10))
register(Method("quant_static_int8", "quantization", "torch.ao.quantization.quantize_fx (x86)",
                _static, hypothesis="quant_int8", host_precision="int8", host_fuses=True,
                applies=_needs_conv,
                order=20))
register(Method("quant_weight_int8", "quantization", "torchao Int8WeightOnlyConfig",
                _torchao("Int8WeightOnlyConfig"), hypothesis="quant_int8_dynamic",
                requires=("torchao",), applies=_needs_linear, order=12))
register(Method("quant_weight_int4", "quantization", "torchao int4 weight-only (tinygemm, CPU)",
                _int4, hypothesis="quant_int4", host_precision="int4",
                requires=("torchao",), applies=_needs_linear, order=14))
for _p in ("bf16", "fp16"):
    _a, _f = _cast(_p)
    register(Method(f"quant_{_p}", "quantization", f"torch Module.to({_p})", _f,
                    hypothesis=f"quant_{_p}", host_precision=_p, applies=_a, order=5))
