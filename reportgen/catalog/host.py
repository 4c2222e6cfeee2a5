"""The ``host`` platform: this machine, measured by short micro-benchmarks (a few seconds).

* matmul throughput per dtype (fp32; bf16 and fp16 kept only if not much slower than fp32):
  best of a few ``torch.mm`` of n×n matrices; FLOPs = 2·n³ per matmul → TFLOPS.
* int8 throughput: the faster of ``torch._int_mm`` (int8 × int8 → int32, n×n) and a dynamically
  quantized ``Linear`` (torch.ao, n rows of n → n: the kernels dynamic and static int8 run on
  VNNI/AMX CPUs), best of a few each; ops = 2·n³ → TOPS. Kept like fp16: only when not much
  slower than fp32.
* memory bandwidth (DRAM): the faster of a copy (read + write = 2 × size) and an add (2 reads +
  1 write = 3 × size) of 256 MB tensors, best of a few each → GB/s. An add streams faster than
  a copy on some CPUs (47 vs 30 GB/s on the development VM): a copy alone is no bound.
* cache bandwidth: the same two kernels on tensors moving a quarter of the last-level cache
  (sysfs; 32 MiB when unreadable), best of 20 → GB/s; with the cache's size it is the host cost
  model's first memory level (``analysis.prediction.costmodel.CacheLevel``).
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
from collections.abc import Callable
from pathlib import Path
from typing import Any

from reportgen.catalog.platforms import load_catalog, validate_platform
from reportgen.catalog.schema import Platform

MATMUL_N = 1024
COPY_BYTES = 256 * 1024 * 1024
REPEATS = 3
CACHE_REPEATS = 20
# the fp32 peak every host prediction divides by: best of PEAK_REPEATS matmuls, taken at the start
# and again at the end of the micro-benchmarks (max). A best of 3 taken once, as the first matmul
# of the process, read 98–186 GFLOPS on this 2-core VM within an hour while its convolutions ran
# at 187–197: a peak below an achieved rate is no bound, and predictions scaled off it halved.
PEAK_REPEATS = 10


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


def _best_time(run: Callable[[], Any], repeats: int) -> float:
    """Seconds of the fastest of ``repeats`` calls of ``run``, after one warm-up call."""
    run()  # warm-up (touches the pages, loads the kernels)
    best = float("inf")
    for _ in range(repeats):
        t0 = time.perf_counter()
        run()
        best = min(best, time.perf_counter() - t0)
    return best


def _matmul_tflops(dtype_name: str, n: int = MATMUL_N, repeats: int = REPEATS) -> float:
    import torch

    dtype = getattr(torch, {"fp32": "float32", "bf16": "bfloat16", "fp16": "float16"}[dtype_name])
    a = torch.randn(n, n).to(dtype)
    b = torch.randn(n, n).to(dtype)
    return 2 * n**3 / _best_time(lambda: torch.mm(a, b), repeats) / 1e12


def _int8_tops(n: int = MATMUL_N, repeats: int = REPEATS) -> tuple[float | None, str]:
    """(int8 TOPS, how) or (None, why not): the faster of ``torch._int_mm`` (int8×int8→int32)
    and a dynamically quantized ``Linear`` (torch.ao, fbgemm/oneDNN: what dynamic and static int8
    run; its time includes quantizing the activations), each where this build has it."""
    import warnings

    import torch

    cands: list[tuple[str, Callable[[], Any]]] = []
    why = ""
    a = torch.randint(-128, 128, (n, n), dtype=torch.int8)
    b = torch.randint(-128, 128, (n, n), dtype=torch.int8)
    try:
        torch._int_mm(a, b)  # raises where this build has no CPU kernel
        cands.append((f"torch._int_mm int8×int8→int32 {n}×{n}", lambda: torch._int_mm(a, b)))
    except Exception as e:  # the other entry point may still run
        why = f"{type(e).__name__}: {e}"[:200]
    try:
        from torch.ao.nn.quantized.dynamic import Linear as DynLinear

        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # torch's deprecation notice of quantized tensors
            lin = DynLinear(n, n, dtype=torch.qint8)
        x = torch.randn(n, n)
        with torch.inference_mode():
            lin(x)
        cands.append((f"torch.ao dynamic int8 Linear {n}×{n} → {n}", lambda: lin(x)))
    except Exception as e:  # no quantized engine in this build
        why = (why + "; " if why else "") + f"{type(e).__name__}: {e}"[:200]
    if not cands:
        return None, why or "no int8 kernel"
    best_tops, best_how = 0.0, ""
    with torch.inference_mode():
        for how, run in cands:
            tops = 2 * n**3 / _best_time(run, repeats) / 1e12
            if tops > best_tops:
                best_tops, best_how = tops, how
    return best_tops, best_how


def last_level_cache_bytes() -> float:
    """The largest CPU cache of this machine (sysfs), or 32 MiB when it cannot be read."""
    sizes = []
    for f in Path("/sys/devices/system/cpu/cpu0/cache").glob("index*/size"):
        try:
            raw = f.read_text(encoding="ascii").strip()
            mult = {"K": 1 << 10, "M": 1 << 20, "G": 1 << 30}.get(raw[-1:], 1)
            sizes.append(float(raw.rstrip("KMG")) * mult)
        except (OSError, ValueError):
            continue
    return max(sizes) if sizes else float(32 << 20)


def _stream_gbps(nbytes: int, repeats: int = REPEATS) -> float:
    """GB/s of the faster of a copy (2 streams of ``nbytes``) and an add (3 streams) of
    float32 tensors of ``nbytes`` each, best of ``repeats``."""
    import torch

    src = torch.ones(max(1, nbytes // 4), dtype=torch.float32)
    dst = torch.empty_like(src)
    n = src.numel() * 4
    with torch.inference_mode():
        copy = 2 * n / _best_time(lambda: dst.copy_(src), repeats)
        add = 3 * n / _best_time(lambda: torch.add(src, src, out=dst), repeats)
    return max(copy, add) / 1e9


def measure() -> dict[str, Any]:
    """Run the micro-benchmarks (a few seconds). Returns a JSON-ready dict."""
    import torch

    from reportgen.allocator import steady_allocator

    # every torch.mm allocates its 4 MB output: with glibc's default each one is a fresh mmap
    # that page-faults in, and the probe read whatever the kernel's paging cost that minute
    allocator = steady_allocator()

    t_start = time.perf_counter()
    llc = last_level_cache_bytes()
    peaks = {"fp32": _matmul_tflops("fp32", repeats=PEAK_REPEATS)}
    # a half-precision or int8 path under half of fp32 is emulated, not a fast path: dropped
    bf16 = _matmul_tflops("bf16")
    bf16_fast = bf16 >= 0.5 * peaks["fp32"]
    if bf16_fast:
        peaks["bf16"] = bf16
    fp16 = _matmul_tflops("fp16")
    fp16_fast = fp16 >= 0.5 * peaks["fp32"]
    if fp16_fast:
        peaks["fp16"] = fp16
    int8, int8_how = _int8_tops()
    int8_fast = int8 is not None and int8 >= 0.5 * peaks["fp32"]
    if int8 is not None and int8_fast:
        peaks["int8"] = int8  # TOPS, not TFLOPS: the key keeps the cache format
    fp32_again = _matmul_tflops("fp32", repeats=PEAK_REPEATS)  # seconds later: a slow window passes
    peaks["fp32"] = max(peaks["fp32"], fp32_again)
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
        "bf16_measured_tflops": bf16,
        "bf16_fast": bf16_fast,
        "int8_measured_tops": int8,
        "int8_fast": int8_fast,
        "int8_how": int8_how,
        "copy_gbps": _stream_gbps(COPY_BYTES),
        # a quarter of the last-level cache moved in all (an add moves 3 tensors)
        "cache_gbps": _stream_gbps(int(llc) // 12, CACHE_REPEATS),
        "llc_mb": llc / 1e6,
        "ram_gb": ram_gb,
        "matmul_n": MATMUL_N,
        "copy_mb": COPY_BYTES / 1e6,
        "repeats": REPEATS,
        "allocator": allocator,
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
            # "int8_fast", "cache_gbps", "allocator": written since int8, the cache level and
            # the allocator setting are recorded; an older cache is measured again
            if ("peaks_tflops" in data and "copy_gbps" in data and "int8_fast" in data
                    and "cache_gbps" in data and "allocator" in data and _reusable(data)):
                return data
        except (OSError, ValueError):
            pass
    data = measure()
    store(data)
    return data


def store(data: dict[str, Any]) -> None:
    """Cache this machine's measurements (``load_or_measure``'s format) and let the next
    ``host_platform()`` read them."""
    global _HOST
    path = cache_path()
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(data, indent=2), encoding="utf-8")
    except OSError:
        pass  # a read-only cache only costs a re-measurement next time
    _HOST = None


def platform_from_measurements(m: dict[str, Any]) -> Platform:
    """The catalog's ``host`` entry with measured numbers filled in (status ``measured``)."""
    base = load_catalog()["host"].dump()
    how_mm = (f"best of {m['repeats']} torch.mm {m['matmul_n']}×{m['matmul_n']} on "
              f"{m['torch_threads']} threads, torch {m['torch_version']}, {m['measured_at']}")
    unit = base["compute_units"][0]
    unit["description"] = f"{m['cpu_model']}, {m['cores']} logical cores (measured)"
    unit["peak"] = {p: {"dense": round(v, 6), "unit": "TFLOPS", "status": "measured",
                        "note": f"achieved matmul throughput: {how_mm}"}
                    for p, v in m["peaks_tflops"].items() if p != "int8"}
    if "int8" in m["peaks_tflops"]:
        unit["peak"]["int8"] = {"dense": round(m["peaks_tflops"]["int8"], 6), "unit": "TOPS",
                                "status": "measured",
                                "note": f"achieved int8 throughput: best of {m['repeats']} "
                                        f"{m.get('int8_how', 'int8 GEMM')}"}
    elif m.get("int8_measured_tops") is not None:
        unit["peak"]["int8"] = {"status": "measured", "supported": False, "unit": "TOPS",
                                "note": f"int8 measured at {m['int8_measured_tops']:.4f} TOPS, "
                                        "under half of fp32: treated as not supported"}
    unit["precisions"] = list(m["peaks_tflops"])
    for half in ("fp16", "bf16"):
        if half not in m["peaks_tflops"] and m.get(f"{half}_measured_tflops") is not None:
            unit["peak"][half] = {"status": "measured", "supported": False, "unit": "TFLOPS",
                                  "note": f"{half} matmul measured at "
                                          f"{m[f'{half}_measured_tflops']:.4f} TFLOPS, under half "
                                          "of fp32: treated as not supported"}
    base["memory"]["bandwidth_gbps"] = {
        "value": round(m["copy_gbps"], 3), "unit": "GB/s", "status": "measured",
        "note": f"faster of a copy (bytes = read + write) and an add (2 reads + 1 write) of "
                f"{m['copy_mb']:.0f} MB tensors, best of {m['repeats']} each"}
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
