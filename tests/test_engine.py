"""The decode-engine interface and the one decode loop: engines agree, the prefix cache is reused
exactly, the compiled engine falls back with one notice, and chat turns prefill only what is new."""
from __future__ import annotations

import pytest
import torch

from model.compiled import CompiledDecoder, make_engine
from model.config import ModelConfig
from model.engine import Engine, ReferenceEngine, as_engine, error_summary
from model.fast import FastDecoder
from model.generate import GenerationStats, decode_n
from model.kv_cache import PrefixCache
from model.sampling import SamplingConfig
from model.transformer import Transformer

CFG = ModelConfig(vocab_size=200, dim=64, n_layers=2, n_heads=4, n_kv_heads=2, ffn_hidden=96, max_seq_len=80)
GREEDY = SamplingConfig(temperature=0, max_tokens=12, repeat_penalty=1.0)


@pytest.fixture(scope="module")
def model():
    torch.manual_seed(0)
    return Transformer(CFG).eval()


def test_engines_implement_the_interface(model):
    for kind, name in (("reference", "reference"), ("fast", "fast"), ("auto", "fast")):
        engine = make_engine(model, kind)
        assert isinstance(engine, Engine) and engine.name == name
    assert isinstance(as_engine(model), ReferenceEngine)
    fast = FastDecoder(model)
    assert as_engine(fast) is fast
    with pytest.raises(ValueError, match="unknown engine"):
        make_engine(model, "warp")


def test_prefix_cache_reuse_gives_the_same_tokens(model):
    """Turn 2 through a kept cache = turn 2 from scratch; stats count what was reused."""
    engine = FastDecoder(model)
    prefix = PrefixCache(engine.new_cache(1, CFG.max_seq_len))
    first = [1, 5, 9, 14, 3]
    s1 = GenerationStats()
    a1 = list(decode_n(engine, first, GREEDY, prefix=prefix, stats=s1))
    assert (s1.prefilled_tokens, s1.reused_tokens) == (5, 0)
    assert prefix.ids == first + a1[:-1]  # the last sampled token was never fed
    second = first + a1 + [7, 8, 2]
    s2 = GenerationStats()
    a2 = list(decode_n(engine, second, GREEDY, prefix=prefix, stats=s2))
    assert s2.reused_tokens == len(first) + len(a1) - 1 and s2.prefilled_tokens == 4
    assert a2 == list(decode_n(model, second, GREEDY))
    # a prompt that diverges early reuses only the common part, and is still right
    third = [1, 5, 77, 2]
    s3 = GenerationStats()
    assert list(decode_n(engine, third, GREEDY, prefix=prefix, stats=s3)) == list(decode_n(model, third, GREEDY))
    assert s3.reused_tokens == 2
    # the same prompt again: all but its last token reused
    s4 = GenerationStats()
    assert list(decode_n(engine, third, GREEDY, prefix=prefix, stats=s4)) == list(decode_n(model, third, GREEDY))
    assert (s4.reused_tokens, s4.prefilled_tokens) == (3, 1)


def test_stop_keeps_cache_consistent(model):
    engine = FastDecoder(model)
    greedy = list(decode_n(engine, [4, 4, 4], GREEDY))
    stop = greedy[4]
    prefix = PrefixCache(engine.new_cache(1, CFG.max_seq_len))
    got = list(decode_n(engine, [4, 4, 4], GREEDY, stop_ids=[stop], prefix=prefix))
    assert got == greedy[:greedy.index(stop)]
    assert prefix.ids == [4, 4, 4] + got  # the stop token was sampled, never fed


def test_compile_failure_falls_back_with_one_notice(model, monkeypatch):
    def broken_compile(fn, **kw):
        def run(*a, **k):
            raise RuntimeError("no C++ compiler found\nlong details")
        return run
    monkeypatch.setattr(torch, "compile", broken_compile)
    notices: list[str] = []
    engine = make_engine(model, "compiled", notify=notices.append)
    assert isinstance(engine, FastDecoder)
    assert len(notices) == 1 and "no C++ compiler found" in notices[0] and "fast engine" in notices[0]
    assert "\n" not in notices[0]
    assert list(decode_n(engine, [1, 2], GREEDY)) == list(decode_n(model, [1, 2], GREEDY))


def test_error_summary_is_one_short_line():
    assert error_summary(RuntimeError("  no compiler\nlong details\n")) == "RuntimeError: no compiler"
    assert error_summary(OSError()) == "OSError: OSError"  # an empty message: the type stands in
    assert error_summary(ValueError("x" * 500)) == "ValueError: " + "x" * 160
    assert error_summary(ValueError("abcdef"), width=3) == "ValueError: abc"


def test_compiled_engine_refuses_foreign_cache_and_batch(model, monkeypatch):
    monkeypatch.setattr(torch, "compile", lambda fn, **kw: fn)  # the eager static step stands in
    engine = CompiledDecoder(FastDecoder(model), batch=1)
    with pytest.raises(ValueError, match="batch 1"):
        engine.new_cache(2)
    assert engine.new_cache(1) is engine.new_cache(1, 10)  # one static cache
    assert list(decode_n(engine, [3, 1, 4], GREEDY)) == list(decode_n(model, [3, 1, 4], GREEDY))


@pytest.mark.slow
def test_compiled_inductor_step_matches_fast(model):
    """The real torch.compile (Inductor C++ on CPU): minutes on a small machine, hence slow."""
    engine = make_engine(model, "compiled", notify=pytest.fail)
    assert engine.name.startswith("compiled")
    prompt = [9, 8, 7, 6]
    assert list(decode_n(engine, prompt, GREEDY)) == list(decode_n(model, prompt, GREEDY))


def test_chat_turns_prefill_only_the_new_message(model_dir):
    """Second turn of a conversation: everything up to the previous answer comes from the cache,
    and the answer equals the one a fresh session gives for the same history."""
    from chatcli.bundle import load_bundle
    from chatcli.chat.session import ChatSession
    settings = SamplingConfig(temperature=0, repeat_penalty=1.0, max_tokens=8)
    session = ChatSession(load_bundle(model_dir), settings, max_tokens_auto=False)
    "".join(session.respond("the king said"))
    first = session.last
    assert first.reused_tokens == 0 and first.prefilled_tokens == first.prompt_tokens
    answer2 = "".join(session.respond("and the queen?"))
    second = session.last
    assert len(session._answer_ids) == 1  # the answer renders from the ids generated for it
    tpl = session.template
    new_turn = len(tpl.wrap("user", session.tok.encode("and the queen?")) + tpl.generation_prefix)
    # everything but the last answer token (sampled, never fed) and its <|end|> is reused
    assert second.reused_tokens == first.prompt_tokens + first.completion_tokens - 1
    assert second.prefilled_tokens == 2 + new_turn
    assert "reused from cache" in second.line()
    fresh = ChatSession(load_bundle(model_dir), settings, max_tokens_auto=False)
    fresh.set_history(None, session.history[:2])
    fresh._answer_ids = dict(session._answer_ids)  # same rendering of the first answer
    assert "".join(fresh.respond("and the queen?")) == answer2
    assert fresh.last.reused_tokens == 0
