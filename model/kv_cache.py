"""KVCache: preallocated keys and values for every layer, written at explicit positions; and
PrefixCache, a KVCache kept across calls together with the token ids it holds, so a chat turn
only prefills what is new since the last one."""
from __future__ import annotations

import torch


class KVCache:
    """Keys and values of shape (L, B, KV, S, D), allocated once for a maximum length S."""

    def __init__(self, n_layers: int, batch: int, n_kv_heads: int, max_len: int, head_dim: int,
                 *, device: torch.device | str = "cpu", dtype: torch.dtype = torch.float32) -> None:
        shape = (n_layers, batch, n_kv_heads, max_len, head_dim)
        self.k = torch.zeros(shape, device=device, dtype=dtype)  # (L, B, KV, S, D)
        self.v = torch.zeros(shape, device=device, dtype=dtype)  # (L, B, KV, S, D)
        self.max_len = max_len

    @classmethod
    def for_model(cls, cfg, batch: int = 1, max_len: int | None = None, *,
                  device: torch.device | str = "cpu", dtype: torch.dtype = torch.float32) -> KVCache:
        return cls(cfg.n_layers, batch, cfg.n_kv_heads, max_len or cfg.max_seq_len, cfg.head_dim,
                   device=device, dtype=dtype)

    def update(self, layer: int, start: int, k: torch.Tensor, v: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Write k, v (B, KV, T, D) at positions [start, start+T); return the filled prefix (B, KV, start+T, D)."""
        end = start + k.shape[2]
        assert end <= self.max_len, f"KV cache overflow: {end} > {self.max_len}"
        self.k[layer, :, :, start:end] = k
        self.v[layer, :, :, start:end] = v
        return self.k[layer, :, :, :end], self.v[layer, :, :, :end]


class PrefixCache:
    """A KVCache plus the ids whose keys/values fill its first len(ids) positions.

    Positions past len(ids) may hold stale values; engines never read a position before writing it.
    """

    def __init__(self, cache: KVCache) -> None:
        self.cache = cache
        self.ids: list[int] = []

    def reusable(self, prompt: list[int]) -> int:
        """How many leading ids of prompt are cached already (at most len(prompt) - 1: the last one
        must run through the model to give the next-token logits)."""
        n = 0
        for a, b in zip(self.ids, prompt[:-1]):
            if a != b:
                break
            n += 1
        return n

    def clear(self) -> None:
        self.ids = []
