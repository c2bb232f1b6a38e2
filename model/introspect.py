"""Tensor-level introspection of a Transformer: attention maps, parameter breakdown, embedding neighbours.

Everything here works on token ids and tensors only (no tokenizer). Attention weights are
recomputed explicitly, because scaled_dot_product_attention never returns them: a forward
pre-hook captures the input each layer's attention module receives (the normed residual and
the rotary tables), then q and k are rebuilt with that module's own wq / wk and RoPE.
"""
from __future__ import annotations

import math
from collections import OrderedDict

import torch
import torch.nn as nn
import torch.nn.functional as F

from model.transformer import Attention, Transformer, apply_rope

# Component of the network each parameter name belongs to, in display order.
COMPONENTS = ("embeddings", "attention", "mlp", "norms", "output")


class IntrospectError(ValueError):
    """A layer, head or token index outside the model."""


def component_of(name: str) -> str:
    """Map a parameter name (layers.0.attention.wq.weight, ...) to its component."""
    if name.startswith("tok_embeddings"):
        return "embeddings"
    if ".attention." in name:
        return "attention"
    if ".feed_forward." in name:
        return "mlp"
    if name.startswith("output"):
        return "output"
    if name.endswith("norm.weight") or name.startswith("norm"):
        return "norms"
    raise AssertionError(f"parameter {name} belongs to no known component")


def parameter_breakdown(model: nn.Module) -> dict:
    """Parameter counts per component, shared tensors counted once, plus bytes per dtype in memory.

    Returns {"total": N, "components": {name: count}, "tensors": [{"name", "shape", "numel", "dtype",
    "component", "shared_with"}], "bytes_by_dtype": {dtype: bytes}}. A tied output head appears as a
    tensor with shared_with="tok_embeddings.weight" and adds 0 to its component.
    """
    seen: dict[int, str] = {}
    comps: OrderedDict[str, int] = OrderedDict((c, 0) for c in COMPONENTS)
    tensors, by_dtype = [], {}
    for name, p in model.named_parameters(remove_duplicate=False):
        comp = component_of(name)
        key = id(p)
        shared = seen.get(key)
        tensors.append({"name": name, "shape": list(p.shape), "numel": p.numel(),
                        "dtype": str(p.dtype).removeprefix("torch."), "component": comp, "shared_with": shared})
        if shared is not None:
            continue
        seen[key] = name
        comps[comp] += p.numel()
        dt = str(p.dtype).removeprefix("torch.")
        by_dtype[dt] = by_dtype.get(dt, 0) + p.numel() * p.element_size()
    return {"total": sum(comps.values()), "components": dict(comps), "tensors": tensors, "bytes_by_dtype": by_dtype}


def kv_bytes_per_token(cfg, bytes_per_value: int) -> int:
    """Bytes the KV cache holds per token: keys and values for every layer and KV head."""
    return 2 * cfg.n_layers * cfg.n_kv_heads * cfg.head_dim * bytes_per_value


@torch.no_grad()
def capture_attention_inputs(model: Transformer, ids: torch.Tensor) -> tuple[torch.Tensor, list[tuple]]:
    """Run model(ids) once; return (logits (B, T, V), per layer (x (B,T,C), cos (T,D), sin (T,D), output (B,T,C)))."""
    captured: list = [None] * len(model.layers)
    handles = []
    for i, block in enumerate(model.layers):
        def pre(module, args, kwargs, i=i):
            captured[i] = [args[0].detach(), args[1], args[2]]

        def post(module, args, kwargs, output, i=i):
            captured[i].append(output.detach())
        handles.append(block.attention.register_forward_pre_hook(pre, with_kwargs=True))
        handles.append(block.attention.register_forward_hook(post, with_kwargs=True))
    try:
        logits = model(ids)  # (B, T, V)
    finally:
        for h in handles:
            h.remove()
    return logits, [tuple(c) for c in captured]


def attention_probs(attn: Attention, x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor) -> torch.Tensor:
    """Causal attention probabilities (B, H, T, T) of one attention module for its input x (B, T, C)."""
    B, T, _ = x.shape
    q = attn.wq(x).view(B, T, attn.n_heads, attn.head_dim).transpose(1, 2)  # (B, H, T, D)
    k = attn.wk(x).view(B, T, attn.n_kv_heads, attn.head_dim).transpose(1, 2)  # (B, KV, T, D)
    q, k = apply_rope(q, cos, sin).float(), apply_rope(k, cos, sin).float()
    k = k.repeat_interleave(attn.n_heads // attn.n_kv_heads, dim=1)  # (B, H, T, D)
    scores = q @ k.transpose(-2, -1) / math.sqrt(attn.head_dim)  # (B, H, T, T)
    causal = torch.ones(T, T, dtype=torch.bool, device=x.device).tril()  # (T, T)
    return torch.softmax(scores.masked_fill(~causal, float("-inf")), dim=-1)  # (B, H, T, T)


def attention_output(attn: Attention, x: torch.Tensor, probs: torch.Tensor) -> torch.Tensor:
    """The module output rebuilt from explicit probs (B, H, T, T): wo(probs @ v). For verification."""
    B, T, _ = x.shape
    v = attn.wv(x).view(B, T, attn.n_kv_heads, attn.head_dim).transpose(1, 2)  # (B, KV, T, D)
    v = v.repeat_interleave(attn.n_heads // attn.n_kv_heads, dim=1).float()  # (B, H, T, D)
    y = (probs @ v).transpose(1, 2).reshape(B, T, attn.n_heads * attn.head_dim)  # (B, T, C)
    return attn.wo(y.to(x.dtype))  # (B, T, C)


@torch.no_grad()
def attention_maps(model: Transformer, ids: list[int] | torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Attention probabilities of every layer and head for one sequence.

    Returns (probs (L, H, T, T) float32 where row t is query t over keys 0..t, logits (T, V)).
    """
    ids = torch.as_tensor(ids, dtype=torch.long, device=model.tok_embeddings.weight.device).view(1, -1)  # (1, T)
    logits, captured = capture_attention_inputs(model, ids)
    maps = [attention_probs(block.attention, x, cos, sin)[0] for block, (x, cos, sin, _) in zip(model.layers, captured)]
    return torch.stack(maps).float(), logits[0].float()  # (L, H, T, T), (T, V)


def check_layer_head(cfg, layer: int, head: int | None) -> None:
    if not 0 <= layer < cfg.n_layers:
        raise IntrospectError(f"layer {layer} does not exist: this model has layers 0..{cfg.n_layers - 1}")
    if head is not None and not 0 <= head < cfg.n_heads:
        raise IntrospectError(f"head {head} does not exist: each layer has heads 0..{cfg.n_heads - 1}")


def cosine_neighbours(matrix: torch.Tensor, query: torch.Tensor, top: int,
                      exclude: set[int] | None = None) -> list[tuple[int, float]]:
    """The `top` rows of matrix (V, C) most cosine-similar to query (C,), skipping ids in exclude."""
    sims = F.cosine_similarity(matrix.float(), query.float().unsqueeze(0), dim=-1)  # (V,)
    if exclude:
        sims[torch.tensor(sorted(exclude), dtype=torch.long, device=sims.device)] = float("-inf")
    k = min(top, int(torch.isfinite(sims).sum()))
    vals, idx = torch.topk(sims, k)
    return [(int(i), float(v)) for i, v in zip(idx, vals)]


def analogy_vector(matrix: torch.Tensor, a: int, b: int, c: int) -> torch.Tensor:
    """a - b + c in embedding space (C,), e.g. king - man + woman."""
    m = matrix.float()
    return m[a] - m[b] + m[c]  # (C,)
