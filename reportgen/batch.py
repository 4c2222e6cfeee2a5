"""Batch builds for instructors: many specs, static stages in parallel, one gallery page.

``reportgen build examples/*.yaml -j 2`` builds each spec in a worker process (spawn context, so
no torch state is shared through ``fork``). Host measurements must never overlap — two timed runs
on the same cores would measure each other — so every worker installs one cross-process lock as
``reportgen.pipeline.MEASURE_LOCK`` and the pipeline runs its ``measure`` stage inside it.
A broken spec (or a crashed worker) is recorded as an error outcome; the other specs still build.
Afterwards ``index.html`` in each output directory links every report with its key numbers, read
defensively from each study's ``data.json``.
"""

from __future__ import annotations

import io
import json
import multiprocessing as mp
from collections.abc import Iterator
from concurrent.futures import Future, ProcessPoolExecutor, as_completed
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rich.console import Console

from reportgen.build import Outcome, build_many, build_one, output_folder
from reportgen.errors import ReportgenError

INDEX_NAME = "index.html"
DEFAULT_OUTPUT = Path("outputs")

# --------------------------------------------------------------------------- workers

_WORKER_LOCK: Any = None  # the batch's measurement lock, set in each worker by _init_worker


@contextmanager
def _hold_measure_lock() -> Iterator[None]:
    """``pipeline.MEASURE_LOCK`` in a worker: hold the batch-wide lock while measuring."""
    if _WORKER_LOCK is None:
        yield
        return
    with _WORKER_LOCK:
        yield


def _init_worker(lock: Any) -> None:
    global _WORKER_LOCK
    _WORKER_LOCK = lock
    from reportgen import pipeline

    pipeline.MEASURE_LOCK = _hold_measure_lock


@dataclass
class _Job:
    path: Path
    output: Path | None
    formats: list[str] | None
    deterministic: bool
    allow_code: bool
    template_root: Path | None
    experiments: bool = False


def _build_safely(job: _Job, console: Console) -> Outcome:
    """Build one spec; any failure becomes an error outcome with its first line."""
    try:
        return build_one(job.path, output=job.output, formats=job.formats,
                         deterministic=job.deterministic, allow_code=job.allow_code,
                         template_root=job.template_root, console=console,
                         experiments=job.experiments)
    except ReportgenError as e:
        console.print(f"error: {e}", markup=False)
        return Outcome(job.path, "error", _first_line(str(e)))
    except Exception as e:  # a bug in one study must not stop the batch
        console.print(f"error: {type(e).__name__}: {e}", markup=False)
        return Outcome(job.path, "error", _first_line(f"{type(e).__name__}: {e}"))


def _run_job(job: _Job) -> tuple[Outcome, str]:
    """In a worker: build one spec; return its outcome and the console text it printed."""
    buf = io.StringIO()
    console = Console(file=buf, width=100, force_terminal=False, highlight=False)
    return _build_safely(job, console), buf.getvalue()


def _first_line(text: str) -> str:
    """The error's first line — with the next one when the first only announces it (a spec
    error's "N problems in the spec" header)."""
    lines = [ln.strip() for ln in text.strip().splitlines() if ln.strip()]
    if not lines:
        return "error"
    head = lines[0]
    if len(lines) > 1 and head.endswith(("in the spec", ":")):
        head = f"{head} — {lines[1]}"
    return head[:300]


# --------------------------------------------------------------------------- batch

def build_batch(paths: list[Path], *, output: Path | None = None, formats: list[str] | None = None,
                deterministic: bool = False, allow_code: bool = False,
                template_root: Path | None = None, jobs: int = 1,
                console: Console | None = None, experiments: bool = False) -> list[Outcome]:
    """Build every spec (``jobs`` at a time), then write the gallery for a batch of several.

    Outcomes come back in the order of ``paths``. With one spec this is ``build_many`` (a spec
    error is raised, not recorded) and no gallery is written.
    """
    console = console or Console(stderr=True)
    if len(paths) <= 1:
        return build_many(paths, output=output, formats=formats, deterministic=deterministic,
                          allow_code=allow_code, template_root=template_root, console=console,
                          experiments=experiments)
    if jobs <= 1:
        outcomes = [_build_safely(_Job(p, output, formats, deterministic, allow_code, template_root,
                                       experiments), console) for p in paths]
    else:
        outcomes = _build_parallel(paths, output=output, formats=formats,
                                   deterministic=deterministic, allow_code=allow_code,
                                   template_root=template_root, jobs=jobs, console=console,
                                   experiments=experiments)
    for index in write_indexes(outcomes, output, deterministic=deterministic,
                               template_root=template_root):
        console.print(f"gallery: {index}", highlight=False, markup=False)
    return outcomes


def _build_parallel(paths: list[Path], *, output: Path | None, formats: list[str] | None,
                    deterministic: bool, allow_code: bool, template_root: Path | None, jobs: int,
                    console: Console, experiments: bool = False) -> list[Outcome]:
    ctx = mp.get_context("spawn")
    lock = ctx.Lock()
    results: dict[int, Outcome] = {}
    with ProcessPoolExecutor(max_workers=min(jobs, len(paths)), mp_context=ctx,
                             initializer=_init_worker, initargs=(lock,)) as pool:
        futures: dict[Future[tuple[Outcome, str]], int] = {}
        for i, p in enumerate(paths):
            job = _Job(p, output, formats, deterministic, allow_code, template_root, experiments)
            futures[pool.submit(_run_job, job)] = i
        try:
            for fut in as_completed(futures):
                i = futures[fut]
                try:
                    outcome, log = fut.result()
                except Exception as e:  # the worker died (out of memory, killed, ...)
                    outcome, log = Outcome(paths[i], "error", _first_line(
                        f"the build process failed: {type(e).__name__}: {e}")), ""
                if log:
                    console.print(log, markup=False, highlight=False, end="")
                results[i] = outcome
        except KeyboardInterrupt:
            pool.shutdown(wait=False, cancel_futures=True)
            raise
    return [results[i] for i in range(len(paths))]


# --------------------------------------------------------------------------- gallery

def _base_dir(outcome: Outcome, output: Path | None) -> Path:
    if outcome.folder is not None:
        return outcome.folder.parent
    if output is not None:
        return output
    try:
        from reportgen.spec.load import load_spec

        return output_folder(load_spec(outcome.spec_path), outcome.spec_path, None).parent
    except Exception:  # the spec itself is what failed: list it in the default gallery
        return DEFAULT_OUTPUT


def write_indexes(outcomes: list[Outcome], output: Path | None, *, deterministic: bool = False,
                  template_root: Path | None = None) -> list[Path]:
    """Write ``index.html`` in every output directory the batch used; return their paths."""
    groups: dict[Path, list[Outcome]] = {}
    for o in outcomes:
        groups.setdefault(_base_dir(o, output), []).append(o)
    written = []
    for base, group in groups.items():
        base.mkdir(parents=True, exist_ok=True)
        rows = [gallery_row(o, base) for o in group]
        path = base / INDEX_NAME
        tmp = path.with_name(f".{INDEX_NAME}.tmp")
        tmp.write_text(render_index(rows, deterministic=deterministic, template_root=template_root),
                       encoding="utf-8")
        tmp.replace(path)
        written.append(path)
    return written


def _get(data: Any, *keys: str | int) -> Any:
    """``data[k1][k2]...`` or None when any step is missing or of the wrong type."""
    for k in keys:
        if isinstance(k, int) and isinstance(data, list) and -len(data) <= k < len(data):
            data = data[k]
        elif isinstance(k, str) and isinstance(data, dict):
            data = data.get(k)
        else:
            return None
    return data


def _num(value: Any) -> float | None:
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


def si(value: Any, unit: str = "") -> str:
    """4.09 G, 25.6 M; '—' when unknown."""
    v = _num(value)
    if v is None:
        return "—"
    for scale, prefix in ((1e15, "P"), (1e12, "T"), (1e9, "G"), (1e6, "M"), (1e3, "k")):
        if abs(v) >= scale:
            return f"{v / scale:.3g}\u00a0{prefix}{unit}"
    return f"{v:.3g}" + (f"\u00a0{unit}" if unit else "")


def latency(seconds: Any) -> str:
    v = _num(seconds)
    if v is None:
        return "—"
    if v >= 1:
        return f"{v:.3g}\u00a0s"
    if v >= 1e-3:
        return f"{v * 1e3:.3g}\u00a0ms"
    return f"{v * 1e6:.3g}\u00a0µs"


def _best_latency(data: dict[str, Any]) -> tuple[str | None, str]:
    """(precision, latency text) at the roofline's best precision; when no precision is fully
    known (an unsourced peak), the lowest bound among the others, marked '≥'."""
    best = _get(data, "roofline", "best_precision")
    rows = [pe for pe in _get(data, "roofline", "per_precision") or []
            if isinstance(pe, dict) and _num(pe.get("predicted_latency_s")) is not None]
    chosen = next((pe for pe in rows if pe.get("precision") == best), None)
    if chosen is None and rows:
        chosen = min(rows, key=lambda pe: float(pe["predicted_latency_s"]))
    if chosen is None:
        return (best if isinstance(best, str) else None), "—"
    text = latency(chosen.get("predicted_latency_s"))
    if chosen.get("latency_is_lower_bound") or chosen.get("status") != "ok":
        text = "≥\u00a0" + text
    return str(chosen.get("precision") or "—"), text


def _plain(v: float) -> str:
    """3 significant digits, large values without an exponent (24,000 not 2.4e+04)."""
    text = f"{v:.3g}"
    return f"{v:,.0f}" if "e+" in text else text


def _first_to_break(data: dict[str, Any]) -> str:
    ftb = _get(data, "first_to_break")
    if isinstance(ftb, dict):
        name = str(ftb.get("name", "?"))
        unit = str(ftb.get("unit") or "")
        pred, req = _num(ftb.get("predicted")), _num(ftb.get("requirement"))
        # first_to_break names the tightest constraint when none fails
        prefix = "none; tightest " if ftb.get("verdict") == "pass" else ""
        if pred is not None and req is not None:
            return f"{prefix}{name}: {_plain(pred)} vs {_plain(req)} {unit}".rstrip()
        return prefix + name
    verdicts = _get(data, "verdicts")
    if isinstance(verdicts, list) and verdicts:
        if all(isinstance(v, dict) and v.get("verdict") == "pass" for v in verdicts):
            return "none (all met)"
    return "—"


def study_state(data: dict[str, Any]) -> tuple[str, str]:
    """(badge, note) — the study's own state, from its constraint verdicts and plan: ``fail``
    when a judged constraint fails (note: which, and whether the recommended plan meets them),
    ``unknown`` when none fails but one cannot be judged (an unknown is never shown as met),
    ``ok`` when every constraint passes, ``none`` when the spec gives no constraint."""
    verdicts = [v for v in _get(data, "verdicts") or [] if isinstance(v, dict)]
    judged = [v for v in verdicts if v.get("verdict") in ("pass", "fail", "unknown")]
    failed = [str(v.get("name", "?")) for v in judged if v.get("verdict") == "fail"]
    unknown = [str(v.get("name", "?")) for v in judged if v.get("verdict") == "unknown"]
    if failed:
        rec = _get(data, "hypotheses", "recommended")
        item = next((h for h in _get(data, "hypotheses", "items") or []
                     if isinstance(h, dict) and h.get("id") == rec), None)
        plan = ("; no plan meets them" if not rec else
                f"; plan {rec} meets them" if isinstance(item, dict) and item.get("meets_all")
                else f"; plan {rec} does not meet them all")
        return "fail", "fails " + ", ".join(failed) + plan
    if unknown:
        return "unknown", "not judged: " + ", ".join(unknown)
    if judged:
        return "ok", "every constraint met"
    return "none", "no constraints given"


def gallery_row(outcome: Outcome, base: Path) -> dict[str, Any]:
    """One gallery row: links, outcome and key numbers ('—' for anything not in data.json)."""
    row: dict[str, Any] = {
        "spec": outcome.spec_path.name, "state": outcome.state,
        "summary": _first_line(outcome.summary), "title": outcome.spec_path.stem, "links": [],
        "model": "—", "domain": "—", "platform": "—", "platform_class": "", "language": "",
        "params": "—", "macs": "—", "precision": "—", "latency": "—", "breaks": "—",
        "study": "error" if outcome.state == "error" else "none", "study_note": ""}
    folder = outcome.folder
    if folder is None:
        return row
    rel = folder.relative_to(base).as_posix() if folder.is_relative_to(base) else folder.as_posix()
    row["links"] = [(fmt, f"{rel}/report.{fmt}") for fmt in ("html", "pdf", "md")
                    if (folder / f"report.{fmt}").is_file()]
    if (folder / "data.json").is_file():
        row["links"].append(("data.json", f"{rel}/data.json"))
    try:
        data = json.loads((folder / "data.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return row
    if not isinstance(data, dict):
        return row
    best, lat = _best_latency(data)
    row.update({
        "title": str(_get(data, "title") or row["title"]),
        "language": str(_get(data, "language") or ""),
        "model": str(_get(data, "model", "name") or "—"),
        "domain": str(_get(data, "model", "domain") or "—"),
        "platform": str(_get(data, "platform", "name") or _get(data, "platform", "id") or "—"),
        "platform_class": str(_get(data, "platform", "platform_class")
                              or _get(data, "roofline", "platform_class") or ""),
        "params": si(_get(data, "costs", "params", "total")),
        "macs": si(_get(data, "costs", "summary", "macs")),
        "precision": best or "—", "latency": lat, "breaks": _first_to_break(data)})
    row["study"], row["study_note"] = study_state(data)
    return row


def render_index(rows: list[dict[str, Any]], *, deterministic: bool = False,
                 template_root: Path | None = None) -> str:
    """The gallery page (autoescaped, sandboxed Jinja; inline CSS, no external resources)."""
    import datetime as dt

    from jinja2 import FileSystemLoader, StrictUndefined
    from jinja2.sandbox import SandboxedEnvironment

    from reportgen.paths import templates_dir

    root = template_root if template_root and (template_root / "html" / "index.html.j2").is_file() \
        else templates_dir()
    env = SandboxedEnvironment(loader=FileSystemLoader(str(root / "html")), autoescape=True,
                               undefined=StrictUndefined, trim_blocks=True, lstrip_blocks=True)
    counts = {s: sum(r["state"] == s for r in rows) for s in ("ok", "partial", "error")}
    counts |= {f"study_{s}": sum(r["study"] == s for r in rows)
               for s in ("fail", "unknown", "ok", "none")}
    generated = None if deterministic else dt.datetime.now(dt.UTC).replace(microsecond=0).isoformat()
    return env.get_template("index.html.j2").render(rows=rows, counts=counts, generated=generated)
