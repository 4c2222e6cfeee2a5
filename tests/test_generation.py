"""Generation as a workload: prefill + decode steps with a KV cache, summed in closed form,
checked against hand-computed MACs for a small Llama-style config and Whisper-tiny."""

from __future__ import annotations

import pytest
import torch
import transformers

from reportgen import pipeline
from reportgen.analysis.prediction.generation import decode_sum, summarise, trace_generation
from reportgen.spec.load import parse_spec

# hidden 64, 2 layers, 4 heads of 16, 2 KV heads (GQA), MLP 128, vocab 100
_CFG = dict(hidden_size=64, intermediate_size=128, num_hidden_layers=2, num_attention_heads=4,
            num_key_value_heads=2, vocab_size=100, max_position_embeddings=256, tie_word_embeddings=False)
_LINEAR = 2 * (64 * 64 + 64 * 32 + 64 * 32 + 64 * 64 + 3 * 64 * 128)  # q k v o + gate/up/down, per token
_LM_HEAD = 64 * 100
_ATT = 2 * 2 * 64  # QKᵀ and AV per attended position, 2 layers, 4 heads × 16


def test_decode_sum_is_the_arithmetic_series() -> None:
    assert decode_sum(10, 2, 5, 4) == sum(10 + 2 * (5 + i) for i in range(4))


@pytest.mark.parametrize(("prompt", "generated"), [(16, 9), (7, 2)])
def test_llama_style_generation_matches_closed_form(prompt: int, generated: int) -> None:
    config = transformers.AutoConfig.for_model("llama", **_CFG)
    with torch.device("meta"):
        model = transformers.AutoModelForCausalLM.from_config(config).eval()
    kind, steps, enc = trace_generation(model, 1, prompt, generated)
    gen = summarise(kind, steps, config, 1, prompt, generated, enc)
    pre = next(c for c in gen.steps if c.what == "prefill")
    # prefill: every prompt token through the layers, full (unhalved) attention, LM head on the last only
    assert pre.macs == prompt * _LINEAR + _ATT * prompt * prompt + _LM_HEAD
    for step in (c for c in gen.steps if c.what == "decode"):  # one token attending to L + 1 positions
        assert step.macs == _LINEAR + _LM_HEAD + _ATT * (step.cache_tokens + 1)
    assert gen.decode_macs_per_cached_token == _ATT and gen.linear_check == 0.0
    decode = sum(_LINEAR + _LM_HEAD + _ATT * (length + 1) for length in range(prompt, prompt + generated - 1))
    assert gen.total_macs == pre.macs + decode
    # K and V: 2 × 2 layers × 2 KV heads × 16 × (prompt + generated − 1 positions)
    assert gen.kv_cache_elements == 2 * 2 * 2 * 16 * (prompt + generated - 1)
    assert gen.kv_bytes_per_token["fp16"] == 2 * 2 * 2 * 16 * 2


def test_whisper_tiny_generation_counts_encoder_once_and_decoder_per_token() -> None:
    spec = parse_spec('''title: t
model: {card: whisper_tiny}
inputs: {audio: {generate_tokens: 32}}
platform: nvidia_jetson_orin_nano_8gb
precisions: [fp32, fp16]
''')
    stages = [s for s in pipeline.STAGES if s.name in ("model", "trace", "platform", "generation")]
    result = pipeline.run(spec, None, deterministic=True, stages=stages)
    g = result.generation
    assert g is not None and g.kind == "encoder_decoder"
    d, t, ffn, vocab, layers = 384, 1500, 1536, 51865, 4
    enc = next(c for c in g.steps if c.what == "encoder")
    conv = 3000 * d * 80 * 3 + t * d * d * 3  # conv1 (80→384, k3) and conv2 (stride 2 → 1500)
    assert enc.macs == conv + layers * (t * (4 * d * d + 2 * d * ffn) + 2 * t * t * d)
    # a decode step: self-attn q k v o, cross-attn q o (encoder K/V cached), MLP, LM head,
    # cross-attention over 1500 positions, self-attention over L + 1
    a = layers * (4 * d * d + 2 * d * d + 2 * d * ffn + 2 * t * d) + d * vocab + layers * 2 * d
    assert (g.decode_macs_per_step_base, g.decode_macs_per_cached_token) == (a, layers * 2 * d)
    # self-attention cache of 4 + 31 positions plus the cross-attention cache of 1500
    assert g.kv_cache_elements == 2 * layers * d * (4 + 31 + t)
    fp16 = next(x for x in g.timings if x.precision == "fp16")
    assert fp16.total_s == pytest.approx(fp16.time_to_first_token_s + 31 * fp16.per_token_s)
    assert fp16.kv_cache_bytes == 2 * g.kv_cache_elements
