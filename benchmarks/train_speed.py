"""Training throughput (tokens/s) of chatcli's real training loop on nanoGPT's reference shapes.

Shapes (random token data, AdamW, grad clip 1.0, as nanoGPT's train.py):
  gpt13m : 6 layers, 384 wide, 6 heads, vocab 8192, context 256, batch 16  (nanoGPT: 1,780 tok/s fp32,
           4,651 tok/s bf16 autocast, on the 2-core reference CPU)
  char   : 4 layers, 128 wide, 4 heads, vocab 65, context 64, batch 12      (nanoGPT: 23,800 tok/s)

Usage: python benchmarks/train_speed.py [--steps 20] [--dtype auto|fp32|bf16] [--compile] [--shape gpt13m|char|all]
Prints one line per shape with the ratio against nanoGPT's figure (target >= 2.5x), and --json for a document.
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import torch  # noqa: E402

from chatcli.device import train_dtype  # noqa: E402
from model.config import ModelConfig  # noqa: E402
from model.train.config import TrainConfig  # noqa: E402
from model.train.loop import Counters, LoopHooks, run_loop  # noqa: E402
from model.train.losses import lm_loss  # noqa: E402
from model.train.optim import build_optimizers  # noqa: E402
from model.transformer import Transformer  # noqa: E402

SHAPES = {
    "gpt13m": (dict(vocab_size=8192, dim=384, n_layers=6, n_heads=6, max_seq_len=256), 16, {"fp32": 1780, "bf16": 4651}),
    "char": (dict(vocab_size=65, dim=128, n_layers=4, n_heads=4, max_seq_len=64), 12, {"fp32": 23800}),
    # the bundled model's recipe: v3 (vocab 8192, micro-batch 16) and v4 (vocab 4096, micro-batch 32)
    "recipe-v3": (dict(vocab_size=8192, dim=192, n_layers=6, n_heads=6, ffn_hidden=512, max_seq_len=256), 16, {"fp32": 1780}),
    "recipe-v4": (dict(vocab_size=4096, dim=192, n_layers=6, n_heads=6, ffn_hidden=512, max_seq_len=256), 32, {"fp32": 1780}),
}


def measure(shape: str, steps: int, warmup: int, dtype_name: str, compile_: bool, optimizer: str) -> dict:
    kw, batch, ref = SHAPES[shape]
    cfg = ModelConfig(**kw)
    device = torch.device("cpu")
    dtype = train_dtype(dtype_name, device)
    torch.manual_seed(0)
    raw = Transformer(cfg)
    model = torch.compile(raw) if compile_ else raw
    T = cfg.max_seq_len
    data = torch.randint(0, cfg.vocab_size, (64, batch, T + 1))
    tcfg = TrainConfig(max_steps=warmup + steps, batch_size=batch, context=T, lr=1e-3, warmup_steps=0,
                       log_every=10**9, eval_every=0, ckpt_every=0, optimizer=optimizer)
    opts = build_optimizers(raw, optimizer, lr=1e-3, device=device,
                            ns_dtype=torch.bfloat16 if dtype == torch.bfloat16 else torch.float32)

    def get_batch(step, micro):
        b = data[step % 64]
        return b[:, :-1], b[:, 1:]

    hooks = LoopHooks(get_batch, lambda m, b: (lm_loss(m, *b), {}), batch * T)
    counters = Counters()
    tcfg.max_steps = warmup
    run_loop(model, raw, opts, tcfg, hooks, counters, device=device, dtype=dtype)
    tcfg.max_steps = warmup + steps
    t0 = time.perf_counter()
    run_loop(model, raw, opts, tcfg, hooks, counters, device=device, dtype=dtype)
    dt = time.perf_counter() - t0
    tok_s = steps * batch * T / dt
    key = "bf16" if dtype == torch.bfloat16 and "bf16" in ref else "fp32"
    return {"shape": shape, "params": raw.num_params(), "dtype": str(dtype).replace("torch.", ""),
            "compile": compile_, "optimizer": optimizer, "steps": steps, "tok_s": round(tok_s, 1),
            "nanogpt_tok_s": ref["fp32"], "ratio_vs_nanogpt_fp32": round(tok_s / ref["fp32"], 2),
            **({"ratio_vs_nanogpt_bf16": round(tok_s / ref["bf16"], 2)} if "bf16" in ref else {}),
            "ref_key": key, "threads": torch.get_num_threads()}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--shape", default="all", choices=["all", *SHAPES])
    ap.add_argument("--steps", type=int, default=20)
    ap.add_argument("--warmup", type=int, default=3)
    ap.add_argument("--dtype", default="auto")
    ap.add_argument("--optimizer", default="adamw")
    ap.add_argument("--compile", action="store_true")
    ap.add_argument("--threads", type=int, default=0)
    ap.add_argument("--json", action="store_true")
    a = ap.parse_args()
    if a.threads:
        torch.set_num_threads(a.threads)
    results = []
    for shape in (SHAPES if a.shape == "all" else [a.shape]):
        r = measure(shape, a.steps, a.warmup, a.dtype, a.compile, a.optimizer)
        results.append(r)
        if not a.json:
            extra = f", {r['ratio_vs_nanogpt_bf16']}x nanoGPT bf16" if "ratio_vs_nanogpt_bf16" in r else ""
            print(f"{shape:7s} {r['params'] / 1e6:5.2f}M params {r['dtype']:8s} compile={r['compile']}: "
                  f"{r['tok_s']:>9,.0f} tok/s = {r['ratio_vs_nanogpt_fp32']}x nanoGPT fp32{extra} (target 2.5x)")
    if a.json:
        print(json.dumps(results))


if __name__ == "__main__":
    main()
