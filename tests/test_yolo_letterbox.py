"""YOLO11 counted as it runs (issue 13): Ultralytics' letterbox gives the network's input size,
and the published figures (6.5 GFLOPs at 640) are compared at that size."""

from __future__ import annotations

from pathlib import Path

import pytest

from reportgen import pipeline
from reportgen.models.yolo import letterbox_size
from reportgen.report.render import render_markdown
from reportgen.spec.load import parse_spec

_STAGES = [s for s in pipeline.STAGES if s.name in ("model", "trace", "costs", "published")]

# (height, width, imgsz) → rect size: r = min(imgsz/h, imgsz/w); round(h·r) × round(w·r); each
# side padded by (imgsz − side) mod 32
_RECT = [
    (720, 1280, 640, (384, 640)),   # r = 1/2 → 360×640 → 360 + 280 mod 32 = 384
    (1080, 1920, 640, (384, 640)),  # r = 1/3 → 360×640
    (480, 640, 640, (480, 640)),    # r = 1 → 480×640, 160 mod 32 = 0: no padding
    (427, 640, 640, (448, 640)),    # r = 1 → 427 + 213 mod 32 = 448
    (500, 375, 640, (640, 480)),    # r = 1.28 (scaled up) → 640×480
    (720, 1280, 320, (192, 320)),   # r = 1/4 → 180×320 → 180 + 140 mod 32 = 192
]


@pytest.mark.parametrize(("h", "w", "imgsz", "want"), _RECT)
def test_letterbox_size_rect_closed_form(h: int, w: int, imgsz: int, want: tuple[int, int]) -> None:
    assert letterbox_size(h, w, imgsz, "rect") == want


@pytest.mark.parametrize(("h", "w", "imgsz"), [(720, 1280, 640), (480, 640, 640), (500, 375, 320)])
def test_letterbox_size_fixed_is_the_square_imgsz(h: int, w: int, imgsz: int) -> None:
    assert letterbox_size(h, w, imgsz) == (imgsz, imgsz)
    assert letterbox_size(h, w, imgsz, "fixed") == (imgsz, imgsz)


def test_letterbox_size_rejects_bad_arguments() -> None:
    with pytest.raises(ValueError, match="multiple of the stride"):
        letterbox_size(720, 1280, 630)
    with pytest.raises(ValueError, match="letterbox is one of"):
        letterbox_size(720, 1280, 640, "square")


@pytest.mark.parametrize(("h", "w", "imgsz", "want"), _RECT)
def test_letterbox_size_is_what_ultralytics_letterbox_produces(h: int, w: int, imgsz: int,
                                                               want: tuple[int, int]) -> None:
    pytest.importorskip("ultralytics")
    import numpy as np
    from ultralytics.data.augment import LetterBox

    image = np.zeros((h, w, 3), dtype=np.uint8)
    rect = LetterBox(new_shape=(imgsz, imgsz), auto=True, stride=32)(image=image)
    fixed = LetterBox(new_shape=(imgsz, imgsz), auto=False, stride=32)(image=image)
    assert rect.shape[:2] == letterbox_size(h, w, imgsz, "rect") == want
    assert fixed.shape[:2] == letterbox_size(h, w, imgsz, "fixed")


def _run(tmp_path: Path, text: str) -> pipeline.StudyResult:
    p = tmp_path / "study.yaml"
    p.write_text(text, encoding="utf-8")
    return pipeline.run(parse_spec(text, str(p)), p, deterministic=True, stages=_STAGES)


def _macs(result: pipeline.StudyResult) -> float:
    flops = next(p for p in result.published if p.quantity == "FLOPs")
    return flops.counted / 2


def test_yolo11n_at_1280x720_is_counted_at_its_fixed_640x640(tmp_path: Path) -> None:
    pytest.importorskip("ultralytics")
    wide = _run(tmp_path, "title: t\nmodel: {card: yolo11n}\n"
                          "inputs: {image: {height: 720, width: 1280}}\nplatform: google_coral_edge_tpu\n")
    square = _run(tmp_path, "title: t\nmodel: {card: yolo11n}\n"
                            "inputs: {image: {height: 640, width: 640}}\nplatform: google_coral_edge_tpu\n")
    assert wide.model is not None and square.model is not None
    assert wide.model.input_tensors[0].shape == square.model.input_tensors[0].shape == [1, 3, 640, 640]
    assert _macs(wide) == _macs(square)
    assert wide.costs.summary.macs == square.costs.summary.macs
    assert wide.model.network_input_msg is not None and wide.model.network_input_msg.code == "inputs.letterbox_fixed"
    assert square.model.network_input_msg is None  # 640×640 is already the network's input
    flops = next(p for p in wide.published if p.quantity == "FLOPs")
    assert flops.counted_input == "1x3x640x640" and flops.same_input is True and flops.agrees
    md = render_markdown(wide, {})
    assert "Network input" in md and "720×1280" in md and "640×640" in md
    assert "not the same input" not in md


def test_yolo11n_rect_letterbox_counts_640x384_and_says_the_input_differs(tmp_path: Path) -> None:
    pytest.importorskip("ultralytics")
    result = _run(tmp_path, '''title: t
model: {source: python, callable: "reportgen.models.yolo:yolo11n", kwargs: {letterbox: rect}}
domain: cv
inputs: {image: {height: 720, width: 1280}}
platform: google_coral_edge_tpu
''')
    assert result.model is not None
    assert result.model.input_tensors[0].shape == [1, 3, 384, 640]
    assert result.model.network_input_msg is not None
    assert result.model.network_input_msg.code == "inputs.letterbox_rect"


def test_a_camera_smaller_than_imgsz_is_exported_at_its_own_size() -> None:
    """Not upscaled to 640: a smaller input stays a real lever (export at a smaller imgsz)."""
    from reportgen.models.yolo import Letterbox
    from reportgen.spec.inputs import ImageInput, Inputs

    box = Letterbox(640, "fixed")
    same, note = box(Inputs(image=ImageInput(height=480, width=480)))
    assert (same.image.height, same.image.width) == (480, 480) and note is None
    wide, _ = box(Inputs(image=ImageInput(height=240, width=320)))
    assert (wide.image.height, wide.image.width) == (320, 320)  # ceil32(320) = 320, square
    big, note = box(Inputs(image=ImageInput(height=720, width=1280)))
    assert (big.image.height, big.image.width) == (640, 640) and note is not None
