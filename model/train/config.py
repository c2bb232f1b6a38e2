"""TrainConfig: every knob of the optimisation loop, in one dataclass."""
from __future__ import annotations

from dataclasses import asdict, dataclass


@dataclass
class TrainConfig:
    max_steps: int = 1000
    batch_size: int = 16  # sequences per micro-batch per rank
    grad_accum: int = 1
    context: int = 256
    lr: float = 3e-3  # AdamW lr (and the AdamW part of Muon)
    muon_lr: float = 0.02
    min_lr_ratio: float = 0.1
    warmup_steps: int = -1  # -1: 2% of max_steps (at least 1 when max_steps > 10)
    schedule: str = "cosine"  # cosine | wsd | constant
    decay_frac: float = 0.2  # wsd: final fraction of steps spent decaying
    weight_decay: float = 0.1
    beta1: float = 0.9
    beta2: float = 0.95
    grad_clip: float = 1.0
    optimizer: str = "adamw"  # adamw | muon
    seed: int = 1337
    log_every: int = 10
    eval_every: int = 200
    eval_tokens: int = 32768
    ckpt_every: int = 500
    time_budget_s: float = 0.0  # >0: stop after this much training time; the schedule follows elapsed time

    def warmup(self) -> int:
        if self.warmup_steps >= 0:
            return self.warmup_steps
        return max(1, self.max_steps // 50) if self.max_steps > 10 else 0

    def to_dict(self) -> dict:
        return asdict(self)
