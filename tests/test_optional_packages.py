"""A card whose optional package is missing (YOLO11n without ultralytics) still gives a report
that says what is missing and how to enable it — in the report's language."""

from __future__ import annotations

from pathlib import Path

import pytest

from reportgen import pipeline
from reportgen.models import build as build_mod
from reportgen.report.render import write_study
from reportgen.spec.load import parse_spec


@pytest.mark.parametrize("lang,needle", [("en", "install them: pip install 'reportgen[yolo]'"),
                                         ("ru", "установите их: pip install 'reportgen[yolo]'")])
def test_missing_ultralytics_is_explained(monkeypatch: pytest.MonkeyPatch, tmp_path: Path,
                                          lang: str, needle: str) -> None:
    monkeypatch.setattr(build_mod, "_importable", lambda name: name != "ultralytics")
    spec = parse_spec(f"title: t\nlanguage: {lang}\nmodel: {{card: yolo11n}}\nplatform: google_coral_edge_tpu\n")
    result = pipeline.run(spec, deterministic=True)
    model = result.stage("model")
    assert model is not None and model.state == "failed"
    assert model.code == "optional_package" and model.params["extra"] == "yolo"
    assert "pip install 'reportgen[yolo]'" in (model.reason or "")
    assert result.partial  # exit status 1: the build says it is partial
    write_study(result, tmp_path / "yolo", ["md"])
    md = (tmp_path / "yolo" / "report.md").read_text(encoding="utf-8")
    assert needle in md
    assert "## 2." in md and "## Appendix" in md or "## Приложение" in md
