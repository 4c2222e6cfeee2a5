"""``reportgen profile SPEC -o measurements.json``: only the measurement, on the machine it runs
on (this host, or a Jetson / Raspberry Pi itself). ``reportgen build SPEC --measurements FILE``
merges the file into the report as "measured on <machine>".

Mounted by ``register(app)`` from ``reportgen.cli``; torch is imported when the command runs.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from reportgen.errors import ReportgenError

err = Console(stderr=True, highlight=False)


def profile(
    spec: Annotated[Path, typer.Argument(help="Study spec YAML file.", show_default=False)],
    output: Annotated[Path, typer.Option("-o", "--output", help="Measurements file to write (JSON).")] = Path("measurements.json"),
    device: Annotated[str, typer.Option("--device", help="cpu, cuda or auto (cuda when available).")] = "cpu",
    precision: Annotated[str, typer.Option("--precision", help="fp32, fp16 or bf16 (weights and float inputs cast).")] = "fp32",
    platform: Annotated[str | None, typer.Option("--platform", help="Catalog id of the machine measured (default: 'host' on the CPU, the spec's platform on CUDA); the report compares against its prediction.")] = None,
    budget: Annotated[float | None, typer.Option("--budget", help="Time budget for all timing, seconds (default: the spec's profiling.time_budget_s).")] = None,
    allow_code: Annotated[bool, typer.Option("--allow-code", help="Allow `source: python` models, which run code from the spec.")] = False,
) -> None:
    """Measure the spec's model on this machine and write a measurements file (no report)."""
    try:
        _profile(spec, output, device, precision, platform, budget, allow_code)
    except ReportgenError as e:
        err.print("error: " + str(e), markup=False, soft_wrap=True)
        raise typer.Exit(2) from None


def _profile(spec_path: Path, output: Path, device: str, precision: str, platform: str | None,
             budget: float | None, allow_code: bool) -> None:
    import torch

    from reportgen.analysis.counting.trace import trace_forward
    from reportgen.analysis.measurement import file as measure_file
    from reportgen.analysis.measurement.resources import RAM_SHARE, available_ram, too_big
    from reportgen.analysis.measurement.scaling import domain_axis, measured_values
    from reportgen.analysis.measurement.sweep import measure
    from reportgen.models.build import build, resolve
    from reportgen.spec.load import load_spec

    if device not in ("cpu", "cuda", "auto"):
        raise ReportgenError(f"--device must be cpu, cuda or auto, got {device!r}")
    if precision not in ("fp32", "fp16", "bf16"):
        raise ReportgenError(f"--precision must be fp32, fp16 or bf16, got {precision!r}")
    if device == "auto":
        device = "cuda" if torch.cuda.is_available() else "cpu"
    if device == "cuda" and not torch.cuda.is_available():
        raise ReportgenError("--device cuda: torch sees no CUDA device on this machine")
    spec = load_spec(spec_path)
    resolved = resolve(spec, str(spec_path))
    if resolved.card is not None and resolved.card.meta_only:
        raise ReportgenError(f"model card '{resolved.card.id}' is meta-only: too big to materialise")
    base = spec_path.parent
    loaded = build(resolved, device="meta", base_dir=base, allow_code=allow_code)
    args, kwargs = loaded.make_inputs("meta")
    if loaded.prepare is not None:
        args, kwargs = loaded.prepare(loaded.module, args, kwargs)
    trace = trace_forward(loaded.module, args, kwargs)[0]
    if device == "cpu":
        reason = too_big(float(trace.param_bytes), float(trace.peak_activation_bytes), available_ram(),
                         RAM_SHARE)
        if reason:
            raise ReportgenError(reason)
    prof = spec.profiling if budget is None else spec.profiling.model_copy(update={"time_budget_s": budget})
    plat = platform or ("host" if device == "cpu" else spec.platform.id)
    axis, _, base_v, values = domain_axis(resolved.domain.value, resolved.inputs)
    err.print(f"measuring {loaded.input_description} on {device} ({precision}) …", markup=False)
    run = measure(resolved, trace, prof, device=device, precision=precision, base_dir=base,
                  allow_code=allow_code, platform=plat, size_axis=(axis, measured_values(values, base_v)),
                  log=lambda s: err.print(f"  {s}", markup=False))
    measure_file.save(output, resolved, run, spec.title)
    lat = run.latency
    err.print(f"median {lat.median_s * 1e3:.3g} ms (p90 {lat.p90_s * 1e3:.3g} ms, {lat.runs} runs) "
              f"on {run.machine.label} → {output}", markup=False)


def register(app: typer.Typer) -> None:
    app.command("profile")(profile)
