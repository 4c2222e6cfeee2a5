"""Published accuracy rows in the trade-offs (issue 14): the teacher, its distillation students and
torchvision's int8 model, each with the ImageNet figure torchvision's weights metadata publishes
(read offline). Expected numbers are read from that metadata here, never typed in."""

from __future__ import annotations

from pathlib import Path

import pytest
from torchvision.models import get_model_weights

from reportgen.analysis.tradeoffs import published_accuracy
from reportgen.models.published_accuracy import torchvision_accuracy


def _meta(name: str) -> tuple[str, float, float, str]:
    w = get_model_weights(name).DEFAULT
    m = w.meta["_metrics"]["ImageNet-1K"]
    return str(w), m["acc@1"], m["acc@5"], w.meta["recipe"]


def test_reader_matches_torchvision_metadata() -> None:
    a = torchvision_accuracy("resnet50")
    name, top1, top5, recipe = _meta("resnet50")
    assert a is not None and (a.weights, a.acc1, a.acc5, a.source) == (name, top1, top5, recipe)
    q = torchvision_accuracy("resnet50", quantized=True)
    qname, qtop1, _, qrecipe = _meta("quantized_resnet50")
    assert q is not None and (q.weights, q.acc1, q.source) == (qname, qtop1, qrecipe)
    assert q.based_on == str(get_model_weights("quantized_resnet50").DEFAULT.meta["unquantized"])
    # no quantized variant, a detector (COCO box mAP, no acc@1), an unknown name: no figure
    assert torchvision_accuracy("vit_b_16", quantized=True) is None
    assert torchvision_accuracy("ssdlite320_mobilenet_v3_large") is None
    assert torchvision_accuracy("no_such_model") is None


def test_rows_without_a_teacher_figure_are_empty() -> None:
    assert published_accuracy(None, [("distill_resnet18", "resnet18")], "quant_int8",
                              torchvision_accuracy) == []
    assert published_accuracy("ssdlite320_mobilenet_v3_large", [], None, torchvision_accuracy) == []


@pytest.fixture(scope="module")
def result(tmp_path_factory: pytest.TempPathFactory):
    from reportgen.pipeline import run
    from reportgen.spec.load import load_spec

    p = Path(tmp_path_factory.mktemp("acc")) / "s.yaml"
    p.write_text("title: t\nmodel: {card: resnet50}\nplatform: raspberry_pi_5\n"
                 "precisions: [fp32, int8]\nprofiling: {enabled: false}\n", encoding="utf-8")
    return run(load_spec(p), p, deterministic=True)


def test_teacher_students_and_int8_rows(result) -> None:
    rows = {(a.role, a.model): a for a in result.tradeoffs.accuracy}
    teacher = rows[("teacher", "resnet50")]
    name, top1, top5, recipe = _meta("resnet50")
    assert (teacher.weights, teacher.acc1_pct, teacher.acc5_pct, teacher.source) == (name, top1, top5, recipe)
    assert teacher.origin == "published" and teacher.delta_acc1_pp is None
    students = {a.model: a for a in result.tradeoffs.accuracy if a.role == "student"}
    assert set(students) == {"resnet18", "mobilenet_v3_large"}  # the card's distillation students
    for sname, a in students.items():
        _, s1, _, _ = _meta(sname)
        assert a.hypothesis == f"distill_{sname}" and result.hypotheses.get(a.hypothesis) is not None
        assert a.acc1_pct == s1 and a.delta_acc1_pp == pytest.approx(s1 - top1)
    q = rows[("int8", "quantized_resnet50")]
    _, q1, _, _ = _meta("quantized_resnet50")
    assert q.acc1_pct == q1 and q.delta_acc1_pp == pytest.approx(q1 - top1)
    assert q.hypothesis == "quant_int8" and result.hypotheses.get("quant_int8") is not None


def test_rows_rendered_with_their_source(result) -> None:
    from reportgen.report.render import render_markdown

    md = render_markdown(result, {})
    name, top1, _, recipe = _meta("resnet50")
    assert "Accuracy: published figures" in md
    assert f"`{name}`" in md and f"<{recipe}>" in md
    assert f"| {top1:.4g} |" in md.replace(",", ".")
    assert f"`{_meta('quantized_resnet50')[0]}`" in md
