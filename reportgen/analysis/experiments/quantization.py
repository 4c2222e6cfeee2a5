"""Quantization on the host: dynamic int8 (torch.ao), static int8 PTQ with calibration (FX graph
mode, x86 backend), weight-only int8 / int4 (torchao), fp16 / bf16 casts."""

from __future__ import annotations

import copy
import warnings
from collections.abc import Callable

from reportgen.analysis.experiments.registry import (
    Applied,
    CastInputs,
    Method,
    Subject,
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
        prepared = prepare_fx(copy.deepcopy(s.module), get_default_qconfig_mapping("x86"), args)
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
            cfg = getattr(tq, config)
            if config.startswith("Int4"):
                import torch
                from torchao.dtypes import Int4CPULayout

                m = m.to(torch.bfloat16)
                tq.quantize_(m, cfg(group_size=32, layout=Int4CPULayout()))
                return Applied(CastInputs.wrap(m, dtype=torch.bfloat16, out_dtype=torch.float32),
                               notes=[msg("experiments.note.bf16_activations")])
            tq.quantize_(m, cfg())
        return Applied(m.eval())
    return apply


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
                _dynamic, hypothesis="quant_int8_dynamic", applies=_needs_linear, order=10))
register(Method("quant_static_int8", "quantization", "torch.ao.quantization.quantize_fx (x86)",
                _static, hypothesis="quant_int8", host_precision="int8", applies=_needs_conv,
                order=20))
register(Method("quant_weight_int8", "quantization", "torchao Int8WeightOnlyConfig",
                _torchao("Int8WeightOnlyConfig"), hypothesis="quant_int8_dynamic",
                requires=("torchao",), applies=_needs_linear, order=12))
register(Method("quant_weight_int4", "quantization", "torchao Int4WeightOnlyConfig (CPU layout)",
                _torchao("Int4WeightOnlyConfig"), hypothesis="quant_int4", host_precision="int4",
                requires=("torchao",), applies=_needs_linear, order=14))
for _p in ("bf16", "fp16"):
    _a, _f = _cast(_p)
    register(Method(f"quant_{_p}", "quantization", f"torch Module.to({_p})", _f,
                    hypothesis=f"quant_{_p}", host_precision=_p, applies=_a, order=5))
