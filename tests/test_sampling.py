"""Sampling: determinism, greedy at temperature 0, filters, repetition penalty."""
from __future__ import annotations

import pytest
import torch

from model.generate import decode_n
from model.sampling import SamplingConfig, SamplingError, _filter_candidates, make_generator, sample
from model.transformer import Transformer
from model.config import ModelConfig


@pytest.fixture(scope="module")
def model():
    torch.manual_seed(1)
    return Transformer(ModelConfig(vocab_size=120, dim=32, n_layers=1, n_heads=2, max_seq_len=64)).eval()


def test_same_seed_same_output(model):
    cfg = SamplingConfig(temperature=1.0, seed=7, max_tokens=30)
    assert list(decode_n(model, [1, 2, 3], cfg)) == list(decode_n(model, [1, 2, 3], cfg))


def test_different_seeds_differ(model):
    a = list(decode_n(model, [1, 2, 3], SamplingConfig(temperature=1.5, top_p=1.0, seed=1, max_tokens=30)))
    b = list(decode_n(model, [1, 2, 3], SamplingConfig(temperature=1.5, top_p=1.0, seed=2, max_tokens=30)))
    assert a != b


def test_temperature_zero_ignores_seed(model):
    outs = {tuple(decode_n(model, [5, 6], SamplingConfig(temperature=0, seed=s, max_tokens=20))) for s in range(4)}
    assert len(outs) == 1


def test_max_tokens_respected(model):
    for n in (1, 5, 17):
        assert len(list(decode_n(model, [1], SamplingConfig(max_tokens=n, seed=0)))) == n


def test_stop_id_ends_generation(model):
    greedy = list(decode_n(model, [1, 2], SamplingConfig(temperature=0, max_tokens=10, repeat_penalty=1.0)))
    stop = greedy[3]
    got = list(decode_n(model, [1, 2], SamplingConfig(temperature=0, max_tokens=10, repeat_penalty=1.0),
                        stop_ids=[stop]))
    assert got == greedy[:greedy.index(stop)]


def test_generation_stops_at_context_end(model):
    got = list(decode_n(model, list(range(60)), SamplingConfig(max_tokens=50, seed=0)))
    assert len(got) == 64 - 60 + 1  # the last sampled token needs no cache slot


def test_top_k_one_is_greedy():
    logits = torch.randn(3, 50)
    cfg = SamplingConfig(temperature=1.0, top_k=1, top_p=1.0, repeat_penalty=1.0)
    assert sample(logits, cfg, make_generator(0)).tolist() == logits.argmax(-1).tolist()


def test_top_p_keeps_smallest_prefix():
    logits = torch.log(torch.tensor([[0.5, 0.3, 0.15, 0.05] + [0.0] * 96]) + 1e-12)
    vals, idx = _filter_candidates(logits, SamplingConfig(temperature=1.0, top_p=0.75, repeat_penalty=1.0))
    kept = idx[vals.isfinite()].tolist()
    assert sorted(kept) == [0, 1]


def test_top_p_falls_back_when_mass_is_spread():
    logits = torch.zeros(1, 1000)  # uniform: the top 64 hold 6.4% of the mass
    vals, idx = _filter_candidates(logits, SamplingConfig(temperature=1.0, top_p=0.5, repeat_penalty=1.0))
    assert int(vals.isfinite().sum()) == 500


def test_min_p_filters_relative_to_top():
    logits = torch.log(torch.tensor([[0.6, 0.3, 0.05, 0.05]]))
    vals, idx = _filter_candidates(logits, SamplingConfig(temperature=1.0, top_p=1.0, min_p=0.2, repeat_penalty=1.0))
    assert sorted(idx[vals.isfinite()].tolist()) == [0, 1]


def test_repeat_penalty_lowers_recent_tokens():
    logits = torch.tensor([[2.0, 1.9, -1.0]])
    cfg = SamplingConfig(temperature=0, repeat_penalty=1.5)
    assert sample(logits, cfg, None, torch.tensor([[0]])).item() == 1


def test_sample_distribution_matches_softmax():
    logits = torch.tensor([[1.0, 0.0, -1.0]])
    cfg = SamplingConfig(temperature=1.0, top_p=1.0, repeat_penalty=1.0)
    g = make_generator(0)
    counts = torch.bincount(torch.cat([sample(logits.expand(1000, 3), cfg, g) for _ in range(10)]), minlength=3)
    expected = torch.softmax(logits, -1)[0] * 10000
    assert torch.allclose(counts.float(), expected, rtol=0.08)


@pytest.mark.parametrize("bad", [dict(temperature=-1), dict(top_p=0), dict(top_p=1.5), dict(min_p=1.0),
                                 dict(top_k=-2), dict(max_tokens=0), dict(repeat_penalty=0)])
def test_invalid_settings_rejected(bad):
    with pytest.raises(SamplingError):
        SamplingConfig(**bad)
