"""Scale benchmark (foundation issue): Llama-style 7B and 70B configs analysed without allocating
weights. Measures (1) the static-analysis stage (build on meta + trace + cost aggregation) in
process, (2) the whole `reportgen build --deterministic` as a subprocess: wall time and peak RSS.

Targets on the 2-core dev machine: static analysis < 5 s each, whole build < 30 s, RSS < 1.5 GB.
Usage: .venv/bin/python bench/scale_llama.py   (prints a Markdown table for bench/RESULTS.md)
"""

from __future__ import annotations

import os
import platform
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

CONFIGS = {
    "llama-7B": dict(hidden_size=4096, intermediate_size=11008, num_hidden_layers=32,
                     num_attention_heads=32, num_key_value_heads=32, vocab_size=32000),
    "llama-70B": dict(hidden_size=8192, intermediate_size=28672, num_hidden_layers=80,
                      num_attention_heads=64, num_key_value_heads=8, vocab_size=32000),
}
SEQ = 128

SPEC = """\
title: "{name} static analysis benchmark"
model:
  source: transformers
  model_type: llama
  auto_class: AutoModelForCausalLM
  config: {config}
domain: nlp
inputs: {{batch_size: 1, text: {{sequence_length: {seq}}}}}
platform: nvidia_a100_80gb_sxm
precisions: [fp16, int8, int4]
profiling: {{enabled: false}}
"""


def static_stage(config: dict[str, int]) -> tuple[float, int, int]:
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    import torch
    from transformers import AutoConfig, AutoModelForCausalLM

    from reportgen.analysis.counting.costs import analyse
    from reportgen.analysis.counting.trace import trace_forward

    t0 = time.perf_counter()
    cfg = AutoConfig.for_model("llama", **config)
    with torch.device("meta"):
        model = AutoModelForCausalLM.from_config(cfg).eval()
    trace, _, _ = trace_forward(model, (torch.empty(1, SEQ, dtype=torch.long, device="meta"),))
    costs = analyse(trace)
    return time.perf_counter() - t0, costs.params.total, costs.summary.macs


def whole_build(name: str, config: dict[str, int]) -> tuple[float, float, int]:
    with tempfile.TemporaryDirectory() as tmp:
        spec = Path(tmp) / f"{name}.yaml"
        spec.write_text(SPEC.format(name=name, config=config, seq=SEQ), encoding="utf-8")
        t0 = time.perf_counter()
        before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
        proc = subprocess.run([sys.executable, "-m", "reportgen", "build", str(spec), "-o", tmp,
                               "--deterministic"], capture_output=True, text=True)
        wall = time.perf_counter() - t0
        rss_kb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
        if proc.returncode not in (0, 1):
            raise SystemExit(proc.stderr)
        return wall, max(rss_kb, before) / 1024, proc.returncode


def main() -> None:
    print(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}")
    print("| config | params | MACs (seq 128) | static analysis [s] | whole build --deterministic [s] | peak RSS [MB] | exit |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    for name, cfg in CONFIGS.items():
        t_static, params, macs = static_stage(cfg)
        wall, rss, code = whole_build(name, cfg)
        print(f"| {name} | {params:,} | {macs / 1e9:,.1f} G | {t_static:.2f} | {wall:.1f} | {rss:,.0f} | {code} |")


if __name__ == "__main__":
    main()
