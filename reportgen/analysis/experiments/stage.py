"""Pipeline stage ``experiments``: build the model on the host, apply each method, measure it,
and put the host prediction of each hypothesis beside the measurement.

Not in snapshot mode (it measures this machine), and only when asked (``experiments.enabled``
in the spec or ``build --experiments``). The model is the spec's source built on the CPU (a
``reportgen.Study`` module arrives as a built-in python source), with the spec's local weights
(``model.weights``) when given.
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

from reportgen.analysis.experiments.available import methods
from reportgen.analysis.experiments.host_prediction import (
    HostModel,
    Rule,
    host_model,
    predict_speedup,
    rule_for,
)
from reportgen.analysis.experiments.learning import correction, load_pairs, record
from reportgen.analysis.experiments.models import (
    CalibrationPair,
    ExperimentRun,
    ExperimentsReport,
    HostBasis,
    Metric,
)
from reportgen.analysis.experiments.registry import Student, Subject
from reportgen.analysis.experiments.runner import Evaluate, Timing, run_all, settle_batchnorm
from reportgen.analysis.stage import Context, StageResult
from reportgen.text import msg

PRECISIONS = ("fp32", "fp16", "bf16", "int8", "int4")


def load_callable(ref: str, path: str | None, base_dir: Path) -> Any:
    """``module:function`` imported with ``path`` (relative to the spec) on sys.path."""
    from reportgen.models.python_src import import_user_module

    mod_name, fn_name = ref.split(":")
    folder = None
    if path is not None:
        p = Path(path)
        folder = p if p.is_absolute() else base_dir / p
    return getattr(import_user_module(mod_name, folder), fn_name)


def load_weights(module: Any, ref: str, base_dir: Path) -> None:
    """Load a local state dict (.pt/.pth/.bin/.safetensors file, or a Hugging Face directory)."""
    import torch

    p = Path(ref)
    p = p if p.is_absolute() else base_dir / p
    if p.is_dir():
        cands = [p / "model.safetensors", p / "pytorch_model.bin"]
        p = next((c for c in cands if c.exists()), cands[0])
    if not p.exists():
        raise FileNotFoundError(f"model.weights: no such file {p}")
    state: dict[str, Any]  # tensors by name (torch.load may also give a checkpoint holding them)
    if p.suffix == ".safetensors":
        from safetensors.torch import load_file

        state = load_file(str(p))
    else:
        state = torch.load(p, map_location="cpu", weights_only=True)
        state = state.get("state_dict", state) if isinstance(state, dict) else state
    module.load_state_dict(state, strict=True)


def _students(ctx: Context, hyps: Any) -> list[Student]:
    from reportgen.analysis.hypotheses.methods import _student_inputs
    from reportgen.catalog.cards import load_card
    from reportgen.models.build import Resolved, build

    study = ctx.products.study
    out: list[Student] = []
    for h in hyps.items if hyps else []:
        if h.method != "distillation" or not h.id.startswith("distill_") or h.id == "distill_half_depth":
            continue
        sid = h.id.removeprefix("distill_")
        sc = load_card(sid)
        try:
            inputs = _student_inputs(study, sc) if study is not None else sc.inputs
        except Exception:  # the student takes its own input size
            inputs = sc.inputs
        res = Resolved(source=sc.build, card=sc, domain=sc.domain, task=sc.task, inputs=inputs)  # type: ignore[arg-type]

        def make(res: Any = res) -> Any:
            return build(res, device="cpu").module.eval()
        meta = build(res, device="meta")  # its inputs and, for a decoder, its KV-cache prefill

        def inputs_of(meta: Any = meta) -> Any:
            return meta.make_inputs("cpu")
        out.append(Student(key=sid, hypothesis=h.id, build=make, make_inputs=inputs_of,
                           prepare=meta.prepare))
    return out


def host_predictions(ctx: Context, runs: list[ExperimentRun], host: Any,
                     hm: HostModel | None = None) -> HostModel | None:
    """Uncorrected host speed-up of each run (``host_prediction.py``); None without a study."""
    s = ctx.products.study
    if s is None:
        return None
    hm = hm or host_model(host)
    by_id = {m.id: m for m in methods()}
    hyps = ctx.products.hypotheses_report
    for r in runs:
        h = hyps.get(r.hypothesis) if hyps is not None and r.hypothesis else None
        if h is not None:
            r.predicted_target_speedup = h.speedup
            r.predicted_target_speedup_bound = h.speedup_bound
        if r.state in ("not_applicable", "unavailable"):
            continue  # cannot run on this host: nothing to compare a prediction with
        m = by_id.get(r.id) or by_id.get(r.id.split("_")[0])
        if r.hypothesis is None and (m is None or not m.pieces) and \
                (m is None or m.host_matmul_precision is None):
            # measured only: no hypothesis (section 5) to predict it from
            r.host_prediction_notes.append(msg("experiments.predict.measured_only"))
            continue
        rule = rule_for(hm, m, r.hypothesis, s, by_id)
        if not isinstance(rule, Rule):
            r.host_prediction_notes.append(rule)
            continue
        if m is not None and m.host_matmul_precision is not None:
            r.host_prediction_notes.append(msg("experiments.predict.dynamic",
                                               precision=m.host_matmul_precision))
        pred = predict_speedup(hm, rule, s)
        if pred is None:
            continue
        r.predicted_host_uncorrected = r.predicted_host_speedup = pred
        if r.speedup is not None:
            r.ratio = r.speedup / pred
    return hm


def noisy(run: ExperimentRun, baseline_cv: float, drift: float | None = None) -> bool:
    """Whether a measured speed-up is too noisy to learn from: a timing CV above
    ``quality.CV_NOISY``, or the baseline timed again after the methods differs by more than
    ``quality.BASELINE_DRIFT``."""
    from reportgen.analysis.measurement.quality import BASELINE_DRIFT, CV_NOISY

    return baseline_cv > CV_NOISY or (run.latency is not None and run.latency.cv > CV_NOISY) \
        or (drift is not None and drift > BASELINE_DRIFT)


def learn(runs: list[ExperimentRun], model: str, basis: HostBasis) -> int:
    """Correct each run's host prediction by the same experiment measured on other models here
    (``learning.correction``), then store this build's measured pairs that are not noisy
    (``ExperimentRun.noisy``, set by the stage with ``noisy``).
    Returns how many stored pairs of other builds were available."""
    from reportgen.analysis.prediction.host_calibration import is_quiet, load_avg

    stored = [p for p in load_pairs(basis) if p.model != model]
    for r in runs:
        raw = r.predicted_host_uncorrected
        c = correction(stored, r.id, model) if raw is not None else None
        if raw is None or c is None:
            continue
        r.host_correction = c.factor
        r.predicted_host_speedup = raw * c.factor
        r.ratio = r.speedup / r.predicted_host_speedup if r.speedup is not None else None
        r.host_prediction_notes.append(msg("experiments.predict.corrected", factor=c.factor,
                                           n=c.pairs, models=c.models, raw=raw))
    record(model, basis, [(r.id, r.predicted_host_uncorrected, r.speedup) for r in runs
                          if r.predicted_host_uncorrected is not None and r.speedup is not None
                          and not r.noisy],
           quiet=is_quiet(load_avg(), os.cpu_count()))
    return len(stored)


def stage(ctx: Context, result: StageResult) -> None:
    from reportgen.analysis.measurement.resources import available_ram, machine_info, too_big
    from reportgen.analysis.stage import StageSkipped
    from reportgen.catalog.host import host_platform
    from reportgen.models.build import build

    spec = ctx.spec.experiments
    if not spec.enabled:
        raise StageSkipped("experiments are not asked for (build --experiments, or "
                           "experiments.enabled: true in the spec)", code="experiments_disabled")
    if ctx.deterministic:
        raise StageSkipped("snapshot mode measures nothing on this machine",
                           code="experiments_snapshot")
    resolved, trace = ctx.products.need_resolved(), ctx.products.need_trace()
    if resolved.card is not None and resolved.card.meta_only:
        raise StageSkipped(f"model card '{resolved.card.id}' is meta-only", code="measure_meta_only",
                           card=resolved.card.id)
    # baseline + one transformed copy + its calibration state: three times the model
    reason = too_big(3.0 * float(trace.param_bytes), float(trace.peak_activation_bytes), available_ram())
    if reason:
        raise StageSkipped(reason, code="experiments_too_big")
    if spec.evaluate and not ctx.allow_code:
        raise StageSkipped("experiments.evaluate runs your code", hint="pass --allow-code",
                           code="experiments_need_code")
    base_dir = ctx.spec_path.parent if ctx.spec_path else Path.cwd()
    loaded = build(resolved, device="cpu", base_dir=base_dir, allow_code=ctx.allow_code)
    module, make_inputs = loaded.module, loaded.make_inputs
    weights = getattr(ctx.spec.model, "weights", None)
    if weights:
        load_weights(module, weights, base_dir)
    module = module.float().eval()
    # random weights: BatchNorm statistics from the model's own inputs, so activations keep a
    # trained model's scale and fidelity measures the method, not vanishing activations
    settled = 0 if weights else settle_batchnorm(module, lambda: make_inputs("cpu"),
                                                  spec.calibration_batches)
    evaluate: Evaluate | None = load_callable(spec.evaluate, spec.path, base_dir) if spec.evaluate else None
    host = host_platform()
    hyps = result.hypotheses
    ctx.products.hypotheses_report = hyps
    knobs: dict[str, float] = {}
    try:
        from reportgen.analysis.hypotheses.methods import knobs as hyp_knobs

        k = hyp_knobs()
        knobs = {"sparsity": float(k["unstructured_sparsity"]), "prune_fraction": float(k["prune_fraction"])}
    except Exception:  # the method defaults stand
        pass
    subject = Subject(module=module, make_inputs=lambda: make_inputs("cpu"),
                      domain=resolved.domain.value,
                      host_precisions=frozenset(p for p in PRECISIONS if host.runs(p)),
                      knobs=knobs, students=_students(ctx, hyps),
                      calibration_batches=spec.calibration_batches, prepare=loaded.prepare)
    prof = ctx.spec.profiling
    t0 = time.perf_counter()
    progress = ctx.products.experiment_progress
    base, runs = run_all(subject, methods(spec.methods), timing=Timing(prof.warmup, prof.min_runs, prof.max_runs),
                         budget_s=spec.time_budget_s, method_budget_s=spec.method_budget_s,
                         fidelity_batches=spec.fidelity_batches, evaluate=evaluate,
                         progress=progress)
    hm = host_predictions(ctx, runs, host)
    card = resolved.card.id if resolved.card is not None else result.model.name if result.model else "model"
    basis: HostBasis = hm.basis if hm is not None else "roofline"
    for r in runs:
        r.noisy = r.speedup is not None and noisy(r, base.latency.cv, base.drift)
    learned = learn(runs, card, basis) if hm is not None else 0
    from reportgen.analysis.measurement.quality import BASELINE_DRIFT, CV_NOISY

    rep = ExperimentsReport(noisy_cv=CV_NOISY, baseline_again=base.again, baseline_drift=base.drift,
                            drift_threshold=BASELINE_DRIFT,
        machine=machine_info("cpu"), weights="given" if weights else "random",
        target_is_host=ctx.products.platform is not None and ctx.products.platform.id == "host",
        budget_s=spec.time_budget_s, seconds=round(time.perf_counter() - t0, 3),
        baseline=base.latency, baseline_size_bytes=base.size_bytes,
        baseline_peak_rss_bytes=base.peak_rss_bytes,
        baseline_metrics=[Metric(name=k, before=v) for k, v in base.metrics.items()], runs=runs,
        batchnorm_settled=settled, batchnorm_batches=spec.calibration_batches if settled else 0)
    rep.pairs = [CalibrationPair(card=card, method=r.id, predicted_speedup=r.predicted_host_uncorrected,
                                 measured_speedup=r.speedup, basis=basis,
                                 noisy=r.noisy)
                 for r in runs if r.speedup is not None and r.predicted_host_uncorrected is not None]
    if hm is not None:
        rep.prediction_basis, rep.prediction_basis_msg = hm.basis, hm.basis_msg()
    rep.learned_from = learned
    result.experiments = rep
