"""Windowed evaluation over a token stream: loss per token and the sums bits-per-byte needs.

Windows of `context` tokens advance by `stride`; the first window scores every target, later ones
score only targets no earlier window scored, so each target is scored once with up to
context - stride tokens of history. bpb = sum NLL (nats) over byte-bearing targets / ln 2 / their bytes.
"""
from __future__ import annotations

import contextlib
import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F


@dataclass
class EvalResult:
    nll_sum: float = 0.0  # over all scored targets
    tokens: int = 0
    byte_nll_sum: float = 0.0  # over targets that carry text bytes
    bytes: int = 0

    @property
    def loss(self) -> float:
        return self.nll_sum / max(1, self.tokens)

    @property
    def bpb(self) -> float:
        return self.byte_nll_sum / math.log(2) / max(1, self.bytes)

    def to_dict(self) -> dict:
        return {"loss": self.loss, "bpb": self.bpb, "tokens": self.tokens, "bytes": self.bytes}


def plan_windows(n_tokens: int, context: int, stride: int) -> list[tuple[int, int, int]]:
    """(start, end, score_from) per window: inputs tokens[start:end], targets tokens[start+1:end+1],
    of which targets at absolute target index >= score_from are scored."""
    assert 0 < stride <= context
    out, done, s = [], 0, 0
    n_targets = n_tokens - 1
    while done < n_targets:
        end = min(s + context, n_targets)
        out.append((s, end, max(done, s)))
        done = end
        s += stride
    return out


@torch.no_grad()
def windowed_nll(model, tokens: torch.Tensor, token_bytes: torch.Tensor, *, context: int, stride: int | None = None,
                 batch_size: int = 8, device: torch.device = torch.device("cpu"),
                 autocast_dtype: torch.dtype = torch.float32) -> EvalResult:
    """Evaluate model on tokens (N,) int64; token_bytes (V,) int64 gives each id's UTF-8 byte count."""
    stride = stride or context
    res = EvalResult()
    if tokens.numel() < 2:
        return res
    was_training = model.training
    model.eval()
    windows = plan_windows(tokens.numel(), context, stride)
    tb = token_bytes.to(device)
    amp = (torch.autocast(device.type, dtype=autocast_dtype) if autocast_dtype != torch.float32
           else contextlib.nullcontext())
    nll_sum = torch.zeros((), dtype=torch.float64, device=device)
    byte_nll = torch.zeros((), dtype=torch.float64, device=device)
    n_bytes = torch.zeros((), dtype=torch.int64, device=device)
    i = 0
    while i < len(windows):
        length = windows[i][1] - windows[i][0]
        group = [windows[i]]
        while i + len(group) < len(windows) and len(group) < batch_size and \
                windows[i + len(group)][1] - windows[i + len(group)][0] == length:
            group.append(windows[i + len(group)])
        i += len(group)
        x = torch.stack([tokens[s:e] for s, e, _ in group]).to(device)  # (B, T)
        y = torch.stack([tokens[s + 1:e + 1] for s, e, _ in group]).to(device)  # (B, T)
        keep = torch.stack([torch.arange(s, e) >= f for s, e, f in group]).to(device)  # (B, T)
        with amp:
            logits = model(x)  # (B, T, V)
        nll = F.cross_entropy(logits.float().flatten(0, 1), y.flatten(), reduction="none").view_as(y)  # (B, T)
        nll = nll * keep
        by = tb[y] * keep  # (B, T)
        nll_sum += nll.sum(dtype=torch.float64)
        byte_nll += (nll * (by > 0)).sum(dtype=torch.float64)
        n_bytes += by.sum()
        res.tokens += int(keep.sum())
    res.nll_sum, res.byte_nll_sum, res.bytes = float(nll_sum), float(byte_nll), int(n_bytes)
    model.train(was_training)
    return res
