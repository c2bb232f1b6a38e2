"""Generation as small functions with explicit positions: prefill -> decode_one -> decode_n.

Everything here is token ids in, token ids out. Stop conditions are token ids (the caller maps
strings to ids, or stops on text itself). The generator yields one id at a time so callers can
stream, time the first token, and stop early (Ctrl-C) without losing what was produced.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Iterator, Sequence

import torch

from model.kv_cache import KVCache
from model.sampling import SamplingConfig, make_generator, sample


@torch.inference_mode()
def prefill(model, ids: torch.Tensor, cache: KVCache, start: int = 0) -> torch.Tensor:
    """Run the prompt ids (B, T) through the model at positions start..start+T-1; logits of the last one (B, V)."""
    return model(ids, start=start, cache=cache)[:, -1, :]  # (B, V)


@torch.inference_mode()
def decode_one(model, token: torch.Tensor, pos: int, cache: KVCache) -> torch.Tensor:
    """One step: token (B,) at position pos -> logits (B, V)."""
    return model(token.view(-1, 1), start=pos, cache=cache)[:, -1, :]  # (B, V)


@dataclass
class GenerationStats:
    prompt_tokens: int = 0
    completion_tokens: int = 0
    finish_reason: str = "length"  # "stop" | "length" | "context"


def decode_n(model, prompt: Sequence[int] | torch.Tensor, sampling: SamplingConfig, *,
             stop_ids: Sequence[int] = (), device: torch.device | str = "cpu",
             cache_dtype: torch.dtype | None = None, stats: GenerationStats | None = None,
             generator: torch.Generator | None = None) -> Iterator[int]:
    """Yield up to sampling.max_tokens new ids after prompt (batch 1); stops on a stop id or a full context.

    The stop token itself is not yielded. `stats` (if given) is filled in as generation goes.
    """
    ids = torch.as_tensor(list(prompt) if not torch.is_tensor(prompt) else prompt, dtype=torch.long, device=device)
    ids = ids.view(1, -1)  # (1, T)
    stats = stats if stats is not None else GenerationStats()
    max_len = model.config.max_seq_len
    T = ids.shape[1]
    assert 0 < T <= max_len, f"prompt of {T} tokens does not fit the context of {max_len}"
    stats.prompt_tokens = T
    dtype = cache_dtype or next(model.parameters()).dtype
    budget = min(sampling.max_tokens, max_len - T + 1)
    cache = KVCache.for_model(model.config, 1, min(max_len, T + budget), device=device, dtype=dtype)
    gen = generator or make_generator(sampling.seed, device)
    window = sampling.repeat_window
    history = ids[0, -window:].clone() if window > 0 else ids[0, :0]
    stop = set(int(s) for s in stop_ids)
    logits = prefill(model, ids, cache)  # (1, V)
    pos = T
    for i in range(sampling.max_tokens):
        recent = history.view(1, -1) if sampling.repeat_penalty != 1.0 else None
        token = sample(logits, sampling, gen, recent)  # (1,)
        tid = int(token.item())
        if tid in stop:
            stats.finish_reason = "stop"
            return
        stats.completion_tokens += 1
        yield tid
        if i + 1 == sampling.max_tokens:
            stats.finish_reason = "length"
            return
        if pos >= cache.max_len:
            stats.finish_reason = "context" if pos >= max_len else "length"
            return
        if window > 0:
            history = torch.cat([history[-(window - 1):] if window > 1 else history[:0], token])
        logits = decode_one(model, token, pos, cache)
        pos += 1


def generate_batch(model, prompts: torch.Tensor, sampling: SamplingConfig, *,
                   generator: torch.Generator | None = None) -> torch.Tensor:
    """Batched generation for prompts of equal length (B, T): returns new ids (B, max_tokens).

    No stop tokens: used by benchmarks and evaluation where every row runs to max_tokens.
    """
    B, T = prompts.shape
    n = min(sampling.max_tokens, model.config.max_seq_len - T)
    dtype = next(model.parameters()).dtype
    cache = KVCache.for_model(model.config, B, T + n, device=prompts.device, dtype=dtype)
    gen = generator or make_generator(sampling.seed, prompts.device)
    logits = prefill(model, prompts, cache)  # (B, V)
    out = torch.empty(B, n, dtype=torch.long, device=prompts.device)
    for i in range(n):
        token = sample(logits, sampling, gen)  # (B,)
        out[:, i] = token
        if i + 1 < n:
            logits = decode_one(model, token, T + i, cache)
    return out
