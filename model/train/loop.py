"""The optimisation loop shared by pretraining, SFT and DPO.

Stage code supplies `get_batch(step, micro_index)` (deterministic in its arguments, so resuming
replays the exact data order) and `loss_fn(model, batch) -> (loss, extras)`. The loop handles
schedule, autocast, gradient accumulation (DDP no_sync between micro-steps), clipping, logging
without per-step host syncs, periodic eval/checkpoint, and Ctrl-C: the first SIGINT finishes the
current step, checkpoints, then raises KeyboardInterrupt.
"""
from __future__ import annotations

import contextlib
import signal
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import torch

from model.train.config import TrainConfig
from model.train.ddp import DistInfo, mean_across
from model.train.optim import set_lr
from model.train.schedule import lr_factor


@dataclass
class LoopHooks:
    get_batch: Callable[[int, int], tuple]
    loss_fn: Callable[[torch.nn.Module, tuple], tuple[torch.Tensor, dict]]
    tokens_per_micro: int
    on_log: Callable[[dict], None] = lambda row: None
    evaluate: Callable[[int], dict] | None = None
    checkpoint: Callable[[int, dict], None] = lambda step, counters: None


@dataclass
class Counters:
    step: int = 0
    tokens: int = 0
    time_s: float = 0.0
    extra: dict = field(default_factory=dict)

    def to_dict(self) -> dict:
        return {"step": self.step, "tokens": self.tokens, "time_s": self.time_s, **self.extra}


class StopFlag:
    """First SIGINT sets a flag (checked between steps); a second one interrupts at once."""

    def __init__(self) -> None:
        self.set = False
        self._old = None

    def __enter__(self):
        if threading.current_thread() is threading.main_thread():
            self._old = signal.signal(signal.SIGINT, self._handle)
        return self

    def _handle(self, signum, frame):
        if self.set:
            raise KeyboardInterrupt
        self.set = True

    def __exit__(self, *exc):
        if self._old is not None:
            signal.signal(signal.SIGINT, self._old)
        return False


def autocast_ctx(device: torch.device, dtype: torch.dtype):
    if dtype == torch.float32:
        return contextlib.nullcontext()
    return torch.autocast(device.type, dtype=dtype)


def run_loop(model: torch.nn.Module, raw: torch.nn.Module, opts: list[torch.optim.Optimizer], cfg: TrainConfig,
             hooks: LoopHooks, counters: Counters, *, dist: DistInfo = DistInfo(),
             device: torch.device = torch.device("cpu"), dtype: torch.dtype = torch.float32) -> Counters:
    """Train from counters.step to cfg.max_steps; returns the final counters."""
    model.train()
    warmup = cfg.warmup()
    tokens_per_step = hooks.tokens_per_micro * cfg.grad_accum * dist.world
    t_last, tok_last, t_start = time.perf_counter(), counters.tokens, counters.time_s
    clock0 = time.perf_counter()
    with StopFlag() as stop:
        for step in range(counters.step, cfg.max_steps):
            sched_step = step
            if cfg.time_budget_s > 0:  # schedule position follows the clock (not reproducible on resume)
                frac = min(1.0, counters.time_s / cfg.time_budget_s)
                sched_step = step if step < warmup else warmup + int((cfg.max_steps - warmup) * frac)
            lr = set_lr(opts, lr_factor(sched_step, cfg.max_steps, warmup, cfg.schedule, cfg.min_lr_ratio,
                                        cfg.decay_frac))
            loss_acc = torch.zeros((), device=device)
            extras_acc: dict[str, torch.Tensor] = {}
            for micro in range(cfg.grad_accum):
                batch = hooks.get_batch(step, micro * dist.world + dist.rank)
                sync = model.no_sync() if dist.enabled and micro < cfg.grad_accum - 1 else contextlib.nullcontext()
                with sync:
                    with autocast_ctx(device, dtype):
                        loss, extras = hooks.loss_fn(model, batch)
                    (loss / cfg.grad_accum).backward()
                loss_acc += loss.detach().float()
                for k, v in extras.items():
                    extras_acc[k] = extras_acc.get(k, 0) + v.detach().float()
            if cfg.grad_clip > 0:
                torch.nn.utils.clip_grad_norm_(raw.parameters(), cfg.grad_clip)
            for opt in opts:
                opt.step()
            for opt in opts:
                opt.zero_grad(set_to_none=True)
            counters.step = step + 1
            counters.tokens += tokens_per_step
            counters.time_s = t_start + time.perf_counter() - clock0
            done = counters.step
            if cfg.time_budget_s > 0 and counters.time_s >= cfg.time_budget_s:
                cfg.max_steps = done  # out of time: this is the last step
            if done % cfg.log_every == 0 or done == cfg.max_steps:
                loss_val = float(mean_across(loss_acc / cfg.grad_accum, dist))
                now = time.perf_counter()
                row = {"step": done, "train_loss": loss_val, "lr": lr,
                       "tok_s": (counters.tokens - tok_last) / max(1e-9, now - t_last),
                       "tokens": counters.tokens, "time_s": round(counters.time_s, 3)}
                for k, v in extras_acc.items():
                    row[k] = float(mean_across(v / cfg.grad_accum, dist))
                t_last, tok_last = now, counters.tokens
                hooks.on_log(row)
            if hooks.evaluate is not None and cfg.eval_every > 0 and (done % cfg.eval_every == 0 or done == cfg.max_steps):
                counters.extra.update(hooks.evaluate(done))
                model.train()
            stopping = stop.set
            if dist.enabled:
                flag = torch.tensor(float(stopping), device=device)
                stopping = bool(mean_across(flag, dist) > 0)
            if stopping or (cfg.ckpt_every > 0 and done % cfg.ckpt_every == 0 and done != cfg.max_steps):
                hooks.checkpoint(done, counters.to_dict())
            if stopping:
                raise KeyboardInterrupt
            if done >= cfg.max_steps:  # the time budget ended the run early
                break
    return counters
