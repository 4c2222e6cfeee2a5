"""Output fidelity of a transformed model against the baseline on the same inputs.

Every floating tensor of an output (tensor, tuple, dict, Hugging Face ModelOutput) is flattened
per sample and compared in float64. Classifier agreement is computed when the first output is
``[batch, classes]`` with more than one class.
"""

from __future__ import annotations

import math
from typing import Any

from reportgen.analysis.experiments.models import Fidelity


def float_leaves(out: Any) -> list[Any]:
    """The floating tensors of an output, in a stable order."""
    import torch
    from torch.utils._pytree import tree_flatten

    if hasattr(out, "to_tuple"):  # transformers ModelOutput
        out = out.to_tuple()
    leaves, _ = tree_flatten(out)
    return [t for t in leaves if isinstance(t, torch.Tensor) and t.is_floating_point()]


def per_sample(out: Any) -> Any:
    """[batch, features] float64 from every floating leaf (scalars are broadcast as a column)."""
    import torch

    leaves = float_leaves(out)
    if not leaves:
        raise ValueError("the model's output has no floating tensor to compare")
    b = leaves[0].shape[0] if leaves[0].dim() > 0 else 1
    cols = []
    for t in leaves:
        t = t.detach().to(torch.float64)
        cols.append(t.reshape(b, -1) if t.dim() > 0 and t.shape[0] == b else t.reshape(1, -1).expand(b, -1))
    return torch.cat(cols, dim=1)


def output_shape_change(refs: list[Any], outs: list[Any]) -> tuple[str, str] | None:
    """(baseline, transformed) per-sample output shapes when they differ (no element-wise
    fidelity then: e.g. structured pruning narrowed a model whose output is its hidden states),
    else None."""
    r, o = per_sample(refs[0]), per_sample(outs[0])
    if r.shape[1:] == o.shape[1:]:
        return None
    shapes = [" + ".join("×".join(map(str, t.shape)) for t in float_leaves(x)) for x in (refs[0], outs[0])]
    return shapes[0], shapes[1]


def compare(refs: list[Any], outs: list[Any], k: int = 5) -> Fidelity:
    """Fidelity over matching lists of baseline / transformed outputs."""
    import torch

    if len(refs) != len(outs) or not refs:
        raise ValueError("compare needs the same, non-zero number of outputs")
    r = torch.cat([per_sample(o) for o in refs])
    o = torch.cat([per_sample(x) for x in outs])
    if r.shape != o.shape:
        raise ValueError(f"output shapes differ: {tuple(r.shape)} vs {tuple(o.shape)}")
    err = (r - o).abs()
    noise = float(((r - o) ** 2).sum())
    signal = float((r ** 2).sum())
    sqnr = 10 * math.log10(signal / noise) if noise > 0 and signal > 0 else None
    cos = torch.nn.functional.cosine_similarity(r, o, dim=1, eps=1e-12)
    fid = Fidelity(samples=len(refs), max_abs_error=float(err.max()),
                   mean_abs_error=float(err.mean()), sqnr_db=sqnr, cosine=float(cos.mean()))
    first_r = [float_leaves(x)[0] for x in refs]
    first_o = [float_leaves(x)[0] for x in outs]
    if all(t.dim() == 2 and t.shape[1] > 1 for t in first_r):
        lr, lo = torch.cat(first_r).float(), torch.cat(first_o).float()
        kk = min(k, lr.shape[1])
        top1 = lr.argmax(dim=1)
        fid.top1_agreement = float((top1 == lo.argmax(dim=1)).float().mean())
        fid.topk_agreement = float((lo.topk(kk, dim=1).indices == top1[:, None]).any(dim=1).float().mean())
        fid.k = kk
    return fid
