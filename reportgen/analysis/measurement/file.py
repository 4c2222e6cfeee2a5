"""Measurements files: ``reportgen profile`` writes one, ``reportgen build --measurements``
reads it back. A file is accepted only for the same model and the same inputs (after the card's
defaults are applied); anything else is a clear error (exit status 2)."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from reportgen.analysis.measurement.models import FILE_KIND, MeasuredRun, MeasurementsFile
from reportgen.errors import ReportgenError


class MeasurementsFileError(ReportgenError):
    """A --measurements file that cannot be used for this study."""


def model_identity(resolved: Any) -> str:
    """``card:<id>`` or ``<source>:<hash of the source settings>``."""
    if resolved.card is not None:
        return f"card:{resolved.card.id}"
    src = resolved.source.model_dump(mode="json")
    digest = hashlib.sha256(json.dumps(src, sort_keys=True).encode()).hexdigest()[:12]
    return f"{src.get('source', 'model')}:{digest}"


def inputs_of(resolved: Any) -> dict[str, Any]:
    return resolved.inputs.model_dump(mode="json", exclude_none=True)


def save(path: Path, resolved: Any, run: MeasuredRun, title: str | None = None) -> None:
    doc = MeasurementsFile(model=model_identity(resolved), inputs=inputs_of(resolved),
                           spec_title=title, run=run)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(doc.model_dump_json(indent=2), encoding="utf-8")


def load(path: Path, resolved: Any) -> MeasurementsFile:
    """Read and check a measurements file against the study's model and inputs."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except OSError as e:
        raise MeasurementsFileError(f"{path}: cannot read the measurements file: {e.strerror}") from None
    except ValueError as e:
        raise MeasurementsFileError(f"{path}: not a measurements file (not JSON: {e})") from None
    if not isinstance(data, dict) or data.get("kind") != FILE_KIND:
        raise MeasurementsFileError(
            f"{path}: not a measurements file (expected \"kind\": \"{FILE_KIND}\"; make one with "
            "`reportgen profile SPEC -o measurements.json`)")
    try:
        doc = MeasurementsFile.model_validate(data)
    except ValidationError as e:
        first = e.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        raise MeasurementsFileError(f"{path}: malformed measurements file: {where}: {first['msg']}") from None
    want = model_identity(resolved)
    if doc.model != want:
        raise MeasurementsFileError(
            f"{path}: measured for model '{doc.model}', but this study is model '{want}'")
    inputs = inputs_of(resolved)
    if doc.inputs != inputs:
        diff = sorted(k for k in set(doc.inputs) | set(inputs) if doc.inputs.get(k) != inputs.get(k))
        raise MeasurementsFileError(
            f"{path}: measured with other inputs ({', '.join(diff)}: {[doc.inputs.get(k) for k in diff]} "
            f"in the file, {[inputs.get(k) for k in diff]} in the study)")
    return doc
