"""``build``: spec/card model reference → LoadedModel, offline, on the requested device."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import torch

from reportgen.catalog.cards import ModelCard, load_card
from reportgen.errors import ModelBuildError, SpecError, SpecIssue
from reportgen.models.base import LoadedModel, construct, recsys_inputs
from reportgen.spec.choices import Domain
from reportgen.spec.inputs import Inputs, RecsysInput
from reportgen.spec.schema import StudySpec
from reportgen.spec.sources import (
    CardRef,
    PythonSource,
    RecsysSource,
    TorchaudioSource,
    TorchvisionSource,
    TransformersSource,
)


@dataclass
class Resolved:
    """The spec with the model card applied: what to build, with which inputs."""

    source: TorchvisionSource | TransformersSource | TorchaudioSource | PythonSource | RecsysSource
    card: ModelCard | None
    domain: Domain
    task: str | None
    inputs: Inputs


def merge_inputs(base: Inputs, over: Inputs) -> Inputs:
    """Spec inputs over card defaults, field by field (only fields the spec sets)."""
    data = base.model_dump()
    for name in over.model_fields_set:
        value = getattr(over, name)
        if hasattr(value, "model_fields_set") and data.get(name):
            data[name] = {**data[name], **{k: getattr(value, k) for k in value.model_fields_set}}
        else:
            data[name] = value.model_dump() if hasattr(value, "model_dump") else value
    return Inputs.model_validate(data)


_SOURCE_DOMAIN = {"TorchvisionSource": Domain.cv, "TorchaudioSource": Domain.speech,
                  "RecsysSource": Domain.recsys}


def resolve(spec: StudySpec, filename: str = "<spec>") -> Resolved:
    card = None
    domain: Domain | None  # None only for an inline source that does not imply one (an error)
    if isinstance(spec.model, CardRef):
        card = load_card(spec.model.card)
        source = card.build
        inputs = merge_inputs(card.inputs, spec.inputs)
        domain = spec.domain or card.domain
        if spec.domain is not None and spec.domain != card.domain:
            raise SpecError(filename, [SpecIssue(
                f"model card '{card.id}' is a {card.domain.value} model, the spec says domain "
                f"'{spec.domain.value}'", path="domain", suggestion=f"use domain: {card.domain.value}")])
        task: str | None = spec.task or card.task
        issues = fixed_input_issues(card, spec.inputs)
        if issues:
            raise SpecError(filename, issues)
    else:
        source = spec.model
        # sources of one domain need no `domain:`; transformers and python ones can be anything
        domain = spec.domain or _SOURCE_DOMAIN.get(type(source).__name__)
        if domain is None:
            raise SpecError(filename, [SpecIssue(
                f"an inline '{source.source}' model source needs `domain:` (cv, nlp, speech, "
                "recsys)", path="model", suggestion="add e.g. `domain: nlp` at the top level")])
        inputs = spec.inputs
        task = spec.task
    want = inputs.section_for(domain)
    wrong = [s for s in inputs.given_sections() if s != want]
    if wrong:
        raise SpecError(filename, [SpecIssue(
            f"domain '{domain.value}' takes `inputs.{want}`, got `inputs.{wrong[0]}`", path=f"inputs.{wrong[0]}")])
    return Resolved(source=source, card=card, domain=domain, task=task, inputs=inputs)


def fixed_input_issues(card: ModelCard, given: Inputs) -> list[SpecIssue]:
    """Spec input values the card's model cannot use (its ``fixed_inputs``): each one an issue
    naming the field, the value the model takes and why, with a suggestion."""
    issues: list[SpecIssue] = []
    for path, why in card.fixed_inputs.items():
        section, _, name = path.partition(".")
        sub = getattr(given, section, None)
        default = getattr(card.inputs, section, None)
        if sub is None or default is None or name not in sub.model_fields_set:
            continue
        value, wanted = getattr(sub, name), getattr(default, name)
        if value != wanted:
            issues.append(SpecIssue(
                f"model card '{card.id}' takes {name} = {wanted}, not {value}: {why}",
                path=f"inputs.{path}", suggestion=f"remove `{name}` or set {name}: {wanted}"))
    return issues


def build(resolved: Resolved, *, device: str = "meta", base_dir: Path | None = None,
          allow_code: bool = False) -> LoadedModel:
    """Build the model on ``device`` ('meta' for counting, 'cpu'/'cuda' for measuring)."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    src = resolved.source
    base = base_dir or Path.cwd()
    if resolved.card is not None:
        missing = [r for r in resolved.card.requires if not _importable(r)]
        if missing:
            extra = "yolo" if "ultralytics" in missing else missing[0]
            err = ModelBuildError(
                f"model card '{resolved.card.id}' needs the optional package(s) {', '.join(missing)}: "
                f"pip install 'reportgen[{extra}]'")
            err.code = "optional_package"
            err.params = {"card": resolved.card.id, "packages": ", ".join(missing), "extra": extra}
            raise err
    try:
        if isinstance(src, TorchvisionSource):
            from reportgen.models import torchvision_src
            return torchvision_src.build(src, resolved.inputs, resolved.domain, device)
        if isinstance(src, TransformersSource):
            from reportgen.models import transformers_src
            return transformers_src.build(src, resolved.inputs, resolved.domain, device, base)
        if isinstance(src, TorchaudioSource):
            from reportgen.models import torchaudio_src
            return torchaudio_src.build(src, resolved.inputs, resolved.domain, device)
        if isinstance(src, PythonSource):
            from reportgen.models import python_src
            return python_src.build(src, resolved.inputs, resolved.domain, device, base, allow_code)
        return _build_recsys(src, resolved.inputs, device)
    except ModelBuildError:
        raise
    except torch.OutOfMemoryError:
        raise ModelBuildError("out of memory while building the model; analysis uses the meta "
                              "device — measurement needs a smaller model") from None


def _build_recsys(src: RecsysSource, inputs: Inputs, device: str) -> LoadedModel:
    import difflib

    from reportgen.models import recsys

    if src.name not in recsys.REGISTRY:
        close = difflib.get_close_matches(src.name, list(recsys.REGISTRY), n=3)
        hint = f"did you mean {', '.join(close)}?" if close else f"known: {', '.join(sorted(recsys.REGISTRY))}"
        raise ModelBuildError(f"no built-in recommender '{src.name}': {hint}")
    try:
        model = construct(lambda: recsys.REGISTRY[src.name](**src.kwargs), device, key=src.model_dump_json())
    except TypeError as e:
        raise ModelBuildError(f"recommender '{src.name}': bad kwargs: {e}") from None
    model.eval()
    r = inputs.recsys or RecsysInput()
    sizes = list(getattr(model, "table_sizes", []))
    r = RecsysInput(dense_features=getattr(model, "num_dense", r.dense_features),
                    sparse_features=len(sizes) if sizes else r.sparse_features,
                    ids_per_feature=r.ids_per_feature, num_candidates=r.num_candidates)
    if hasattr(model, "num_candidates"):
        model.num_candidates = r.num_candidates  # type: ignore[assignment]  # an int: two-tower models group rows by query
    make, desc = recsys_inputs(r, inputs.batch_size, sizes)
    recipe = f"reportgen.models.recsys.{src.name}({', '.join(f'{k}={v!r}' for k, v in src.kwargs.items())})"
    return LoadedModel(module=model, make_inputs=make, recipe=recipe, input_description=desc)


def _importable(name: str) -> bool:
    import importlib.util

    return importlib.util.find_spec(name) is not None
