"""Inference optimisation on the host: channels-last memory format, ONNX export + ONNX Runtime
with all graph optimisations, and torch.compile (inductor on the CPU, needs a C compiler)."""

from __future__ import annotations

import copy
import io
import shutil
import warnings
from typing import Any

from reportgen.analysis.experiments.registry import (
    Applied,
    CastInputs,
    Method,
    Subject,
    has,
    register,
)
from reportgen.text import Msg, msg


def _conv2d(s: Subject) -> Msg | None:
    import torch.nn as nn

    return None if has(s.module, nn.Conv2d) else msg("experiments.na.no_conv2d")


def _channels_last(s: Subject, key: str) -> Applied:
    import torch

    m = copy.deepcopy(s.module).to(memory_format=torch.channels_last)
    return Applied(CastInputs.wrap(m, memory_format=torch.channels_last))


def _tensor_args(s: Subject) -> Msg | None:
    import torch

    args, kwargs = s.make_inputs()
    if kwargs or not all(isinstance(a, torch.Tensor) for a in args):
        return msg("experiments.na.onnx_inputs")
    return None


def _onnxruntime(s: Subject, key: str) -> Applied:
    import onnxruntime as ort
    import torch

    args, _ = s.make_inputs()
    buf = io.BytesIO()  # in memory: nothing is written outside the build's folder
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(copy.deepcopy(s.module), tuple(args), buf,  # type: ignore[arg-type]  # TorchScript exporter takes file objects
                          dynamo=False, opset_version=17,
                          input_names=[f"in{i}" for i in range(len(args))], do_constant_folding=True)
    data = buf.getvalue()
    opts = ort.SessionOptions()
    opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    opts.intra_op_num_threads = torch.get_num_threads()
    sess = ort.InferenceSession(data, opts, providers=["CPUExecutionProvider"])
    # the exporter drops inputs the graph never reads (NCF's empty dense features): feed each
    # graph input the argument it was exported from, by its name ``in<i>``, not by position
    used = [(i.name, int(i.name.removeprefix("in"))) for i in sess.get_inputs()]

    class OrtModule(torch.nn.Module):
        def forward(self, *a: Any) -> Any:
            outs = sess.run(None, {n: a[k].detach().cpu().numpy() for n, k in used})
            return tuple(torch.from_numpy(o) for o in outs)
    return Applied(OrtModule(), size_bytes=len(data),
                   notes=[msg("experiments.note.ort", version=ort.__version__)])


def _compiler(s: Subject) -> Msg | None:
    return None if shutil.which("cc") or shutil.which("gcc") else msg("experiments.na.no_compiler")


def _compile(s: Subject, key: str) -> Applied:
    import torch

    m = torch.compile(copy.deepcopy(s.module), backend="inductor", dynamic=False)

    def cleanup() -> None:
        torch._dynamo.reset()
    return Applied(m, notes=[msg("experiments.note.compile_warmup")], cleanup=cleanup)


register(Method("opt_channels_last", "inference", "torch.channels_last",
                _channels_last, applies=_conv2d, order=40))
register(Method("opt_onnxruntime", "inference", "torch.onnx.export + ONNX Runtime (ORT_ENABLE_ALL)",
                _onnxruntime, hypothesis="opt_fusion", requires=("onnx", "onnxruntime"),
                applies=_tensor_args, order=60, min_budget_s=10))
register(Method("opt_compile", "inference", "torch.compile (inductor)", _compile,
                hypothesis="opt_fusion", applies=_compiler, order=90, min_budget_s=45))
