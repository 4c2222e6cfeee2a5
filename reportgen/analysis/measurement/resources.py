"""What the machine has and what a model takes of it: the RAM guard (``too_big``: a model whose
weights + peak activations from the meta trace exceed ``RAM_SHARE`` of the available RAM is not
materialised), the measured machine's description (``machine_info``: CPU, cores, RAM, OS, torch,
GPU) and a materialised model's memory (``weights_bytes``, each storage once; ``model_memory``:
weights + the allocator's forward peak). Sizes are bytes.
"""

from __future__ import annotations

import os
import platform as pyplatform
import sys
from typing import Any

from reportgen.analysis.measurement.models import Machine, ModelMemory, ProfilePass

RAM_SHARE = 0.5


# ---------------------------------------------------------------------------- guard (pure)

# ---------------------------------------------------------------------------- guard (pure)

def too_big(param_bytes: float, activation_bytes: float, available_bytes: float | None,
            share: float = RAM_SHARE) -> str | None:
    """Why a model must not be materialised here, or None when it fits the safe share of RAM."""
    need = param_bytes + activation_bytes
    if available_bytes is None:
        return None
    if need > share * available_bytes:
        return (f"the model needs about {need / 1e9:.2f} GB on the host (weights "
                f"{param_bytes / 1e9:.2f} GB + peak activations {activation_bytes / 1e9:.2f} GB, "
                f"from the trace), more than {share:.0%} of the {available_bytes / 1e9:.2f} GB of "
                "RAM available: not measured, counted and predicted numbers stand")
    return None


def available_ram() -> int | None:
    try:
        import psutil

        return int(psutil.virtual_memory().available)
    except Exception:  # psutil missing or unsupported OS: no guard
        return None


# ---------------------------------------------------------------------------- machine

def machine_info(device: str = "cpu") -> Machine:
    import torch

    from reportgen.catalog.host import cpu_model

    try:
        import psutil

        phys = psutil.cpu_count(logical=False)
        ram = int(psutil.virtual_memory().total)
    except Exception:  # psutil missing: unknown
        phys, ram = None, None
    gpu, gpu_mem = None, None
    if device == "cuda":
        props = torch.cuda.get_device_properties(torch.cuda.current_device())
        gpu, gpu_mem = props.name, int(props.total_memory)
    return Machine(cpu_model=cpu_model(), cores=os.cpu_count(), physical_cores=phys, ram_bytes=ram,
                   os=pyplatform.platform(), python=sys.version.split()[0],
                   torch=str(torch.__version__), device=device, gpu_name=gpu, gpu_memory_bytes=gpu_mem)



# ---------------------------------------------------------------------------- model memory

def weights_bytes(module: Any) -> int:
    """Bytes of a module's parameters and buffers, each storage once (tied weights)."""
    seen: set[int] = set()
    total = 0
    for t in [*module.parameters(), *module.buffers()]:
        key = t.untyped_storage().data_ptr() if t.device.type != "meta" else id(t)
        if key in seen:
            continue
        seen.add(key)
        total += t.untyped_storage().nbytes()
    return total


def model_memory(module: Any, profile: ProfilePass | None, device: str) -> ModelMemory:
    """Weights + the allocator's forward peak (see ``ModelMemory`` for the mechanisms)."""
    w = weights_bytes(module)
    if device == "cuda":
        peak = None
        if profile and profile.device_peak_bytes is not None:
            peak = max(0, profile.device_peak_bytes - (profile.device_baseline_bytes or 0))
        return ModelMemory(weights_bytes=w, forward_peak_bytes=peak,
                           mechanism="cuda_max_memory_allocated")
    return ModelMemory(weights_bytes=w,
                       forward_peak_bytes=profile.peak_allocated_bytes if profile else None,
                       mechanism="profiler_cpu_allocator")

