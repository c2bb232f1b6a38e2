"""Learning-rate multipliers: linear warmup then cosine, warmup-stable-decay (WSD), or constant."""
from __future__ import annotations

import math


def lr_factor(step: int, max_steps: int, warmup: int, kind: str = "cosine",
              min_ratio: float = 0.1, decay_frac: float = 0.2) -> float:
    """Multiplier in [min_ratio, 1] for optimizer step `step` (0-based)."""
    if warmup > 0 and step < warmup:
        return (step + 1) / warmup
    if kind == "constant":
        return 1.0
    if kind == "cosine":
        span = max(1, max_steps - warmup)
        progress = min(1.0, (step - warmup) / span)
        return min_ratio + (1 - min_ratio) * 0.5 * (1 + math.cos(math.pi * progress))
    if kind == "wsd":
        decay_steps = max(1, int(round(max_steps * decay_frac)))
        decay_start = max_steps - decay_steps
        if step < decay_start:
            return 1.0
        progress = min(1.0, (step - decay_start + 1) / decay_steps)
        return 1.0 - (1 - min_ratio) * progress
    raise ValueError(f"unknown schedule {kind!r} (use cosine, wsd or constant)")
