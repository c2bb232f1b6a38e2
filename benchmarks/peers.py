"""Side-by-side decode speed: chatcli engines vs llama.cpp and Hugging Face transformers, same weights, one process.

    python benchmarks/peers.py                                   # bundled model + the three stories shapes
    python benchmarks/peers.py --shapes bundled,stories15m --gen 128 --reps 5 --threads 1
    python benchmarks/peers.py --shapes bundled --compiled       # also the whole-step compiled engine (minutes to compile)
    python benchmarks/peers.py --shapes bundled,stories15m --cpp  # also the C++ whole-step engine, fp32 and int8

For each shape: the bundled model (`bundled`, its real weights and tokenizer) or a random-weight
chatcli Transformer (seed 0); a LlamaForCausalLM carrying the same weights (model.hf); and, when
llama-cpp-python is installed (`pip install -e ".[bench]"`), llama.cpp on the same weights exported
by `chatcli convert to-gguf`'s writer as F32 and Q8_0. Every engine generates `gen` tokens greedily
after a 1-token prompt (gen forward passes each); chatcli's engines run through the one decode
loop (model.generate.decode_steps). Engines run interleaved, one repetition of each in turn, so
background load hits all of them alike; reported: tok/s (median over reps) and ratios:
fp32 vs llama.cpp F32, int8 (fast and cpp) vs llama.cpp Q8_0, fast vs transformers, and top-p/min-p vs
greedy (sampled through the engine's own sampler where it has one: model.engine.sampler_of).
"""
from __future__ import annotations

import argparse
import datetime
import json
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from model.config import preset  # noqa: E402
from model.engine import ReferenceEngine, sampler_of  # noqa: E402
from model.fast import FastDecoder  # noqa: E402
from model.generate import decode_steps  # noqa: E402
from model.quantize import quantize_int8  # noqa: E402
from model.sampling import SamplingConfig, make_generator  # noqa: E402
from model.transformer import Transformer  # noqa: E402

TOP_P = SamplingConfig(temperature=0.8, top_p=0.95, repeat_penalty=1.0)
MIN_P = SamplingConfig(temperature=0.8, top_p=1.0, min_p=0.05, repeat_penalty=1.0)


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
def run_ours(engine, gen: int, sampling: SamplingConfig | None = None) -> float:
    """Seconds for a 1-token prompt + gen tokens (greedy, or sampled with the engine's sampler, as the decode
    loop draws); one host sync at the end."""
    g, draw = make_generator(0), sampler_of(engine)
    pick = (lambda logits: logits.argmax(-1)) if sampling is None else (lambda logits: draw(logits, sampling, g))
    cache = engine.new_cache(1, gen + 1)
    t0 = time.perf_counter()
    for token in decode_steps(engine, torch.ones(1, 1, dtype=torch.long), cache, gen, pick):  # noqa: B007 (the last token is synced after the loop)
        pass
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


def llama_cpp_model(model: Transformer, tok, outtype: str, folder: Path, threads: int):
    """llama.cpp (llama-cpp-python) on our weights, exported as GGUF F32 or Q8_0."""
    from llama_cpp import Llama

    from chatcli.gguf_export import write_gguf
    path = write_gguf(model, tok, folder / f"model-{outtype}.gguf", outtype=outtype)
    return Llama(model_path=str(path), n_ctx=model.config.max_seq_len, n_threads=threads, n_threads_batch=threads,
                 verbose=False)


def run_llama_cpp(llm, gen: int) -> float:
    """Seconds for a 1-token prompt + gen greedy tokens through llama.cpp's own sampler (top_k=1)."""
    t0 = time.perf_counter()
    n = 0
    for _ in llm.generate([1], temp=0.0, top_k=1, top_p=1.0, min_p=0.0, repeat_penalty=1.0, reset=True):
        n += 1
        if n == gen:
            break
    return time.perf_counter() - t0


def load(name: str):
    """(model, tokenizer or None) for a shape name: 'bundled' or a preset."""
    if name == "bundled":
        from chatcli.bundle import BUNDLED, load_bundle
        b = load_bundle(BUNDLED)
        return b.model.eval(), b.tokenizer
    torch.manual_seed(0)
    return Transformer(preset(name)).eval(), None


def bench_shape(name: str, gen: int, reps: int, *, with_hf: bool = True, with_llama: bool = True,
                compiled: bool = False, cpp: bool = False, threads: int = 1) -> dict:
    model, tok = load(name)
    gen = min(gen, model.config.max_seq_len - 1)
    fast = FastDecoder(model)
    engines = {
        "reference fp32": (lambda e: lambda: run_ours(e, gen))(ReferenceEngine(model)),
        "fast fp32": lambda: run_ours(fast, gen),
        "fast fp32 top-p": lambda: run_ours(fast, gen, TOP_P),
        "fast fp32 min-p": lambda: run_ours(fast, gen, MIN_P),
        "fast int8": (lambda e: lambda: run_ours(e, gen))(FastDecoder(quantize_int8(_copy(model)))),
    }
    if compiled:
        from model.compiled import make_engine
        engine = make_engine(model, "compiled", notify=lambda m: print(f"notice: {m}", file=sys.stderr))
        engines[f"{engine.name} fp32"] = lambda: run_ours(engine, gen)
    if cpp:  # the C++ whole-step engine (built once into the user cache; falls back to fast with a notice)
        from model.compiled import make_engine
        ce = make_engine(model, "cpp", notify=lambda m: print(f"notice: {m}", file=sys.stderr))
        if ce.name == "cpp":
            engines["cpp fp32"] = lambda: run_ours(ce, gen)
            engines["cpp fp32 top-p"] = lambda: run_ours(ce, gen, TOP_P)
        c8 = make_engine(quantize_int8(_copy(model)), "cpp", notify=lambda m: print(f"notice: {m}", file=sys.stderr))
        if c8.name == "cpp":
            engines["cpp int8"] = lambda: run_ours(c8, gen)
    folder = Path(tempfile.mkdtemp(prefix="peers-"))
    if with_llama:
        try:
            import llama_cpp  # noqa: F401
        except ImportError:
            print("llama-cpp-python not installed: no llama.cpp columns (pip install -e \".[bench]\")", file=sys.stderr)
        else:
            llm32 = llama_cpp_model(model, tok, "f32", folder, threads)
            llm8 = llama_cpp_model(model, tok, "q8_0", folder, threads)
            engines["llama.cpp F32"] = lambda: run_llama_cpp(llm32, gen)
            engines["llama.cpp Q8_0"] = lambda: run_llama_cpp(llm8, gen)
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


def ratios(r: dict) -> dict[str, float]:
    t = r["tok_s"]
    out = {}
    for ours, peer in (("fast fp32", "llama.cpp F32"), ("fast int8", "llama.cpp Q8_0"), ("fast fp32", "transformers fp32"),
                       ("cpp fp32", "llama.cpp F32"), ("cpp fp32", "transformers fp32"), ("cpp fp32", "fast fp32"),
                       ("cpp int8", "llama.cpp Q8_0"), ("cpp int8", "fast int8"), ("cpp int8", "cpp fp32")):
        if ours in t and peer in t:
            out[f"{ours} / {peer}"] = t[ours] / t[peer]
    for k in t:
        if k.startswith("compiled"):
            out[f"{k} / fast fp32"] = t[k] / t["fast fp32"]
    out["top-p overhead %"] = 100 * (t["fast fp32"] / t["fast fp32 top-p"] - 1)
    out["min-p overhead %"] = 100 * (t["fast fp32"] / t["fast fp32 min-p"] - 1)
    if "cpp fp32 top-p" in t:
        out["cpp top-p overhead %"] = 100 * (t["cpp fp32"] / t["cpp fp32 top-p"] - 1)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--shapes", default="bundled,stories260k,stories15m,stories42m")
    ap.add_argument("--gen", type=int, default=128)
    ap.add_argument("--reps", type=int, default=5)
    ap.add_argument("--threads", type=int, default=0, help="torch and llama.cpp threads (0: torch's default)")
    ap.add_argument("--no-hf", action="store_true")
    ap.add_argument("--no-llama-cpp", action="store_true")
    ap.add_argument("--compiled", action="store_true", help="add the whole-step compiled engine (slow to build)")
    ap.add_argument("--cpp", action="store_true", help="add the C++ whole-step engine (built once, about a minute)")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    threads = torch.get_num_threads()
    results = []
    print(f"# {datetime.date.today()} {platform.node()} {platform.processor() or platform.machine()} torch "
          f"{torch.__version__} threads {threads} gen {args.gen} reps {args.reps}", file=sys.stderr)
    for name in args.shapes.split(","):
        r = bench_shape(name.strip(), args.gen, args.reps, with_hf=not args.no_hf,
                        with_llama=not args.no_llama_cpp, compiled=args.compiled, cpp=args.cpp, threads=threads)
        r["ratios"] = ratios(r)
        results.append(r)
        print(f"\n{name} (gen {r['gen']}, median of {r['reps']})", file=sys.stderr)
        for k, v in r["tok_s"].items():
            print(f"  {k:22s} {v:9.1f} tok/s", file=sys.stderr)
        for k, v in r["ratios"].items():
            print(f"  {k:36s} {v:7.2f}" + ("" if k.endswith("%") else "x"), file=sys.stderr)
    if args.json:
        print(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()
