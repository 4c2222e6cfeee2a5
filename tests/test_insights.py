"""Findings that teach: one test per insight, on counted closed-form facts."""

from __future__ import annotations

import pytest

from reportgen.analysis.counting.costs import analyse
from reportgen.analysis.findings.insights import memory, placement, streaming
from reportgen.analysis.prediction.roofline import estimate
from reportgen.catalog.lookup import get_platform
from tests.test_hypotheses import toy_cnn
from tests.test_hypotheses_sanity import decoder_step


@pytest.fixture(scope="module")
def resnet50():
    import torch
    import torchvision

    from reportgen.analysis.counting.trace import trace_forward

    m = torchvision.models.resnet50(weights=None).eval().to("meta")
    t, _, notes = trace_forward(m, (torch.empty(1, 3, 224, 224, device="meta"),), {})
    return t, analyse(t, notes)


def test_resnet50_layer4_holds_the_weights_not_the_macs(resnet50) -> None:
    _, costs = resnet50
    got = {i.id: i for i in placement(costs)}
    i = got["insight:placement:layer4"]
    # layer4: 3 bottlenecks 2048-512-2048 = 14 964 736 parameters of 25 557 032
    assert i.text.params["params"].v == pytest.approx(14_964_736 / 25_557_032)
    assert i.text.params["params"].v == pytest.approx(0.586, abs=1e-3)
    assert i.text.params["macs"].v == pytest.approx(0.198, abs=2e-3)


def test_memory_names_what_dominates() -> None:
    t = toy_cnn()
    pe = estimate(t, get_platform("nvidia_t4"), ["fp16"]).per_precision[0]
    (i,) = memory(pe, t)
    w, a = t.param_bytes, t.peak_activation_bytes  # fp16 traced, fp16 predicted: same bytes
    assert i.id == ("insight:memory:weights" if w >= a else "insight:memory:activations")
    assert i.text.params["share"].v == pytest.approx(max(w, a) / (w + a))


def test_streaming_tells_weight_streaming_from_compute() -> None:
    t4 = get_platform("nvidia_t4")
    dec = decoder_step()
    pe = estimate(dec, t4, ["fp16"]).per_precision[0]
    pairs = [(o, r) for o, r in zip(pe.ops, dec.records, strict=True)]
    (i,) = streaming(pairs, pe)
    d = 4096
    assert i.id == "insight:streaming:weight_streaming"
    assert i.text.params["weights"].v == pytest.approx(2 * d * d / (2 * d * d + 4 * d))
    cnn = toy_cnn()
    pe2 = estimate(cnn, get_platform("raspberry_pi_5"), ["fp32"]).per_precision[0]
    rec = {r.index: r for r in cnn.records}
    (j,) = streaming([(o, rec[o.index]) for o in pe2.ops], pe2)
    assert j.id != "insight:streaming:weight_streaming"
