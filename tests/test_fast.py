"""model.fast.FastDecoder: same logits as the reference Transformer, same greedy tokens, batched = per row."""
from __future__ import annotations

import pytest
import torch

from model.config import ModelConfig
from model.fast import FastDecoder
from model.generate import GenerationStats, decode_n, decode_steps
from model.sampling import SamplingConfig
from model.transformer import Transformer

CFG = ModelConfig(vocab_size=300, dim=64, n_layers=2, n_heads=4, n_kv_heads=2, ffn_hidden=96, max_seq_len=96)


@pytest.fixture(scope="module")
def model():
    torch.manual_seed(0)
    return Transformer(CFG).eval()


def test_chunked_logits_match_reference(model):
    ids = torch.randint(0, CFG.vocab_size, (2, 30))
    fast = FastDecoder(model)
    with torch.inference_mode():
        ref = model(ids)  # (2, 30, V)
        cache = fast.new_cache(2, 40)
        parts = [fast(ids[:, :11], 0, cache), fast(ids[:, 11:20], 11, cache)]
        parts += [fast(ids[:, t:t + 1], t, cache) for t in range(20, 30)]
    got = torch.cat(parts, dim=1)
    torch.testing.assert_close(got, ref, atol=1e-5, rtol=1e-5)


def test_static_step_matches_reference(model):
    ids = torch.randint(0, CFG.vocab_size, (3, 24))
    fast = FastDecoder(model)
    static = fast.setup_static(3, 32)
    with torch.inference_mode():
        ref = model(ids)
        first = fast.prefill(ids[:, :10], 0, static)
        steps = [fast.step_static(ids[:, t], torch.tensor([t])) for t in range(10, 24)]
    torch.testing.assert_close(first, ref[:, 9], atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(torch.stack(steps, 1), ref[:, 10:], atol=1e-5, rtol=1e-5)


def test_greedy_decode_n_token_for_token(model):
    prompt = [5, 17, 42, 7]
    greedy = SamplingConfig(temperature=0, max_tokens=50, repeat_penalty=1.0)
    s_ref, s_fast = GenerationStats(), GenerationStats()
    ref = list(decode_n(model, prompt, greedy, stats=s_ref))
    fast = list(decode_n(FastDecoder(model), prompt, greedy, stats=s_fast))
    assert len(ref) == 50 and fast == ref
    assert (s_fast.prompt_tokens, s_fast.completion_tokens, s_fast.finish_reason) == (4, 50, "length")


def test_sampled_decode_n_reproducible_with_seed(model):
    cfg = SamplingConfig(temperature=0.9, top_p=0.9, seed=3, max_tokens=20)
    fast = FastDecoder(model)
    assert list(decode_n(fast, [1, 2, 3], cfg)) == list(decode_n(fast, [1, 2, 3], cfg))


def _greedy_batch(engine, prompts: torch.Tensor, n: int) -> torch.Tensor:
    """n greedy tokens per row (B, n) through the one decode loop."""
    cache = engine.new_cache(prompts.shape[0], prompts.shape[1] + n)
    steps = decode_steps(engine, prompts, cache, n, lambda logits: logits.argmax(-1))
    return torch.stack(list(steps), 1)  # (B, n)


def test_batched_equals_per_row(model):
    torch.manual_seed(1)
    prompts = torch.randint(0, CFG.vocab_size, (3, 9))
    greedy = SamplingConfig(temperature=0, max_tokens=12, repeat_penalty=1.0)
    fast = FastDecoder(model)
    batched = _greedy_batch(fast, prompts, 12)  # (3, 12)
    for r in range(3):
        row = _greedy_batch(fast, prompts[r:r + 1], 12)[0]
        assert torch.equal(batched[r], row)
        assert batched[r].tolist() == list(decode_n(model, prompts[r].tolist(), greedy))


def test_bf16_close_to_fp32(model):
    m16 = Transformer(CFG)
    m16.load_state_dict(model.state_dict())
    fast = FastDecoder(m16.to(torch.bfloat16).eval())
    ids = torch.randint(0, CFG.vocab_size, (1, 16))
    with torch.inference_mode():
        ref, raw = model(ids), fast(ids)
    assert fast.dtype == raw.dtype == fast.new_cache(1, 4).k.dtype == torch.bfloat16  # it really runs in bf16
    rel = (raw.float() - ref).norm() / ref.norm()
    assert 0 < rel < 0.05  # rounded, so not the fp32 weights, yet close to them


def test_context_overflow_raises(model):
    with pytest.raises(ValueError, match="max_seq_len"):
        FastDecoder(model)(torch.zeros(1, CFG.max_seq_len + 1, dtype=torch.long))


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
def test_cuda_graph_step_matches_eager(model):
    from model.compiled import CompiledDecoder
    m = Transformer(CFG)
    m.load_state_dict(model.state_dict())
    engine = CompiledDecoder(FastDecoder(m.cuda().to(torch.bfloat16).eval()), batch=1)
    assert engine.name == "compiled-cudagraphs"
    cache = engine.new_cache(1)
    ids = torch.randint(0, CFG.vocab_size, (1, 30), device="cuda")
    with torch.inference_mode():
        ref = m(ids).float()
        engine.prefill(ids[:, :8], 0, cache)
        outs = [engine.decode_one(ids[:, t], t, cache).float().clone() for t in range(8, 30)]
    got = torch.stack(outs, 1)
    assert ((got - ref[:, 8:]).norm() / ref[:, 8:].norm()) < 0.05
