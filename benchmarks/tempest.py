"""Quality per CPU-minute: train on Shakespeare minus The Tempest for a time budget, report Tempest bpb.

Reference (nanoGPT char-level, same split, 2-core CPU): 2.81 bpb after 77 s, 2.46 after 9.6 min,
2.32 after 28 min. Target: <= 0.85x those at the same wall-clock (2.39 / 2.09 / 1.97).

Usage: python benchmarks/tempest.py [DATA_ROOT] [--budget 77] [--preset tiny] [--vocab-size 1024]
The budget covers tokenizer training + model training (evaluation is not counted).
"""
from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

REFERENCE = [(77, 2.81), (9.6 * 60, 2.46), (28 * 60, 2.32)]


def split_tempest(text: str) -> tuple[str, str]:
    """(The Tempest, everything else): the play runs from its title line to the next work's title."""
    lines = text.split("\n")
    starts = [i - 1 for i, line in enumerate(lines) if line.strip() == "by William Shakespeare" and i > 0]
    titles = [lines[i].strip() for i in starts]
    if "THE TEMPEST" not in titles:
        raise SystemExit("shakespeare.txt: could not find THE TEMPEST")
    k = titles.index("THE TEMPEST")
    a, b = starts[k], starts[k + 1] if k + 1 < len(starts) else len(lines)
    return "\n".join(lines[a:b]), "\n".join(lines[:a] + lines[b:])


def reference_at(seconds: float) -> float:
    """nanoGPT's Tempest bpb interpolated (log-time) at the given wall-clock."""
    import math
    pts = REFERENCE
    if seconds <= pts[0][0]:
        return pts[0][1]
    for (t0, v0), (t1, v1) in zip(pts, pts[1:]):
        if seconds <= t1:
            w = (math.log(seconds) - math.log(t0)) / (math.log(t1) - math.log(t0))
            return v0 + w * (v1 - v0)
    return pts[-1][1]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("data_root", nargs="?", default="../shared/data")
    ap.add_argument("--budget", type=float, default=77.0, help="seconds for tokenizer + training")
    ap.add_argument("--preset", default="tiny")
    ap.add_argument("--vocab-size", type=int, default=1024)
    ap.add_argument("--context", type=int, default=256)
    ap.add_argument("--batch-size", type=int, default=16)
    ap.add_argument("--lr", type=float, default=3e-3)
    ap.add_argument("--optimizer", default="adamw")
    ap.add_argument("--dtype", default="auto")
    ap.add_argument("--threads", type=int, default=0)
    ap.add_argument("--out", type=Path, default=None, help="keep the run here (default: a temp dir)")
    a = ap.parse_args()

    from chatcli.training.evaluate import evaluate_text
    from chatcli.training.pretrain import pretrain
    from chatcli.training.runner import RunOptions
    from chatcli.training.tokenizer_stage import train_tokenizer_on
    from model.train.config import TrainConfig

    src = Path(a.data_root) / "en" / "shakespeare.txt"
    tempest, rest = split_tempest(src.read_text(encoding="utf-8"))
    work = a.out or Path(tempfile.mkdtemp(prefix="tempest-"))
    work.mkdir(parents=True, exist_ok=True)
    (work / "rest.txt").write_text(rest, encoding="utf-8")
    (work / "tempest.txt").write_text(tempest, encoding="utf-8")
    t0 = time.perf_counter()
    train_tokenizer_on([str(work / "rest.txt")], a.vocab_size, work / "tok")
    left = a.budget - (time.perf_counter() - t0)
    if left <= 5:
        raise SystemExit(f"tokenizer training used the whole budget ({a.budget - left:.0f} s)")
    cfg = TrainConfig(max_steps=100_000, batch_size=a.batch_size, context=a.context, lr=a.lr, warmup_steps=30,
                      optimizer=a.optimizer, eval_every=0, ckpt_every=0, log_every=25, time_budget_s=left,
                      min_lr_ratio=0.05)
    pretrain([str(work / "rest.txt")], work / "tok", a.preset, cfg,
             RunOptions(out=work / "model", dtype=a.dtype, threads=a.threads), val_frac=0.0)
    wall = time.perf_counter() - t0
    res = evaluate_text(work / "model", work / "tempest.txt", dtype=a.dtype)
    ref = reference_at(wall)
    out = {"tempest_bpb": round(res["bpb"], 4), "wall_s": round(wall, 1), "nanogpt_bpb_at_same_time": round(ref, 3),
           "ratio": round(res["bpb"] / ref, 3), "target_ratio": 0.85, "preset": a.preset, "vocab_size": a.vocab_size,
           "tokens": res["tokens"], "bytes": res["bytes"], "run_dir": str(work)}
    print(json.dumps(out))


if __name__ == "__main__":
    main()
