"""Learning from measured experiments: each experiments build stores its (model, experiment,
predicted, measured) speed-ups on this host, and a later build corrects an experiment's host
prediction by what the same experiment did on *other* models here.

Correction (``correction``): the geometric mean of measured / predicted over the other models'
pairs of the same experiment, one value per model (a model measured in several builds counts
once, by the geometric mean of its own pairs); none with fewer than ``MIN_MODELS`` other models.
The model itself never corrects its own prediction (leave-one-model-out), so a correction is a
prediction, not a fit. ``bench/experiments_bench.py`` scores its leave-one-card-out with the same
function.

Store: ``<cache_dir>/experiments-<hash>.json`` beside the host calibration, with the same machine
identity (``host_calibration.identity``: CPU model, cores, torch, intra-op threads) and the same
load rule: a pair measured on a quiet machine is always used; one measured under load only while
the machine is still loaded. Only pairs predicted on the same basis (calibrated cost model or one
η) are compared. A pair of the same (model, experiment, basis) replaces the older one. The
experiments stage stores only pairs whose timings were steady (baseline's and run's CV at most
``measurement.quality.CV_NOISY``): a speed-up measured through a load burst teaches nothing.
"""

from __future__ import annotations

import json
import math
import time
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from reportgen.analysis.experiments.models import HostBasis

MIN_MODELS = 2
STORE_VERSION = 1


class StoredPair(BaseModel):
    model_config = ConfigDict(extra="forbid")

    model: str = Field(description="card id, or the model's name for a user model")
    method: str = Field(description="experiment id")
    basis: HostBasis
    predicted: float = Field(gt=0, description="uncorrected host prediction, speed-up")
    measured: float = Field(gt=0, description="measured speed-up")
    quiet: bool = Field(description="load ≤ QUIET_LOAD_PER_CORE × cores when measured")
    measured_at: str


class PairStore(BaseModel):
    model_config = ConfigDict(extra="forbid")

    version: int = STORE_VERSION
    identity: dict[str, Any]
    pairs: list[StoredPair] = Field(default_factory=list)


@dataclass(frozen=True)
class Pair:
    model: str
    method: str
    predicted: float
    measured: float


@dataclass(frozen=True)
class Correction:
    factor: float  # multiply the prediction by this
    pairs: int  # measured pairs it rests on
    models: int  # distinct other models


def correction(pairs: Iterable[Pair], method: str, model: str,
               min_models: int = MIN_MODELS) -> Correction | None:
    """Correction of ``method``'s prediction on ``model`` from the other models' pairs."""
    logs: dict[str, list[float]] = defaultdict(list)
    for p in pairs:
        if p.method == method and p.model != model and p.predicted > 0 and p.measured > 0:
            logs[p.model].append(math.log(p.measured / p.predicted))
    if len(logs) < min_models:
        return None
    per_model = [sum(v) / len(v) for v in logs.values()]
    return Correction(factor=math.exp(sum(per_model) / len(per_model)),
                      pairs=sum(len(v) for v in logs.values()), models=len(logs))


def _identity() -> dict[str, Any]:
    from reportgen.analysis.prediction.host_calibration import identity

    return identity().model_dump()


def store_path() -> Path:
    from reportgen.analysis.prediction.host_calibration import cache_path, identity

    # the calibration's file name with its prefix swapped: same identity hash, same folder
    cal = cache_path(identity())
    return cal.with_name(cal.name.replace("calibration-", "experiments-", 1))


def _read() -> PairStore | None:
    path = store_path()
    if not path.is_file():
        return None
    try:
        store = PairStore.model_validate_json(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None  # a broken store costs what it held, not the build
    return store if store.version == STORE_VERSION and store.identity == _identity() else None


def _loaded_now() -> bool:
    from reportgen.analysis.prediction.host_calibration import is_quiet, load_avg

    return not is_quiet(load_avg(), _identity().get("cores"))


def load_pairs(basis: HostBasis) -> list[Pair]:
    """This machine's stored pairs of one basis that the load rule lets us use."""
    store = _read()
    if store is None:
        return []
    loaded = _loaded_now()
    return [Pair(p.model, p.method, p.predicted, p.measured) for p in store.pairs
            if p.basis == basis and (p.quiet or loaded)]


def record(model: str, basis: HostBasis, measured: Iterable[tuple[str, float, float]],
           *, quiet: bool) -> int:
    """Add this build's (experiment, predicted, measured) pairs of ``model``; returns how many
    pairs the store holds. A read-only cache only costs the learning."""
    store = _read() or PairStore(identity=_identity())
    at = time.strftime("%Y-%m-%dT%H:%M:%S")
    new = [StoredPair(model=model, method=m, basis=basis, predicted=p, measured=x, quiet=quiet,
                      measured_at=at) for m, p, x in measured if p > 0 and x > 0]
    keys = {(p.model, p.method, p.basis) for p in new}
    store.pairs = [p for p in store.pairs if (p.model, p.method, p.basis) not in keys] + new
    path = store_path()
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(store.model_dump(mode="json"), indent=1), encoding="utf-8")
    except OSError:
        pass
    return len(store.pairs)
