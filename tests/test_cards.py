"""The model zoo: every card loads and is coherent, and every recipe builds offline on the meta
device with the published parameter count (and, where published, MACs/FLOPs) within the card's
tolerance. Builders are called here directly, independent of the pipeline's build code."""

from __future__ import annotations

import importlib
import importlib.util
import re
from typing import Any

import pytest
import torch
from torch import nn
from torch.utils.flop_counter import FlopCounterMode

from reportgen.catalog.cards import ModelCard, card_ids, load_card
from reportgen.spec.choices import Domain

IDS = card_ids()
CYRILLIC = re.compile("[а-яА-ЯёЁ]")


def build_on_meta(card: ModelCard) -> nn.Module:
    """The card's recipe, on the meta device (YOLO builds on the CPU: see reportgen.models.yolo)."""
    src = card.build
    with torch.device("meta"):
        if src.source == "torchvision":
            import torchvision

            kwargs: dict[str, Any] = {**src.kwargs, "weights": None}
            if src.name in torchvision.models.list_models(module=torchvision.models.detection) or \
                    src.name in torchvision.models.list_models(module=torchvision.models.segmentation):
                kwargs["weights_backbone"] = None
            model = torchvision.models.get_model(src.name, **kwargs)
        elif src.source == "transformers":
            import transformers

            assert src.model_type, "cards use model_type + config (no files, no hub)"
            config = transformers.AutoConfig.for_model(src.model_type, **src.config)
            model = getattr(transformers, src.auto_class).from_config(config)
        elif src.source == "torchaudio":
            import torchaudio

            model = getattr(torchaudio.models, src.builder)(**src.kwargs)
        elif src.source == "python":
            module, fn = src.callable.split(":")
            assert module.startswith("reportgen."), "cards only use built-in callables"
            model = getattr(importlib.import_module(module), fn)(**src.kwargs)
        else:
            from reportgen.models.recsys import REGISTRY

            model = REGISTRY[src.name](**src.kwargs)
    return model.eval()


def n_params(m: nn.Module) -> int:
    return sum(p.numel() for p in m.parameters())


def missing_requirements(card: ModelCard) -> list[str]:
    return [r for r in card.requires if importlib.util.find_spec(r) is None]


@pytest.mark.parametrize("card_id", IDS)
def test_card_loads_and_is_coherent(card_id: str) -> None:
    card = load_card(card_id)
    assert card.id == card_id
    # the inputs are given in the card's own domain, and only there
    assert card.inputs.given_sections() == [card.inputs.section_for(card.domain)]
    for text in (card.description, card.architecture):
        assert CYRILLIC.search(text.ru) and not CYRILLIC.search(text.en)
    for student in card.distillation_students:
        assert student in IDS and student != card_id
        assert load_card(student).domain == card.domain
    for fig in card.published:
        assert fig.source and fig.convention
        assert fig.url is None or fig.url.startswith("https://")


def test_zoo_covers_the_four_domains() -> None:
    cards = [load_card(i) for i in IDS]
    assert len(cards) >= 21
    assert len({c.name for c in cards}) == len(cards)
    by_domain = {d: [c.id for c in cards if c.domain == d] for d in Domain}
    assert all(len(v) >= 5 for v in by_domain.values()), by_domain
    assert {"dlrm", "ncf", "two_tower", "wide_deep", "dcn_v2"} <= set(by_domain[Domain.recsys])
    assert load_card("dlrm").meta_only and load_card("llama_7b").meta_only
    assert load_card("yolo11n").requires == ["ultralytics"]


@pytest.mark.parametrize("card_id", IDS)
def test_recipe_builds_on_meta_with_published_params(card_id: str) -> None:
    card = load_card(card_id)
    if missing := missing_requirements(card):
        pytest.skip(f"optional package(s) not installed: {missing}")
    model = build_on_meta(card)
    count = n_params(model)
    figures = [f for f in card.published if f.unit == "params"]
    for fig in figures:
        assert abs(count - fig.value) <= fig.tolerance * fig.value, (card_id, count, fig.value)
    if card.domain == Domain.recsys:
        r = card.inputs.recsys
        assert r is not None
        assert (r.dense_features, r.sparse_features) == (model.num_dense, len(model.table_sizes))
        if hasattr(model, "num_candidates"):
            assert model.num_candidates == r.num_candidates


def _image_macs(card: ModelCard, model: nn.Module) -> float:
    img = card.inputs.image
    assert img is not None
    x = torch.zeros(card.inputs.batch_size, img.channels, img.height, img.width,
                    device=next(model.parameters()).device)
    with FlopCounterMode(display=False) as fc:
        if hasattr(model, "anchor_generator"):  # detector network: backbone + head
            model.head(list(model.backbone(x).values()))
        elif hasattr(model, "rpn"):  # two-stage: the cards' figures cover backbone + FPN + RPN head
            model.rpn.head(list(model.backbone(x).values()))
        else:
            model(x)
    return fc.get_total_flops() / 2


COMPUTE_CARDS = [i for i in IDS
                 if any(f.unit in ("MACs", "FLOPs") for f in load_card(i).published)]


@pytest.mark.parametrize("card_id", COMPUTE_CARDS)
def test_counted_macs_match_published(card_id: str) -> None:
    card = load_card(card_id)
    if missing := missing_requirements(card):
        pytest.skip(f"optional package(s) not installed: {missing}")
    model = build_on_meta(card)
    if card.domain == Domain.cv:
        macs = _image_macs(card, model)
    else:  # the keyword spotter: 49×10 MFCCs as in the paper
        assert card_id == "ds_cnn_s"
        with FlopCounterMode(display=False) as fc:
            model(torch.zeros(1, 10, 49, device="meta"))
        macs = fc.get_total_flops() / 2
    for fig in card.published:
        if fig.unit in ("MACs", "FLOPs"):
            counted = macs if fig.unit == "MACs" else 2 * macs
            assert abs(counted - fig.value) <= fig.tolerance * fig.value, (card_id, counted, fig.value)


PUBLISHED_CARDS = [i for i in IDS if load_card(i).published]


@pytest.mark.parametrize("card_id", PUBLISHED_CARDS)
def test_pipeline_agrees_with_every_published_figure(card_id: str) -> None:
    """Acceptance, through the real pipeline: a minimal study of the card (its default inputs)
    compares every published figure (params, MACs, FLOPs) in its ``published`` stage, and each
    agrees within the tolerance the card states — the comparison table of report section 1."""
    from reportgen import pipeline
    from reportgen.spec.load import parse_spec

    card = load_card(card_id)
    if missing := missing_requirements(card):
        pytest.skip(f"optional package(s) not installed: {missing}")
    spec = parse_spec(f'title: "{card_id}"\nmodel: {{card: {card_id}}}\nplatform: raspberry_pi_5\n')
    stages = [s for s in pipeline.STAGES if s.name in ("model", "trace", "costs", "published")]
    result = pipeline.run(spec, None, deterministic=True, stages=stages)
    assert [s.state for s in result.stages] == ["ok"] * 4, result.stages
    assert [p.quantity for p in result.published] == [f.unit for f in card.published]
    for p, fig in zip(result.published, card.published, strict=True):
        assert p.tolerance == fig.tolerance and p.published == fig.value
        assert p.agrees, (card_id, p.quantity, p.counted, p.published, p.relative_difference)
        assert abs(p.counted - fig.value) <= fig.tolerance * fig.value * (1 + 1e-9)
