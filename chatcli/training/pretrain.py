"""`train pretrain`: token shards (cached), random windows, next-token loss, val loss + bpb.

Chat JSONL may be mixed into the text from step 0: its conversations are rendered with the chat
template and only the assistant replies are targets (the window sampler carries the mask).
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path

import numpy as np
import torch

from chatcli.data.shards import build_shards, token_byte_lengths
from chatcli.errors import ChatcliError
from chatcli.training.runner import RunOptions, Stage, check_fresh_out, run_stage, training_runtime
from model.config import ModelConfig, preset
from model.train.config import TrainConfig
from model.train.ddp import barrier
from model.train.evaluate import windowed_nll
from model.train.losses import lm_loss
from model.transformer import Transformer
from tokenizer.chat import ChatTemplate
from tokenizer.sp import Tokenizer


def window_sampler(data: np.ndarray, batch: int, context: int, seed: int, device: torch.device,
                   mask: np.ndarray | None = None):
    """get_batch(step, micro) -> (x, y) or, with a target mask, (x, y, m), each (B, T): random windows,
    a pure function of its arguments."""
    n = len(data)
    span = np.arange(context + 1)

    def get_batch(step: int, micro: int) -> tuple[torch.Tensor, ...]:
        rng = np.random.default_rng([seed, step, micro])
        offs = rng.integers(0, n - context - 1, size=batch)  # (B,)
        idx = offs[:, None] + span  # (B, T+1)
        buf = torch.from_numpy(data[idx].astype(np.int64)).to(device, non_blocking=True)  # (B, T+1)
        if mask is None:
            return buf[:, :-1], buf[:, 1:]
        m = torch.from_numpy(mask[idx[:, 1:]].astype(np.int64)).to(device, non_blocking=True)  # (B, T)
        return buf[:, :-1], buf[:, 1:], m

    return get_batch


def pretrain(data: Sequence[str], tokenizer_dir: Path, preset_name: str, cfg: TrainConfig, opts: RunOptions, *,
             overrides: dict | None = None, val_frac: float = 0.05, cache_dir: Path | None = None) -> dict:
    with training_runtime(opts, cfg.seed) as (dist, device, dtype):
        check_fresh_out(opts)
        tok = Tokenizer.load(tokenizer_dir)
        over = {k: v for k, v in (overrides or {}).items() if v}
        if cfg.context:
            over["max_seq_len"] = cfg.context
        mcfg: ModelConfig = preset(preset_name, **{**over, "vocab_size": tok.vocab_size})
        cfg = replace(cfg, context=mcfg.max_seq_len)
        cache = Path(cache_dir) if cache_dir else Path(opts.out) / "cache"
        log = (lambda m: print(f"pretrain: {m}", flush=True, file=__import__("sys").stderr)) if dist.master else None
        if not dist.master:
            barrier(dist)  # let rank 0 tokenize first, then reuse its cache entry
        template = ChatTemplate(tok) if tok.has_chat_tokens else None
        shards = build_shards(data, tok, cache, val_frac=val_frac, seed=cfg.seed, log=log, template=template)
        if dist.master:
            if log:
                log(f"{'reusing' if shards.cached else 'wrote'} token cache {shards.path} "
                    f"({shards.meta['train_tokens']:,} train / {shards.meta['val_tokens']:,} val tokens)")
            barrier(dist)
        T = cfg.context
        if len(shards.train) < T + 2:
            raise ChatcliError(f"corpus has only {len(shards.train)} training tokens; need more than the context "
                               f"({T}): add data or lower --context")
        model = Transformer(mcfg).to(device)
        if log:
            log(f"model {preset_name}: {model.num_params():,} parameters, context {T}, vocab {tok.vocab_size}, "
                f"device {device}, dtype {str(dtype).replace('torch.', '')}")
        get_batch = window_sampler(shards.train, cfg.batch_size, T, cfg.seed, device, mask=shards.train_mask)
        val = torch.from_numpy(np.asarray(shards.val[: cfg.eval_tokens + 1], dtype=np.int64))
        tb = torch.from_numpy(token_byte_lengths(tok))

        def loss_fn(m, batch):
            return lm_loss(m, *batch), {}

        def evaluate(m) -> dict:
            if val.numel() < 2:
                return {}
            r = windowed_nll(m, val, tb, context=T, batch_size=cfg.batch_size, device=device, autocast_dtype=dtype)
            return {"val_loss": r.loss, "val_bpb": r.bpb}

        stage = Stage("pretrain", model, tok, cfg, get_batch, loss_fn, cfg.batch_size * T, evaluate=evaluate,
                      info={"preset": preset_name, "optimizer": cfg.optimizer, "schedule": cfg.schedule,
                            "seed": cfg.seed, "data": list(data), "context": T})
        return run_stage(stage, opts, dist, device, dtype)
