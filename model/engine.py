"""The decode-engine interface: what every decode path offers the one decode loop in model.generate.

An engine holds a model's weights in whatever layout suits it and answers three calls, all with
explicit positions:

    new_cache(batch, max_len) -> KVCache                  room for keys/values
    prefill(ids (B, T), start, cache) -> logits (B, V)    ids at positions start..start+T-1
    decode_one(token (B,), pos, cache) -> logits (B, V)   one token at position pos

plus `name` (reported by `chatcli bench`), `config`, `device` and `dtype`. An engine may also offer

    sample(logits (B, V), cfg, generator, recent) -> (B,)  model.sampling.sample, faster

(same signature and distribution); `sampler_of(engine)` is that method where it exists, else `sample`,
and it is what the decode loop draws with (model.cpp_ext's engine has one: a single C++ call). Engines:
`ReferenceEngine` (the plain Transformer, here), `model.fast.FastDecoder` (fused, eager) and
`model.compiled.CompiledDecoder` (one whole-step compiled graph). `as_engine` turns a bare
Transformer (or an int8-quantized one) into the reference engine, so callers may pass either.
`error_summary` is the one line an engine builder (model.compiled, model.cpp_ext) gives for why a
build failed.
"""
from __future__ import annotations

from typing import Protocol, runtime_checkable

import torch

from model.kv_cache import KVCache
from model.sampling import sample


@runtime_checkable
class Engine(Protocol):
    name: str
    config: object
    dtype: torch.dtype

    @property
    def device(self) -> torch.device: ...

    def new_cache(self, batch: int = 1, max_len: int | None = None) -> KVCache: ...

    def prefill(self, ids: torch.Tensor, start: int, cache: KVCache) -> torch.Tensor: ...

    def decode_one(self, token: torch.Tensor, pos: int, cache: KVCache) -> torch.Tensor: ...


class ReferenceEngine:
    """The Transformer's own forward as an engine (the slow, obviously-correct path)."""

    name = "reference"

    def __init__(self, model) -> None:
        self.model = model
        self.config = model.config
        self.dtype = model.tok_embeddings.weight.dtype

    @property
    def device(self) -> torch.device:
        return self.model.tok_embeddings.weight.device

    def new_cache(self, batch: int = 1, max_len: int | None = None) -> KVCache:
        return KVCache.for_model(self.config, batch, max_len, device=self.device, dtype=self.dtype)

    @torch.inference_mode()
    def prefill(self, ids: torch.Tensor, start: int, cache: KVCache) -> torch.Tensor:
        return self.model(ids, start=start, cache=cache)[:, -1, :]  # (B, V)

    @torch.inference_mode()
    def decode_one(self, token: torch.Tensor, pos: int, cache: KVCache) -> torch.Tensor:
        return self.model(token.view(-1, 1), start=pos, cache=cache)[:, -1, :]  # (B, V)


def as_engine(model) -> Engine:
    """An engine as is; a Transformer wrapped as the reference engine."""
    if hasattr(model, "decode_one") and hasattr(model, "prefill"):
        return model
    return ReferenceEngine(model)


def error_summary(e: BaseException, width: int = 160) -> str:
    """"Type: first line of the message" (at most width characters of it; the type alone if it is empty)."""
    first = (str(e).strip().splitlines() or [type(e).__name__])[0]
    return f"{type(e).__name__}: {first[:width]}"


def sampler_of(engine):
    """The engine's own `sample` where it has one (model.sampling.sample's signature and distribution), else sample."""
    return getattr(engine, "sample", None) or sample
