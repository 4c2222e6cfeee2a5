"""reportgen.Study: a notebook's own nn.Module through the same pipeline and renderer as the CLI."""

from __future__ import annotations

import json
from pathlib import Path

import torch
from torch import nn

import reportgen


def _net() -> nn.Module:
    torch.manual_seed(0)
    return nn.Sequential(nn.Linear(8, 16), nn.ReLU(), nn.Linear(16, 4))


def test_study_counts_the_given_module_and_builds_the_report(tmp_path: Path) -> None:
    net = _net()
    w0 = net[0].weight.detach().clone()
    study = reportgen.Study(model=net, example_inputs=torch.randn(2, 8), platform="raspberry_pi_5",
                            constraints={"latency_ms": 5}, title="My net", deterministic=True,
                            output={"formats": ["md"]})
    result = study.run()
    assert result.stage("trace").state == "ok"  # type: ignore[union-attr]
    assert result.costs is not None
    assert result.costs.summary.macs == 2 * (8 * 16 + 16 * 4)  # batch 2 × both Linear layers
    assert result.costs.params.total == 8 * 16 + 16 + 16 * 4 + 4
    assert result.model is not None and "2×8 float32" in result.model.input_description
    # the user's module is neither moved to meta nor changed
    assert net[0].weight.device.type == "cpu" and torch.equal(net[0].weight, w0)
    folder = study.build(tmp_path / "mynet")
    md = (folder / "report.md").read_text(encoding="utf-8")
    assert "My net" in md
    data = json.loads((folder / "data.json").read_text(encoding="utf-8"))
    assert data["costs"]["summary"]["macs"] == 384
    assert "reportgen.api:in_memory" in json.dumps(data["reproduction"]["resolved_spec"])
    html = study._repr_html_()
    assert "<html" in html.lower() and "My net" in html
