"""The report's outline: which sections the main body shows, in which order, how they are numbered,
and which appendix parts follow. Numbering is generated here, never written in a template.

The main body follows the homework's order (model → platform and constraints → sources of cost →
bottlenecks → hypotheses → trade-offs and the plan → conclusion); ``output.sections`` drops or
reorders sections and ``output.detail: short`` leaves the appendix out. Every section partial is
included once per layer it has: ``sec.part == 'main'`` renders the short statement,
``sec.part == 'appendix'`` the full tables.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from reportgen.report.i18n import Translator
from reportgen.result import StudyResult
from reportgen.spec.choices import DEFAULT_SECTIONS

# the spec's default ``output.sections`` (one list: spec/choices.py DEFAULT_SECTIONS)
DEFAULT_MAIN = [s.value for s in DEFAULT_SECTIONS]
PARTIALS = {
    "summary": "_summary.md.j2", "model": "_1_model.md.j2", "platform": "_2_platform.md.j2",
    "complexity": "_3_complexity.md.j2", "profiling": "_4_profiling.md.j2",
    "bottlenecks": "_5_bottlenecks.md.j2", "hypotheses": "_6_hypotheses.md.j2",
    "tradeoffs": "_7_tradeoffs.md.j2", "conclusion": "_8_conclusion.md.j2", "method": "_appendix.md.j2",
}
# main sections that state the baseline; the first one in the outline states it in full
BASELINE_SECTIONS = ("summary", "bottlenecks", "hypotheses", "conclusion")
# appendix parts, in order; each is the appendix layer of the section partial of the same key
APPENDIX = ["model", "platform", "complexity", "profiling", "bottlenecks", "hypotheses", "tradeoffs", "method"]
_LETTERS = {"en": "ABCDEFGHIJKLMNOPQRSTUVWXYZ",
            "ru": "АБВГДЕЖИКЛМНПРСТУФХЦШЩЭЮЯ"}  # GOST 2.105: no Ё З Й О Ч Ъ Ы Ь


@dataclass(frozen=True)
class Section:
    key: str
    part: str  # main | appendix
    number: str  # "3" in the main body, "B" in the appendix
    title: str
    template: str

    @property
    def heading(self) -> str:
        return f"{self.number}. {self.title}"


@dataclass
class Outline:
    main: list[Section]
    appendix: list[Section]
    detail: str
    notes: dict[str, str] = field(default_factory=dict)
    questions: list[str] = field(default_factory=list)
    course: str | None = None
    date: str | None = None
    appendix_word: str = "Appendix"

    def baseline_section(self) -> Section | None:
        """The first main section that states the baseline (precision + runtime) in full; the
        later ones name it briefly with a reference to this one (issue 15: no fact thrice)."""
        return next((s for s in self.main if s.key in BASELINE_SECTIONS), None)

    def ref(self, key: str) -> str:
        """'Appendix B' for the appendix part of ``key``; '' when the report has no appendix."""
        part = next((s for s in self.appendix if s.key == key), None)
        return f"{self.appendix_word} {part.number}" if part else ""

    def appendix_heading(self, sec: Section) -> str:
        return f"{self.appendix_word} {sec.number}. {sec.title}"

    def first_appendix_heading(self) -> str | None:
        return self.appendix_heading(self.appendix[0]) if self.appendix else None


def build_outline(result: StudyResult) -> Outline:
    spec: dict[str, Any] = result.reproduction.resolved_spec or {}
    output = spec.get("output") or {}
    t = Translator(result.language)
    keys = [k for k in (output.get("sections") or DEFAULT_MAIN) if k in PARTIALS]
    main = [Section(k, "main", str(i), str(t("sec." + k)), PARTIALS[k]) for i, k in enumerate(keys, 1)]
    appendix: list[Section] = []
    if output.get("detail", "full") == "full":
        letters = _LETTERS.get(result.language, _LETTERS["en"])
        appendix = [Section(k, "appendix", letters[i], str(t("appendix_sec." + k)), PARTIALS[k])
                    for i, k in enumerate(APPENDIX)]
    return Outline(main=main, appendix=appendix, detail=output.get("detail", "full"),
                   notes={str(k): str(v) for k, v in (spec.get("notes") or {}).items()},
                   questions=[str(q) for q in spec.get("questions") or []],
                   course=spec.get("course"), date=spec.get("date"),
                   appendix_word=str(t("doc.appendix")))
