"""The stages that fill the result's own sections, around the analysis: ``model`` (build the model
on meta and describe it), ``trace`` (the dispatcher-level op trace, the input tensors, declared
data-dependent bounds), ``published`` (counted vs the model card's published figures) and
``platform`` (resolve the target). They build ``reportgen.result`` models, so they sit above
result.py; the analysis stages live in ``reportgen/analysis/`` and the stage table in pipeline.py.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from reportgen.analysis.stage import Context, StageSkipped
from reportgen.errors import ReportgenError
from reportgen.result import (
    ModelInfo,
    PaperInfo,
    PlatformInfo,
    PublishedComparison,
    StudyResult,
    TensorInfo,
)


def model_stage(ctx: Context, result: StudyResult) -> None:
    from reportgen.models.base import input_summary
    from reportgen.models.build import build, resolve

    # resolved once per build: the caller may have resolved it already (checking the spec)
    resolved = ctx.products.resolved or resolve(ctx.spec, str(ctx.spec_path or "<spec>"))
    base = ctx.spec_path.parent if ctx.spec_path else Path.cwd()
    loaded = build(resolved, device="meta", base_dir=base, allow_code=ctx.allow_code)
    ctx.products.resolved = resolved
    ctx.products.loaded = loaded
    card = resolved.card
    lang = ctx.spec.language.value
    result.model = ModelInfo(
        name=card.name if card else _source_name(resolved.source),
        card=card.id if card else None, domain=resolved.domain.value, task=resolved.task,
        source=resolved.source.source, recipe=loaded.recipe,
        input_description=loaded.input_description,
        description=getattr(card.description, lang) if card else ctx.spec.description,
        architecture=getattr(card.architecture, lang) if card else None,
        paper=PaperInfo(**card.paper.model_dump()) if card else None,
        note_msgs=list(loaded.notes),
        input_msg=input_summary(resolved.domain, resolved.inputs))
    from reportgen.analysis.counting.params import module_params

    result.model.params = module_params(loaded.module)
    result.model.network_input_msg = loaded.network_input_msg


def _source_name(src: Any) -> str:
    for attr in ("name", "builder", "model_type", "callable", "config_file", "hub_id"):
        v = getattr(src, attr, None)
        if v:
            return str(v)
    return "model"


def trace_stage(ctx: Context, result: StudyResult) -> None:
    from reportgen.analysis.counting.trace import ForwardError, is_data_dependent, trace_forward
    from reportgen.errors import ModelBuildError

    loaded = ctx.products.need_loaded()
    args, kwargs = loaded.make_inputs("meta")
    if loaded.prepare is not None:
        args, kwargs = loaded.prepare(loaded.module, args, kwargs)
    try:
        trace, _, notes = trace_forward(loaded.module, args, kwargs, int_scalar=loaded.meta_int_scalar)
    except ForwardError as e:  # names the module, op and shapes where the forward failed
        if is_data_dependent(e.op):
            # the inputs are fine: the op's output shape depends on values a meta tensor lacks
            err = ModelBuildError(
                f"the model's forward reached the data-dependent op {e.op} in module "
                f"'{e.module or '<model>'}' ({e.module_type}): its output size depends on tensor "
                f"values, which meta tensors do not have; the inputs ({loaded.input_description}) "
                f"are not the cause")
            err.code = "forward_data_dependent"
        else:
            err = ModelBuildError(
                f"the model's forward failed on the spec's inputs ({loaded.input_description}) {e}")
            err.code = "forward_failed"
        err.params = {"op_code": e.op or "?", "module_code": e.module or "<model>",
                      "module_type": e.module_type, "inputs": loaded.input_description,
                      "detail": str(e)}
        raise err from e
    except ReportgenError:
        raise
    except Exception as e:
        raise ModelBuildError(
            f"the model's forward failed on the spec's inputs ({loaded.input_description}): "
            f"{type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''}") from e
    ctx.products.trace = trace
    ctx.products.trace_notes = notes
    resolved = ctx.products.need_resolved()
    ctx.products.trace_cache[(resolved.source.model_dump_json(), resolved.inputs.model_dump_json())] = trace
    if result.model is not None:
        result.model.input_tensors = _tensor_infos(loaded.module, args, kwargs)
        if loaded.bounds:
            from reportgen.analysis.counting.published import scoped_macs

            total = sum(r.macs for r in trace.records)
            parts = []
            for b in loaded.bounds:
                macs = scoped_macs(trace.records, b.modules)
                parts.append(b.model_copy(update={"macs": macs, "mac_share": macs / total if total else 0.0}))
            result.model.data_dependent = parts


def _tensor_infos(module: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> list[TensorInfo]:
    """Name, shape and dtype of each tensor the forward receives (names from its signature)."""
    import inspect

    import torch

    try:
        names = [n for n in inspect.signature(module.forward).parameters if n not in ("self",)]
    except (TypeError, ValueError):
        names = []
    out: list[TensorInfo] = []
    items = [(names[i] if i < len(names) else f"arg{i}", a) for i, a in enumerate(args)]
    items += list(kwargs.items())
    for name, value in items:
        if isinstance(value, torch.Tensor):
            out.append(TensorInfo(name=name, shape=list(value.shape),
                                  dtype=str(value.dtype).removeprefix("torch.")))
    return out


def published_stage(ctx: Context, result: StudyResult) -> None:
    from reportgen.analysis.counting.published import same_input, scoped_macs, shape_text

    resolved = ctx.products.need_resolved()
    if resolved.card is None:
        raise StageSkipped("no published figures: the model is not from a model card",
                           code="no_published")
    if not resolved.card.published:
        raise StageSkipped(f"model card '{resolved.card.id}' lists no published figures",
                           code="card_without_figures", card=resolved.card.id)
    # parameters need no forward pass: compare them even when the trace failed
    params = result.model.params if result.model is not None else None
    trace = ctx.products.trace
    shapes = [t.shape for t in result.model.input_tensors] if result.model is not None else []
    counted_shape = shapes[0] if shapes else None
    for fig in resolved.card.published:
        scope = fig.modules
        if fig.unit == "params":
            if params is None:
                continue
            c = float(params.total)
        elif trace is None:
            continue
        else:
            macs = scoped_macs(trace.records, scope)
            c = float(macs if fig.unit == "MACs" else 2 * macs)
        rel = (c - fig.value) / fig.value if fig.value else 0.0
        same = same_input(fig.input, counted_shape) if fig.unit != "params" else None
        result.published.append(PublishedComparison(
            quantity=fig.unit, published=fig.value, counted=c, relative_difference=rel,
            tolerance=fig.tolerance, agrees=abs(rel) <= fig.tolerance and same is not False,
            source=fig.source, url=fig.url, convention=fig.convention, input=fig.input, note=fig.note,
            scope=scope, counted_input=shape_text(counted_shape) if counted_shape and fig.unit != "params" else None,
            same_input=same))


def platform_stage(ctx: Context, result: StudyResult) -> None:
    from reportgen.analysis.prediction.platform_card import platform_card
    from reportgen.catalog.lookup import resolve_platform

    ref = ctx.spec.platform
    if ref.id == "host" and ref.custom is None and ctx.deterministic:
        raise StageSkipped("the 'host' platform is measured on this machine, so it is left out of "
                           "deterministic builds", hint="build without --deterministic, or pick a "
                           "catalog platform", state="failed", code="host_deterministic")
    # resolved once per build: the caller may have resolved it already (checking the spec)
    plat = ctx.products.platform or resolve_platform(ref, filename=str(ctx.spec_path or "<spec>"),
                                                     measure_host=not ctx.deterministic)
    ctx.products.platform = plat
    result.platform = PlatformInfo(id=plat.id, name=plat.name, platform_class=plat.class_.value,
                                   card=platform_card(plat))

