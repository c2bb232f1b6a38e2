"""The transformer: cache equivalence, causality, learning, config validation."""
from __future__ import annotations

import pytest
import torch

from model.config import ConfigError, ModelConfig, preset
from model.generate import decode_n, decode_steps
from model.kv_cache import KVCache
from model.sampling import SamplingConfig
from model.train.losses import lm_loss
from model.transformer import Transformer


def _model(seed=0, **kw):
    torch.manual_seed(seed)
    cfg = ModelConfig(**{**dict(vocab_size=97, dim=64, n_layers=2, n_heads=4, n_kv_heads=2, max_seq_len=64), **kw})
    return Transformer(cfg).eval()


def greedy_no_cache(model, prompt, n):
    ids = list(prompt)
    for _ in range(n):
        logits = model(torch.tensor([ids]))[0, -1]
        ids.append(int(logits.argmax()))
    return ids[len(prompt):]


@pytest.mark.parametrize("kv_heads", [1, 2, 4])
@pytest.mark.parametrize("prompt_len,n", [(1, 20), (5, 30), (17, 12), (40, 24)])
def test_cached_greedy_equals_uncached(kv_heads, prompt_len, n):
    model = _model(seed=prompt_len, n_kv_heads=kv_heads)
    g = torch.Generator().manual_seed(prompt_len)
    prompt = torch.randint(0, 97, (prompt_len,), generator=g).tolist()
    want = greedy_no_cache(model, prompt, n)
    got = list(decode_n(model, prompt, SamplingConfig(temperature=0, max_tokens=n, repeat_penalty=1.0)))
    assert got == want


def test_chunked_prefill_matches_full_forward():
    model = _model()
    ids = torch.randint(0, 97, (2, 30))
    full = model(ids)
    cache = KVCache.for_model(model.config, batch=2)
    parts = [model(ids[:, a:b], start=a, cache=cache) for a, b in ((0, 11), (11, 12), (12, 30))]
    torch.testing.assert_close(torch.cat(parts, dim=1), full, atol=1e-5, rtol=1e-5)


def test_causality_future_tokens_do_not_change_past_logits():
    model = _model()
    a = torch.randint(0, 97, (1, 20))
    b = a.clone()
    b[0, 12:] = (b[0, 12:] + 1) % 97
    torch.testing.assert_close(model(a)[:, :12], model(b)[:, :12])
    assert not torch.allclose(model(a)[:, 12:], model(b)[:, 12:])


def test_batched_decode_loop_matches_single_rows():
    from model.engine import ReferenceEngine
    model = _model()
    prompts = torch.randint(0, 97, (3, 7))
    cfg = SamplingConfig(temperature=0, max_tokens=10, repeat_penalty=1.0)
    engine = ReferenceEngine(model)
    steps = decode_steps(engine, prompts, engine.new_cache(3, 17), 10, lambda logits: logits.argmax(-1))
    batch = torch.stack(list(steps), 1)  # (3, 10)
    for row in range(3):
        assert batch[row].tolist() == list(decode_n(model, prompts[row].tolist(), cfg))


def test_loss_falls_when_overfitting_one_batch():
    model = _model().train()
    ids = torch.randint(0, 97, (4, 33))
    x, y = ids[:, :-1], ids[:, 1:]
    opt = torch.optim.AdamW(model.parameters(), lr=3e-3)
    first = lm_loss(model, x, y).item()
    for _ in range(60):
        opt.zero_grad()
        loss = lm_loss(model, x, y)
        loss.backward()
        opt.step()
    assert first > 4.0  # about ln(97) for a fresh model
    assert loss.item() < 0.5 * first


def test_loss_mask_ignores_masked_positions():
    model = _model()
    x = torch.randint(0, 97, (1, 10))
    y = torch.randint(0, 97, (1, 10))
    mask = torch.zeros(1, 10, dtype=torch.long)
    mask[0, 4:7] = 1
    y2 = y.clone()
    y2[0, :4] = (y2[0, :4] + 5) % 97  # changing masked-out targets leaves the loss unchanged
    assert lm_loss(model, x, y, mask).item() == pytest.approx(lm_loss(model, x, y2, mask).item())
    logits = model(x)[0, 4:7]
    ref = torch.nn.functional.cross_entropy(logits, y[0, 4:7])
    assert lm_loss(model, x, y, mask).item() == pytest.approx(ref.item(), rel=1e-5)


def test_tied_embeddings_share_storage_and_param_count():
    model = _model(tie_embeddings=True)
    assert model.output.weight.data_ptr() == model.tok_embeddings.weight.data_ptr()
    assert model.num_params() == model.config.num_params()
    untied = _model(tie_embeddings=False)
    assert untied.num_params() == untied.config.num_params()


def test_sequence_longer_than_context_is_refused():
    model = _model(max_seq_len=16)
    with pytest.raises(ValueError, match="max_seq_len"):
        model(torch.zeros(1, 17, dtype=torch.long))


@pytest.mark.parametrize("bad", [dict(dim=60, n_heads=8), dict(n_heads=4, n_kv_heads=3), dict(vocab_size=0),
                                 dict(dim=12, n_heads=4)])
def test_config_validation(bad):
    with pytest.raises(ConfigError):
        ModelConfig(**{**dict(vocab_size=10, dim=64, n_layers=1, n_heads=4), **bad})


def test_config_roundtrip_and_presets():
    cfg = preset("small", vocab_size=1000)
    assert ModelConfig.from_dict(cfg.to_dict()) == cfg
    with pytest.raises(ConfigError, match="unknown preset"):
        preset("nope")
    with pytest.raises(ConfigError, match="unknown model config keys"):
        ModelConfig.from_dict({**cfg.to_dict(), "bogus": 1})
