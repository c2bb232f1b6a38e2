"""Windowed evaluation over a token stream: loss per token and the sums bits-per-byte needs.

Windows of `context` tokens advance by `stride`; the first window scores every target, later ones
score only targets no earlier window scored, so each target is scored once with up to
context - stride tokens of history. `rows_nll` scores padded rows (SFT's held-out conversations)
where their mask says. Both sum model.train.losses.token_nll through `_Sums` into one EvalResult,
the one formula for loss and bits per byte:
bpb = sum NLL (nats) over byte-bearing targets / ln 2 / their bytes.
"""
from __future__ import annotations

import contextlib
import math
from dataclasses import dataclass

import torch

from model.train.losses import token_nll


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


class _Sums:
    """Running sums on the device (no host sync per batch) over the scored targets of each batch."""

    def __init__(self, device: torch.device) -> None:
        self.nll = torch.zeros((), dtype=torch.float64, device=device)
        self.byte_nll = torch.zeros((), dtype=torch.float64, device=device)
        self.bytes = torch.zeros((), dtype=torch.int64, device=device)
        self.tokens = torch.zeros((), dtype=torch.int64, device=device)

    def add(self, logits: torch.Tensor, targets: torch.Tensor, keep: torch.Tensor, token_bytes: torch.Tensor) -> None:
        """logits (B, T, V), targets (B, T), keep (B, T) (nonzero = scored), token_bytes (V,) on the device."""
        keep = keep.bool()
        nll = token_nll(logits, targets) * keep  # (B, T)
        by = token_bytes[targets] * keep  # (B, T)
        self.nll += nll.sum(dtype=torch.float64)
        self.byte_nll += (nll * (by > 0)).sum(dtype=torch.float64)
        self.bytes += by.sum()
        self.tokens += keep.sum()

    def result(self) -> EvalResult:
        return EvalResult(float(self.nll), int(self.tokens), float(self.byte_nll), int(self.bytes))


def _autocast(device: torch.device, dtype: torch.dtype):
    return torch.autocast(device.type, dtype=dtype) if dtype != torch.float32 else contextlib.nullcontext()


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
    if tokens.numel() < 2:
        return EvalResult()
    was_training = model.training
    model.eval()
    windows = plan_windows(tokens.numel(), context, stride)
    tb = token_bytes.to(device)
    sums = _Sums(device)
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
        with _autocast(device, autocast_dtype):
            logits = model(x)  # (B, T, V)
        sums.add(logits, y, keep, tb)
    model.train(was_training)
    return sums.result()


@torch.no_grad()
def rows_nll(model, ids: torch.Tensor, mask: torch.Tensor, token_bytes: torch.Tensor, *, batch_size: int = 8,
             max_rows: int | None = None, device: torch.device = torch.device("cpu"),
             autocast_dtype: torch.dtype = torch.float32) -> EvalResult:
    """Evaluate padded rows ids (N, L): inputs ids[:, :-1], targets ids[:, 1:], scored where mask[:, 1:]
    is nonzero; the first max_rows rows only (all when None). token_bytes (V,) as for windowed_nll."""
    was_training = model.training
    model.eval()
    tb = token_bytes.to(device)
    sums = _Sums(device)
    n = len(ids) if max_rows is None else min(len(ids), max_rows)
    for i in range(0, n, batch_size):
        x = ids[i:i + batch_size].to(device)  # (b, L)
        with _autocast(device, autocast_dtype):
            logits = model(x[:, :-1])  # (b, L-1, V)
        sums.add(logits, x[:, 1:], mask[i:i + batch_size, 1:].to(device), tb)
    model.train(was_training)
    return sums.result()
