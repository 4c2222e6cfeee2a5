"""Counting models as they run (issue 13): parameters without a forward, the model's own resize,
data-dependent parts at declared bounds, published figures compared on the same input."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
import torch
import torchvision

from reportgen import pipeline
from reportgen.analysis.counting.published import same_input, scoped_macs
from reportgen.analysis.counting.trace import trace_forward
from reportgen.models.detection import internal_size
from reportgen.models.torchvision_src import build
from reportgen.report.render import render_markdown
from reportgen.spec.choices import Domain
from reportgen.spec.inputs import ImageInput, Inputs
from reportgen.spec.load import parse_spec
from reportgen.spec.sources import TorchvisionSource

_STAGES = [s for s in pipeline.STAGES if s.name in ("model", "trace", "costs", "published")]


@pytest.mark.parametrize(("name", "h", "w"), [
    ("fasterrcnn_mobilenet_v3_large_fpn", 480, 640), ("fasterrcnn_mobilenet_v3_large_320_fpn", 480, 640),
    ("ssdlite320_mobilenet_v3_large", 512, 512), ("retinanet_resnet50_fpn", 1080, 1920)])
def test_internal_size_is_what_torchvision_transform_produces(name: str, h: int, w: int) -> None:
    with torch.device("meta"):
        model = torchvision.models.get_model(name, weights=None, weights_backbone=None)
    transform = model.transform.to("cpu")
    for attr in ("image_mean", "image_std"):  # plain lists, nothing to move
        assert isinstance(getattr(transform, attr), list)
    transform.eval()
    images, _ = transform([torch.zeros(3, h, w)])  # the real transform on a real tensor
    assert internal_size(transform, h, w) == tuple(images.tensors.shape[-2:])


def test_internal_size_closed_form() -> None:
    class T:
        min_size, max_size, size_divisible, fixed_size = (800,), 1333, 32, None
    # 480×640: scale = min(800/480, 1333/640) = 5/3 → 800×1066 → padded to 32: 800×1088
    assert internal_size(T(), 480, 640) == (800, 1088)
    # 1080×1920: scale = min(800/1080, 1333/1920) = 0.6943 → 749×1333 → 768×1344
    assert internal_size(T(), 1080, 1920) == (768, 1344)


# RoI box head of the MobileNetV3-FPN Faster R-CNN, per proposal: RoIAlign 256×7×7 → fc6 1024
# → fc7 1024 → class scores 91 + box deltas 4×91
_ROI_MACS_PER_PROPOSAL = 256 * 7 * 7 * 1024 + 1024 * 1024 + 1024 * 91 + 1024 * 4 * 91


@pytest.mark.parametrize(("kwargs", "proposals"), [({}, 150), ({"rpn_post_nms_top_n_test": 300}, 300)])
def test_two_stage_roi_heads_are_counted_at_the_declared_bound(kwargs: dict[str, int], proposals: int) -> None:
    loaded = build(TorchvisionSource(source="torchvision", name="fasterrcnn_mobilenet_v3_large_320_fpn",
                                     kwargs=kwargs), Inputs(image=ImageInput(height=320, width=320)),
                   Domain.cv, "meta")
    assert [b.value for b in loaded.bounds] == [proposals]
    args, kw = loaded.make_inputs("meta")
    trace, out, _ = trace_forward(loaded.module, args, kw)
    roi = scoped_macs(trace.records, loaded.bounds[0].modules)
    assert roi == proposals * _ROI_MACS_PER_PROPOSAL
    assert out["scores"].shape == (proposals, 91) and out["boxes"].shape == (proposals, 364)
    # the dense part does not depend on the bound: torchvision's 0.719 GMACs
    assert abs(scoped_macs(trace.records, ["backbone", "rpn"]) / 1e9 - 0.719) < 0.0005


def _run(tmp_path: Path, text: str, **kw: object) -> pipeline.StudyResult:
    p = tmp_path / "study.yaml"
    p.write_text(text, encoding="utf-8")
    return pipeline.run(parse_spec(text, str(p)), p, deterministic=True, stages=_STAGES, **kw)


_NONZERO_MODEL = '''
import torch
from torch import nn

class Gate(nn.Module):
    def forward(self, x):
        return x[torch.nonzero(x > 0, as_tuple=True)]

class M(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(10, 5)
        self.register_buffer("scale", torch.ones(7))
        self.gate = Gate()
    def forward(self, dense, sparse):  # the recommender signature
        return self.gate(self.fc(dense))

def make():
    return M()
'''


def test_parameters_are_counted_and_the_op_named_when_a_data_dependent_forward_fails(tmp_path: Path) -> None:
    (tmp_path / "rg_nonzero_model.py").write_text(_NONZERO_MODEL, encoding="utf-8")
    sys.modules.pop("rg_nonzero_model", None)
    result = _run(tmp_path, '''title: t
model: {source: python, callable: "rg_nonzero_model:make", path: "."}
domain: recsys
inputs: {recsys: {dense_features: 10, sparse_features: 0}}
platform: raspberry_pi_5
''', allow_code=True)
    trace = result.stage("trace")
    assert trace is not None and trace.state == "failed"
    assert trace.code == "forward_data_dependent"
    assert trace.params["op_code"] == "aten.nonzero.default" and trace.params["module_code"] == "gate"
    assert "not the cause" in (trace.reason or "")
    assert result.model is not None and result.model.params is not None
    p = result.model.params
    assert (p.total, p.buffers) == (10 * 5 + 5, 7)  # Linear(10, 5) weights + bias; 7 buffer elements
    assert p.bytes_at["fp32"] == 55 * 4 and p.bytes_at["int8"] == 55
    md = render_markdown(result, {})
    assert "55 (0 in embeddings, 55 other)" in md
    assert "aten.nonzero.default" in md


def test_ssdlite_is_counted_at_its_own_320_and_published_compares_the_same_input(tmp_path: Path) -> None:
    result = _run(tmp_path, '''title: t
model: {card: ssdlite320_mobilenet_v3_large}
inputs: {image: {height: 512, width: 512}}
platform: raspberry_pi_5
''')
    assert result.model is not None
    assert result.model.input_tensors[0].shape == [1, 3, 320, 320]  # not 512×512 (2.56× the work)
    assert result.model.network_input_msg is not None
    macs = next(p for p in result.published if p.quantity == "MACs")
    assert macs.counted_input == "1x3x320x320" and macs.same_input is True and macs.agrees


def test_published_figure_for_another_input_is_flagged_not_agreeing(tmp_path: Path) -> None:
    result = _run(tmp_path, '''title: t
model: {card: resnet18}
inputs: {image: {height: 448, width: 448}}
platform: raspberry_pi_5
''')
    macs = next(p for p in result.published if p.quantity == "MACs")
    assert macs.same_input is False and not macs.agrees
    assert macs.relative_difference == pytest.approx(3.0, rel=0.01)  # (448/224)² = 4× the MACs
    params = next(p for p in result.published if p.quantity == "params")
    assert params.same_input is None and params.agrees  # parameters do not depend on the input
    assert "not the same input" in render_markdown(result, {})


def test_same_input_parses_card_shapes() -> None:
    assert same_input("1x3x224x224", [1, 3, 224, 224]) is True
    assert same_input("1×3×224×224", [1, 3, 320, 320]) is False
    assert same_input("30 s of audio", [1, 80, 3000]) is None


def test_conformer_frames_come_from_the_card_40_ms_hop(tmp_path: Path) -> None:
    result = _run(tmp_path, '''title: t
model: {card: conformer}
inputs: {audio: {seconds: 2}}
platform: raspberry_pi_5
''')
    assert result.model is not None
    # 2 s × 16000 Hz / 640 samples per 40 ms frame = 50 frames of input_dim 144
    assert result.model.input_tensors[0].shape == [1, 50, 144]


@pytest.mark.parametrize(("field", "value"), [("n_mels", 64), ("hop_length", 160), ("representation", "waveform")])
def test_speech_values_the_model_cannot_use_are_spec_errors(tmp_path: Path, field: str, value: object) -> None:
    from reportgen.catalog.cards import load_card
    from reportgen.errors import SpecError
    from reportgen.models.build import resolve

    spec = parse_spec(f"title: t\nmodel: {{card: conformer}}\ninputs: {{audio: {{{field}: {value}}}}}\n"
                      "platform: raspberry_pi_5\n")
    with pytest.raises(SpecError) as err:
        resolve(spec)
    issue = err.value.issues[0]
    assert issue.path == f"inputs.audio.{field}"
    wanted = getattr(load_card("conformer").inputs.audio, field)
    assert issue.suggestion == f"remove `{field}` or set {field}: {wanted}"
    # the same value as the card's is fine
    resolve(parse_spec(f"title: t\nmodel: {{card: conformer}}\ninputs: {{audio: {{{field}: {wanted}}}}}\n"
                       "platform: raspberry_pi_5\n"))


def test_whisper_input_is_one_30_s_window_whatever_the_seconds(tmp_path: Path) -> None:
    result = _run(tmp_path, '''title: t
model: {card: whisper_tiny}
inputs: {audio: {seconds: 10}}
platform: raspberry_pi_5
''')
    assert result.model is not None and result.stage("trace").state == "ok"
    # the feature extractor pads 10 s to 30 s: 80 mel bands × 3000 frames of 10 ms
    assert result.model.input_tensors[0].shape == [1, 80, 3000]
    assert result.model.network_input_msg is not None


def test_whisper_long_audio_is_a_batch_of_30_s_windows(tmp_path: Path) -> None:
    result = _run(tmp_path, '''title: t
model: {card: whisper_tiny}
inputs: {audio: {seconds: 75}}
platform: raspberry_pi_5
''')
    assert result.model is not None and result.stage("trace").state == "ok"
    assert result.model.input_tensors[0].shape == [3, 80, 3000]  # ⌈75 / 30⌉ = 3 windows
