"""The report's shape (issue 15): a main body in the homework's order with generated numbering,
an appendix with every table, ``output.detail`` / ``output.sections``, the author's notes and
questions; Russian agreement through babel's plural rules; the HTML in headless Chromium at three
widths; the PDF's page counts per example and no heading left at the foot of a page.

Each example's study is analysed once per test session in snapshot mode (the snapshots' data.json
is a compact projection, not a whole result), then rendered as often as a test needs.
"""

from __future__ import annotations

import copy
import json
import re
import shutil
import subprocess
import tempfile
from pathlib import Path
from typing import Any

import pytest

from reportgen.report.plural import _CATEGORIES, category
from reportgen.report.render import render_markdown, write_study
from reportgen.result import StudyResult
from reportgen.text import catalog

EXAMPLES = sorted(p.stem for p in (Path(__file__).resolve().parent.parent / "examples").glob("*.yaml"))
RUSSIAN = [n for n in EXAMPLES if n.endswith("_ru")]


def _result(built: Path, name: str, **output: Any) -> StudyResult:
    """The example's full result, from the examples built once per test session."""
    data = json.loads((built / name / "data.json").read_text("utf-8"))
    r = StudyResult.model_validate(data)
    r = r.model_copy(deep=True)
    spec = copy.deepcopy(r.reproduction.resolved_spec)
    spec.setdefault("output", {}).update(output)
    r.reproduction.resolved_spec = spec
    return r


def _h2(md: str) -> list[str]:
    return [ln[3:] for ln in md.splitlines() if ln.startswith("## ")]


# --------------------------------------------------------------------------- two layers

def test_main_body_follows_the_homework_then_the_appendix(built_examples: Path) -> None:
    md = render_markdown(_result(built_examples, "resnet50_rpi5"), {})
    heads = _h2(md)
    assert heads[:7] == ["1. The model and its task", "2. Target platform and constraints",
                         "3. Sources of computational cost", "4. Bottlenecks", "5. Acceleration hypotheses",
                         "6. Engineering trade-offs and the plan", "7. Conclusion"]
    assert heads[7].startswith("Appendix A. ") and heads[-1].startswith("Appendix H. ")
    main, appendix = md.split("## Appendix A. ", 1)
    # every table of the study is in the appendix; the main body keeps only the few that argue
    assert main.count("\n|---") <= 7 < appendix.count("\n|---")
    for table_heading in ("### Platform facts", "### Heaviest ops", "### Pipeline stages"):
        assert table_heading in appendix and table_heading not in main
    # subsections are numbered from the generated outline, not hard-coded
    assert "### E.1. " in appendix and "### F.1. " in appendix
    # the main body points to the appendix for the details, once per section at most
    assert main.count(": Appendix ") <= 6


def test_sections_are_dropped_and_reordered_and_short_omits_the_appendix(built_examples: Path) -> None:
    md = render_markdown(_result(built_examples, "resnet50_rpi5", sections=["conclusion", "model", "summary"],
                                 detail="short"), {})
    assert _h2(md) == ["1. Conclusion", "2. The model and its task", "3. Summary"]
    assert "Appendix" not in md  # no appendix and no reference to one


def test_notes_and_questions_render_in_place_and_cannot_break_the_outline(built_examples: Path) -> None:
    r = _result(built_examples, "resnet50_rpi5")
    r.reproduction.resolved_spec["notes"] = {"platform": "# My reasoning\nI chose the *Pi 5* because it is cheap."}
    r.reproduction.resolved_spec["questions"] = ["Which constraint is the tightest?"]
    r.reproduction.resolved_spec["course"] = "Distillation and acceleration of models"
    md = render_markdown(r, {})
    platform = md.split("## 2. ", 1)[1].split("## 3. ", 1)[0]
    assert "**My reasoning**\nI chose the *Pi 5* because it is cheap." in platform
    assert "# My reasoning" not in md  # a heading in a note becomes a bold line
    assert "## Questions to answer\n\n1. Which constraint is the tightest?" in md
    assert "Course: Distillation and acceleration of models" in md.split("## 1.", 1)[0]


# --------------------------------------------------------------------------- Russian agreement

_PLURAL = re.compile(r"\{(\w+):plural:([^}]*)\}")
# parameters that carry a count of things; a Russian sentence that puts a noun right after one of
# them must let babel choose the form
_COUNTS = {"ops", "ops1", "n", "steps", "batch", "findings", "hyps", "classes", "tokens", "candidates",
           "mels", "iterations", "dims", "dense", "sparse", "x"}


def _strings(node: Any, key: str = "") -> list[tuple[str, str]]:
    if isinstance(node, dict):
        return [s for k, v in node.items() for s in _strings(v, f"{key}.{k}" if key else str(k))]
    if isinstance(node, list):
        return [s for i, v in enumerate(node) for s in _strings(v, f"{key}[{i}]")]
    return [(key, node)] if isinstance(node, str) else []


@pytest.mark.parametrize("lang", ["ru", "en"])
def test_every_plural_form_matches_babels_rules(lang: str) -> None:
    from reportgen.report.messages import render_text

    seen = 0
    for key, text in _strings(catalog(lang)):
        for name, forms in _PLURAL.findall(text):
            forms_l = forms.split("|")
            assert len(forms_l) in (2, 3, 4) if lang == "ru" else len(forms_l) == 2, (key, forms)
            for n in (1, 2, 3, 5, 11, 12, 21, 22, 25, 101, 111, 1.5):
                out = render_text("{" + name + ":plural:" + forms + "}", lang, {name: n})
                cat = category(lang, n)
                cats = _CATEGORIES[lang]
                want = forms_l[cats.index(cat)] if cats.index(cat) < len(forms_l) else forms_l[1 if lang == "ru" else -1]
                assert out.endswith("\u00a0" + want), (key, n, out)
            seen += 1
    assert seen >= (20 if lang == "ru" else 0)


def test_no_russian_count_is_left_without_agreement() -> None:
    bad = []
    for key, text in _strings(catalog("ru")):
        assert "(ов)" not in text and "(а)" not in text and "××" not in text, key
        for m in re.finditer(r"\{(\w+)(:[^}]*)?\}\s+([а-яё][а-яё-]+)", text):
            if m.group(3) in ("из", "по", "на", "от", "до", "за"):  # a preposition: no agreement
                continue
            if m.group(1) in _COUNTS and not (m.group(2) or "").startswith(":plural"):
                bad.append((key, m.group(0)))
    assert not bad


@pytest.mark.parametrize("n, phrase", [(1, "пакет из 1\u00a0изображения"), (2, "пакет из 2\u00a0изображений"),
                                       (21, "пакет из 21\u00a0изображения")])
def test_russian_sentences_agree(n: int, phrase: str) -> None:
    from reportgen.report.messages import render
    from reportgen.text import Msg

    text = render(Msg(code="inputs.image", params={"batch": n, "height": 224, "width": 224, "channels": 3}), "ru")
    assert text.startswith(phrase)


@pytest.mark.parametrize("name", RUSSIAN)
def test_russian_main_body_has_no_english_quotes_or_broken_agreement(built_examples: Path, name: str) -> None:
    md = render_markdown(_result(built_examples, name), {})
    main = md.split("## Приложение А. ", 1)[0]
    assert "(англ.)" not in main
    for wrong in ("шага(ов)", "××", "Трудоёмкость: высокий"):
        assert wrong not in md, wrong
    assert " ms " not in main


# --------------------------------------------------------------------------- HTML in Chromium

def _chromium() -> str | None:
    for name in ("chromium", "chromium-browser", "google-chrome", "chrome"):
        if shutil.which(name):
            return shutil.which(name)
    return None


_PROBE = """<script>
window.__errors = [];
window.addEventListener('error', e => window.__errors.push(String(e.message || (e.target && e.target.src) || e)), true);
window.addEventListener('load', () => {
  const imgs = Array.from(document.images);
  const d = document.documentElement;
  d.setAttribute('data-probe', JSON.stringify({
    overflow: d.scrollWidth - window.innerWidth, width: window.innerWidth,
    images: imgs.length, broken: imgs.filter(i => !i.complete || i.naturalWidth === 0).length,
    errors: window.__errors, tables: document.querySelectorAll('table').length,
    boxed: document.querySelectorAll('.table-scroll > table').length,
    details: document.querySelectorAll('details.table').length}));
});
</script>"""


@pytest.fixture(scope="module")
def html_report(tmp_path_factory: pytest.TempPathFactory, built_examples: Path) -> Path:
    out = tmp_path_factory.mktemp("html") / "resnet50_rpi5"
    write_study(_result(built_examples, "resnet50_rpi5"), out, ["md", "html"])
    return out / "report.html"


@pytest.mark.parametrize("width", [390, 1280, 1920])
def test_html_reads_well_in_chromium(html_report: Path, width: int) -> None:
    browser = _chromium()
    if browser is None:
        pytest.skip("chromium not found: install Debian's `chromium` (CI does, see .ci/run)")
    page = html_report.with_name(f"probe_{width}.html")
    page.write_text(html_report.read_text("utf-8").replace("</body>", _PROBE + "</body>"), "utf-8")
    # headless Chromium will not open a window narrower than 500 px: the report is laid out in an
    # iframe of exactly ``width`` px (its own viewport), and the host page copies the probe out
    host = html_report.with_name(f"host_{width}.html")
    host.write_text(
        f'<!DOCTYPE html><html><body style="margin:0"><iframe id="f" src="{page.name}" '
        f'style="border:0;width:{width}px;height:900px"></iframe><script>'
        "const f = document.getElementById('f'); f.addEventListener('load', () => setTimeout(() => "
        "document.documentElement.setAttribute('data-probe', "
        "f.contentDocument.documentElement.getAttribute('data-probe')), 200));</script></body></html>",
        "utf-8")
    with tempfile.TemporaryDirectory() as profile:
        proc = subprocess.run(
            [browser, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--hide-scrollbars",
             "--disable-background-networking", "--disable-component-update", "--disable-sync",
             f"--user-data-dir={profile}", "--window-size=2000,1000", "--virtual-time-budget=5000",
             "--allow-file-access-from-files", "--enable-logging=stderr", "--v=0", "--dump-dom", host.as_uri()],
            capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-2000:]
    m = re.search(r'data-probe="([^"]*)"', proc.stdout)
    assert m, proc.stdout[:500]
    probe = json.loads(m.group(1).replace("&quot;", '"').replace("&amp;", "&"))
    assert probe["width"] == width
    assert probe["overflow"] <= 0, probe  # no horizontal page overflow
    assert probe["images"] >= 3 and probe["broken"] == 0, probe  # every figure loaded
    assert probe["errors"] == [], probe
    assert "Uncaught" not in proc.stderr and ":CONSOLE(" not in proc.stderr
    assert probe["boxed"] == probe["tables"] > 0  # every table scrolls inside its own box
    assert probe["details"] > 10  # the appendix tables fold


# --------------------------------------------------------------------------- PDF

def _flat(outline: Any) -> list[Any]:
    return [x for o in outline for x in (_flat(o) if isinstance(o, list) else [o])]


@pytest.mark.slow
@pytest.mark.parametrize("name", EXAMPLES)
def test_pdf_pages_and_no_orphaned_headings(built_examples: Path, name: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from pypdf import PdfReader

    r = _result(built_examples, name)
    pdf = PdfReader(str(built_examples / name / "report.pdf"))  # rendered by the shared build
    marks = _flat(pdf.outline)
    word = "Приложение А. " if r.language == "ru" else "Appendix A. "
    first_appendix = next(pdf.get_destination_page_number(b) for b in marks if b.title.startswith(word))
    with capsys.disabled():
        print(f"\n{name}: main body {first_appendix} pages, total {len(pdf.pages)} pages")
    assert first_appendix <= 5, "the main body must fit 5 A4 pages"
    assert len(pdf.pages) <= 12, "the whole report with its appendix must fit 12 A4 pages"
    # no heading is the last block of a page
    titles = {re.sub(r"\s+", " ", b.title).strip() for b in marks}
    for i, page in enumerate(pdf.pages):
        lines = [ln.strip() for ln in (page.extract_text() or "").splitlines() if ln.strip()]
        # the running header (the study title) and the page counter are margin boxes, not blocks
        body = [ln for ln in lines if not re.fullmatch(r"\d+ / \d+", ln) and ln != r.title]
        if body:
            assert re.sub(r"\s+", " ", body[-1]) not in titles, f"page {i + 1} ends with a heading: {body[-1]}"


def _main_body(md: str, lang: str) -> str:
    word = "Приложение А. " if lang == "ru" else "Appendix A. "
    return md.split(f"\n## {word}", 1)[0]


def _prose_sentences(md: str) -> list[str]:
    """Sentences of the prose (tables, headings and figures left out), markup stripped."""
    lines = [ln for ln in md.splitlines() if ln.strip() and not ln.lstrip().startswith(("|", "#", "!["))]
    text = re.sub(r"[*_`>]", "", "\n".join(lines))
    return [s.strip() for s in re.split(r"(?<=[.!?])\s+|\n+", text) if len(s.strip()) >= 30]


@pytest.mark.parametrize("name", ["resnet50_rpi5", "bert_jetson_orin_nano", "gpt2_apple_m2_ru"])
def test_no_fact_appears_more_than_twice_in_the_main_body(built_examples: Path, name: str) -> None:
    """Issue 15: the main body says each thing once, at most once more where it is used."""
    r = _result(built_examples, name)
    main = _main_body(render_markdown(r, {}), r.language)
    counts: dict[str, int] = {}
    for s in _prose_sentences(main):
        counts[s] = counts.get(s, 0) + 1
    repeated = {s: n for s, n in counts.items() if n > 2}
    assert not repeated, repeated
    # the baseline is stated in full once (the summary), then named briefly
    full = str(catalog(r.language)["baseline"]["line"]).split("{", 1)[0].strip()
    assert main.count(full) == 1
    brief = str(catalog(r.language)["baseline"]["brief"]).split("{", 1)[0].strip()
    assert main.count(brief) <= 1


@pytest.mark.parametrize("name", EXAMPLES)
def test_the_platforms_full_name_is_written_at_most_twice(built_examples: Path, name: str) -> None:
    """Where the platform is introduced (section 2) and where the plan is stated; elsewhere it
    is "the target". Tables (the constraint verdicts' basis) are left out."""
    r = _result(built_examples, name)
    main = _main_body(render_markdown(r, {}), r.language)
    prose = "\n".join(ln for ln in main.splitlines() if not ln.lstrip().startswith("|"))
    assert prose.count(r.platform.name) <= 2, r.platform.name
