"""Does a model copy? Loss on a random run of words, then on the same run repeated (an induction probe).

A model with induction heads predicts the second and third copy almost for free (a few tenths of a
nat per token); a model without them pays about the same on every copy. The bundled model's task
failures (spelling backwards, arithmetic, copying a word out of a question) come down to this.

Usage: python benchmarks/induction.py MODEL_DIR [MODEL_DIR ...] [--runs 20] [--words 12] [--json]
"""
from __future__ import annotations

import argparse
import json
import random
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))


def repeat_losses(model, tok, words: list[str], runs: int, length: int, copies: int = 3,
                  seed: int = 0) -> list[float]:
    """Mean next-token loss (nats) on each copy of `runs` random runs of `length` words."""
    import torch

    from model.train.losses import token_logprobs
    rng = random.Random(seed)
    totals = [0.0] * copies
    for _ in range(runs):
        run = " ".join(rng.choice(words) for _ in range(length))
        parts = [tok.encode(run + ("\n" if i < copies - 1 else "")) for i in range(copies)]
        ids = torch.tensor([[tok.bos_id, *sum(parts, [])]])  # (1, T)
        with torch.no_grad():
            nll = -token_logprobs(model, ids[:, :-1], ids[:, 1:])[0]  # (T-1,)
        pos = 0
        for i, p in enumerate(parts):
            totals[i] += float(nll[pos:pos + len(p)].mean()) / runs
            pos += len(p)
    return totals


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("models", nargs="+", type=Path)
    ap.add_argument("--runs", type=int, default=20)
    ap.add_argument("--words", type=int, default=12, help="words per run")
    ap.add_argument("--json", action="store_true")
    a = ap.parse_args()

    import torch

    from chatcli.bundle import load_bundle
    from recipes.tasks import synthetic

    words = sorted(synthetic.COMMON_WORDS)
    rows = []
    for path in a.models:
        b = load_bundle(path, device=torch.device("cpu"), dtype=torch.float32)
        losses = repeat_losses(b.model.eval(), b.tokenizer, words, a.runs, a.words)
        rows.append({"model": str(path), "copy_losses": [round(x, 3) for x in losses],
                     "repeat_gain": round(losses[0] - losses[-1], 3)})
    if a.json:
        print(json.dumps(rows, indent=2))
        return
    for r in rows:
        first, *rest = r["copy_losses"]
        print(f"{r['model']}: first copy {first:.2f} nats/token, repeats {' / '.join(f'{x:.2f}' for x in rest)}")


if __name__ == "__main__":
    main()
