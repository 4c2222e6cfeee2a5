"""Every recipe in CONTRIBUTING.md, done here at run time: an op formula, a platform, a finding, an
acceleration method, a report section and a language are added and seen in a real run; and every
file CONTRIBUTING.md names exists."""

from __future__ import annotations

import copy
import re
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import torch
import yaml
from torch import nn

from reportgen import pipeline
from reportgen.analysis.counting import formulas
from reportgen.analysis.counting.records import OpKind
from reportgen.analysis.counting.trace import trace_forward
from reportgen.analysis.findings import registry as finder_registry
from reportgen.analysis.findings.models import Evidence, Finding, FindingType, Location
from reportgen.analysis.hypotheses import registry as method_registry
from reportgen.analysis.hypotheses.models import Hypothesis, MethodClass, hyp_msg
from reportgen.result import StudyResult
from reportgen.spec.schema import StudySpec
from reportgen.text import Arg, Msg, msg

ROOT = Path(__file__).resolve().parents[1]
CONTRIBUTING = ROOT / "CONTRIBUTING.md"


# ---------------------------------------------------------------------------- op formula

@torch.library.custom_op("reportgen_contrib::toy_mm", mutates_args=())
def toy_mm(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    return a @ b


@toy_mm.register_fake
def _(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    return a.new_empty(a.shape[0], b.shape[1])


class _ToyMM(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.w = nn.Parameter(torch.empty(32, 16))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return toy_mm(x, self.w)


def _toy_record() -> Any:
    with torch.device("meta"):
        model, x = _ToyMM(), torch.empty(8, 32)
    trace, _, _ = trace_forward(model, (x,))
    return next(r for r in trace.records if "toy_mm" in r.op)


def test_add_an_op_formula() -> None:
    """Recipe "add an op formula": one ``@register_formula(packet, kind=...)`` function."""
    packet = torch.ops.reportgen_contrib.toy_mm
    before = _toy_record()
    assert before.kind is OpKind.other and not before.counted and before.macs == 0

    @formulas.register_formula(packet, kind=OpKind.matmul)
    def _toy_mm_flop(a: Any, b: Any, *args: Any, out: Any = None, **kwargs: Any) -> int:
        (m, k), (_, n) = a.shape, b.shape
        return 2 * m * k * n

    try:
        with pytest.raises(RuntimeError, match="twice"):
            formulas.register_formula(packet)(_toy_mm_flop)
        after = _toy_record()
        assert after.kind is OpKind.matmul and after.counted
        assert after.macs == 8 * 32 * 16  # rows × inner × columns, closed form
        assert after.weight_bytes == 32 * 16 * 4
    finally:
        formulas.unregister_formula(packet)
    assert _toy_record().kind is OpKind.other


# ---------------------------------------------------------------------------- finding + method

_SEEN: dict[str, Any] = {}


def _toy_finder(ctx: finder_registry.FinderContext) -> list[Finding]:
    """Flags the single slowest op (a toy rule: any model has one)."""
    _SEEN["pairs"] = len(ctx.pairs)
    if ctx.pe is None or not ctx.pairs:
        return []
    o, r = max(ctx.pairs, key=lambda p: p[0].predicted_time_s or 0.0)
    share = (o.predicted_time_s or 0.0) / (ctx.pe.predicted_latency_s or 1.0)
    return [Finding(id=f"toy:{r.op}", type=FindingType.compute_bound, subtype="toy", impact=share,
                    severity="low", location=Location(module=r.module, op=r.op),
                    summary=Msg(code="findings.summary.toy", params={"share": Arg(v=share, f="pct")}),
                    why=msg("findings.why.latency_none", time=Arg(v=o.predicted_time_s, f="ms"),
                            total=Arg(v=ctx.pe.predicted_latency_s, f="ms")),
                    evidence=[Evidence(label="time", value=o.predicted_time_s, unit="s", f="ms",
                                       origin="predicted")])]


def _toy_method(s: Any) -> list[Hypothesis]:
    """Runs the same model at fp32 on the target: a method with a speed-up of exactly 1."""
    from reportgen.analysis.hypotheses.study import Variant, evaluate, make

    n, moved = len(s.trace.records), sum(r.bytes_moved for r in s.trace.records)
    h = make(s, "opt_fusion", MethodClass.inference, hid="toy_same", targets=s.finding_ids("compute-bound"),
             mechanism=hyp_msg("opt_fusion", "mechanism", ops0=Arg(v=n, f="int"), ops1=Arg(v=n, f="int"),
                               bytes0=Arg(v=moved, f="bytes"), bytes1=Arg(v=moved, f="bytes"),
                               runtime=Arg(v="eager", f="text")))
    return [evaluate(s, h, Variant(s.trace, s.platform, s.precision))]


SMALL = {"title": "contrib", "model": {"card": "ds_cnn_s"}, "platform": "raspberry_pi_5",
         "constraints": {"latency_ms": 5}}


@pytest.fixture(scope="module")
def toy_run() -> Iterator[StudyResult]:
    """A real run of a small model with the toy finder and method registered, and the toy
    finding's catalog text (a new finding type would also add a ``FindingType`` value; an enum
    cannot grow at run time, so the toy reuses one)."""
    from reportgen.text import catalog

    spec = StudySpec.model_validate(SMALL)
    stages = [s for s in pipeline.STAGES if s.name not in ("measure", "experiments", "scaling")]
    with pytest.MonkeyPatch.context() as mp:
        for lang in ("en", "ru"):
            mp.setitem(catalog(lang)["findings"]["summary"], "toy",
                       "The slowest op takes {share} of the predicted latency.")
        with finder_registry.registered(_toy_finder, FindingType.compute_bound, order=99), \
                method_registry.registered(_toy_method, MethodClass.inference, order=99,
                                           keys=("opt_fusion",)):
            result = pipeline.run(spec, deterministic=True, stages=stages)
        assert "toy_finder" not in {f.name for f in finder_registry.finders()}
        assert "_toy_method" not in {m.name for m in method_registry.all_methods()}
        yield result


def test_add_a_finding(toy_run: StudyResult) -> None:
    """Recipe "add a finding": one ``@finder`` function; it runs in every build and is ranked."""
    assert toy_run.findings is not None and _SEEN["pairs"] > 0
    toy = [f for f in toy_run.findings.items if f.id.startswith("toy:")]
    assert len(toy) == 1 and toy[0].rank >= 1 and 0 < toy[0].impact <= 1
    ranks = [f.rank for f in toy_run.findings.items]
    assert ranks == list(range(1, len(ranks) + 1))
    with pytest.raises(RuntimeError, match="already"):
        finder_registry.finder(FindingType.scaling, order=1, name="scaling")(_toy_finder)


def test_add_an_acceleration_method(toy_run: StudyResult) -> None:
    """Recipe "add an acceleration method": one ``@method`` function (+ thresholds row, text)."""
    hyp = toy_run.hypotheses
    assert hyp is not None
    h = hyp.get("toy_same")
    assert h is not None and h.cls is MethodClass.inference and h.speedup == pytest.approx(1.0)
    assert not any("_toy_method" in m for m in hyp.missing)


def test_every_registered_method_key_has_a_thresholds_row_and_text() -> None:
    from reportgen.analysis.findings.models import thresholds
    from reportgen.analysis.hypotheses import methods  # noqa: F401  (registers the generators)
    from reportgen.text import catalog

    rows = thresholds()["hypotheses"]["methods"]
    keys = [k for m in method_registry.all_methods() for k in m.keys]
    assert len(keys) >= 19 and len(method_registry.all_methods()) == 6
    for lang in ("en", "ru"):
        hyp = catalog(lang)["findings"]["hyp"]
        missing = [k for k in keys if k not in rows or k not in hyp]
        assert not missing, (lang, missing)


# ---------------------------------------------------------------------------- platform

def test_add_a_platform() -> None:
    """Recipe "add a platform": one entry in platforms.yaml, validated by catalog/schema.py; the
    same dict works inline as ``platform: {custom: ...}``."""
    from reportgen.catalog.platforms import CATALOG_PATH, validate_platform
    from reportgen.errors import SpecError

    raw = yaml.safe_load(CATALOG_PATH.read_text(encoding="utf-8"))
    entry = copy.deepcopy(next(p for p in raw["platforms"] if p["id"] == "raspberry_pi_5"))
    entry["id"], entry["name"] = "toy_board", "Toy board"
    p = validate_platform(entry)
    assert p.id == "toy_board"
    broken = copy.deepcopy(entry)
    broken["class"] = "no_such_class"
    with pytest.raises(SpecError):
        validate_platform(broken)

    spec = StudySpec.model_validate({**SMALL, "platform": {"id": "toy_board", "custom": entry}})
    names = ("model", "trace", "costs", "platform", "roofline")
    r = pipeline.run(spec, deterministic=True, stages=[s for s in pipeline.STAGES if s.name in names])
    st = r.stage("roofline")
    assert st is not None and st.state == "ok", st
    assert r.roofline is not None and r.roofline.platform_id == "toy_board"
    assert any(x.predicted_latency_s for x in r.roofline.per_precision)


# ---------------------------------------------------------------------------- report section

def test_add_a_report_section(toy_run: StudyResult, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Recipe "add a report section": a PARTIALS row (+ DEFAULT_MAIN), a partial, locale keys."""
    from reportgen.paths import templates_dir
    from reportgen.report import outline
    from reportgen.report.render import render_markdown
    from reportgen.text import catalog

    root = tmp_path / "templates"
    shutil.copytree(templates_dir(), root)
    (root / "md" / "_toy.md.j2").write_text(
        "{{ t('toy.body', n=(r.findings.items | length)) }}\n", encoding="utf-8")
    monkeypatch.setitem(outline.PARTIALS, "toy", "_toy.md.j2")
    monkeypatch.setattr(outline, "DEFAULT_MAIN", [*outline.DEFAULT_MAIN, "toy"])
    monkeypatch.setitem(catalog("en")["sec"], "toy", "Toy section")
    monkeypatch.setitem(catalog("en"), "toy", {"body": "The study lists {n} findings."})
    monkeypatch.setattr(toy_run.reproduction, "resolved_spec", {})  # default outline
    text = render_markdown(toy_run, {}, template_root=root)
    n = len(outline.DEFAULT_MAIN)
    assert f"## {n}. Toy section" in text
    assert "The slowest op takes" in text  # the toy finding, through its catalog text
    assert f"The study lists {len(toy_run.findings.items)} findings." in text  # type: ignore[union-attr]


# ---------------------------------------------------------------------------- language

def test_add_a_language(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Recipe "add a language": a locale folder with every key of ``en`` (babel knows its
    plural rules); the catalog loader reads it from ``LOCALES``."""
    from reportgen import text
    from reportgen.report import filters
    from reportgen.report.i18n import Translator
    from reportgen.report.plural import category

    locales = tmp_path / "locales"
    shutil.copytree(text.LOCALES, locales)
    shutil.copytree(locales / "en", locales / "de")
    sec = yaml.safe_load((locales / "de" / "core.yaml").read_text(encoding="utf-8"))
    assert "sec" in sec, "core.yaml holds the section titles"
    sec["sec"]["model"] = "Modell"
    (locales / "de" / "core.yaml").write_text(yaml.safe_dump(sec, allow_unicode=True), encoding="utf-8")
    monkeypatch.setattr(text, "LOCALES", locales)
    text.catalog.cache_clear()
    try:
        assert "de" in text.languages()
        assert text.flat_keys(text.catalog("de")) == text.flat_keys(text.catalog("en"))
        assert Translator("de")("sec.model") == "Modell"
        assert category("de", 1) == "one" and category("de", 5) == "other"
        monkeypatch.setitem(filters.STYLES, "de", filters.NumberStyle(group=".", decimal=",",
                                                                      pct_sep=filters.NBSP))
        fmt = filters.Formatter("de")
        assert fmt.group(1234567) == "1.234.567" and fmt.pct(0.125) == "12,5\u00a0%"
        assert fmt.sig(1234.5) == "1.234" and fmt.sig(2.5) == "2,50"
        with pytest.raises(ValueError, match="language"):  # the spec accepts only Language values
            StudySpec.model_validate({**SMALL, "language": "de"})
    finally:
        text.catalog.cache_clear()


# ---------------------------------------------------------------------------- the document

def _recipes() -> dict[str, str]:
    body = CONTRIBUTING.read_text(encoding="utf-8")
    parts = re.split(r"^### ", body, flags=re.M)[1:]
    return {p.splitlines()[0].strip(): p for p in parts}


def test_contributing_names_existing_files() -> None:
    body = CONTRIBUTING.read_text(encoding="utf-8")
    named = set(re.findall(r"`([\w./-]+\.(?:py|yaml|j2|md|toml|json))(?:::\w+)?`", body))
    assert len(named) >= 15
    named = {p for p in named if "/" in p}  # repository paths (bare names are outputs: report.md)
    missing = [p for p in sorted(named) if not (ROOT / p).exists()]
    assert not missing, missing


def test_every_recipe_touches_at_most_three_files_and_has_a_test() -> None:
    """Each recipe names its code files (at most three), its data and the test that does it."""
    recipes = _recipes()
    assert {"Add an op formula", "Add a platform", "Add a finding", "Add an acceleration method",
            "Add a report section", "Add a language"} <= set(recipes)
    here = Path(__file__).read_text(encoding="utf-8")
    for title, text in recipes.items():
        code = re.search(r"^Code: (.*)$", text, flags=re.M)
        test = re.search(r"^Test: `tests/test_contributing\.py::(\w+)`", text, flags=re.M)
        assert code and test and re.search(r"^Data: ", text, flags=re.M), title
        assert len(re.findall(r"`[^`]+`", code.group(1))) <= 3, title
        assert f"def {test.group(1)}(" in here, title


def test_builtin_registries_keep_their_order_and_cover_every_type() -> None:
    """The registries replaced hand-written call lists: same finders and generators, same order."""
    from reportgen.analysis.findings import finders  # noqa: F401  (registers the finders)
    from reportgen.analysis.hypotheses import methods  # noqa: F401  (registers the generators)
    from reportgen.text import catalog

    got = [(f.name, f.type) for f in finder_registry.finders()]
    assert [n for n, _ in got] == ["compute_bound", "memory_bound", "overhead", "capacity", "bandwidth",
                                   "scaling", "unsupported", "uncounted"]
    assert {t for _, t in got} == set(FindingType)
    assert [f.name for f in finder_registry.insight_fns()] == ["placement", "memory", "streaming"]
    assert [m.name for m in method_registry.all_methods()] == [
        "distillation", "quantization", "pruning", "architectural", "hardware", "inference"]
    for lang in ("en", "ru"):
        assert set(catalog(lang)["findings"]["type"]) >= {t.value for t in FindingType}, lang
