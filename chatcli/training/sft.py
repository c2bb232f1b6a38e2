"""`train sft`: chat JSONL rendered by ChatTemplate (loss on assistant tokens only), packed or padded.

Plain-text documents may be mixed in; they are learned in full (bos + text + eos). Packing (default)
concatenates conversations and samples random windows; padding gives each conversation its own row
(truncated to the context, padded with eos under a zero mask).
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path

import numpy as np
import torch

from chatcli.bundle import load_bundle
from chatcli.data.corpus import load_corpus
from chatcli.data.shards import token_byte_lengths
from chatcli.errors import ChatcliError
from chatcli.training.runner import RunOptions, Stage, check_fresh_out, run_stage, training_runtime
from model.train.config import TrainConfig
from model.train.evaluate import rows_nll
from model.train.losses import lm_loss
from tokenizer.chat import ChatTemplate

VAL_ROWS = 256  # held-out conversations scored at each evaluation


def render_docs(docs, template: ChatTemplate) -> list[tuple[list[int], list[int]]]:
    tok = template.tok
    out = []
    for d in docs:
        if d.kind == "chat":
            out.append(template.render(d.messages))
        else:
            ids = [tok.bos_id, *tok.encode(d.text), tok.eos_id]
            out.append((ids, [0] + [1] * (len(ids) - 1)))
    return out


def pad_rows(rows: list[tuple[list[int], list[int]]], length: int, pad_id: int) -> tuple[np.ndarray, np.ndarray]:
    """(N, length) ids and masks, truncated/padded (pad masked out)."""
    ids = np.full((len(rows), length), pad_id, dtype=np.int64)
    mask = np.zeros((len(rows), length), dtype=np.int64)
    for i, (r, m) in enumerate(rows):
        r, m = r[:length], m[:length]
        ids[i, :len(r)] = r
        mask[i, :len(m)] = m
    return ids, mask


def load_base(model_dir: Path, device: torch.device, cfg: TrainConfig):
    """(bundle in training mode, cfg with its context fitted: --context capped at the model's, the
    model's when unset), for the chat-template stages (sft, dpo)."""
    bundle = load_bundle(model_dir, device=device, dtype=torch.float32)
    if bundle.template is None:
        raise ChatcliError(f"{model_dir}: tokenizer has no chat markers; retrain it with this version of chatcli")
    bundle.model.train()
    longest = bundle.model.config.max_seq_len
    return bundle, replace(cfg, context=min(cfg.context or longest, longest))


def sft(data: Sequence[str], model_dir: Path, cfg: TrainConfig, opts: RunOptions, *, packing: bool = True,
        val_frac: float = 0.05) -> dict:
    with training_runtime(opts, cfg.seed) as (dist, device, dtype):
        check_fresh_out(opts)
        bundle, cfg = load_base(model_dir, device, cfg)
        model, tok, template, T = bundle.model, bundle.tokenizer, bundle.template, cfg.context
        corpus = load_corpus(data, kinds=("chat", "text"), what="chat or text")
        train_docs, val_docs = corpus.split(val_frac, cfg.seed)
        if not train_docs:
            raise ChatcliError("no training conversations left after the validation split")
        train_rows = render_docs(train_docs, template)
        B = cfg.batch_size
        if packing:
            ids = np.concatenate([np.asarray(r, dtype=np.int64) for r, _ in train_rows])
            mask = np.concatenate([np.asarray(m, dtype=np.int64) for _, m in train_rows])
            if len(ids) < T + 2:  # tiny corpora: repeat so a window fits
                reps = (T + 2) // len(ids) + 1
                ids, mask = np.tile(ids, reps), np.tile(mask, reps)
            span = np.arange(T + 1)

            def get_batch(step: int, micro: int):
                rng = np.random.default_rng([cfg.seed, step, micro])
                offs = rng.integers(0, len(ids) - T - 1, size=B)[:, None] + span  # (B, T+1)
                x = torch.from_numpy(ids[offs]).to(device)
                m = torch.from_numpy(mask[offs]).to(device)
                return x[:, :-1], x[:, 1:], m[:, 1:]
        else:
            pid, pmask = pad_rows(train_rows, T + 1, tok.eos_id)

            def get_batch(step: int, micro: int):
                rng = np.random.default_rng([cfg.seed, step, micro])
                pick = rng.integers(0, len(pid), size=B)
                x = torch.from_numpy(pid[pick]).to(device)
                m = torch.from_numpy(pmask[pick]).to(device)
                return x[:, :-1], x[:, 1:], m[:, 1:]

        val_ids, val_mask = pad_rows(render_docs(val_docs, template), T + 1, tok.eos_id) if val_docs else (None, None)
        tb = torch.from_numpy(token_byte_lengths(tok)).to(device)

        def loss_fn(m, batch):
            x, y, mk = batch
            return lm_loss(m, x, y, mk), {}

        def evaluate(m) -> dict:
            if val_ids is None:
                return {}
            r = rows_nll(m, torch.from_numpy(val_ids), torch.from_numpy(val_mask), tb, batch_size=B,
                         max_rows=VAL_ROWS, device=device, autocast_dtype=dtype)
            return {"val_loss": r.loss, "val_bpb": r.bpb}

        stage = Stage("sft", model, tok, cfg, get_batch, loss_fn, B * T, evaluate=evaluate,
                      prior_training=bundle.meta.get("training", {}),
                      info={"base": str(model_dir), "packing": packing, "data": list(data), "seed": cfg.seed})
        return run_stage(stage, opts, dist, device, dtype)
