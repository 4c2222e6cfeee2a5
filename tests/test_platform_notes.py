"""Every "PLATFORMS-NOTES.md §N" cited by the catalog, the assumptions or the code names a section
that exists in the in-repo notes (reportgen/catalog/PLATFORMS-NOTES.md)."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
NOTES = ROOT / "reportgen" / "catalog" / "PLATFORMS-NOTES.md"
CITE = re.compile(r"PLATFORMS-NOTES(?:\.md)?\s*§\s*(\d+)(?:\s*[–-]\s*(\d+))?")


def _sections() -> set[int]:
    return {int(m.group(1)) for m in re.finditer(r"^## (\d+)\.", NOTES.read_text(), re.M)}


def test_every_cited_section_exists_in_the_repo() -> None:
    have = _sections()
    cited: list[tuple[str, int]] = []
    for path in [*ROOT.joinpath("reportgen").rglob("*.py"), *ROOT.joinpath("reportgen").rglob("*.yaml"),
                 *ROOT.joinpath("templates").rglob("*.j2")]:
        for m in CITE.finditer(path.read_text(encoding="utf-8")):
            lo, hi = int(m.group(1)), int(m.group(2) or m.group(1))
            cited += [(str(path.relative_to(ROOT)), n) for n in range(lo, hi + 1)]
    assert cited, "nothing cites the platform notes"
    missing = [(p, n) for p, n in cited if n not in have]
    assert not missing, f"cited sections missing from {NOTES.name}: {missing}"


def test_citations_name_the_in_repo_file() -> None:
    bare = re.compile(r"PLATFORMS-NOTES\s*§")
    for path in [*ROOT.joinpath("reportgen").rglob("*.py"), *ROOT.joinpath("reportgen").rglob("*.yaml")]:
        assert not bare.search(path.read_text(encoding="utf-8")), f"{path}: cite PLATFORMS-NOTES.md by path"
