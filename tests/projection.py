"""A compact, reviewable projection of ``data.json`` for snapshots: the numbers and conclusions a
reader acts on (totals, per-block costs, per-precision predictions, verdicts, findings, hypotheses,
the plan, scaling fits, stage states), without per-op rows or sentences. A one-rule change to the
cost model then shows as a few changed lines instead of thousands."""

from __future__ import annotations

from typing import Any


def _sig(x: Any, digits: int = 4) -> Any:
    if isinstance(x, bool) or not isinstance(x, float):
        return x
    return float(f"{x:.{digits}g}")


def _pick(d: dict[str, Any] | None, *keys: str) -> dict[str, Any] | None:
    if d is None:
        return None
    return {k: _sig(d.get(k)) for k in keys if k in d}


def _rows(rows: list[dict[str, Any]] | None, *keys: str) -> list[dict[str, Any] | None]:
    return [_pick(r, *keys) for r in rows or []]


def compact(data: dict[str, Any]) -> dict[str, Any]:
    costs = data.get("costs") or {}
    roof = data.get("roofline") or {}
    findings = data.get("findings") or {}
    hyps = data.get("hypotheses") or {}
    trade = data.get("tradeoffs") or {}
    scaling = data.get("scaling") or {}
    return {
        "schema_version": data["schema_version"],
        "model": _pick(data.get("model"), "name", "card", "domain", "source"),
        "published": _rows(data.get("published"), "quantity", "published", "counted", "agrees"),
        "totals": _pick(costs.get("summary"), "ops", "macs", "flops", "vector_flops",
                        "bytes_moved", "peak_activation_bytes", "arithmetic_intensity", "at_least"),
        "params": _pick(costs.get("params"), "total", "embedding", "other", "buffers"),
        "blocks": _rows(costs.get("blocks"), "name", "type", "params", "macs", "mac_share"),
        "by_kind": _rows(costs.get("by_kind"), "name", "ops", "macs", "bytes"),
        "roofline": {
            "best_precision": roof.get("best_precision"),
            "assumptions": _pick(roof.get("assumptions"), "eta_c", "eta_m", "op_overhead_us",
                                 "memory_model"),
            "per_precision": _rows(roof.get("per_precision"), "precision", "status",
                                   "latency_is_lower_bound", "ideal_latency_s",
                                   "predicted_latency_s", "energy_per_sample_mj", "weight_bytes",
                                   "peak_activation_bytes", "host_link_time_s", "fits",
                                   "compute_bound_ops", "memory_bound_ops"),
        },
        "block_times": _rows(data.get("block_times"), "name", "predicted_time_s", "share"),
        "verdicts": _rows(data.get("verdicts"), "name", "requirement", "predicted", "verdict",
                          "margin", "origin"),
        "first_to_break": (data.get("first_to_break") or {}).get("name"),
        "zoo": _rows(data.get("zoo"), "platform_id", "best_precision", "predicted_latency_s",
                     "latency_is_lower_bound", "fits_memory", "energy_per_sample_mj"),
        "scaling": [{"axis": s.get("axis"),
                     "fits": _rows(s.get("fits"), "quantity", "exponent", "r2"),
                     "breaks": s.get("breaks")} for s in scaling.get("sweeps", [])],
        "findings": _rows(findings.get("items"), "id", "type", "rank", "impact", "severity"),
        "hypotheses": {
            "baseline_meets": hyps.get("baseline_meets"),
            "recommended": hyps.get("recommended"),
            "alone_meet": hyps.get("alone_meet"),
            "items": _rows(hyps.get("items"), "id", "rank", "applicable", "speedup",
                           "memory_ratio", "meets_all", "gap_closed"),
        },
        "plan": trade.get("plan"),
        "stages": {s["name"]: s["state"] for s in data.get("stages", [])},
    }


def message_codes(node: Any) -> set[str]:
    """Every ``Msg`` code in a dumped result (a dict with exactly ``code`` and ``params``)."""
    out: set[str] = set()
    if isinstance(node, dict):
        if set(node) == {"code", "params"} and isinstance(node["code"], str):
            out.add(node["code"])
        for v in node.values():
            out |= message_codes(v)
    elif isinstance(node, list):
        for v in node:
            out |= message_codes(v)
    return out


def invariant_problems(data: dict[str, Any]) -> list[str]:
    """What does not add up in a full ``data.json``: rows that do not sum to their totals, shares
    that do not sum to 1, per-op predicted times that do not sum to the predicted latency, and
    message codes missing from a language's catalog. Empty when everything holds."""
    from reportgen.text import languages, template

    bad: list[str] = []

    def close(a: float, b: float, what: str, rel: float = 2e-3, abs_: float = 2e-6) -> None:
        if abs(a - b) > max(abs_, rel * max(abs(a), abs(b))):
            bad.append(f"{what}: {a} != {b}")

    costs = data.get("costs")
    if costs:
        s = costs["summary"]
        for depth, rows in costs["by_module"].items():
            close(sum(r["macs"] for r in rows), s["macs"], f"by_module[{depth}] MACs")
        for name in ("by_kind", "by_layer_type", "by_op", "blocks"):
            rows = costs[name]
            close(sum(r["macs"] for r in rows), s["macs"], f"{name} MACs")
            if s["macs"]:
                close(sum(r["mac_share"] for r in rows), 1.0, f"{name} MAC shares", rel=1e-3)
        close(sum(r["ops"] for r in costs["by_kind"]), s["ops"], "by_kind op counts")
    roof = data.get("roofline")
    best = roof and roof.get("best_precision")
    if best:
        pe = next(p for p in roof["per_precision"] if p["precision"] == best)
        if pe["ops"] and pe["predicted_latency_s"]:
            ops = sum(o["predicted_time_s"] for o in pe["ops"])
            close(ops + (pe["host_link_time_s"] or 0.0), pe["predicted_latency_s"],
                  f"{best}: per-op times + host link vs predicted latency")
            close(sum(k["predicted_time_s"] for k in pe["by_kind"]), ops,
                  f"{best}: per-kind times vs per-op times")
    for pe in (roof or {}).get("per_precision", []):
        # a lower bound drops an unknown term, never the runtime's per-op overhead
        if pe["predicted_latency_s"] and pe["overhead_time_s"] > pe["predicted_latency_s"] * (1 + 1e-9):
            bad.append(f"{pe['precision']}: predicted {pe['predicted_latency_s']} s is below its "
                       f"own per-op overhead {pe['overhead_time_s']} s")
        if pe["ideal_latency_s"] and pe["predicted_latency_s"] and \
                pe["ideal_latency_s"] > pe["predicted_latency_s"] * (1 + 1e-9):
            bad.append(f"{pe['precision']}: the ideal bound is above the prediction")
    hyps = data.get("hypotheses") or {}
    for h in hyps.get("items", []):
        if h["after"] is None or h["speedup"] is None:
            continue
        want = {(False, False): "value", (False, True): "upper", (True, False): "lower",
                (True, True): "bounds"}[(h["before"]["lower_bound"], h["after"]["lower_bound"])]
        if h["speedup_bound"] != want:
            bad.append(f"hypothesis {h['id']}: speed-up labelled {h['speedup_bound']}, not {want}")
    for code in sorted(message_codes(data)):
        for lang in languages():
            try:
                template(code, lang)
            except KeyError as e:
                bad.append(str(e))
    return bad
