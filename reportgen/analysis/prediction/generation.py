"""Generation as a workload: prompt prefill + N decode steps with a KV cache (decoder-only), or
encoder once + decoder prefill + decode steps with its LM head (encoder-decoder, e.g. Whisper).

Counted on meta tensors: the prefill is traced once; a decode step is traced at a few
representative cache lengths. A decode step's MACs and bytes are affine in the cache length L
(attention over L cached positions, reading an L-long cache; everything else is constant), so
the steps are summed in closed form from two traced lengths, and a third traced length checks
the line (``linear_check``). Predicted times use the roofline stage's model on the target;
per-op ``max(compute, memory)`` makes time only piecewise affine in L, so the decode total is
the fitted line summed, stated as such. Units: MACs, bytes (B), seconds (s).
"""

from __future__ import annotations

import inspect
from typing import Any

import torch
from pydantic import BaseModel, Field

from reportgen.analysis.counting.records import Trace
from reportgen.analysis.counting.trace import trace_forward
from reportgen.analysis.stage import Context, StageResult

# KV-cache bytes per value; int4 is weight-only here, so its cache stays fp16
_PRECISION_BYTES = {"fp32": 4.0, "fp16": 2.0, "bf16": 2.0, "int8": 1.0, "int4": 2.0}


class StepCost(BaseModel):
    """One traced forward: counted MACs and bytes moved (at the traced dtype)."""

    what: str  # encoder / prefill / decode
    tokens: int  # new tokens processed (prefill: prompt length; decode: 1)
    cache_tokens: int = 0  # positions already in the KV cache
    macs: int
    bytes_moved: int


class GenerationTiming(BaseModel):
    """Predicted on the target at one precision (roofline, the assumptions of section 2)."""

    precision: str
    encoder_s: float | None = None
    prefill_s: float  # prompt prefill (with the encoder for encoder-decoder models)
    time_to_first_token_s: float
    per_token_s: float  # mean over the N-1 decode steps
    decode_total_s: float
    total_s: float  # time to first token + decode steps
    kv_cache_bytes: int  # at the end of generation, this precision's element size


class Generation(BaseModel):
    """Prefill + N decode steps. ``origin``: counted (MACs, bytes), predicted (times)."""

    kind: str  # decoder_only / encoder_decoder
    prompt_tokens: int  # decoder prompt (encoder-decoder: the start tokens)
    generated_tokens: int  # N: the first comes from the prefill, N-1 from decode steps
    steps: list[StepCost]  # traced: encoder?, prefill, decode at the representative lengths
    decode_macs_per_step_base: float  # a in MACs(L) = a + b·L
    decode_macs_per_cached_token: float  # b
    linear_check: float  # |fitted − traced| / traced at the third length
    total_macs: int  # encoder + prefill + Σ decode steps (closed form)
    kv_cache_elements: int  # cached K and V values at the end (self-attention + cross-attention)
    kv_bytes_per_token: dict[str, int]  # precision -> bytes one more position adds
    timings: list[GenerationTiming] = Field(default_factory=list)
    origin: str = "counted + predicted"


def decode_sum(a: float, b: float, first_cache: int, steps: int) -> float:
    """Σ_{i=0}^{steps-1} (a + b·(first_cache + i)) — the decode steps in closed form."""
    return steps * a + b * (steps * first_cache + steps * (steps - 1) / 2)


def kv_elements(cfg: Any, batch: int, positions: int, encoder_positions: int = 0) -> int:
    """K and V values cached for ``positions`` decoder positions (+ cross-attention over
    ``encoder_positions``): 2 × layers × kv_heads × head_dim × positions × batch."""
    text = cfg.get_text_config() if hasattr(cfg, "get_text_config") else cfg
    layers = int(getattr(text, "decoder_layers", None) or text.num_hidden_layers)
    heads = int(getattr(text, "decoder_attention_heads", None) or text.num_attention_heads)
    kv_heads = int(getattr(text, "num_key_value_heads", None) or heads)
    hidden = int(getattr(text, "d_model", None) or text.hidden_size)
    head_dim = int(getattr(text, "head_dim", None) or hidden // heads)
    return 2 * layers * kv_heads * head_dim * batch * (positions + encoder_positions)


def _ids(batch: int, length: int, vocab: int) -> torch.Tensor:
    return torch.zeros(batch, length, dtype=torch.long, device="meta").clamp_(0, max(vocab - 1, 0))


def _cost(what: str, trace: Trace, tokens: int, cache: int) -> StepCost:
    return StepCost(what=what, tokens=tokens, cache_tokens=cache, macs=sum(r.macs for r in trace.records),
                    bytes_moved=sum(r.bytes_moved for r in trace.records))


def _cache_of(out: Any) -> Any:
    return getattr(out, "cache", None) or getattr(out, "past_key_values", None)


def trace_generation(model: Any, batch: int, prompt: int, generated: int,
                     first_input: torch.Tensor | None = None) -> tuple[str, list[tuple[StepCost, Trace]], int]:
    """Trace the encoder (if any), the prefill and decode steps at three cache lengths.

    Returns (kind, [(cost, trace)], encoder positions for the cross-attention cache)."""
    cfg = model.config
    vocab = int(getattr(cfg, "vocab_size", 1000) or 1000)
    enc_dec = bool(getattr(cfg, "is_encoder_decoder", False))
    params = inspect.signature(model.forward).parameters
    cache_kw = "cache" if "cache" in params else "past_key_values"
    keep = {"logits_to_keep": 1} if "logits_to_keep" in params else {}
    out: list[tuple[StepCost, Trace]] = []
    extra: dict[str, Any] = {}
    enc_positions = 0
    if enc_dec:
        assert first_input is not None
        encoder = model.get_encoder()
        enc_trace, enc_out, _ = trace_forward(encoder, (first_input,))
        out.append((_cost("encoder", enc_trace, int(first_input.shape[-1]), 0), enc_trace))
        extra = {"encoder_outputs": enc_out}
        hidden = enc_out[0] if isinstance(enc_out, tuple) else enc_out.last_hidden_state
        enc_positions = int(hidden.shape[1])

    def step_args(ids: torch.Tensor) -> tuple[tuple[Any, ...], dict[str, Any]]:
        if enc_dec:
            return (), {"decoder_input_ids": ids, "use_cache": True, **extra}
        return (ids,), {"use_cache": True}

    args, kw = step_args(_ids(batch, prompt, vocab))
    pre_trace, _, _ = trace_forward(model, args, {**kw, **keep})
    out.append((_cost("prefill", pre_trace, prompt, 0), pre_trace))
    last = prompt + generated - 2  # cache length at the last decode step
    # at least two distinct lengths, so the slope is always measured, not assumed
    far = max(prompt + 2, last)
    lengths = sorted({prompt, (prompt + far) // 2, far})
    for length in lengths:
        args, kw = step_args(_ids(batch, length, vocab))
        with torch.no_grad():
            cache = _cache_of(model(*args, **kw))
        args, kw = step_args(_ids(batch, 1, vocab))
        dec_trace, _, _ = trace_forward(model, args, {**kw, cache_kw: cache})
        out.append((_cost("decode", dec_trace, 1, length), dec_trace))
    return ("encoder_decoder" if enc_dec else "decoder_only"), out, enc_positions


def summarise(kind: str, steps: list[tuple[StepCost, Trace]], cfg: Any, batch: int, prompt: int,
              generated: int, enc_positions: int, predict: Any | None = None,
              precisions: list[str] | None = None) -> Generation:
    """Closed-form totals from the traced steps; ``predict(trace, precision) -> seconds`` adds
    the predicted times (None: counts only)."""
    costs = [c for c, _ in steps]
    enc = next((c for c in costs if c.what == "encoder"), None)
    pre = next(c for c in costs if c.what == "prefill")
    dec = [c for c in costs if c.what == "decode"]
    lo, hi = dec[0], dec[-1]
    b = (hi.macs - lo.macs) / (hi.cache_tokens - lo.cache_tokens) if hi.cache_tokens != lo.cache_tokens else 0.0
    a = lo.macs - b * lo.cache_tokens
    mid = dec[len(dec) // 2]
    check = abs(a + b * mid.cache_tokens - mid.macs) / mid.macs if mid.macs else 0.0
    n_dec = generated - 1
    total = (enc.macs if enc else 0) + pre.macs + round(decode_sum(a, b, prompt, n_dec))
    kv = kv_elements(cfg, batch, prompt + generated - 1, enc_positions)
    per_pos = kv_elements(cfg, batch, 1)
    gen = Generation(kind=kind, prompt_tokens=prompt, generated_tokens=generated, steps=costs,
                     decode_macs_per_step_base=a, decode_macs_per_cached_token=b, linear_check=check,
                     total_macs=total, kv_cache_elements=kv,
                     kv_bytes_per_token={p: int(per_pos * s) for p, s in _PRECISION_BYTES.items()})
    if predict is None:
        return gen
    traces = {id(c): t for c, t in steps}
    for p in precisions or []:
        t_enc = predict(traces[id(enc)], p) if enc else None
        t_pre = predict(traces[id(pre)], p)
        t_lo, t_hi = predict(traces[id(lo)], p), predict(traces[id(hi)], p)
        if None in (t_pre, t_lo, t_hi) or (enc is not None and t_enc is None):
            continue
        tb = (t_hi - t_lo) / (hi.cache_tokens - lo.cache_tokens) if hi.cache_tokens != lo.cache_tokens else 0.0
        ta = t_lo - tb * lo.cache_tokens
        dec_total = decode_sum(ta, tb, prompt, n_dec)
        ttft = (t_enc or 0.0) + t_pre
        gen.timings.append(GenerationTiming(
            precision=p, encoder_s=t_enc, prefill_s=t_pre, time_to_first_token_s=ttft,
            per_token_s=dec_total / n_dec if n_dec else 0.0, decode_total_s=dec_total,
            total_s=ttft + dec_total, kv_cache_bytes=int(kv * _PRECISION_BYTES.get(p, 4.0))))
    return gen


def generated_tokens(inputs: Any) -> int | None:
    """N from the spec: ``inputs.text.generate_tokens`` or ``inputs.audio.generate_tokens``."""
    for section in (inputs.text, inputs.audio):
        if section is not None and getattr(section, "generate_tokens", None):
            return int(section.generate_tokens)
    return None


def stage(ctx: Context, result: StageResult) -> None:
    """Pipeline stage: generation cost when the spec asks for generated tokens."""
    from reportgen.analysis.prediction.assumptions import efficiency_for
    from reportgen.analysis.prediction.roofline import estimate_precision
    from reportgen.analysis.prediction.runtime import runtime_kind_of
    from reportgen.analysis.stage import StageSkipped

    resolved, loaded = ctx.products.need_resolved(), ctx.products.need_loaded()
    n = generated_tokens(resolved.inputs)
    model: Any = loaded.module  # a transformers model: config, get_output_embeddings
    cfg = getattr(model, "config", None)
    if n is None:
        raise StageSkipped("no generation asked: set inputs.text.generate_tokens (or audio)",
                           state="not_available", code="generation_not_asked")
    if cfg is None or not hasattr(model, "get_output_embeddings") or model.get_output_embeddings() is None:
        raise StageSkipped("generation needs a transformers model with an LM head",
                           state="not_available", code="generation_not_generative")
    batch = resolved.inputs.batch_size
    enc_dec = bool(getattr(cfg, "is_encoder_decoder", False))
    first = None
    if enc_dec:
        args, _ = loaded.make_inputs("meta")
        first = args[0]
        batch = int(first.shape[0])  # Whisper: one row per 30 s window, each decoded
        # decoder prompt: Whisper's 4 start tokens (<|startoftranscript|><|lang|><|task|><|notimestamps|>),
        # otherwise the decoder start token
        prompt = 4 if cfg.model_type == "whisper" else 1
    else:
        prompt = (resolved.inputs.text.sequence_length if resolved.inputs.text else 128)
    kind, steps, enc_positions = trace_generation(model, batch, prompt, n, first)
    plat = ctx.products.platform
    eff = efficiency_for(plat, runtime_kind=runtime_kind_of(ctx)) if plat is not None else None

    def predict(trace: Trace, precision: str) -> float | None:
        if plat is None:
            return None
        try:
            return estimate_precision(trace, plat, precision, batch_size=batch, keep_ops=False,
                                      efficiency=eff).predicted_latency_s
        except Exception:  # a precision the platform cannot run: no time for it
            return None

    result.generation = summarise(kind, steps, cfg, batch, prompt, n, enc_positions,
                                  predict if plat is not None else None,
                                  [p.value for p in ctx.spec.precisions])
