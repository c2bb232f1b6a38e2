"""FastDecoder: an inference-only view of a Transformer laid out for decode speed.

Built from a Transformer's weights (fp32, bf16, or int8 after model.quantize.quantize_int8):
- QKV and gate/up projections fused into one matmul each, weights pre-transposed and contiguous
  (`x @ W_t` runs MKL's multi-threaded path; `F.linear` on a (1, K) row ran on one thread);
- the residual projections as one `addmm` (matmul and residual add in one op);
- RoPE from precomputed tables as `x * cos + roll(x) * sin_signed` (no cat/neg per token);
- the KV cache written in place at explicit positions; attention through SDPA.

It is a model.engine engine (`prefill`, `decode_one`, `new_cache`), and `FastDecoder(model)(ids,
start=, cache=)` still returns logits (B, T, V) like the model. `step_static` is the fixed-shape
step (position as a tensor, full-length cache + mask, as in gpt-fast) that model.compiled turns
into one compiled graph (Inductor on CPU, CUDA graphs on a GPU).
"""
from __future__ import annotations

import torch
import torch.nn as nn
import torch.nn.functional as F

from model.kv_cache import KVCache
from model.quantize import Int8Kernel, Int8Linear


class DenseKernel:
    """y = x @ W_t with W_t (K, N) pre-transposed in the compute dtype."""

    def __init__(self, weight: torch.Tensor) -> None:  # weight (N, K) as in nn.Linear
        self.wt = weight.detach().t().contiguous()  # (K, N)

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        return x @ self.wt  # (M, N)

    def addmm(self, res: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        return torch.addmm(res, x, self.wt)  # (M, N) = res + x @ W_t


class _Int8(Int8Kernel):
    def addmm(self, res: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        return res + self(x)  # (M, N)


def _weight(linear: nn.Module) -> tuple[torch.Tensor, torch.Tensor | None]:
    """(weight, scales) of a float or int8 linear; scales None for float."""
    if isinstance(linear, Int8Linear):
        return linear.weight_int8, linear.scales
    return linear.weight, None


def _kernel(linears: list[nn.Module], dtype: torch.dtype):
    """One fused kernel for linears sharing an input (rows concatenated)."""
    parts = [_weight(m) for m in linears]
    if parts[0][1] is not None:  # int8 already: concatenating rows keeps per-row scales exact
        return _Int8(torch.cat([w for w, _ in parts]), torch.cat([s for _, s in parts]))
    return DenseKernel(torch.cat([w for w, _ in parts]).to(dtype))  # (N, K)


class FastDecoder(nn.Module):
    """Decode-oriented copy of a Transformer's weights; same forward signature as the model."""

    name = "fast"

    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        cfg = model.config
        self.config = cfg
        self.dtype = model.tok_embeddings.weight.dtype  # compute dtype of activations
        self.H, self.KV, self.D = cfg.n_heads, cfg.n_kv_heads, cfg.head_dim
        self.C, self.FF, self.eps = cfg.dim, cfg.ffn_hidden, cfg.norm_eps
        self.n_qk = (self.H + self.KV) * self.D
        self.register_buffer("emb", model.tok_embeddings.weight.detach(), persistent=False)  # (V, C)
        half = self.D // 2
        sign = torch.cat([-torch.ones(half), torch.ones(half)])  # rotate-half as roll * sign
        self.register_buffer("cos", model.rope_cos.float().unsqueeze(1).clone(), persistent=False)  # (S, 1, D)
        self.register_buffer("sin", (model.rope_sin.float() * sign).unsqueeze(1), persistent=False)  # (S, 1, D)
        self.layers = []
        for blk in model.layers:
            att, ff = blk.attention, blk.feed_forward
            self.layers.append((blk.attention_norm.weight.detach(), _kernel([att.wq, att.wk, att.wv], self.dtype),
                                _kernel([att.wo], self.dtype), blk.ffn_norm.weight.detach(),
                                _kernel([ff.w1, ff.w3], self.dtype), _kernel([ff.w2], self.dtype)))
        self.norm_w = model.norm.weight.detach()
        self.head = _kernel([model.output], self.dtype)
        self.static: KVCache | None = None

    @property
    def device(self) -> torch.device:
        return self.emb.device

    def num_params(self) -> int:
        return self.config.num_params()

    def new_cache(self, batch: int = 1, max_len: int | None = None) -> KVCache:
        return KVCache.for_model(self.config, batch, max_len, device=self.device, dtype=self.dtype)

    def prefill(self, ids: torch.Tensor, start: int, cache: KVCache) -> torch.Tensor:
        """ids (B, T) at positions start..start+T-1 -> logits of the last one (B, V)."""
        return self.forward(ids, start, cache)[:, -1]  # (B, V)

    def decode_one(self, token: torch.Tensor, pos: int, cache: KVCache) -> torch.Tensor:
        """token (B,) at position pos -> logits (B, V)."""
        return self.forward(token.view(-1, 1), pos, cache)[:, -1]  # (B, V)

    def _rope(self, x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor) -> torch.Tensor:
        """x (B, T, H, D); cos, sin (T, 1, D) fp32."""
        out = x * cos + torch.roll(x, self.D // 2, -1) * sin  # (B, T, H, D)
        return out if out.dtype == x.dtype else out.to(x.dtype)

    @torch.inference_mode()
    def forward(self, ids: torch.Tensor, start: int = 0, cache: KVCache | None = None) -> torch.Tensor:
        """Logits (B, T, V) for ids (B, T) at positions start..start+T-1, appended to cache."""
        B, T = ids.shape
        end = start + T
        if end > self.config.max_seq_len:
            raise ValueError(f"sequence of {end} positions exceeds max_seq_len {self.config.max_seq_len}")
        if cache is None:
            cache, start, end = self.new_cache(B, T), 0, T
        H, KV, D, n_qk = self.H, self.KV, self.D, self.n_qk
        cos, sin = self.cos[start:end], self.sin[start:end]  # (T, 1, D)
        mask = None
        if T > 1 and start > 0:  # a chunk after cached positions: query t sees keys 0 .. start + t
            mask = torch.ones(T, end, dtype=torch.bool, device=ids.device).tril(diagonal=start)  # (T, S)
        x = F.embedding(ids.reshape(-1), self.emb)  # (B*T, C)
        for i, (an, qkv_k, wo_k, fn, w13_k, w2_k) in enumerate(self.layers):
            h = F.rms_norm(x, (self.C,), an, self.eps)  # (B*T, C)
            qkv = qkv_k(h)  # (B*T, (H+2KV)*D)
            qk = self._rope(qkv[:, :n_qk].view(B, T, H + KV, D), cos, sin)  # (B, T, H+KV, D)
            q = qk[:, :, :H].transpose(1, 2)  # (B, H, T, D)
            kc, vc = cache.k[i], cache.v[i]  # (B, KV, S, D)
            kc[:, :, start:end] = qk[:, :, H:].transpose(1, 2)
            vc[:, :, start:end] = qkv[:, n_qk:].view(B, T, KV, D).transpose(1, 2)
            y = F.scaled_dot_product_attention(q, kc[:, :, :end], vc[:, :, :end], attn_mask=mask,
                                               is_causal=mask is None and T > 1, enable_gqa=KV != H)  # (B, H, T, D)
            x = wo_k.addmm(x, y.transpose(1, 2).reshape(B * T, H * D))  # (B*T, C)
            h = F.rms_norm(x, (self.C,), fn, self.eps)  # (B*T, C)
            gu = w13_k(h)  # (B*T, 2F)
            x = w2_k.addmm(x, F.silu(gu[:, :self.FF]) * gu[:, self.FF:])  # (B*T, C)
        x = F.rms_norm(x, (self.C,), self.norm_w, self.eps)  # (B*T, C)
        return self.head(x).view(B, T, -1)  # (B, T, V)

    # ---- fixed-shape step for torch.compile / CUDA graphs -------------------------------------

    def setup_static(self, batch: int, max_len: int | None = None) -> KVCache:
        """Allocate the cache the static step writes into (registered as buffers: fixed addresses)."""
        self.static = self.new_cache(batch, max_len or self.config.max_seq_len)
        self.register_buffer("static_k", self.static.k, persistent=False)
        self.register_buffer("static_v", self.static.v, persistent=False)
        return self.static

    def step_static(self, token: torch.Tensor, pos: torch.Tensor) -> torch.Tensor:
        """token (B,) long at position pos (1,) long -> logits (B, V); shapes never change."""
        B = token.shape[0]
        H, KV, D, n_qk = self.H, self.KV, self.D, self.n_qk
        S = self.static_k.shape[3]
        cos, sin = self.cos.index_select(0, pos), self.sin.index_select(0, pos)  # (1, 1, D)
        mask = (torch.arange(S, device=pos.device) <= pos).view(1, 1, 1, S)  # (1, 1, 1, S)
        x = F.embedding(token, self.emb)  # (B, C)
        for i, (an, qkv_k, wo_k, fn, w13_k, w2_k) in enumerate(self.layers):
            h = F.rms_norm(x, (self.C,), an, self.eps)
            qkv = qkv_k(h)  # (B, (H+2KV)*D)
            qk = self._rope(qkv[:, :n_qk].view(B, 1, H + KV, D), cos, sin)  # (B, 1, H+KV, D)
            kc, vc = self.static_k[i], self.static_v[i]  # (B, KV, S, D)
            kc.index_copy_(2, pos, qk[:, :, H:].transpose(1, 2))
            vc.index_copy_(2, pos, qkv[:, n_qk:].view(B, 1, KV, D).transpose(1, 2))
            y = F.scaled_dot_product_attention(qk[:, :, :H].transpose(1, 2), kc, vc, attn_mask=mask,
                                               enable_gqa=KV != H)  # (B, H, 1, D)
            x = wo_k.addmm(x, y.reshape(B, H * D))  # (B, C)
            h = F.rms_norm(x, (self.C,), fn, self.eps)
            gu = w13_k(h)  # (B, 2F)
            x = w2_k.addmm(x, F.silu(gu[:, :self.FF]) * gu[:, self.FF:])  # (B, C)
        return self.head(F.rms_norm(x, (self.C,), self.norm_w, self.eps))  # (B, V)


def fast_decoder(model: nn.Module) -> FastDecoder:
    """The decode-speed view of a (possibly int8-quantized) Transformer."""
    return FastDecoder(model)
