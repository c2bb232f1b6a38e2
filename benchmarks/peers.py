"""Side-by-side decode speed: chatcli engines vs Hugging Face transformers, same shapes, same process.

    python benchmarks/peers.py                       # the three llama2.c stories shapes
    python benchmarks/peers.py --shapes stories15m --gen 255 --reps 5 --threads 2

For each shape: a random-weight chatcli Transformer (seed 0) and a LlamaForCausalLM carrying the
same weights (model.hf.hf_config + renamed state dict). Every engine generates `gen` tokens
greedily after a 1-token prompt (llama2.c's setting: 256 positions = 1 + 255); the engines run
interleaved, one repetition each in turn, so background load hits all of them alike. Reported:
end-to-end tok/s (median over reps), ratio to HF, and llama2.c's run.c figures measured on the
development machine as reference columns (they are not re-measured here).
"""
from __future__ import annotations

import argparse
import datetime
import json
import platform
import statistics
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from model.config import preset  # noqa: E402
from model.fast import FastDecoder  # noqa: E402
from model.kv_cache import KVCache  # noqa: E402
from model.quantize import quantize_int8  # noqa: E402
from model.sampling import SamplingConfig, make_generator, sample  # noqa: E402
from model.transformer import Transformer  # noqa: E402

# llama2.c run.c greedy, OpenMP 2 threads, 256 positions, tok/s (median of 5) on the dev machine
LLAMA2C = {"stories260k": 18214, "stories15m": 807, "stories42m": 291}
HF_MEASURED = {"stories260k": 885, "stories15m": 155, "stories42m": 71}  # same machine, same setting


def hf_model(model: Transformer):
    from transformers import LlamaConfig, LlamaForCausalLM
    from model.hf import hf_config, to_hf_name
    cfg = LlamaConfig(**{k: v for k, v in hf_config(model.config).items() if k not in ("architectures",)})
    hf = LlamaForCausalLM(cfg).eval()
    sd = {to_hf_name(k): v for k, v in model.state_dict().items() if not k.startswith("rope_")}
    missing, unexpected = hf.load_state_dict(sd, strict=False)
    assert not unexpected, unexpected
    return hf


@torch.inference_mode()
def run_ours(engine, cfg, gen: int, sampling: SamplingConfig | None = None) -> float:
    """Seconds for 1-token prompt + gen greedy (or sampled) tokens; one host sync at the end."""
    gen_ = make_generator(0) if sampling else None
    cache = KVCache.for_model(cfg, 1, gen + 1, dtype=next(engine.parameters()).dtype)
    t0 = time.perf_counter()
    token = torch.ones(1, dtype=torch.long)
    for pos in range(gen):
        logits = engine(token.view(1, 1), start=pos, cache=cache)[:, -1]  # (1, V)
        token = logits.argmax(-1) if sampling is None else sample(logits, sampling, gen_)
    token.tolist()
    return time.perf_counter() - t0


@torch.inference_mode()
def run_hf(hf, gen: int) -> float:
    ids = torch.ones(1, 1, dtype=torch.long)
    t0 = time.perf_counter()
    out = hf.generate(ids, max_new_tokens=gen, min_new_tokens=gen, do_sample=False, use_cache=True,
                      pad_token_id=0, eos_token_id=None)
    assert out.shape[1] == gen + 1
    return time.perf_counter() - t0


def bench_shape(name: str, gen: int, reps: int, with_hf: bool = True) -> dict:
    torch.manual_seed(0)
    model = Transformer(preset(name)).eval()
    cfg = model.config
    gen = min(gen, cfg.max_seq_len - 1)
    engines = {
        "reference fp32": lambda: run_ours(model, cfg, gen),
        "fast fp32": (lambda f: lambda: run_ours(f, cfg, gen))(FastDecoder(model)),
        "fast fp32 top-p": (lambda f: lambda: run_ours(f, cfg, gen, SamplingConfig(
            temperature=0.8, top_p=0.95, repeat_penalty=1.0)))(FastDecoder(model)),
        "fast bf16": (lambda f: lambda: run_ours(f, cfg, gen))(FastDecoder(_copy(model, torch.bfloat16))),
        "fast int8": (lambda f: lambda: run_ours(f, cfg, gen))(FastDecoder(quantize_int8(_copy(model)))),
    }
    if with_hf:
        hf = hf_model(model)
        engines["transformers fp32"] = lambda: run_hf(hf, gen)
    times: dict[str, list[float]] = {k: [] for k in engines}
    for fn in engines.values():  # warm-up
        fn()
    for _ in range(reps):
        for k, fn in engines.items():
            times[k].append(fn())
    rates = {k: gen / statistics.median(v) for k, v in times.items()}
    return {"shape": name, "gen": gen, "reps": reps, "tok_s": rates}


def _copy(model: Transformer, dtype: torch.dtype = torch.float32) -> Transformer:
    m = Transformer(model.config)
    m.load_state_dict(model.state_dict())
    return m.to(dtype).eval()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--shapes", default="stories260k,stories15m,stories42m")
    ap.add_argument("--gen", type=int, default=255)
    ap.add_argument("--reps", type=int, default=5)
    ap.add_argument("--threads", type=int, default=0)
    ap.add_argument("--no-hf", action="store_true")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    results = []
    print(f"# {datetime.date.today()} {platform.node()} torch {torch.__version__} threads "
          f"{torch.get_num_threads()} gen {args.gen} reps {args.reps}", file=sys.stderr)
    for name in args.shapes.split(","):
        r = bench_shape(name.strip(), args.gen, args.reps, with_hf=not args.no_hf)
        results.append(r)
        hf = r["tok_s"].get("transformers fp32")
        print(f"\n{name} (gen {r['gen']}, median of {r['reps']}; llama2.c ref {LLAMA2C.get(name, '-')} tok/s)",
              file=sys.stderr)
        for k, v in r["tok_s"].items():
            ratio = f"{v / hf:5.2f}x HF" if hf else ""
            l2c = f"{v / LLAMA2C[name]:5.2f}x llama2.c(ref)" if name in LLAMA2C else ""
            print(f"  {k:18s} {v:9.1f} tok/s  {ratio}  {l2c}", file=sys.stderr)
        fp32 = r["tok_s"]["fast fp32"]
        print(f"  int8/fp32 {r['tok_s']['fast int8'] / fp32:.2f}x  bf16/fp32 {r['tok_s']['fast bf16'] / fp32:.2f}x  "
              f"top-p cost {100 * (fp32 / r['tok_s']['fast fp32 top-p'] - 1):+.1f}%  "
              f"fast/reference {fp32 / r['tok_s']['reference fp32']:.2f}x", file=sys.stderr)
    if args.json:
        print(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()
