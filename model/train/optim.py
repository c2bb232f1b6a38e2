"""Optimizers: AdamW (fused on CUDA, foreach elsewhere) and Muon for 2D hidden matrices.

Muon follows the modded-nanogpt speedrun: SGD-momentum (Nesterov) whose update is replaced by
its nearest semi-orthogonal matrix, computed with a quintic Newton-Schulz iteration, scaled by
sqrt(max(1, rows/cols)). Embeddings, the output head and norm gains stay on AdamW.
"""
from __future__ import annotations

import torch
import torch.nn as nn

NS_COEFFS = (3.4445, -4.7750, 2.0315)


def newton_schulz(G: torch.Tensor, steps: int = 5, dtype: torch.dtype = torch.bfloat16) -> torch.Tensor:
    """Approximately orthogonalise G (rows, cols): returns ~U V^T of its SVD, in G's dtype."""
    assert G.ndim == 2
    a, b, c = NS_COEFFS
    X = G.to(dtype)
    transposed = G.size(0) > G.size(1)
    if transposed:
        X = X.mT  # (cols, rows): work on the wide side
    X = X / (X.norm() + 1e-7)
    for _ in range(steps):
        A = X @ X.mT  # (r, r)
        B = b * A + c * (A @ A)  # (r, r)
        X = a * X + B @ X  # (r, c)
    if transposed:
        X = X.mT
    return X.to(G.dtype)


class Muon(torch.optim.Optimizer):
    def __init__(self, params, lr: float = 0.02, momentum: float = 0.95, nesterov: bool = True,
                 ns_steps: int = 5, weight_decay: float = 0.0, ns_dtype: torch.dtype = torch.bfloat16) -> None:
        defaults = dict(lr=lr, momentum=momentum, nesterov=nesterov, ns_steps=ns_steps, weight_decay=weight_decay)
        super().__init__(params, defaults)
        self.ns_dtype = ns_dtype

    @torch.no_grad()
    def step(self, closure=None):
        loss = closure() if closure is not None else None
        for group in self.param_groups:
            for p in group["params"]:
                if p.grad is None:
                    continue
                g = p.grad
                state = self.state[p]
                if "momentum_buffer" not in state:
                    state["momentum_buffer"] = torch.zeros_like(g)
                buf = state["momentum_buffer"]
                buf.lerp_(g, 1 - group["momentum"])
                g = g.lerp(buf, group["momentum"]) if group["nesterov"] else buf
                update = newton_schulz(g, group["ns_steps"], self.ns_dtype)
                scale = max(1.0, p.size(0) / p.size(1)) ** 0.5
                if group["weight_decay"]:
                    p.mul_(1 - group["lr"] * group["weight_decay"])
                p.add_(update, alpha=-group["lr"] * scale)
        return loss


def _adamw(groups, lr, betas, device: torch.device) -> torch.optim.AdamW:
    kw = {"fused": True} if device.type == "cuda" else {"foreach": True}
    return torch.optim.AdamW(groups, lr=lr, betas=betas, **kw)


def build_optimizers(model: nn.Module, name: str, *, lr: float, muon_lr: float = 0.02,
                     weight_decay: float = 0.1, betas=(0.9, 0.95), device: torch.device = torch.device("cpu"),
                     ns_dtype: torch.dtype = torch.bfloat16) -> list[torch.optim.Optimizer]:
    """Optimizers for model; each param group records its base lr as "base_lr" for schedules."""
    seen: set[int] = set()
    named = []
    for n, p in model.named_parameters():
        if p.requires_grad and id(p) not in seen:
            seen.add(id(p))
            named.append((n, p))
    if name == "adamw":
        decay = [p for n, p in named if p.ndim >= 2]
        no_decay = [p for n, p in named if p.ndim < 2]
        opts = [_adamw([{"params": decay, "weight_decay": weight_decay},
                        {"params": no_decay, "weight_decay": 0.0}], lr, betas, device)]
    elif name == "muon":
        hidden = [p for n, p in named if p.ndim == 2 and ".layers." in f".{n}" and "embeddings" not in n]
        hidden_ids = {id(p) for p in hidden}
        emb = [p for n, p in named if id(p) not in hidden_ids and p.ndim >= 2]
        rest = [p for n, p in named if id(p) not in hidden_ids and p.ndim < 2]
        opts = [_adamw([{"params": emb, "weight_decay": 0.0}, {"params": rest, "weight_decay": 0.0}],
                       lr, betas, device),
                Muon(hidden, lr=muon_lr, weight_decay=0.0, ns_dtype=ns_dtype)]
    else:
        raise ValueError(f"unknown optimizer {name!r} (use adamw or muon)")
    for opt in opts:
        for g in opt.param_groups:
            g["base_lr"] = g["lr"]
    return opts


def set_lr(opts: list[torch.optim.Optimizer], factor: float) -> float:
    """Scale every group's base lr by factor; returns the first group's lr (for logging)."""
    for opt in opts:
        for g in opt.param_groups:
            g["lr"] = g["base_lr"] * factor
    return opts[0].param_groups[0]["lr"]
