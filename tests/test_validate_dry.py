"""``validate`` is a dry build: it rejects, located and with a suggestion, what ``build`` would
fail on — and ``build`` rejects the cheap ones up front too, writing nothing.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from reportgen.cli.main import app

runner = CliRunner()

HEAD = "title: t\nplatform: raspberry_pi_5\n"

# name -> (spec body after HEAD, expected fragments, "line:column" of the offending key's value,
#          whether `build` also rejects it before any analysis)
CASES = {
    "unknown_torchvision_name": (
        "model:\n  source: torchvision\n  name: efficientnet_b9\n",
        ["model.name: torchvision has no model 'efficientnet_b9'", "did you mean efficientnet_b7"],
        "5:9", True),
    "uncached_hub_id": (
        "domain: nlp\nmodel:\n  source: transformers\n  hub_id: nobody/no-such-model-i16\n",
        ["model.hub_id: hub id 'nobody/no-such-model-i16' is not in the local cache"],
        "6:11", True),
    "bert_beyond_512_positions": (
        "model: {card: bert_base_uncased}\ninputs:\n  text: {sequence_length: 1024}\n",
        ["inputs.text.sequence_length: 1024 tokens, but this model has 512 learned positions "
         "(max_position_embeddings = 512)", "use sequence_length: 512 or less"],
        "5:27", True),
    "gpt2_beyond_1024_positions": (
        "model: {card: gpt2}\ninputs:\n  text: {sequence_length: 2048}\n",
        ["2048 tokens, but this model has 1024 learned positions (max_position_embeddings = 1024)"],
        "5:27", True),
    "image_channels_mismatch": (
        "model: {card: resnet18}\ninputs:\n  image: {channels: 1}\n",
        ["inputs: the model does not accept these inputs", "in module 'conv1' (Conv2d)",
         "Invalid channel dimensions"],
        "5:3", False),
    "image_one_channel_for_rgb_cnn": (
        "model: {card: mobilenet_v2}\ninputs:\n  image: {height: 224, width: 224, channels: 1}\n",
        ["inputs: the model does not accept these inputs", "Conv2d",
         "check the inputs against the model (channels"],
        "5:3", False),
    "whisper_128_mel_bins": (
        "model: {card: whisper_tiny}\ninputs:\n  audio: {n_mels: 128}\n",
        ["inputs.audio.n_mels: model card 'whisper_tiny' takes n_mels = 80, not 128",
         "num_mel_bins is 80", "remove `n_mels` or set n_mels: 80"],
        "5:19", True),
    "wav2vec2_8khz": (
        "model: {card: wav2vec2_base}\ninputs:\n  audio: {sample_rate: 8000}\n",
        ["inputs.audio.sample_rate: model card 'wav2vec2_base' takes sample_rate = 16000, not 8000",
         "trained on 16 kHz waveforms", "remove `sample_rate` or set sample_rate: 16000"],
        "5:24", True),
    "no_precision_the_platform_runs": (
        "model: {card: resnet18}\nprecisions:\n  - fp32\n  - fp16\n",
        ["precisions: the target platform cannot run any of the precisions (fp32, fp16)",
         "cannot run fp32: not supported (int8 only)", "its edgetpu runs int8: use precisions: [int8]"],
        "5:3", False),
}
# cases whose platform is not HEAD's
PLATFORM = {"no_precision_the_platform_runs": "google_coral_edge_tpu"}


def _spec(tmp_path: Path, name: str) -> Path:
    p = tmp_path / f"{name}.yaml"
    head = HEAD.replace("raspberry_pi_5", PLATFORM.get(name, "raspberry_pi_5"))
    p.write_text(head + CASES[name][0], encoding="utf-8")
    return p


@pytest.mark.parametrize("name", sorted(CASES))
def test_validate_rejects_what_build_would_fail_on(name: str, tmp_path: Path) -> None:
    path = _spec(tmp_path, name)
    _, fragments, where, _ = CASES[name]
    res = runner.invoke(app, ["validate", str(path)])
    flat = " ".join(res.output.split())
    assert res.exit_code == 2, res.output
    assert "Traceback" not in res.output and res.output.startswith("error: ")
    for fragment in fragments:
        assert fragment in flat, (fragment, res.output)
    assert f"{path}:{where}:" in res.output.replace("\n", ""), res.output


@pytest.mark.parametrize("name", sorted(n for n, c in CASES.items() if c[3]))
def test_build_rejects_the_cheap_ones_up_front(name: str, tmp_path: Path) -> None:
    path = _spec(tmp_path, name)
    out = tmp_path / "out"
    res = runner.invoke(app, ["build", str(path), "-o", str(out), "-f", "md", "--deterministic"])
    assert res.exit_code == 2, res.output
    assert f"{path}:{CASES[name][2]}:" in res.output.replace("\n", ""), res.output
    assert not out.exists() or not any(out.iterdir())  # no failure report written


@pytest.mark.parametrize("body, domain", [
    ("model: {source: torchvision, name: resnet18}\n", "cv"),
    ("model: {source: recsys, name: ncf}\n", "recsys"),
])
def test_single_domain_sources_need_no_domain(body: str, domain: str, tmp_path: Path) -> None:
    path = tmp_path / "s.yaml"
    path.write_text(HEAD + body, encoding="utf-8")
    res = runner.invoke(app, ["validate", str(path)])
    assert res.exit_code == 0, res.output
    assert f"({domain}) on Raspberry Pi 5" in res.output


def test_t5_relative_positions_are_not_limited(tmp_path: Path) -> None:
    """T5's config says n_positions = 512, but its attention is relative: 1024 tokens build."""
    path = tmp_path / "t5.yaml"
    path.write_text(HEAD + "model: {card: t5_small}\ninputs:\n  text: {sequence_length: 1024, "
                    "decoder_sequence_length: 8}\n", encoding="utf-8")
    res = runner.invoke(app, ["validate", str(path)])
    assert res.exit_code == 0, res.output


def test_precisions_the_platform_cannot_run_are_warnings(tmp_path: Path) -> None:
    """fp32 on the Coral Edge TPU (int8 only): validate warns at the list item, exit 0; build's
    up-front checks let it through (the report marks fp32 unsupported and says why)."""
    from reportgen.spec.load import load_spec
    from reportgen.study import check_references

    path = tmp_path / "coral.yaml"
    path.write_text("title: t\nplatform: google_coral_edge_tpu\nmodel: {card: resnet18}\n"
                    "precisions: [fp32, int8]\n", encoding="utf-8")
    res = runner.invoke(app, ["validate", str(path)])
    flat = " ".join(res.output.split())
    assert res.exit_code == 0, res.output
    assert f"warning: {path}:4:14: precisions.0: " in flat, res.output
    assert "(edgetpu) cannot run fp32: not supported (int8 only)" in flat
    assert "its edgetpu runs int8: drop fp32 from precisions" in flat
    assert ": ok — model resnet18 (cv)" in flat
    check_references(load_spec(path), path, allow_code=False)  # build does not reject it


def test_default_precisions_are_not_warned_about(tmp_path: Path) -> None:
    """No `precisions:` key: the defaults (fp32, fp16, int8) include one the Edge TPU runs."""
    path = tmp_path / "coral.yaml"
    path.write_text("title: t\nplatform: google_coral_edge_tpu\nmodel: {card: resnet18}\n",
                    encoding="utf-8")
    res = runner.invoke(app, ["validate", str(path)])
    assert res.exit_code == 0, res.output
    assert "warning" not in res.output
