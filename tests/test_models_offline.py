"""Offline model loading: a hub id without a local cache is a clear error that says what to do;
a local config.json builds; nothing is downloaded."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from reportgen import pipeline
from reportgen.spec.load import parse_spec

STAGES = [s for s in pipeline.STAGES if s.name in ("model", "trace", "costs")]


def test_hub_id_without_cache_says_how_to_stay_offline(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_HOME", str(tmp_path / "empty-hf-home"))
    spec = parse_spec("title: t\nmodel: {source: transformers, hub_id: some-org/some-model}\n"
                      "domain: nlp\nplatform: nvidia_t4\n")
    result = pipeline.run(spec, deterministic=True, stages=STAGES)
    model = result.stage("model")
    assert model is not None and model.state == "failed"
    assert "not in the local cache" in (model.reason or "")
    assert "config_file" in (model.reason or "") and "model_type" in (model.reason or "")


def test_local_config_json_builds(tmp_path: Path) -> None:
    cfg = {"model_type": "bert", "hidden_size": 64, "num_hidden_layers": 2, "num_attention_heads": 4,
           "intermediate_size": 128, "vocab_size": 1000, "max_position_embeddings": 64}
    (tmp_path / "config.json").write_text(json.dumps(cfg), encoding="utf-8")
    spec_path = tmp_path / "s.yaml"
    spec_path.write_text("title: t\nmodel: {source: transformers, config_file: config.json}\n"
                         "domain: nlp\ninputs: {text: {sequence_length: 16}}\nplatform: nvidia_t4\n",
                         encoding="utf-8")
    from reportgen.spec.load import load_spec

    result = pipeline.run(load_spec(spec_path), spec_path, deterministic=True, stages=STAGES)
    assert [s.state for s in result.stages] == ["ok", "ok", "ok"]
    assert result.costs is not None
    # 2 layers × 16 tokens × (4·64² attention projections + 2·64·128 MLP) + attention scores,
    # plus the pooler's 64×64 dense on the first token
    per_layer = 16 * (4 * 64 * 64 + 2 * 64 * 128) + 2 * 16 * 16 * 64
    assert result.costs.summary.macs == 2 * per_layer + 64 * 64
