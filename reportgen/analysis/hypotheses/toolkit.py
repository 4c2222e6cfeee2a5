"""What every method generator uses: the knobs (``thresholds.yaml`` → ``hypotheses``), how many
catalog platforms can use a method (its portability), marking a hypothesis not applicable, and
shares of the trace (MACs by op, weight-streaming bytes). No torch.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import cache

from reportgen.analysis.findings.models import thresholds
from reportgen.analysis.hypotheses.models import Hypothesis
from reportgen.analysis.hypotheses.study import Study


def knobs() -> dict:
    return thresholds()["hypotheses"]


@cache
def _catalog_ids() -> tuple[str, ...]:
    from reportgen.catalog.platforms import load_catalog

    return tuple(load_catalog())


def portability_precision(prec: str) -> int:
    """Catalog platforms whose default unit runs ``prec`` with a usable peak (int4: fp16 peak)."""
    from reportgen.catalog.platforms import load_catalog

    n = 0
    for p in load_catalog().values():
        cp = "fp16" if prec == "int4" else prec
        pk = p.peak(cp) if p.runs(prec) else None
        n += int(pk is not None and pk.usable)
    return n


def portability_sparse() -> int:
    from reportgen.catalog.platforms import load_catalog

    return sum(1 for p in load_catalog().values()
               if any(pk.sparse for pk in p.unit().peak.values() if pk.supported))


def everywhere() -> int:
    return len(_catalog_ids())


def not_applicable(h: Hypothesis, key: str) -> Hypothesis:
    """``h`` marked as not applicable for this model/target (``key``: the reason's catalog key);
    its effect is not computed, so it is never ranked or charted."""
    h.applicable, h.not_applicable_key, h.after = False, key, None
    return h


def weight_streaming_share(s: Study) -> float:
    """Share of the bytes a pass moves that are weights read by matmuls with few activation rows
    (batch-1 / decode linears): the traffic weight-only quantization removes."""
    from reportgen.analysis.counting.classify import memory_category

    rows = thresholds()["findings"]["decode_rows"]
    total = sum(r.bytes_moved for r in s.trace.records) or 1
    return sum(r.weight_bytes for r in s.trace.records
               if memory_category(r, rows) == "weight_streaming") / total


def mac_share(s: Study, pred: Callable[[object], bool]) -> float:
    total = sum(r.macs for r in s.trace.records) or 1
    return sum(r.macs for r in s.trace.records if pred(r)) / total
