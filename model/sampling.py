"""SamplingConfig and the step from logits to the next token.

Temperature, top-k, top-p (nucleus), min-p and a repetition penalty, drawn from a seeded
torch.Generator so the same seed gives the same text. Temperature 0 is greedy whatever the
seed. Top-p looks at the top 64 candidates first and widens (1024, then a full sort) only when
those do not already hold the requested mass.
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


def _filter_candidates(logits: torch.Tensor, cfg: SamplingConfig) -> tuple[torch.Tensor, torch.Tensor]:
    """Scaled logits of the surviving candidates and their token ids, both (B, K)."""
    V = logits.shape[-1]
    k = cfg.top_k if cfg.top_k > 0 else V
    if cfg.top_p < 1.0 and k > 64:
        lse = torch.logsumexp(logits, dim=-1, keepdim=True)  # (B, 1)
        for width in (64, 1024):  # widen only when the top `width` do not hold top_p of the mass
            if width >= k:
                break
            vals, idx = torch.topk(logits, width, dim=-1)  # (B, W), sorted descending
            if bool(((vals - lse).exp().sum(-1) >= cfg.top_p).all()):
                k = 0  # vals, idx already hold the candidates
                break
    if k == 0:
        pass
    elif k < V:
        vals, idx = torch.topk(logits, k, dim=-1)  # (B, K), sorted descending
    else:
        vals, idx = torch.sort(logits, dim=-1, descending=True)  # (B, V)
    probs = torch.softmax(vals, dim=-1)  # (B, K)
    keep = torch.ones_like(vals, dtype=torch.bool)
    if cfg.top_p < 1.0:
        cum = probs.cumsum(-1)
        keep &= (cum - probs) < cfg.top_p  # keep the smallest prefix reaching top_p
    if cfg.min_p > 0:
        keep &= probs >= cfg.min_p * probs[..., :1]
    keep[..., 0] = True
    return vals.masked_fill(~keep, float("-inf")), idx


def sample(logits: torch.Tensor, cfg: SamplingConfig, generator: torch.Generator | None = None,
           recent: torch.Tensor | None = None) -> torch.Tensor:
    """Next token ids (B,) from logits (B, V)."""
    logits = apply_repeat_penalty(logits.float(), recent, cfg.repeat_penalty)
    if cfg.temperature == 0:
        return logits.argmax(dim=-1)  # (B,)
    vals, idx = _filter_candidates(logits / cfg.temperature, cfg)  # (B, K)
    probs = torch.softmax(vals, dim=-1)  # (B, K)
    choice = torch.multinomial(probs, 1, generator=generator)  # (B, 1)
    return idx.gather(-1, choice).squeeze(-1)  # (B,)


def probabilities(logits: torch.Tensor, temperature: float) -> torch.Tensor:
    """The full next-token distribution (.., V) at a temperature (0 means one-hot argmax)."""
    logits = logits.float()
    if temperature == 0:
        return torch.nn.functional.one_hot(logits.argmax(-1), logits.shape[-1]).float()
    return torch.softmax(logits / temperature, dim=-1)
