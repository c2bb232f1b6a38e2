"""Weight-only int8 quantization: per-output-channel symmetric scales, fp32/bf16 activations.

`quantize_int8(model)` swaps every nn.Linear of a Transformer (attention, feed-forward, output
head) for an `Int8Linear` in place and returns the model, which stays usable by
`model(ids, start=, cache=)`, `decode_n` and the losses of model.train.losses. Embeddings and
norms stay in their float dtype (a tied head gets its own int8 copy; the embedding is untouched).

The matmul runs through `torch._weight_int8pack_mm` (int8 weights, bf16 activations, fp32
accumulation inside the kernel) where it exists; that kernel needs K % 16 == 0 (other widths
crash or give wrong numbers on torch 2.13 CPU), so weights are zero-padded to a multiple of 16.
Without it, the weight is dequantized on the fly (slower, but correct everywhere).
A quantized model cannot be saved with `save_model` (its state dict holds int8 buffers).
"""
from __future__ import annotations

import torch
import torch.nn as nn
import torch.nn.functional as F

_PACK = hasattr(torch, "_weight_int8pack_mm")
PAD = 16  # _weight_int8pack_mm needs the reduction dim to be a multiple of 16


def quantize_weight(w: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """w (N, K) float -> (int8 (N, K), fp32 scales (N,)) with w ~= q * scales[:, None]."""
    w = w.detach().float()
    scales = w.abs().amax(dim=1).clamp(min=1e-8) / 127.0  # (N,)
    q = torch.round(w / scales[:, None]).clamp(-127, 127).to(torch.int8)  # (N, K)
    return q, scales


class Int8Kernel:
    """y = x @ (q * scales).T for x (M, K): the int8 matmul used by Int8Linear and model.fast."""

    def __init__(self, q: torch.Tensor, scales: torch.Tensor, *, use_pack: bool | None = None) -> None:
        self.out_features, self.in_features = q.shape
        self.use_pack = _PACK if use_pack is None else (use_pack and _PACK)
        self.pad = (-self.in_features) % PAD if self.use_pack else 0
        if self.pad:
            q = F.pad(q, (0, self.pad))  # (N, K + pad), zero columns change nothing
        self.q = q.contiguous()  # (N, K')
        self.scales = scales.float()  # (N,)
        self.scales_bf16 = self.scales.to(torch.bfloat16)  # (N,)

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        """x (M, K) any float dtype -> (M, N) in x.dtype."""
        if self.use_pack:
            xb = x.to(torch.bfloat16)
            if self.pad:
                xb = F.pad(xb, (0, self.pad))  # (M, K')
            return torch._weight_int8pack_mm(xb, self.q, self.scales_bf16).to(x.dtype)  # (M, N)
        w = self.q[:, :self.in_features].to(x.dtype)  # (N, K) dequantized on the fly
        return (x @ w.t()) * self.scales.to(x.dtype)  # (M, N)

    def to(self, device: torch.device | str) -> Int8Kernel:
        self.q, self.scales = self.q.to(device), self.scales.to(device)
        self.scales_bf16 = self.scales_bf16.to(device)
        return self


class Int8Linear(nn.Module):
    """Drop-in for a bias-free nn.Linear with int8 weights and per-output-channel scales."""

    def __init__(self, linear: nn.Linear, *, use_pack: bool | None = None) -> None:
        super().__init__()
        assert linear.bias is None, "chatcli linears have no bias"
        q, scales = quantize_weight(linear.weight)
        self.in_features, self.out_features = linear.in_features, linear.out_features
        self.register_buffer("weight_int8", q)  # (N, K)
        self.register_buffer("scales", scales)  # (N,)
        self.float_dtype = linear.weight.dtype
        self._kernel = Int8Kernel(q, scales, use_pack=use_pack)

    def _apply(self, fn, recurse=True):  # keep the kernel's tensors on the module's device
        out = super()._apply(fn, recurse)
        self._kernel.to(self.weight_int8.device)
        return out

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        shape = x.shape
        y = self._kernel(x.reshape(-1, shape[-1]))  # (M, N)
        return y.view(*shape[:-1], self.out_features)

    def dequantized(self) -> torch.Tensor:
        return self.weight_int8.float() * self.scales[:, None]  # (N, K)

    def extra_repr(self) -> str:
        return f"in_features={self.in_features}, out_features={self.out_features}, int8"


def quantize_int8(model: nn.Module, *, use_pack: bool | None = None) -> nn.Module:
    """Replace every nn.Linear in model with Int8Linear, in place; returns the model."""
    for parent in list(model.modules()):
        for name, child in list(parent.named_children()):
            if isinstance(child, nn.Linear):
                setattr(parent, name, Int8Linear(child, use_pack=use_pack).to(child.weight.device))
    model.quantized = "int8"
    return model
