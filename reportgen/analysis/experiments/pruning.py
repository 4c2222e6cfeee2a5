"""Pruning on the host: unstructured magnitude pruning (torch.nn.utils.prune; dense kernels, so
zeros are still multiplied) and structured channel pruning that removes channels (torch-pruning),
with the pruned model's parameters and MACs counted again (torch.utils.flop_counter)."""

from __future__ import annotations

import copy
import warnings
from typing import Any

from reportgen.analysis.experiments.registry import Applied, Method, Subject, has, register
from reportgen.text import Msg, msg


def _prunable(s: Subject) -> Msg | None:
    import torch.nn as nn

    return None if has(s.module, nn.Linear, nn.Conv1d, nn.Conv2d) else msg("experiments.na.no_linear")


def _unstructured(s: Subject, key: str) -> Applied:
    import torch.nn as nn
    import torch.nn.utils.prune as prune

    sp = float(s.knobs.get("sparsity", 0.5))
    m = copy.deepcopy(s.module)
    layers = [x for x in m.modules() if isinstance(x, nn.Linear | nn.Conv1d | nn.Conv2d)]
    for layer in layers:
        prune.l1_unstructured(layer, "weight", amount=sp)
        prune.remove(layer, "weight")
    zeros = sum(int((x.weight == 0).sum()) for x in layers)
    total = sum(x.weight.numel() for x in layers) or 1
    return Applied(m.eval(), notes=[msg("experiments.note.sparsity", sparsity=zeros / total),
                                    msg("experiments.note.dense_kernels")])


def count(module: Any, inputs: tuple[tuple[Any, ...], dict[str, Any]]) -> tuple[int, int]:
    """(parameters, MACs) of one forward, counted by torch.utils.flop_counter (FLOPs / 2)."""
    import torch
    from torch.utils.flop_counter import FlopCounterMode

    params = sum(p.numel() for p in module.parameters())
    with torch.inference_mode(), FlopCounterMode(display=False) as fc:
        module(*inputs[0], **inputs[1])
    return params, int(fc.get_total_flops() // 2)


def _structured(s: Subject, key: str) -> Applied:
    import torch.nn as nn
    import torch_pruning as tp

    frac = float(s.knobs.get("prune_fraction", 0.25))
    m = copy.deepcopy(s.module)
    args, kwargs = s.make_inputs()
    p0, m0 = count(m, (args, kwargs))
    # keep the output layer whole: its width is the task's (classes, vocabulary)
    last = [x for x in m.modules() if isinstance(x, nn.Linear)][-1:]
    example = args[0] if len(args) == 1 and not kwargs else args
    importance = tp.importance.MagnitudeImportance(p=1)
    with warnings.catch_warnings():  # torch-pruning lists every parameter it cannot wrap
        warnings.simplefilter("ignore")
        pruner = tp.pruner.MetaPruner(m, example, importance=importance, pruning_ratio=frac,
                                      ignored_layers=last)
        pruner.step()
    p1, m1 = count(m, (args, kwargs))
    return Applied(m.eval(), notes=[msg("experiments.note.recounted", params0=p0, params1=p1,
                                        macs0=m0, macs1=m1, fraction=frac)])


register(Method("prune_unstructured", "pruning", "torch.nn.utils.prune.l1_unstructured",
                _unstructured, hypothesis="prune_unstructured", applies=_prunable, order=30))
register(Method("prune_structured", "pruning", "torch_pruning MetaPruner + MagnitudeImportance(p=1)",
                _structured, hypothesis="prune_structured", requires=("torch_pruning",),
                applies=_prunable, order=32))
