"""The ``host`` platform: this machine, measured by short micro-benchmarks (a few seconds).

* matmul throughput per dtype (fp32, bf16, fp16 kept only if it is not much slower than fp32):
  best of a few ``torch.mm`` of n×n matrices; FLOPs = 2·n³ per matmul → TFLOPS.
* memory bandwidth: best of a few copies of a 256 MB tensor; bytes = read + write = 2 × size → GB/s.
* CPU model from /proc/cpuinfo (platform.processor() elsewhere), logical cores, RAM (psutil).

Results are cached as JSON per machine in ``$REPORTGEN_CACHE_DIR`` or
``${XDG_CACHE_HOME:-~/.cache}/reportgen/host-<hash>.json``; the hash covers the CPU model, the
torch version and the core count, and the file records the 1-minute load average at the time.
A cached result taken on a quiet machine (load ≤ 0.75 × cores) is reused; one taken under load
only while the machine is still loaded (otherwise it is measured again). ``reportgen calibrate
--recalibrate`` refreshes it. torch is imported lazily.
"""

from __future__ import annotations

import hashlib
import json
import os
import platform as pyplatform
import time
from pathlib import Path
from typing import Any

from reportgen.catalog.platforms import load_catalog, validate_platform
from reportgen.catalog.schema import Platform

MATMUL_N = 1024
COPY_BYTES = 256 * 1024 * 1024
REPEATS = 3


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text(encoding="utf-8", errors="replace").splitlines():
            if line.lower().startswith(("model name", "hardware", "processor\t: ")) and ":" in line:
                value = line.split(":", 1)[1].strip()
                if value and not value.isdigit():
                    return value
    except OSError:
        pass
    return pyplatform.processor() or pyplatform.machine() or "unknown CPU"


def cache_dir() -> Path:
    if os.environ.get("REPORTGEN_CACHE_DIR"):
        return Path(os.environ["REPORTGEN_CACHE_DIR"])
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "reportgen"


def _torch_version() -> str:
    import torch

    return str(torch.__version__)


def cache_path() -> Path:
    key = f"{cpu_model()}|{_torch_version()}|{os.cpu_count()}"
    return cache_dir() / f"host-{hashlib.sha256(key.encode()).hexdigest()[:16]}.json"


def _matmul_tflops(dtype_name: str, n: int = MATMUL_N, repeats: int = REPEATS) -> float:
    import torch

    dtype = getattr(torch, {"fp32": "float32", "bf16": "bfloat16", "fp16": "float16"}[dtype_name])
    a = torch.randn(n, n).to(dtype)
    b = torch.randn(n, n).to(dtype)
    torch.mm(a, b)  # warm-up
    best = float("inf")
    for _ in range(repeats):
        t0 = time.perf_counter()
        torch.mm(a, b)
        best = min(best, time.perf_counter() - t0)
    return 2 * n**3 / best / 1e12


def _copy_gbps(nbytes: int = COPY_BYTES, repeats: int = REPEATS) -> float:
    import torch

    src = torch.ones(nbytes // 4, dtype=torch.float32)
    dst = torch.empty_like(src)
    dst.copy_(src)  # warm-up, touches the pages
    best = float("inf")
    for _ in range(repeats):
        t0 = time.perf_counter()
        dst.copy_(src)
        best = min(best, time.perf_counter() - t0)
    return 2 * nbytes / best / 1e9


def measure() -> dict[str, Any]:
    """Run the micro-benchmarks (a few seconds). Returns a JSON-ready dict."""
    import torch

    t_start = time.perf_counter()
    peaks = {"fp32": _matmul_tflops("fp32"), "bf16": _matmul_tflops("bf16")}
    fp16 = _matmul_tflops("fp16")
    fp16_fast = fp16 >= 0.5 * peaks["fp32"]
    if fp16_fast:
        peaks["fp16"] = fp16
    try:
        import psutil

        ram_gb: float | None = psutil.virtual_memory().total / 1e9
    except Exception:  # psutil missing or unsupported OS: capacity stays unknown
        ram_gb = None
    try:
        load: float | None = os.getloadavg()[0]
    except (OSError, AttributeError):
        load = None
    return {
        "load_avg_1m": load,
        "cpu_model": cpu_model(),
        "cores": os.cpu_count(),
        "torch_threads": torch.get_num_threads(),
        "torch_version": str(torch.__version__),
        "peaks_tflops": peaks,
        "fp16_measured_tflops": fp16,
        "fp16_fast": fp16_fast,
        "copy_gbps": _copy_gbps(),
        "ram_gb": ram_gb,
        "matmul_n": MATMUL_N,
        "copy_mb": COPY_BYTES / 1e6,
        "repeats": REPEATS,
        "seconds": time.perf_counter() - t_start,
        "measured_at": time.strftime("%Y-%m-%dT%H:%M:%S"),
    }


QUIET_LOAD_PER_CORE = 0.75


def _quiet(load: float | None, cores: int | None) -> bool:
    return load is not None and bool(cores) and load <= QUIET_LOAD_PER_CORE * (cores or 1)


def _reusable(data: dict[str, Any]) -> bool:
    """A cached benchmark taken on a quiet machine is always reused; one taken under load (or
    before the load was recorded) only while the machine is still loaded."""
    try:
        now: float | None = os.getloadavg()[0]
    except (OSError, AttributeError):
        return True
    cores = os.cpu_count()
    return _quiet(data.get("load_avg_1m"), cores) or not _quiet(now, cores)


def load_or_measure(refresh: bool = False) -> dict[str, Any]:
    """Cached measurements for this machine; measured (and cached) when absent or ``refresh``."""
    path = cache_path()
    if not refresh and path.is_file():
        try:
            data: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
            if "peaks_tflops" in data and "copy_gbps" in data and _reusable(data):
                return data
        except (OSError, ValueError):
            pass
    data = measure()
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(data, indent=2), encoding="utf-8")
    except OSError:
        pass  # a read-only cache only costs a re-measurement next time
    return data


def platform_from_measurements(m: dict[str, Any]) -> Platform:
    """The catalog's ``host`` entry with measured numbers filled in (status ``measured``)."""
    base = load_catalog()["host"].dump()
    how_mm = (f"best of {m['repeats']} torch.mm {m['matmul_n']}×{m['matmul_n']} on "
              f"{m['torch_threads']} threads, torch {m['torch_version']}, {m['measured_at']}")
    unit = base["compute_units"][0]
    unit["description"] = f"{m['cpu_model']}, {m['cores']} logical cores (measured)"
    unit["peak"] = {p: {"dense": round(v, 6), "unit": "TFLOPS", "status": "measured",
                        "note": f"achieved matmul throughput: {how_mm}"}
                    for p, v in m["peaks_tflops"].items()}
    unit["precisions"] = list(m["peaks_tflops"])
    if not m.get("fp16_fast"):
        unit["peak"]["fp16"] = {"status": "measured", "supported": False, "unit": "TFLOPS",
                                "note": f"fp16 matmul measured at {m['fp16_measured_tflops']:.4f} "
                                        "TFLOPS, under half of fp32: treated as not supported"}
    base["memory"]["bandwidth_gbps"] = {
        "value": round(m["copy_gbps"], 3), "unit": "GB/s", "status": "measured",
        "note": f"best of {m['repeats']} copies of a {m['copy_mb']:.0f} MB tensor; "
                "bytes = read + write"}
    base["memory"]["capacity_gb"] = (
        {"value": round(m["ram_gb"], 3), "unit": "GB", "status": "measured",
         "note": "total RAM reported by the OS (psutil)"} if m.get("ram_gb") else
        {"unit": "GB", "status": "unsourced"})
    base["name"] = f"This machine: {m['cpu_model']} ({m['cores']} cores, measured)"
    return validate_platform(base, filename=str(cache_path()))


_HOST: Platform | None = None


def host_platform(refresh: bool = False) -> Platform:
    """The measured ``host`` platform (measured once per machine, then read from the cache)."""
    global _HOST
    if _HOST is None or refresh:
        _HOST = platform_from_measurements(load_or_measure(refresh))
    return _HOST
