"""Benchmark core for `chatcli bench`: shapes, models, and timed prefill/decode runs.

Each configuration (prompt tokens, generated tokens, batch) is run once as a warm-up and then
`repetitions` times; prefill tok/s (pp), decode tok/s (tg) and time to first token are reported as
mean and sample standard deviation, in the style of llama-bench. Decoding is greedy through the
one decode loop (model.generate.decode_steps) on the engine that model.compiled.make_engine picks
(`--engine auto` by default; `--engine cpp` builds the C++ step first if needed; the header and every
row name the engine that actually ran, which after a fallback is not the one asked for), with
no host sync until the end of a run (the argmax stays on the device).
"""
from __future__ import annotations

import re
import statistics
import time
from dataclasses import dataclass, field

import torch

from chatcli.errors import ChatcliError
from model.config import PRESETS, ModelConfig, preset

SHAPE_KEYS = {"d": "dim", "l": "n_layers", "h": "n_heads", "kv": "n_kv_heads", "v": "vocab_size",
              "f": "ffn_hidden", "s": "max_seq_len"}
SHAPE_HELP = ("a preset (" + ", ".join(PRESETS) + ") or dims like d288,L6,H6,V32000 "
              "(d=dim L=layers H=heads KV=kv-heads V=vocab F=ffn-hidden S=context)")


def parse_shape(spec: str) -> ModelConfig:
    """A preset name, or comma-separated dims such as 'd288,L6,H6,V32000' (optionally KV4, F768, S1024)."""
    spec = spec.strip()
    if spec.lower() in PRESETS:
        return preset(spec.lower())
    dims: dict[str, int] = {}
    for part in spec.split(","):
        m = re.fullmatch(r"([a-zA-Z]+)(\d+)", part.strip())
        if not m or m.group(1).lower() not in SHAPE_KEYS:
            raise ChatcliError(f"bad --shape {spec!r}: expected {SHAPE_HELP}")
        dims[SHAPE_KEYS[m.group(1).lower()]] = int(m.group(2))
    for need in ("dim", "n_layers", "n_heads"):
        if need not in dims:
            raise ChatcliError(f"bad --shape {spec!r}: missing {need} (expected {SHAPE_HELP})")
    dims.setdefault("vocab_size", 32000)
    dims.setdefault("max_seq_len", 1024)
    return ModelConfig(**dims)


def parse_ints(text: str, option: str) -> list[int]:
    try:
        values = [int(v) for v in str(text).split(",") if v.strip()]
    except ValueError:
        raise ChatcliError(f"{option} takes comma-separated positive integers, got {text!r}") from None
    if not values or any(v < 1 for v in values):
        raise ChatcliError(f"{option} takes comma-separated positive integers, got {text!r}")
    return values


@dataclass
class BenchSpec:
    prompt_tokens: list[int] = field(default_factory=lambda: [128])
    gen_tokens: list[int] = field(default_factory=lambda: [128])
    batch: list[int] = field(default_factory=lambda: [1])
    repetitions: int = 5
    compile: bool = False  # the same as engine "compiled"
    engine: str = "auto"  # model.compiled.KINDS: auto, compiled, cpp, fast, reference


ENGINES = ("auto", "compiled", "cpp", "fast", "reference")  # = model.compiled.KINDS


def build_engine(model, engine: str = "auto", *, batch: int = 1, notify=None):
    from model.compiled import make_engine
    if engine not in ENGINES:
        raise ChatcliError(f"unknown engine {engine!r} (use {', '.join(ENGINES)})")
    return make_engine(model, engine, batch=batch, notify=notify)


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def _mean_sd(xs: list[float]) -> tuple[float, float]:
    return statistics.fmean(xs), (statistics.stdev(xs) if len(xs) > 1 else 0.0)


def _greedy(logits: torch.Tensor) -> torch.Tensor:
    return logits.argmax(dim=-1)  # (B,)


@torch.inference_mode()
def time_run(engine, prompt: torch.Tensor, gen_tokens: int, *, sampler=None) -> dict:
    """One timed run through model.generate.decode_steps: prefill prompt (B, P), then gen_tokens decode steps.

    sampler: a callable logits (B, V) -> ids (B,), default greedy argmax. Returns seconds.
    """
    from model.generate import decode_steps
    B, P = prompt.shape
    cache = engine.new_cache(B, P + gen_tokens)
    _sync(prompt.device)
    t0 = time.perf_counter()
    steps = decode_steps(engine, prompt, cache, gen_tokens + 1, sampler or _greedy)
    token = next(steps)  # (B,)
    token.tolist()  # the first token reaches the host: time to first token
    t1 = time.perf_counter()
    for token in steps:  # noqa: B007 (the last token is synced after the loop)
        pass
    token.tolist()
    t2 = time.perf_counter()
    return {"prefill_s": t1 - t0, "ttft_s": t1 - t0, "decode_s": t2 - t1}


def bench_config(engine, cfg: ModelConfig, prompt_tokens: int, gen_tokens: int, batch: int, repetitions: int, *,
                 device: torch.device, sampler=None, seed: int = 0) -> dict:
    """Warm-up + repetitions of one configuration; rates as mean and sd."""
    if prompt_tokens + gen_tokens > cfg.max_seq_len:
        raise ChatcliError(f"prompt {prompt_tokens} + gen {gen_tokens} tokens exceed the model context "
                           f"of {cfg.max_seq_len}")
    g = torch.Generator().manual_seed(seed)
    prompt = torch.randint(0, cfg.vocab_size, (batch, prompt_tokens), generator=g).to(device)  # (B, P)
    time_run(engine, prompt, min(gen_tokens, 8), sampler=sampler)
    runs = [time_run(engine, prompt, gen_tokens, sampler=sampler) for _ in range(repetitions)]
    pp = [batch * prompt_tokens / r["prefill_s"] for r in runs]
    tg = [batch * gen_tokens / r["decode_s"] for r in runs]
    ttft = [r["ttft_s"] for r in runs]
    (pp_m, pp_sd), (tg_m, tg_sd), (tt_m, tt_sd) = _mean_sd(pp), _mean_sd(tg), _mean_sd(ttft)
    return {"prompt_tokens": prompt_tokens, "gen_tokens": gen_tokens, "batch": batch,
            "pp_tok_s": pp_m, "pp_tok_s_sd": pp_sd, "tg_tok_s": tg_m, "tg_tok_s_sd": tg_sd,
            "ttft_s": tt_m, "ttft_s_sd": tt_sd, "tg_tok_s_median": statistics.median(tg),
            "repetitions": repetitions}


def load_for_bench(model_dir: str | None, shape: str | None, *, device: torch.device, dtype: torch.dtype,
                   quantize: str | None) -> tuple[object, str]:
    """(model, label): a model directory, or random weights of a shape (seeded)."""
    from model.transformer import Transformer
    if model_dir and shape:
        raise ChatcliError("give either --model or --shape, not both")
    if quantize not in (None, "", "none", "int8"):
        raise ChatcliError(f"unknown --quantize {quantize!r} (use int8)")
    if shape:
        cfg = parse_shape(shape)
        torch.manual_seed(0)
        with torch.device(device):
            model = Transformer(cfg)
        model = model.to(dtype).eval()
        label = shape
    else:
        from chatcli.bundle import load_bundle
        bundle = load_bundle(model_dir, device=device, dtype=dtype)
        model, label = bundle.model.eval(), str(bundle.path)
    if quantize == "int8":
        from model.quantize import quantize_int8
        quantize_int8(model)
    return model, label


def header(model, label: str, device: torch.device, dtype: torch.dtype, quantize: str | None, compile_: bool) -> dict:
    cfg = model.config
    return {"model": label, "device": str(device), "dtype": str(dtype).replace("torch.", ""),
            "threads": torch.get_num_threads(), "torch": torch.__version__, "params": cfg.num_params(),
            "quantize": quantize or "none", "compile": compile_,
            "shape": f"d{cfg.dim},L{cfg.n_layers},H{cfg.n_heads},KV{cfg.n_kv_heads},V{cfg.vocab_size},"
                     f"F{cfg.ffn_hidden},S{cfg.max_seq_len}"}


def run_bench(model, label: str, spec: BenchSpec, *, device: torch.device, dtype: torch.dtype,
              quantize: str | None, progress=None, notify=None) -> tuple[dict, list[dict]]:
    """Header and one result row per configuration (each row carries the header's identity keys
    and the name of the engine that ran it, which differs from the one asked for after a fallback)."""
    cfg = model.config
    for p in spec.prompt_tokens:
        for n in spec.gen_tokens:
            if p + n > cfg.max_seq_len:
                raise ChatcliError(f"prompt {p} + gen {n} tokens exceed the model context of {cfg.max_seq_len}")
    kind = "compiled" if spec.compile else spec.engine
    head = header(model, label, device, dtype, quantize, spec.compile)
    rows = []
    for b in spec.batch:
        engine = build_engine(model, kind, batch=b, notify=notify)
        head.setdefault("engine", engine.name)
        for p in spec.prompt_tokens:
            for n in spec.gen_tokens:
                if progress:
                    progress(f"pp{p} tg{n} batch {b} ({engine.name}) ...")
                row = bench_config(engine, cfg, p, n, b, spec.repetitions, device=device)
                row.update({k: head[k] for k in ("model", "shape", "dtype", "device", "quantize", "compile",
                                                 "threads", "params")})
                row["engine"] = engine.name
                row["compile"] = engine.name.startswith("compiled")
                rows.append(row)
    return head, rows
