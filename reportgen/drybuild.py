"""``validate`` as a dry build: what ``build`` would reject, found before any analysis runs.

Two levels, both raising one located ``SpecError`` (file:line:column, field path, suggestion):

- ``check_model_inputs`` — cheap checks from the model's recipe alone, run by ``build`` and
  ``validate`` alike: a torchvision name that does not exist, a transformers config that cannot
  be resolved offline (an uncached ``hub_id``, a broken ``config_file``), and text longer than the
  model's learned positions (BERT's 512, GPT-2's 1024), which a meta forward would not catch
  (meta tensors have no values to index out of range).
- ``dry_build`` — ``validate`` only: the model is built on the meta device and traced once on the
  spec's inputs, so a wrong channel count, mel-bin count, feature count or sample length fails
  here with the module and shapes, instead of as a failed stage in a many-page report.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from reportgen.errors import ModelBuildError, ReportgenError, SpecError, SpecIssue
from reportgen.spec.schema import StudySpec
from reportgen.spec.sources import CardRef, PythonSource, TorchvisionSource, TransformersSource
from reportgen.spec.yamlpos import Located

# config attributes that bound the number of token positions a model has learned
_POSITION_KEYS = ("max_position_embeddings", "n_positions", "max_target_positions")


def _issue(located: Located, key: tuple[str | int, ...], message: str,
           suggestion: str | None) -> SpecIssue:
    pos = located.position(key)
    return SpecIssue(message=message, path=".".join(map(str, key)), line=pos[0] if pos else None,
                     column=pos[1] if pos else None, suggestion=suggestion)


def _model_key(spec: StudySpec, field: str | None = None) -> tuple[str | int, ...]:
    if isinstance(spec.model, CardRef):
        return ("model", "card")
    return ("model", field) if field else ("model",)


def _split_hint(text: str) -> tuple[str, str | None]:
    """'torchvision has no model 'x': did you mean y?' → (message, suggestion)."""
    head, sep, tail = text.partition(": ")
    if sep and ("did you mean" in tail or tail.startswith("see ")):
        return head, tail
    return text, None


def check_model_inputs(spec: StudySpec, resolved: Any, located: Located,
                       base_dir: Path) -> list[SpecIssue]:
    """The cheap model checks (no model is built). Returns the problems found."""
    src = resolved.source
    issues: list[SpecIssue] = []
    if isinstance(src, TorchvisionSource):
        import torchvision

        if src.name not in torchvision.models.list_models():
            import difflib

            close = difflib.get_close_matches(src.name, torchvision.models.list_models(), n=3)
            issues.append(_issue(located, _model_key(spec, "name"),
                                 f"torchvision has no model '{src.name}'",
                                 f"did you mean {', '.join(close)}?" if close
                                 else "see torchvision.models.list_models()"))
    if isinstance(src, TransformersSource):
        from reportgen.models.transformers_src import _config

        field = "hub_id" if src.hub_id else "config_file" if src.config_file else "model_type"
        try:
            cfg = _config(src, base_dir)
        except ModelBuildError as e:
            msg, hint = _split_hint(str(e))
            issues.append(_issue(located, _model_key(spec, field), msg, hint))
        else:
            issues += _positions(spec, resolved, cfg, located)
    return issues


def _positions(spec: StudySpec, resolved: Any, cfg: Any, located: Located) -> list[SpecIssue]:
    """Text longer than the positions the model has learned (relative-position models such as
    T5 have no such limit and are not checked)."""
    text = resolved.inputs.text
    if text is None or getattr(cfg, "relative_attention_num_buckets", None):
        return []  # T5-style relative positions: its legacy n_positions is no limit
    enc_dec = bool(getattr(cfg, "is_encoder_decoder", False))
    issues = []
    limit_key = next((k for k in _POSITION_KEYS[:2] if getattr(cfg, k, None)), None)
    if limit_key is not None and text.sequence_length > int(getattr(cfg, limit_key)):
        n = int(getattr(cfg, limit_key))
        issues.append(_issue(located, ("inputs", "text", "sequence_length"),
                             f"{text.sequence_length} tokens, but this model has {n} learned "
                             f"positions ({limit_key} = {n})",
                             f"use sequence_length: {n} or less"))
    dec = text.decoder_sequence_length
    dec_key = next((k for k in reversed(_POSITION_KEYS) if getattr(cfg, k, None)), None)
    if enc_dec and dec is not None and dec_key is not None and dec > int(getattr(cfg, dec_key)):
        n = int(getattr(cfg, dec_key))
        issues.append(_issue(located, ("inputs", "text", "decoder_sequence_length"),
                             f"{dec} decoder tokens, but the decoder has {n} learned positions "
                             f"({dec_key} = {n})", f"use decoder_sequence_length: {n} or less"))
    return issues


def dry_build(spec: StudySpec, path: Path, resolved: Any, located: Located) -> str | None:
    """Build on meta and trace once. Raises a located SpecError; returns a note when the dry
    build was not possible (user code, which ``validate`` never runs)."""
    from reportgen.analysis.counting.trace import ForwardError, trace_forward
    from reportgen.models.build import build
    from reportgen.models.python_src import is_builtin

    filename = str(path)
    if isinstance(resolved.source, PythonSource) and not is_builtin(resolved.source):
        return "the model is your code: validate does not run it (build runs it with --allow-code)"
    try:
        loaded = build(resolved, device="meta", base_dir=path.parent, allow_code=False)
    except ModelBuildError as e:
        msg, hint = _split_hint(str(e))
        raise SpecError(filename, [_issue(located, _model_key(spec), msg, hint)]) from None
    try:
        args, kwargs = loaded.make_inputs("meta")
        if loaded.prepare is not None:
            args, kwargs = loaded.prepare(loaded.module, args, kwargs)
        trace_forward(loaded.module, args, kwargs, int_scalar=loaded.meta_int_scalar)
    except ReportgenError as e:
        if not isinstance(e, ForwardError):  # ForwardError names the module, op and shapes
            raise
        detail = str(e).strip().splitlines()[0]
    except Exception as e:
        detail = str(e).strip().splitlines()[0] if str(e).strip() else ""
        detail = f"{type(e).__name__}: {detail}"
    else:
        return None
    raise SpecError(filename, [_issue(
        located, ("inputs",), f"the model does not accept these inputs "
        f"({loaded.input_description}): {detail}",
        "check the inputs against the model (channels, mel bins, features, lengths)")])


def check_precisions(spec: StudySpec, path: Path, located: Located) -> list[SpecIssue]:
    """The spec's precisions against what the target platform's compute unit can run at all (the
    roofline's ``unsupported``, e.g. fp32 on the Coral Edge TPU).

    Returns one warning per listed precision the platform cannot run (``build`` still runs and the
    report explains it); raises a located SpecError when none of them can run."""
    from reportgen.analysis.prediction.rules import _unsupported_reason
    from reportgen.catalog.lookup import resolve_platform
    from reportgen.report.messages import render
    from reportgen.spec.choices import Precision

    platform = resolve_platform(spec.platform, filename=str(path), measure_host=False)
    unit = platform.unit()
    reasons = {p: r for p in spec.precisions
               if (r := _unsupported_reason(platform, p)) is not None and r[0] == "unsupported"}
    if not reasons:
        return []
    runs = [p.value for p in Precision if platform.runs(p.value)]
    where = (f"its {unit.unit} runs {', '.join(runs)}" if runs
             else f"its {unit.unit} runs no precision the analysis models")
    explicit = "precisions" in spec.model_fields_set
    if len(reasons) == len(spec.precisions):
        key: tuple[str | int, ...] = ("precisions",) if explicit else (
            ("platform", "id") if isinstance(located.data.get("platform"), dict) else ("platform",))
        names = ", ".join(p.value for p in spec.precisions)
        raise SpecError(str(path), [_issue(
            located, key, f"the target platform cannot run any of the precisions ({names}): "
            f"{render(next(iter(reasons.values()))[1], 'en')}",
            f"{where}: use precisions: [{', '.join(runs)}]" if runs
            else f"{where}: choose another platform")])
    if not explicit:
        return []  # the default precisions: the report says which ones the platform cannot run
    raw = located.data.get("precisions") if isinstance(located.data, dict) else None
    issues = []
    for p, (_, why) in reasons.items():
        i = raw.index(p.value) if isinstance(raw, list) and p.value in raw else None
        issues.append(_issue(
            located, ("precisions", i) if i is not None else ("precisions",),
            f"{render(why, 'en')}; build reports it as unsupported",
            f"{where}: drop {p.value} from precisions"))
    return issues
