"""benchmarks/induction.py: the repeat probe's per-copy bookkeeping, checked against a model that
copies perfectly (an oracle) and one that never can (uniform logits)."""
from __future__ import annotations

import importlib.util
import math
from pathlib import Path

import torch

SPEC = importlib.util.spec_from_file_location(
    "induction_probe", Path(__file__).resolve().parent.parent / "benchmarks" / "induction.py")
probe = importlib.util.module_from_spec(SPEC)
SPEC.loader.exec_module(probe)

V = 64


class CharTok:
    """One token per character (ids 3..), bos 1."""
    bos_id = 1

    def encode(self, text: str) -> list[int]:
        return [3 + (ord(c) % (V - 3)) for c in text]


def oracle(ids: torch.Tensor) -> torch.Tensor:
    """Logits (1, T, V) of an ideal induction head: predict the token that followed the earlier
    position whose preceding tokens match the current ones longest; uniform where nothing matches."""
    seq = ids[0].tolist()
    out = torch.zeros(1, len(seq), V)
    for t in range(1, len(seq)):
        best, best_len = None, 0
        for s in range(t):
            n = 0
            while n <= s and seq[s - n] == seq[t - n]:
                n += 1
            if n > best_len:
                best, best_len = s, n
        if best is not None and best_len >= 3:
            out[0, t, seq[best + 1]] = 50.0
    return out


def test_oracle_copier_pays_only_on_the_first_copy():
    words = ["alpha", "bravo", "charlie", "delta", "echo", "foxtrot", "golf", "hotel"]
    first, second, third = probe.repeat_losses(oracle, CharTok(), words, runs=5, length=6)
    assert first > 3.0  # the first copy cannot be predicted (a few matches inside it miss at 50 nats)
    assert second < 0.1 * first  # only its first tokens, before three of them match, are uniform
    assert third < 0.05


def test_uniform_model_pays_the_same_on_every_copy():
    words = ["alpha", "bravo", "charlie"]
    losses = probe.repeat_losses(lambda ids: torch.zeros(1, ids.shape[1], V), CharTok(), words, runs=3, length=4)
    assert all(abs(x - math.log(V)) < 1e-5 for x in losses)
