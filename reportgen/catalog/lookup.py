"""Finding a platform by id or alias (with a did-you-mean), the measured ``host``, and spec
overrides of catalog numbers (marked ``user``).
"""

from __future__ import annotations

import copy
import difflib
from typing import Any

from reportgen.catalog.platforms import load_catalog, validate_platform
from reportgen.catalog.schema import Platform, _strip_urls
from reportgen.errors import SpecError, SpecIssue, UnknownIdError

# The short names people type for catalog platforms (after lower-casing, '-' and ' ' → '_').
PLATFORM_ALIASES: dict[str, str] = {
    "rpi5": "raspberry_pi_5", "pi5": "raspberry_pi_5", "raspberry_pi5": "raspberry_pi_5",
    "raspberrypi5": "raspberry_pi_5",
    "rpi4": "raspberry_pi_4", "pi4": "raspberry_pi_4", "raspberry_pi4": "raspberry_pi_4",
    "raspberrypi4": "raspberry_pi_4",
    "orin_nano": "nvidia_jetson_orin_nano_8gb", "jetson_orin_nano": "nvidia_jetson_orin_nano_8gb",
    "agx_orin": "nvidia_jetson_agx_orin_64gb", "jetson_agx_orin": "nvidia_jetson_agx_orin_64gb",
    "jetson_nano": "nvidia_jetson_nano_2019",
    "coral": "google_coral_edge_tpu", "edgetpu": "google_coral_edge_tpu",
    "edge_tpu": "google_coral_edge_tpu", "coral_edge_tpu": "google_coral_edge_tpu",
    "h100": "nvidia_h100_sxm", "a100": "nvidia_a100_80gb_sxm", "l4": "nvidia_l4",
    "t4": "nvidia_t4", "rtx4090": "nvidia_rtx_4090", "rtx_4090": "nvidia_rtx_4090",
    "4090": "nvidia_rtx_4090", "m2": "apple_m2",
    "snapdragon": "qualcomm_snapdragon_8_gen3", "snapdragon_8_gen3": "qualcomm_snapdragon_8_gen3",
    "8gen3": "qualcomm_snapdragon_8_gen3", "hailo": "hailo_8", "hailo8": "hailo_8",
    "rk3588": "rockchip_rk3588", "ncs2": "intel_movidius_myriad_x_ncs2",
    "myriad_x": "intel_movidius_myriad_x_ncs2", "esp32": "espressif_esp32_s3",
    "esp32s3": "espressif_esp32_s3", "esp32_s3": "espressif_esp32_s3",
    "stm32": "st_stm32h743", "stm32h7": "st_stm32h743", "stm32h743": "st_stm32h743",
    "kv260": "amd_kria_kv260", "kria": "amd_kria_kv260", "u250": "amd_alveo_u250",
    "alveo": "amd_alveo_u250", "arria10": "intel_arria10_gx1150",
    "epyc": "amd_epyc_9654", "epyc_9654": "amd_epyc_9654",
    "xeon": "intel_xeon_platinum_8480plus", "sapphire_rapids": "intel_xeon_platinum_8480plus",
    "core_ultra": "intel_core_ultra7_155h", "meteor_lake": "intel_core_ultra7_155h",
}


def _normal(text: str) -> str:
    return text.strip().lower().replace("-", "_").replace(" ", "_")


def canonical_platform_id(pid: str) -> str:
    """The catalog id ``pid`` names: itself, its spelling with '-'/case normalised, or an alias
    (``rpi5`` → ``raspberry_pi_5``). An id that names nothing is returned unchanged."""
    cat = load_catalog()
    if pid in cat:
        return pid
    norm = _normal(pid)
    if norm in cat:
        return norm
    squeezed = norm.replace("_", "")  # "rpi_5", "RPi-5", "orin nano" → the alias's spelling
    by_squeezed = {a.replace("_", ""): i for a, i in PLATFORM_ALIASES.items()}
    by_squeezed.update({i.replace("_", ""): i for i in cat})
    return by_squeezed.get(squeezed, pid)


def unknown_platform(pid: str) -> UnknownIdError:
    """UnknownIdError with up to three guesses: ids containing what was typed ("a100", "kv260"),
    then difflib over ids and aliases (an alias suggests the id it stands for)."""
    ids = list(load_catalog())
    norm = _normal(pid)
    contains = [i for i in ids if norm and norm in i]
    names = ids + list(PLATFORM_ALIASES)
    guesses = [PLATFORM_ALIASES.get(g, g) for g in difflib.get_close_matches(norm, names, n=5,
                                                                             cutoff=0.6)]
    close = list(dict.fromkeys(contains + guesses))[:3]
    hint = f"did you mean {', '.join(close)}?" if close else "run `reportgen platforms` for the list"
    return UnknownIdError(f"unknown platform '{pid}': {hint}")


def get_platform(pid: str, *, measure_host: bool = True) -> Platform:
    """A catalog platform by id or alias (``rpi5``). ``host`` is measured on this machine
    (cached) unless ``measure_host=False``. Unknown ids raise UnknownIdError with did-you-mean."""
    cat = load_catalog()
    pid = canonical_platform_id(pid)
    if pid not in cat:
        raise unknown_platform(pid)
    if pid == "host" and measure_host:
        from reportgen.catalog.host import host_platform

        return host_platform()
    return cat[pid]


def _set_path(data: dict[str, Any], path: list[str], value: Any, issues: list[SpecIssue],
              where: str) -> None:
    """Set ``value`` at ``path`` in a catalog-form dict. Numbers on figures become status user."""
    node: Any = data
    for i, part in enumerate(path[:-1]):
        if isinstance(node, list):  # compute_units / host_links: address by unit name or index
            match = [x for x in node if isinstance(x, dict)
                     and (x.get("unit") == part or x.get("name") == part)]
            if match:
                node = match[0]
                continue
            if part.isdigit() and int(part) < len(node):
                node = node[int(part)]
                continue
            names = [x.get("unit") or x.get("name") for x in node if isinstance(x, dict)]
            issues.append(SpecIssue(f"no entry '{part}' here (have: {', '.join(map(str, names))})",
                                    path=where))
            return
        if not isinstance(node, dict):
            issues.append(SpecIssue("cannot descend into a plain value", path=where))
            return
        if part not in node or node[part] is None:
            nxt = path[i + 1]
            node[part] = [] if nxt.isdigit() else {}
        node = node[part]
    last = path[-1]
    if not isinstance(node, dict):
        issues.append(SpecIssue("cannot set a field here", path=where))
        return
    cur = node.get(last)
    is_number = isinstance(value, int | float) and not isinstance(value, bool)
    if isinstance(cur, dict) and ("status" in cur) and is_number:
        # a Figure or a Peak given as a bare number: the (dense) value, now from the spec
        key = "dense" if ("dense" in cur or "sparse" in cur) else "value"
        node[last] = {**cur, key: float(value), "status": "user", "src": [],
                      "note": "given in the spec", "derivation": None, "claimed_value": None,
                      **({"dense_status": None, "supported": True} if key == "dense" else {})}
        node[last] = {k: v for k, v in node[last].items() if v is not None or k == "value"}
    elif last in ("dense", "sparse", "value") and "status" in node and is_number:
        node[last] = float(value)
        node["status"] = "user"
        node["src"] = []
        node["note"] = "given in the spec"
        for k in ("derivation", "claimed_value", "dense_status"):
            node.pop(k, None)
        if last == "dense":
            node["supported"] = True
    elif isinstance(cur, dict) and isinstance(value, dict):
        for k, v in value.items():
            _set_path(node, [last, str(k)], v, issues, f"{where}.{k}")
    elif cur is None and is_number and _figure_field(path):
        node[last] = {"value": float(value), "status": "user", "note": "given in the spec",
                      "unit": _default_unit(last)}
    else:
        node[last] = value


def _figure_field(path: list[str]) -> bool:
    return path[0] in ("memory", "on_chip", "power", "price_usd") or "peak" in path


def _default_unit(name: str) -> str:
    for suffix, unit in (("_gbps", "GB/s"), ("_gb", "GB"), ("_mb", "MB"), ("_kb", "KB"),
                         ("_w", "W"), ("_usd", "USD"), ("slices", "count"), ("blocks", "count")):
        if name.endswith(suffix):
            return unit
    return ""


def _flatten(overrides: dict[str, Any], prefix: str = "") -> list[tuple[str, Any]]:
    out: list[tuple[str, Any]] = []
    for k, v in overrides.items():
        key = f"{prefix}.{k}" if prefix else str(k)
        out.append((key, v))
    return out


def apply_overrides(platform: Platform, overrides: dict[str, Any], *,
                    filename: str = "<spec>", prefix: str = "platform.overrides") -> Platform:
    """A copy of ``platform`` with ``overrides`` applied and re-validated.

    Keys are dotted field paths (``memory.bandwidth_gbps``, ``compute_units.npu.peak.int8``)
    or nested dicts. A number given for a figure replaces its value with status ``user``.
    Raises SpecError listing all problems."""
    if not overrides:
        return platform
    data = copy.deepcopy(platform.model_dump(mode="json", by_alias=True, exclude={"urls"}))
    _strip_urls(data)
    issues: list[SpecIssue] = []
    for key, value in _flatten(overrides):
        parts = [p for p in key.split(".") if p]
        if not parts:
            issues.append(SpecIssue("empty override key", path=prefix))
            continue
        if parts[0] not in Platform.model_fields and parts[0] != "class":
            close = difflib.get_close_matches(parts[0], list(Platform.model_fields), n=1)
            issues.append(SpecIssue(f"unknown platform field '{parts[0]}'", path=f"{prefix}.{key}",
                                    suggestion=f"did you mean '{close[0]}'?" if close else None))
            continue
        if parts == ["id"]:
            issues.append(SpecIssue("the id cannot be overridden", path=f"{prefix}.{key}"))
            continue
        _set_path(data, parts, value, issues, f"{prefix}.{key}")
    if issues:
        raise SpecError(filename, issues)
    return validate_platform(data, filename=filename, prefix=prefix)




def resolve_platform(ref: Any, *, filename: str = "<spec>", measure_host: bool = True) -> Platform:
    """The platform a spec's ``PlatformRef`` names: a catalog entry with ``overrides`` applied,
    or a custom entry from ``ref.custom`` (validated with the catalog schema)."""
    if ref.custom is not None:
        data = dict(ref.custom)
        data.setdefault("id", ref.id)
        if data["id"] != ref.id:
            raise SpecError(filename, [SpecIssue(
                f"custom platform id '{data['id']}' differs from platform.id '{ref.id}'",
                path="platform.custom.id")])
        if ref.id in load_catalog():
            raise SpecError(filename, [SpecIssue(
                f"'{ref.id}' is a catalog platform; give a new id for a custom platform, "
                "or use overrides", path="platform.id")])
        base = validate_platform(data, filename=filename, prefix="platform.custom")
    else:
        base = get_platform(ref.id, measure_host=measure_host)
    return apply_overrides(base, dict(ref.overrides), filename=filename)


