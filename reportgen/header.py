"""A fresh result for a study: what is known before any stage runs — the study's id, title and
language, the constraints as given (with their units), the precisions asked for, the software
environment it is built in and how to reproduce it. Deterministic builds freeze the clock and
leave the environment's versions out.
"""

from __future__ import annotations

import datetime as dt
import platform as pyplatform
import sys
from pathlib import Path
from typing import Any

from reportgen.result import ConstraintGiven, Environment, PlatformInfo, Reproduction, StudyResult
from reportgen.spec.load import study_id
from reportgen.spec.schema import StudySpec
from reportgen.version import __version__

FROZEN_CLOCK = "2000-01-01T00:00:00+00:00"

_CONSTRAINT_UNITS = {
    "latency_ms": "ms", "throughput_per_s": "1/s", "memory_mb": "MB", "power_w": "W",
    "energy_mj": "mJ", "cost_usd": "USD", "input_bandwidth_mb_s": "MB/s", "connectivity": "",
}


def _environment(deterministic: bool) -> Environment:
    if deterministic:
        return Environment(reportgen=__version__)
    import torch
    import torchvision
    import transformers

    return Environment(reportgen=__version__, python=sys.version.split()[0], torch=torch.__version__,
                       torchvision=torchvision.__version__, transformers=transformers.__version__,
                       platform=pyplatform.platform())


def new_result(spec: StudySpec, spec_path: Path | None, deterministic: bool, command: str) -> StudyResult:
    now = FROZEN_CLOCK if deterministic else dt.datetime.now(dt.UTC).replace(microsecond=0).isoformat()
    spec_file = (spec_path.name if deterministic else str(spec_path)) if spec_path else None
    return StudyResult(
        study_id=study_id(spec, spec_path), title=spec.title, author=spec.author,
        language=spec.language.value, generated_at=now, deterministic=deterministic,
        platform=PlatformInfo(id=spec.platform.id, name=spec.platform.id),
        constraints=[ConstraintGiven(name=k, value=v if not isinstance(v, dict) else str(v),
                                     unit=_CONSTRAINT_UNITS.get(k, ""))
                     for k, v in spec.constraints.given().items() if k != "sensor"],
        precisions=[p.value for p in spec.precisions], environment=_environment(deterministic),
        reproduction=Reproduction(command=command, spec_file=spec_file,
                                  resolved_spec=_resolved(spec)))


def _resolved(spec: StudySpec) -> dict[str, Any]:
    """The spec as built; the experiments block only when they were asked for."""
    data = spec.model_dump(mode="json", exclude_none=True)
    if not spec.experiments.enabled:
        data.pop("experiments", None)
    return data
