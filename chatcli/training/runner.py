"""Run one training stage end to end: optimizers, resume, DDP wrap, loop, checkpoints, metadata.

A stage function (pretrain/sft/dpo) builds a `Stage` (model, tokenizer, batches, loss, eval) and
hands it to `run_stage`, which owns everything the three stages share. The --out directory is at
every checkpoint a complete model directory (save_bundle) plus `train_state/` for --resume.
"""
from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import torch

from chatcli.bundle import save_bundle
from chatcli.device import resolve_device, train_dtype
from chatcli.errors import ChatcliError
from chatcli.training.reporting import Reporter, plot_losses, truncate_metrics
from model.train.config import TrainConfig
from model.train.ddp import DistInfo, barrier, init_distributed, shutdown, wrap
from model.train.loop import Counters, LoopHooks, run_loop
from model.train.optim import build_optimizers
from model.train.state import has_state, load_state, save_state


@dataclass
class RunOptions:
    out: Path
    device: str = "auto"
    dtype: str = "auto"
    compile: bool = False
    resume: bool = False
    threads: int = 0


@dataclass
class Stage:
    name: str  # pretrain | sft | dpo
    model: torch.nn.Module  # raw fp32 model on the device
    tokenizer: object
    cfg: TrainConfig
    get_batch: Callable[[int, int], tuple]
    loss_fn: Callable
    tokens_per_micro: int
    evaluate: Callable[[torch.nn.Module], dict] | None = None
    prior_training: dict = field(default_factory=dict)
    info: dict = field(default_factory=dict)  # extra fields for this stage's metadata entry


def setup_runtime(opts: RunOptions, seed: int) -> tuple[DistInfo, torch.device, torch.dtype]:
    if opts.threads > 0:
        torch.set_num_threads(opts.threads)
    dist, device = init_distributed(resolve_device(opts.device))
    dtype = train_dtype(opts.dtype, device)
    torch.manual_seed(seed)
    if device.type == "cuda":
        torch.backends.cuda.matmul.allow_tf32 = True
        torch.backends.cudnn.allow_tf32 = True
    return dist, device, dtype


@contextlib.contextmanager
def training_runtime(opts: RunOptions, seed: int) -> Iterator[tuple[DistInfo, torch.device, torch.dtype]]:
    """setup_runtime for the length of one stage: the process group it may initialise (under torchrun)
    is destroyed on the way out, whether the stage returns or raises."""
    dist, device, dtype = setup_runtime(opts, seed)
    try:
        yield dist, device, dtype
    finally:
        shutdown(dist)


def check_fresh_out(opts: RunOptions) -> None:
    if not opts.resume and has_state(opts.out):
        raise ChatcliError(f"{opts.out} already holds a training run: pass --resume to continue it, "
                           "or choose another --out")


def training_meta(stage: Stage, counters: Counters) -> dict:
    prior = list(stage.prior_training.get("stages", []))
    entry = {"stage": stage.name, "steps": counters.step, "tokens": counters.tokens,
             "time_s": round(counters.time_s, 1), **stage.info}
    for k in ("val_loss", "val_bpb", "val_acc", "val_margin", "val_nll"):
        if k in counters.extra:
            entry[k] = counters.extra[k]
    return {"stages": prior + [entry], "tokens_seen": sum(int(s.get("tokens", 0)) for s in prior) + counters.tokens,
            "last_val_bpb": counters.extra.get("val_bpb", stage.prior_training.get("last_val_bpb"))}


def run_stage(stage: Stage, opts: RunOptions, dist: DistInfo, device: torch.device, dtype: torch.dtype) -> dict:
    cfg, raw, out = stage.cfg, stage.model, Path(opts.out)
    ns_dtype = torch.bfloat16 if dtype == torch.bfloat16 else torch.float32
    optimizers = build_optimizers(raw, cfg.optimizer, lr=cfg.lr, muon_lr=cfg.muon_lr, weight_decay=cfg.weight_decay,
                                  betas=(cfg.beta1, cfg.beta2), device=device, ns_dtype=ns_dtype)
    counters = Counters()
    if opts.resume and has_state(out):
        scalars = load_state(out, raw, optimizers, device)
        if scalars.get("stage") != stage.name:
            raise ChatcliError(f"{out} holds a {scalars.get('stage')} run, not {stage.name}")
        counters = Counters(scalars["step"], scalars["tokens"], scalars["time_s"], scalars.get("extra", {}))
        if dist.master:
            truncate_metrics(out, stage.name, counters.step)
    reporter = Reporter(out, stage.name, cfg.max_steps, enabled=dist.master, start_step=counters.step,
                        time_budget=cfg.time_budget_s)
    if counters.step:
        reporter.message(f"resuming from step {counters.step}")
    model = torch.compile(raw) if opts.compile else raw
    model = wrap(model, dist, device)

    def checkpoint(step: int, _scalars: dict) -> None:
        if dist.master:
            save_bundle(out, raw, stage.tokenizer, training=training_meta(stage, counters))
            save_state(out, raw, optimizers, {"stage": stage.name, "step": counters.step, "tokens": counters.tokens,
                                               "time_s": counters.time_s, "extra": counters.extra})
        barrier(dist)

    def evaluate(step: int) -> dict:
        res = stage.evaluate(raw) if stage.evaluate is not None else {}
        if res:
            reporter.log_eval({"step": step, **res})
        return res

    hooks = LoopHooks(stage.get_batch, stage.loss_fn, stage.tokens_per_micro, on_log=reporter.log,
                      evaluate=evaluate if stage.evaluate is not None else None, checkpoint=checkpoint)
    try:
        if counters.step < cfg.max_steps:
            run_loop(model, raw, optimizers, cfg, hooks, counters, dist=dist, device=device, dtype=dtype)
        checkpoint(counters.step, {})
    finally:
        reporter.close()
    if dist.master:
        plot_losses(out)
    return training_meta(stage, counters)
