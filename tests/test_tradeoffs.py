"""Trade-off table, Research/Production criteria and the five principles; the Russian report uses
the course's terms and no English fixed text from the findings catalog."""

from __future__ import annotations

from pathlib import Path

import pytest

from reportgen.analysis.tradeoffs import PRINCIPLES, PRODUCTION, RESEARCH, build_tradeoffs


@pytest.fixture(scope="module")
def result(tmp_path_factory: pytest.TempPathFactory):
    from reportgen.pipeline import run
    from reportgen.spec.load import load_spec

    p = Path(tmp_path_factory.mktemp("t")) / "s.yaml"
    p.write_text("title: t\nlanguage: ru\nmodel: {card: resnet18}\nplatform: raspberry_pi_5\n"
                 "constraints: {latency_ms: 20, memory_mb: 500}\nprofiling: {enabled: false}\n",
                 encoding="utf-8")
    return run(load_spec(p), p, deterministic=True)


def test_table_rows_and_portability(result) -> None:
    T = result.tradeoffs
    assert T is not None and len(T.rows) == len(result.hypotheses.items)
    total = T.rows[0].portability_total
    by_method = {r.method: r for r in T.rows}
    assert by_method["opt_fusion"].portability == total  # a model change runs everywhere
    assert by_method["quant_int8"].portability < total  # needs int8 on the unit
    assert by_method["prune_2_4"].portability < by_method["quant_int8"].portability
    for r in T.rows:
        if r.applicable and r.speedup is not None:
            h = result.hypotheses.get(r.hypothesis)
            assert r.speedup == pytest.approx(h.before.latency_s / h.after.latency_s)


def test_criteria_and_principles_cover_the_course_lists(result) -> None:
    T = result.tradeoffs
    assert [a.criterion for a in T.research] == RESEARCH
    assert [a.criterion for a in T.production] == PRODUCTION
    assert [a.criterion for a in T.principles] == PRINCIPLES
    plan = result.hypotheses.get(T.plan)
    speed = next(a for a in T.production if a.criterion == "speed")
    assert speed.text.params["x"].v == pytest.approx(plan.speedup)


def test_no_plan_no_assessments(result) -> None:
    h = result.hypotheses.model_copy(update={"recommended": None})
    T = build_tradeoffs(h, result.findings)
    assert T.plan is None and not T.research and T.rows


def test_russian_report_uses_course_terms(result) -> None:
    from reportgen.report.i18n import catalog
    from reportgen.report.render import render_markdown

    md = render_markdown(result, {})
    for term in ["Дистилляция знаний", "Квантование моделей", "Прунинг", "Архитектурные способы",
                 "Аппаратное ускорение", "Оптимизация инференса", "Комбинированные подходы",
                 "Глубина проработки", "Гибкость доработки", "Удовлетворенность пользователя",
                 "Железо подбирается под задачу", "Всегда придется чем-то пожертвовать",
                 "Отложенные проблемы не исчезнут", "Техподдержка это не разработка",
                 "Развитие продукта"]:
        assert term in md, term
    en = catalog("en")["findings"]
    for sentence in (en["hyp"]["opt_fusion"]["validate"], en["trade_intro"], en["hyp_intro"][:40]):
        assert sentence not in md
