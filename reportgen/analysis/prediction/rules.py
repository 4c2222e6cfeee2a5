"""Platform rules where DRAM is not the limit: fit checks (memory, Edge TPU parameter cache, MCU
SRAM arena and flash, hls4ml DSP/BRAM), precisions a unit cannot run, and the power figure used.
"""

from __future__ import annotations

import math

from reportgen.analysis.counting.records import OpKind, OpRecord, Trace
from reportgen.analysis.prediction.assumptions import compute_precision, load_assumptions
from reportgen.analysis.prediction.estimates import FitCheck, Verdict
from reportgen.catalog.figures import Figure
from reportgen.catalog.schema import Platform
from reportgen.spec.choices import Precision
from reportgen.text import Msg, msg


def _first_unsupported(records: list[OpRecord], platform: Platform) -> tuple[int | None, Msg | None]:
    """Position of the first op the device cannot run (Edge TPU partition rule)."""
    kinds = set(platform.supported_op_kinds or [])
    for pos, r in enumerate(records):
        if platform.supported_op_kinds is not None and r.kind.value not in kinds:
            return pos, msg("roofline.op_unsupported", index=r.index, op_code=r.op, kind=r.kind.value)
        if platform.max_tensor_dims is not None and r.kind != OpKind.view:
            # the limit is on activation tensors: a conv's 4-D weight (OHWI) is fine
            acts = r.input_shapes[:1] if r.kind == OpKind.conv else r.input_shapes
            for shape in acts + r.output_shapes:
                if sum(1 for d in shape if d > 1) > platform.max_tensor_dims:
                    return pos, msg("roofline.op_dims", index=r.index, op_code=r.op,
                                    shape=str(list(shape)), dims=platform.max_tensor_dims)
    return None, None


def status_msg(status: str) -> Msg:
    """A catalog figure status (sourced, derived, claim_low, ...) as a message."""
    return msg(f"status.{status}")


def power_basis(platform: Platform) -> tuple[float | None, Msg]:
    """The power figure used for energy, and what it is."""
    picked = platform.power.for_energy()
    if picked is None:
        return None, msg("power.none")
    name, fig = picked
    assert fig.value is not None
    return fig.value, msg("power.basis", label=msg(f"power.label.{name}"), value=fig.value,
                          status=status_msg(fig.status))


def _fit(name: str, required: float, available: Figure | None, scale: float, unit: str,
         *notes: Msg) -> FitCheck:
    """``available`` converted with ``scale`` to ``unit``; unusable → unknown.

    ``name`` is the message code under ``msg.fit.`` (its English text is the check's name)."""
    nm = msg(f"fit.{name}")
    if available is None or not available.usable:
        why = msg("fit.capacity_unknown") if available is None else msg(
            "fit.capacity_status", status=status_msg(available.status))
        all_notes = [*notes, why]
        return FitCheck(name_msg=nm, required=required, available=None, unit=unit,
                        verdict="unknown", note_msgs=all_notes)
    assert available.value is not None
    avail = available.value * scale
    return FitCheck(name_msg=nm, required=required, available=avail, unit=unit,
                    verdict="pass" if required <= avail else "fail", note_msgs=list(notes))


def _unsupported_reason(platform: Platform, p: Precision) -> tuple[str, Msg] | None:
    """(status, reason) when ``p`` cannot be predicted; None when it can."""
    unit = platform.unit()
    if not platform.runs(p.value):
        pk = unit.peak.get(p.value)
        why = msg("catalog_quote", text=pk.note) if pk is not None and pk.note else (
            msg("roofline.unit_runs", unit=unit.unit, precisions=", ".join(unit.precisions))
            if unit.precisions else msg("roofline.unit_runs_none", unit=unit.unit))
        return "unsupported", msg("roofline.cannot_run", platform=platform.name, unit=unit.unit,
                                  precision=p.value, why=why)
    cp = compute_precision(p)
    fig = platform.peak(cp)
    if fig is None or not fig.usable:
        status = fig.status if fig is not None else "unsourced"
        extra: Msg | str = ""
        if fig is not None and fig.status == "claim_low" and fig.claimed_value is not None:
            extra = msg("roofline.claim_low", value=fig.claimed_value, unit=fig.unit,
                        override_code=f"overrides: {{compute_units.{unit.unit}.peak.{cp}: "
                                      f"{fig.claimed_value:g}}}")
        code = "roofline.peak_status_int4" if p is Precision.int4 else "roofline.peak_status"
        return "unknown", msg(code, precision=cp, unit=unit.unit, status=status_msg(status),
                              extra=extra)
    return None


def _overall(checks: list[FitCheck]) -> Verdict:
    hard = [c for c in checks if c.verdict != "info"]
    def code(c: FitCheck) -> str:
        return c.name_msg.code if c.name_msg else ""

    if any(c.verdict == "fail" and code(c) not in ("fit.param_cache", "fit.dsp", "fit.bram")
           for c in hard):
        return "fail"
    if hard and all(c.verdict == "pass" for c in hard if code(c) not in ("fit.dsp", "fit.bram")):
        return "pass"
    return "unknown"


def _fit_checks(trace: Trace, platform: Platform, p: Precision, weight_b: float,
                act_b: float) -> list[FitCheck]:
    """Capacity tests in bytes (MB = 1e6 B in the fields), per platform rule."""
    mb = 1e-6
    checks: list[FitCheck] = []
    oc = platform.on_chip
    if platform.memory_model == "dram":
        notes = [msg("fit.weights_acts")]
        if platform.memory.unified:
            notes.append(msg("fit.unified"))
        checks.append(_fit("memory_capacity", (weight_b + act_b) * mb, platform.capacity(), 1e3,
                           "MB", *notes))
    elif platform.memory_model == "param_cache":
        checks.append(_fit("param_cache", weight_b * mb, oc.param_cache_mb, 1.0, "MB",
                           msg("fit.param_cache_note")))
    elif platform.memory_model == "on_chip":
        checks.append(_fit("on_chip", (weight_b + act_b) * mb, oc.sram_mb, 1.0, "MB",
                           msg("fit.on_chip_note")))
    elif platform.memory_model == "mcu":
        sram = oc.usable_sram_kb if oc.usable_sram_kb is not None and oc.usable_sram_kb.usable \
            else oc.sram_kb
        checks.append(_fit("sram_arena", act_b * mb, sram, 1e-3, "MB", msg("fit.sram_note")))
        checks.append(_fit("flash", weight_b * mb, oc.flash_mb, 1.0, "MB"))
    if platform.class_.value == "fpga" and oc.dsp_slices is not None:
        rf = load_assumptions().fpga_reuse_factor
        macs = sum(r.macs for r in trace.records)
        dsp = oc.dsp_slices.value if oc.dsp_slices.usable else None
        need = macs / rf
        min_rf = math.ceil(macs / dsp) if dsp else None
        name, note = msg("fit.dsp"), msg("fit.dsp_note", rf=rf,
                                           min_rf=min_rf if min_rf is not None else "—")
        checks.append(FitCheck(
            name_msg=name, required=need, available=dsp, unit="DSP",
            verdict="unknown" if dsp is None else ("pass" if need <= dsp else "fail"),
            note_msgs=[note]))
        checks.append(_fit("bram", weight_b * mb, oc.bram_uram_mb, 1.0, "MB",
                           msg("fit.bram_note")))
    return checks


