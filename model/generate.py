"""Generation as small functions with explicit positions: prefill -> decode_one -> decode_steps -> decode_n.

`decode_steps` is the one decode loop: every caller (chat, eval, `train pairs`, `chatcli bench`)
runs through it, over any engine of model.engine. `decode_n` adds what a single conversation
needs on top: sampling with a repetition window, stop ids, the context limit, statistics, and
reuse of a PrefixCache across calls (only the ids not already cached are prefilled).

Everything here is token ids in, token ids out. Stop conditions are token ids (the caller maps
strings to ids, or stops on text itself). The generators yield one token at a time so callers can
stream, time the first token, and stop early (Ctrl-C) without losing what was produced.
"""
from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass

import torch

from model.engine import as_engine, sampler_of
from model.kv_cache import KVCache, PrefixCache
from model.sampling import SamplingConfig, make_generator, sample


def prefill(engine, ids: torch.Tensor, cache: KVCache, start: int = 0) -> torch.Tensor:
    """Run ids (B, T) through the engine at positions start..start+T-1; logits of the last one (B, V)."""
    return engine.prefill(ids, start, cache)  # (B, V)


def decode_one(engine, token: torch.Tensor, pos: int, cache: KVCache) -> torch.Tensor:
    """One step: token (B,) at position pos -> logits (B, V)."""
    return engine.decode_one(token, pos, cache)  # (B, V)


def decode_steps(engine, ids: torch.Tensor, cache: KVCache, n: int,
                 pick: Callable[[torch.Tensor], torch.Tensor], start: int = 0) -> Iterator[torch.Tensor]:
    """The decode loop: prefill ids (B, T) at `start`, then yield n tokens (B,), each fed back at the next position.

    A token is fed back only when the caller asks for the next one, so stopping after a yield
    never runs a step whose logits nobody reads. Tokens stay on the engine's device (no host sync).
    """
    logits = prefill(engine, ids, cache, start)  # (B, V)
    pos = start + ids.shape[1]
    for i in range(n):
        token = pick(logits)  # (B,)
        yield token
        if i + 1 < n:
            logits = decode_one(engine, token, pos, cache)  # (B, V)
            pos += 1


@dataclass
class GenerationStats:
    prompt_tokens: int = 0
    completion_tokens: int = 0
    finish_reason: str = "length"  # "stop" | "length" | "context"
    prefilled_tokens: int = 0  # prompt ids run through the model this call
    reused_tokens: int = 0  # prompt ids whose keys/values came from the PrefixCache


def _sampler(sampling: SamplingConfig, gen: torch.Generator, history: torch.Tensor, draw=sample):
    """pick(logits (1, V)) -> token (1,) by draw (model.sampling.sample or an engine's own), keeping the last
    repeat_window ids for the penalty."""
    window = sampling.repeat_window if sampling.repeat_penalty != 1.0 else 0
    recent = history[-window:].clone() if window > 0 else None

    def pick(logits: torch.Tensor) -> torch.Tensor:
        nonlocal recent
        token = draw(logits, sampling, gen, recent.view(1, -1) if recent is not None else None)  # (1,)
        if recent is not None:
            recent = torch.cat([recent[1:] if recent.numel() >= window else recent, token])
        return token

    return pick


def decode_n(engine, prompt: Sequence[int] | torch.Tensor, sampling: SamplingConfig, *,
             stop_ids: Sequence[int] = (), stats: GenerationStats | None = None,
             generator: torch.Generator | None = None, prefix: PrefixCache | None = None,
             device: torch.device | str | None = None) -> Iterator[int]:
    """Yield up to sampling.max_tokens new ids after prompt (batch 1); stops on a stop id or a full context.

    engine: any model.engine engine, or a Transformer. The stop token itself is not yielded.
    `stats` (if given) is filled in as generation goes. With `prefix`, the prompt's longest prefix
    already in prefix.cache is reused, and afterwards prefix.ids is what the cache holds.
    `device` is accepted for old callers; the engine's own device is used.
    """
    engine = as_engine(engine)
    ids = [int(t) for t in (prompt.tolist() if torch.is_tensor(prompt) else prompt)]
    stats = stats if stats is not None else GenerationStats()
    max_len = engine.config.max_seq_len
    T = len(ids)
    assert 0 < T <= max_len, f"prompt of {T} tokens does not fit the context of {max_len}"
    budget = min(sampling.max_tokens, max_len - T + 1)  # the last token is sampled, never fed
    if prefix is not None:
        cache, reuse = prefix.cache, prefix.reusable(ids)
        prefix.ids = ids[:reuse]  # what stays valid until this call's writes are known
    else:
        cache, reuse = engine.new_cache(1, min(max_len, T + budget)), 0
    stats.prompt_tokens, stats.reused_tokens, stats.prefilled_tokens = T, reuse, T - reuse
    stats.completion_tokens, stats.finish_reason = 0, "length"
    gen = generator or make_generator(sampling.seed, engine.device)
    history = torch.tensor(ids, dtype=torch.long, device=engine.device)  # (T,)
    stop = set(int(s) for s in stop_ids)
    fed = ids[reuse:]  # ids whose keys/values this call writes, in order
    pick = _sampler(sampling, gen, history, sampler_of(engine))
    steps = decode_steps(engine, history[reuse:].view(1, -1), cache, budget, pick, reuse)
    try:
        for _i, token in enumerate(steps):
            tid = int(token.item())
            if prefix is not None:
                prefix.ids += fed
                fed = [tid]
            if tid in stop:
                stats.finish_reason = "stop"
                return
            stats.completion_tokens += 1
            yield tid
        stats.finish_reason = "length" if budget == sampling.max_tokens else "context"
    finally:
        steps.close()
