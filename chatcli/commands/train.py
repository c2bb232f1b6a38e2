"""`chatcli train tokenizer|pretrain|sft|dpo|pairs`: thin Typer wrappers over chatcli.training.

Inputs are files, folders (recursed for .txt/.md/.jsonl) or hf:NAME[:SPLIT], each optionally
suffixed @WEIGHT (e.g. books/@3 repeats that source's documents three times in the mix).
"""
from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from chatcli.errors import ChatcliError, cli_errors

train_app = typer.Typer(help="Train a tokenizer, pretrain a model, then SFT and DPO it.", no_args_is_help=True)

DataArg = Annotated[list[str], typer.Argument(help="inputs: FILE, DIR, hf:NAME[:SPLIT], each optionally @WEIGHT")]
Out = Annotated[Path, typer.Option("--out", "-o", help="output directory (a complete model directory)")]
MaxSteps = Annotated[int, typer.Option("--max-steps", help="optimizer steps")]
Device = Annotated[str, typer.Option("--device", help="auto, cpu, cuda, cuda:N or mps")]
Dtype = Annotated[str, typer.Option("--dtype", help="autocast dtype: auto (bf16 on CUDA and bf16-capable CPUs), fp32, bf16")]
Seed = Annotated[int, typer.Option("--seed", help="seed for init, data order and split")]
Batch = Annotated[int, typer.Option("--batch-size", "-b", help="sequences per micro-batch (per rank)")]
Accum = Annotated[int, typer.Option("--grad-accum", help="micro-batches per optimizer step")]
Resume = Annotated[bool, typer.Option("--resume", help="continue the run saved in --out exactly")]
LogEvery = Annotated[int, typer.Option("--log-every", help="log a metrics row every N steps")]
EvalEvery = Annotated[int, typer.Option("--eval-every", help="evaluate on held-out data every N steps (0: only at the end)")]
CkptEvery = Annotated[int, typer.Option("--ckpt-every", help="checkpoint every N steps")]
Clip = Annotated[float, typer.Option("--grad-clip", help="clip the global grad norm (0: off)")]
Warmup = Annotated[int, typer.Option("--warmup", help="warmup steps (-1: 2% of --max-steps)")]
Schedule = Annotated[str, typer.Option("--schedule", help="cosine | wsd | constant")]
Threads = Annotated[int, typer.Option("--threads", help="CPU threads for torch (0: torch's default)")]
TimeBudget = Annotated[float, typer.Option(
    "--time-budget", help="stop after this many seconds of training; the lr schedule follows the clock")]
Compile = Annotated[bool, typer.Option("--compile", help="torch.compile the model")]
Context = Annotated[int, typer.Option("--context", help="sequence length (default: the model's)")]


def _cfg(**kw):
    from model.train.config import TrainConfig
    if kw["max_steps"] <= 0:
        raise ChatcliError("--max-steps must be positive")
    if kw["schedule"] not in ("cosine", "wsd", "constant"):
        raise ChatcliError(f"unknown --schedule {kw['schedule']!r} (use cosine, wsd or constant)")
    if kw.get("optimizer", "adamw") not in ("adamw", "muon"):
        raise ChatcliError(f"unknown --optimizer {kw['optimizer']!r} (use adamw or muon)")
    if kw["eval_every"] == 0:
        kw["eval_every"] = kw["max_steps"]
    return TrainConfig(**kw)


def _opts(out, device, dtype, compile_, resume, threads):
    from chatcli.training.runner import RunOptions
    return RunOptions(out=out, device=device, dtype=dtype, compile=compile_, resume=resume, threads=threads)


def _done(meta: dict, out: Path) -> None:
    import os
    if os.environ.get("RANK", "0") != "0":
        return
    last = meta["stages"][-1]
    bits = [f"{last['steps']} steps", f"{last['tokens']:,} tokens"]
    for k in ("val_loss", "val_bpb", "val_acc"):
        if k in last:
            bits.append(f"{k} {last[k]:.4f}")
    typer.echo(f"{last['stage']}: done ({', '.join(bits)}); model in {out}", err=True)


@train_app.command("tokenizer")
@cli_errors
def tokenizer_cmd(data: DataArg, vocab_size: Annotated[int, typer.Option("--vocab-size", help="vocabulary size")] = 4096,
                  out: Out = Path("runs/tok"), threads: Annotated[int, typer.Option("--threads")] = 2) -> None:
    """Train a SentencePiece BPE tokenizer; writes OUT/tokenizer.model."""
    from chatcli.training.tokenizer_stage import train_tokenizer_on
    train_tokenizer_on(data, vocab_size, out, threads=threads)


@train_app.command("pretrain")
@cli_errors
def pretrain_cmd(data: DataArg,
                 tokenizer: Annotated[Path, typer.Option("--tokenizer", help="tokenizer directory or .model file")],
                 out: Out, max_steps: MaxSteps = 1000,
                 preset: Annotated[str, typer.Option("--preset", help="model shape from model.config.PRESETS")] = "tiny",
                 dim: Annotated[int, typer.Option("--dim")] = 0, layers: Annotated[int, typer.Option("--layers")] = 0,
                 heads: Annotated[int, typer.Option("--heads")] = 0, kv_heads: Annotated[int, typer.Option("--kv-heads")] = 0,
                 context: Context = 0, batch_size: Batch = 16, grad_accum: Accum = 1,
                 lr: Annotated[float, typer.Option("--lr", help="AdamW learning rate")] = 2e-3,
                 muon_lr: Annotated[float, typer.Option("--muon-lr")] = 0.02,
                 optimizer: Annotated[str, typer.Option("--optimizer", help="adamw | muon")] = "adamw",
                 schedule: Schedule = "cosine", warmup: Warmup = -1,
                 weight_decay: Annotated[float, typer.Option("--weight-decay")] = 0.1, grad_clip: Clip = 1.0,
                 val_frac: Annotated[float, typer.Option("--val-frac", help="fraction of documents held out")] = 0.05,
                 eval_every: EvalEvery = 200, eval_tokens: Annotated[int, typer.Option("--eval-tokens")] = 32768,
                 ckpt_every: CkptEvery = 500, log_every: LogEvery = 10, seed: Seed = 1337, device: Device = "auto",
                 dtype: Dtype = "auto", compile_: Compile = False, resume: Resume = False, threads: Threads = 0,
                 time_budget: TimeBudget = 0.0,
                 cache_dir: Annotated[Path | None, typer.Option("--cache-dir", help="token cache (default OUT/cache)")] = None) -> None:
    """Pretrain a model from scratch on text (next-token prediction)."""
    from chatcli.training.pretrain import pretrain
    cfg = _cfg(max_steps=max_steps, batch_size=batch_size, grad_accum=grad_accum, context=context, lr=lr,
               muon_lr=muon_lr, optimizer=optimizer, schedule=schedule, warmup_steps=warmup,
               weight_decay=weight_decay, grad_clip=grad_clip, eval_every=eval_every, eval_tokens=eval_tokens,
               ckpt_every=ckpt_every, log_every=log_every, seed=seed, time_budget_s=time_budget)
    meta = pretrain(data, tokenizer, preset, cfg, _opts(out, device, dtype, compile_, resume, threads),
                    overrides={"dim": dim, "n_layers": layers, "n_heads": heads, "n_kv_heads": kv_heads},
                    val_frac=val_frac, cache_dir=cache_dir)
    _done(meta, out)


@train_app.command("sft")
@cli_errors
def sft_cmd(data: DataArg, model: Annotated[Path, typer.Option("--model", help="base model directory")],
            out: Out, max_steps: MaxSteps = 500, batch_size: Batch = 16, grad_accum: Accum = 1, context: Context = 0,
            lr: Annotated[float, typer.Option("--lr")] = 3e-4, schedule: Schedule = "cosine", warmup: Warmup = -1,
            grad_clip: Clip = 1.0, packing: Annotated[bool, typer.Option("--packing/--padding")] = True,
            val_frac: Annotated[float, typer.Option("--val-frac")] = 0.05, eval_every: EvalEvery = 100,
            ckpt_every: CkptEvery = 500, log_every: LogEvery = 10, seed: Seed = 1337, device: Device = "auto",
            dtype: Dtype = "auto", compile_: Compile = False, resume: Resume = False, threads: Threads = 0,
            time_budget: TimeBudget = 0.0) -> None:
    """Supervised fine-tuning on chat JSONL (loss on assistant tokens only)."""
    from chatcli.training.sft import sft
    cfg = _cfg(max_steps=max_steps, batch_size=batch_size, grad_accum=grad_accum, context=context, lr=lr,
               schedule=schedule, warmup_steps=warmup, grad_clip=grad_clip, weight_decay=0.0, eval_every=eval_every,
               ckpt_every=ckpt_every, log_every=log_every, seed=seed, time_budget_s=time_budget)
    meta = sft(data, model, cfg, _opts(out, device, dtype, compile_, resume, threads), packing=packing, val_frac=val_frac)
    _done(meta, out)


@train_app.command("dpo")
@cli_errors
def dpo_cmd(data: DataArg, model: Annotated[Path, typer.Option("--model", help="SFT model directory")],
            out: Out, max_steps: MaxSteps = 200, beta: Annotated[float, typer.Option("--beta")] = 0.1,
            batch_size: Batch = 8, grad_accum: Accum = 1, context: Context = 0,
            lr: Annotated[float, typer.Option("--lr")] = 5e-5, schedule: Schedule = "cosine", warmup: Warmup = -1,
            nll_weight: Annotated[float, typer.Option(
                "--nll-weight", help="add this times the chosen replies' per-token NLL (DPO+NLL; 0: plain DPO)")] = 0.0,
            grad_clip: Clip = 1.0, val_frac: Annotated[float, typer.Option("--val-frac")] = 0.1,
            eval_every: EvalEvery = 50, ckpt_every: CkptEvery = 200, log_every: LogEvery = 10, seed: Seed = 1337,
            device: Device = "auto", dtype: Dtype = "auto", compile_: Compile = False, resume: Resume = False,
            threads: Threads = 0) -> None:
    """Direct Preference Optimisation on {"prompt", "chosen", "rejected"} JSONL."""
    from chatcli.training.dpo import dpo
    cfg = _cfg(max_steps=max_steps, batch_size=batch_size, grad_accum=grad_accum, context=context, lr=lr,
               schedule=schedule, warmup_steps=warmup, grad_clip=grad_clip, weight_decay=0.0, eval_every=eval_every,
               ckpt_every=ckpt_every, log_every=log_every, seed=seed)
    if nll_weight < 0:
        raise ChatcliError("--nll-weight must be >= 0")
    meta = dpo(data, model, cfg, _opts(out, device, dtype, compile_, resume, threads), beta=beta, val_frac=val_frac,
               nll_weight=nll_weight)
    _done(meta, out)


@train_app.command("pairs")
@cli_errors
def pairs_cmd(data: Annotated[Path, typer.Argument(help="preference JSONL with family and answer per record")],
              model: Annotated[Path, typer.Option("--model", help="SFT model directory (the policy)")],
              out: Annotated[Path, typer.Option("--out", "-o", help="JSONL file for the on-policy pairs")],
              n: Annotated[int, typer.Option("--n", help="prompts to try, shared evenly between families")] = 700,
              temperature: Annotated[float, typer.Option("--temperature", help="for the second, sampled reply")] = 1.0,
              seed: Seed = 0, device: Device = "auto",
              as_json: Annotated[bool, typer.Option("--json", help="the summary as JSON on stdout")] = False) -> None:
    """On-policy preference pairs: the model's own wrong answers (by the task scorer) as the rejected replies."""
    import json

    from chatcli.training.onpolicy import make_pairs
    res = make_pairs(data, model, out, n=n, temperature=temperature, seed=seed, device=device)
    if as_json:
        typer.echo(json.dumps(res, ensure_ascii=False))
        return
    for fam, st in res["families"].items():
        typer.echo(f"{fam:14s} {st['prompts']:5d} prompts  {st['greedy_correct']:5d} right greedy  {st['pairs']:5d} pairs",
                   err=True)
    typer.echo(f"pairs: {res['pairs']} from {res['prompts']} prompts in {res['time_s']} s; wrote {out}", err=True)


def register(app: typer.Typer) -> None:
    app.add_typer(train_app, name="train")
