"""SamplingConfig and the step from logits to the next token.

Temperature, top-k, top-p (nucleus), min-p and a repetition penalty, drawn from a seeded
torch.Generator so the same seed gives the same text. Temperature 0 is greedy whatever the
seed. No filter sorts the whole vocabulary per token (see `sample`): sampling costs a few passes
over the logits, about what greedy's argmax costs, whatever the shape of the distribution.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, field

import torch


class SamplingError(ValueError):
    """A sampling setting outside its valid range."""


@dataclass
class SamplingConfig:
    temperature: float = 0.8
    top_k: int = 0  # 0 disables
    top_p: float = 0.95  # 1.0 disables
    min_p: float = 0.0  # 0 disables
    repeat_penalty: float = 1.1  # 1.0 disables
    repeat_window: int = 64
    seed: int | None = None
    max_tokens: int = 256
    stop: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.validate()

    def validate(self) -> None:
        if not (self.temperature >= 0):
            raise SamplingError(f"temperature must be >= 0, got {self.temperature}")
        if self.top_k < 0:
            raise SamplingError(f"top_k must be >= 0, got {self.top_k}")
        if not (0 < self.top_p <= 1):
            raise SamplingError(f"top_p must be in (0, 1], got {self.top_p}")
        if not (0 <= self.min_p < 1):
            raise SamplingError(f"min_p must be in [0, 1), got {self.min_p}")
        if not (self.repeat_penalty > 0):
            raise SamplingError(f"repeat_penalty must be > 0, got {self.repeat_penalty}")
        if self.max_tokens < 1:
            raise SamplingError(f"max_tokens must be >= 1, got {self.max_tokens}")

    def to_dict(self) -> dict:
        return asdict(self)


def make_generator(seed: int | None, device: torch.device | str = "cpu") -> torch.Generator:
    gen = torch.Generator(device=device)
    if seed is None:
        gen.seed()
    else:
        gen.manual_seed(int(seed))
    return gen


def apply_repeat_penalty(logits: torch.Tensor, recent: torch.Tensor | None, penalty: float) -> torch.Tensor:
    """CTRL-style penalty on logits (B, V) of tokens in recent (B, W): divide positives, multiply negatives."""
    if recent is None or penalty == 1.0 or recent.numel() == 0:
        return logits
    picked = logits.gather(-1, recent)  # (B, W)
    picked = torch.where(picked > 0, picked / penalty, picked * penalty)
    return logits.scatter(-1, recent, picked)


TOPK_SMALL = 256  # top_k up to this runs on torch.topk's candidates; above it, on a k-th-value threshold
MAX_ROUNDS = 64  # nucleus rejection rounds before the exact sorted fallback (never reached in practice)


def _draw(weights: torch.Tensor, generator: torch.Generator | None) -> torch.Tensor:
    """One index per row (B,) with probability proportional to weights (B, N) >= 0 (inverse CDF)."""
    cum = weights.cumsum(-1)  # (B, N)
    u = torch.rand(weights.shape[0], 1, generator=generator, device=weights.device) * cum[:, -1:]  # (B, 1)
    # first index whose cumulative mass exceeds u; searching all but the last entry keeps it < N
    return torch.searchsorted(cum[:, :-1], u, right=True).squeeze(-1)  # (B,)


def _small_topk(scaled: torch.Tensor, cfg: SamplingConfig, generator) -> torch.Tensor:
    """top_k <= TOPK_SMALL: the k candidates sorted by torch.topk, then top-p and min-p on them."""
    vals, idx = torch.topk(scaled, cfg.top_k, dim=-1)  # (B, K), sorted descending
    probs = torch.softmax(vals, dim=-1)  # (B, K)
    keep = torch.ones_like(probs, dtype=torch.bool)
    if cfg.top_p < 1.0:
        keep &= (probs.cumsum(-1) - probs) < cfg.top_p  # the smallest prefix reaching top_p
    if cfg.min_p > 0:
        keep &= probs >= cfg.min_p * probs[..., :1]
    keep[..., 0] = True
    choice = _draw(probs.masked_fill(~keep, 0.0), generator)  # (B,)
    return idx.gather(-1, choice.unsqueeze(-1)).squeeze(-1)  # (B,)


def _nucleus(probs: torch.Tensor, allowed: torch.Tensor, top_p: float, generator) -> torch.Tensor:
    """Sample from allowed (B, V) restricted to the top-p nucleus of probs (B, V), without sorting.

    Rejection: draw x from `allowed`; x is in the nucleus iff the tokens strictly more probable
    than x hold less than top_p of the mass. A rejected x proves every token no more probable
    than x is outside the nucleus too, so those are removed and the row is drawn again. Accepted
    draws are exact samples of the nucleus distribution; a draw is accepted with probability at
    least top_p, so about one round per token is the norm (peaked or flat distributions alike).
    """
    B = probs.shape[0]
    if B == 1:  # the chat case: the same rounds with fewer tensor ops
        for _ in range(MAX_ROUNDS):
            x = _draw(allowed, generator)  # (1,)
            px = probs.gather(-1, x.unsqueeze(-1))  # (1, 1)
            if probs.masked_fill(probs <= px, 0.0).sum().item() < top_p:  # mass strictly above x
                return x
            allowed = allowed.masked_fill(probs <= px, 0.0)  # (1, V)
        return _sorted_nucleus(probs, allowed, top_p, generator)
    out = torch.zeros(B, dtype=torch.long, device=probs.device)
    todo = torch.ones(B, dtype=torch.bool, device=probs.device)
    for _ in range(MAX_ROUNDS):
        x = _draw(allowed, generator)  # (B,)
        px = probs.gather(-1, x.unsqueeze(-1))  # (B, 1)
        above = torch.where(probs > px, probs, 0.0).sum(-1)  # (B,) mass strictly more probable than x
        ok = todo & (above < top_p)
        out = torch.where(ok, x, out)
        todo &= ~ok
        if not bool(todo.any()):
            return out
        allowed = torch.where(todo.unsqueeze(-1) & (probs <= px), 0.0, allowed)  # (B, V)
    rest = _sorted_nucleus(probs, allowed, top_p, generator)  # exact fallback for what is left
    return torch.where(todo, rest, out)


def _sorted_nucleus(probs: torch.Tensor, allowed: torch.Tensor, top_p: float, generator) -> torch.Tensor:
    vals, idx = torch.sort(probs, dim=-1, descending=True)  # (B, V)
    keep = (vals.cumsum(-1) - vals) < top_p
    keep[..., 0] = True
    weights = allowed.gather(-1, idx).masked_fill(~keep, 0.0)  # (B, V)
    weights[..., 0] = torch.where(weights.sum(-1) > 0, weights[..., 0], 1.0)
    return idx.gather(-1, _draw(weights, generator).unsqueeze(-1)).squeeze(-1)  # (B,)


def sample(logits: torch.Tensor, cfg: SamplingConfig, generator: torch.Generator | None = None,
           recent: torch.Tensor | None = None) -> torch.Tensor:
    """Next token ids (B,) from logits (B, V).

    No step sorts the vocabulary: a small top-k sorts only its k candidates; a large top-k is a
    k-th-value threshold; min-p is a mask; top-p is sampled by rejection (see `_nucleus`).
    """
    logits = apply_repeat_penalty(logits.float(), recent, cfg.repeat_penalty)
    if cfg.temperature == 0:
        return logits.argmax(dim=-1)  # (B,)
    scaled = logits / cfg.temperature  # (B, V)
    V = scaled.shape[-1]
    if 0 < cfg.top_k <= TOPK_SMALL and cfg.top_k < V:
        return _small_topk(scaled, cfg, generator)
    if 0 < cfg.top_k < V:
        kth = torch.kthvalue(scaled, V - cfg.top_k + 1, dim=-1, keepdim=True).values  # (B, 1) k-th largest
        scaled = scaled.masked_fill(scaled < kth, float("-inf"))
    probs = torch.softmax(scaled, dim=-1)  # (B, V)
    allowed = probs
    if cfg.min_p > 0:
        allowed = probs.masked_fill(probs < cfg.min_p * probs.amax(-1, keepdim=True), 0.0)  # (B, V)
    if cfg.top_p >= 1.0:
        return _draw(allowed, generator)
    return _nucleus(probs, allowed, cfg.top_p, generator)


def probabilities(logits: torch.Tensor, temperature: float) -> torch.Tensor:
    """The full next-token distribution (.., V) at a temperature (0 means one-hot argmax)."""
    logits = logits.float()
    if temperature == 0:
        return torch.nn.functional.one_hot(logits.argmax(-1), logits.shape[-1]).float()
    return torch.softmax(logits / temperature, dim=-1)
