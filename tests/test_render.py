"""Real renders through the real entry point: HTML parsed, PDF opened, Russian report checked."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest
from bs4 import BeautifulSoup
from pypdf import PdfReader

from reportgen.report.i18n import catalog
from reportgen.result import SCHEMA_VERSION
from tests.conftest import catalog_strings

SPEC_EN = """\
title: "ResNet-18 on a Raspberry Pi 5"
author: "Test"
model: {card: resnet18}
platform: raspberry_pi_5
constraints: {latency_ms: 50, memory_mb: 256}
"""
SPEC_RU = """\
title: "ResNet-18 на Raspberry Pi 5"
language: ru
model: {card: resnet18}
task: "классификация изображений"
platform: raspberry_pi_5
constraints: {latency_ms: 50, memory_mb: 256}
"""


def _build(tmp: Path, text: str, name: str, *extra: str) -> tuple[subprocess.CompletedProcess[str], Path]:
    spec = tmp / f"{name}.yaml"
    spec.write_text(text, encoding="utf-8")
    proc = subprocess.run([sys.executable, "-m", "reportgen", "build", str(spec), "-o", str(tmp / "out"),
                           "--deterministic", *extra], capture_output=True, text=True, timeout=300)
    return proc, tmp / "out" / name


@pytest.fixture(scope="module")
def en_study(tmp_path_factory: pytest.TempPathFactory) -> Path:
    proc, folder = _build(tmp_path_factory.mktemp("en"), SPEC_EN, "r18")
    assert proc.returncode in (0, 1), proc.stderr
    assert "Traceback" not in proc.stderr
    return folder


def test_all_artefacts_written(en_study: Path) -> None:
    for name in ("report.md", "report.html", "report.pdf", "data.json", "spec.yaml",
                 "figures/macs_by_block.svg", "figures/macs_by_block.png"):
        assert (en_study / name).is_file(), name
    assert not list(en_study.parent.glob(".*tmp-*")), "temporary folder left behind"


def test_html_is_self_contained_with_every_section(en_study: Path) -> None:
    soup = BeautifulSoup((en_study / "report.html").read_text(encoding="utf-8"), "html.parser")
    h2 = [h.get_text() for h in soup.find_all("h2")]
    assert h2[0] == "1. The model and its task" and h2[-1].startswith("Appendix H. ")
    for n in range(1, 8):  # the homework's seven sections, numbered by the outline
        assert any(t.startswith(f"{n}. ") for t in h2), n
    assert soup.find("script") is None
    for tag in soup.find_all(["img", "link", "script"]):
        src = tag.get("src") or tag.get("href") or ""
        assert not re.match(r"https?:", src), src  # no CDN, no remote assets
    imgs = soup.find_all("img")
    assert imgs and all(i["src"].startswith("data:image/svg+xml;base64,") for i in imgs)
    assert soup.find("nav", class_="toc") is not None
    tables = soup.find_all("table")
    assert len(tables) >= 8


def test_pdf_opens_and_has_the_report(en_study: Path) -> None:
    reader = PdfReader(str(en_study / "report.pdf"))
    assert len(reader.pages) >= 4
    text = "".join(p.extract_text() or "" for p in reader.pages)
    assert "ResNet-18 on a Raspberry Pi 5" in text
    assert "Sources of computational cost" in text
    assert "1 / " in text  # page numbering from the print CSS


def test_data_json_is_the_contract(en_study: Path) -> None:
    data = json.loads((en_study / "data.json").read_text(encoding="utf-8"))
    assert data["schema_version"] == SCHEMA_VERSION
    assert data["generated_at"] == "2000-01-01T00:00:00+00:00"
    assert data["costs"]["summary"]["macs"] == 1_814_073_344
    assert data["costs"]["params"]["total"] == 11_689_512
    assert data["costs"]["summary"]["origin"] == "counted"
    assert data["roofline"]["origin"] == "predicted"
    assert data["environment"] == {"reportgen": data["environment"]["reportgen"], "python": None,
                                   "torch": None, "torchvision": None, "transformers": None,
                                   "platform": None}
    assert all(p["agrees"] for p in data["published"])


def test_markdown_mentions_every_number_origin(en_study: Path) -> None:
    md = (en_study / "report.md").read_text(encoding="utf-8")
    for word in ("_counted_", "_predicted_"):
        assert word in md


def test_russian_report_has_no_english_fixed_text(tmp_path: Path) -> None:
    proc, folder = _build(tmp_path, SPEC_RU, "r18ru", "--format", "md,html")
    assert proc.returncode in (0, 1), proc.stderr
    md = (folder / "report.md").read_text(encoding="utf-8")
    assert "## 1. Модель и её задача" in md and "Источники вычислительной сложности" in md
    ru_values = set(catalog_strings(catalog("ru")))
    # every English catalog sentence that differs from Russian must be absent
    for s in catalog_strings(catalog("en")):
        plain = re.sub(r"\{[a-z_]+\}", "", s).strip()
        quoted_in_ru = any(s in v for v in ru_values)  # e.g. the course's own "Computer Vision"
        if len(plain) >= 15 and not quoted_in_ru and "{" not in s:
            assert s not in md, s
    assert "25 557 032" not in md  # ru grouping uses non-breaking spaces
    assert "11\u00a0689\u00a0512" in md


def test_orphaned_temp_folder_of_a_killed_build_is_removed(tmp_path: Path) -> None:
    import os

    from reportgen.report.render import _remove_orphans

    out = tmp_path / "study"
    dead = tmp_path / ".study.tmp-999999999-abc"  # no such process
    live = tmp_path / f".study.tmp-{os.getpid()}-def"  # this process: a build in progress
    other = tmp_path / ".other.tmp-999999999-x"
    for d in (dead, live, other):
        d.mkdir()
    _remove_orphans(out)
    assert not dead.exists() and live.exists() and other.exists()
