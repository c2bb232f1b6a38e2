"""`train dpo`: Direct Preference Optimisation against a frozen copy of the starting (SFT) model.

Each pair is rendered as prompt (chat template, ending with the assistant marker) + response + <|end|>;
only response tokens count in the summed log-probs. Held-out pairs give preference accuracy and margin.
"""
from __future__ import annotations

import copy
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch

from chatcli.data.corpus import load_corpus
from chatcli.errors import ChatcliError
from chatcli.training.runner import RunOptions, Stage, check_fresh_out, run_stage, training_runtime
from chatcli.training.sft import load_base
from model.train.config import TrainConfig
from model.train.losses import dpo_loss, sequence_logprobs
from tokenizer.chat import ChatTemplate


def encode_pair(doc, template: ChatTemplate, length: int) -> list[tuple[list[int], list[int]]]:
    """[(ids, mask) for chosen, for rejected], each at most `length` tokens; mask marks response tokens."""
    prompt = template.render_prompt(doc.prompt)
    rows = []
    for text in (doc.chosen, doc.rejected):
        resp = template.reply_ids(text)[: max(1, length - 8)]
        p = prompt[-(length - len(resp)):]
        rows.append((p + resp, [0] * len(p) + [1] * len(resp)))
    return rows


def pair_arrays(docs, template: ChatTemplate, length: int, pad: int) -> tuple[np.ndarray, np.ndarray]:
    """ids, mask of shape (N, 2, length): [:, 0] chosen, [:, 1] rejected."""
    ids = np.full((len(docs), 2, length), pad, dtype=np.int64)
    mask = np.zeros((len(docs), 2, length), dtype=np.int64)
    for i, d in enumerate(docs):
        for j, (r, m) in enumerate(encode_pair(d, template, length)):
            ids[i, j, :len(r)] = r
            mask[i, j, :len(m)] = m
    return ids, mask


def dpo(data: Sequence[str], model_dir: Path, cfg: TrainConfig, opts: RunOptions, *, beta: float = 0.1,
        val_frac: float = 0.1, nll_weight: float = 0.0) -> dict:
    """DPO; nll_weight > 0 adds that times the chosen replies' mean per-token NLL (DPO+NLL, as in
    Pang et al. 2024, "Iterative Reasoning Preference Optimization"): on pairs the model separates
    easily, plain DPO can lower both replies' log-probs and drift off into replies it never wrote."""
    with training_runtime(opts, cfg.seed) as (dist, device, dtype):
        check_fresh_out(opts)
        bundle, cfg = load_base(model_dir, device, cfg)
        model, tok, template, T = bundle.model, bundle.tokenizer, bundle.template, cfg.context
        ref = copy.deepcopy(model).eval().requires_grad_(False)
        corpus = load_corpus(data, kinds=("pref",), what="preference")
        train_docs, val_docs = corpus.split(val_frac, cfg.seed)
        if not train_docs:
            raise ChatcliError("no training pairs left after the validation split")
        ids, mask = pair_arrays(train_docs, template, T + 1, tok.eos_id)
        val_ids, val_mask = pair_arrays(val_docs, template, T + 1, tok.eos_id)
        B = cfg.batch_size
        # the frozen reference's log-probs depend only on the pair: computed once per pair, then reused
        ref_cache = np.full((len(ids), 2), np.nan)

        def trimmed(x: np.ndarray, m: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
            """Drop the all-padding tail columns of a (rows, T+1) batch: pairs are mostly much shorter than T."""
            used = int(np.nonzero(m.any(0))[0].max()) + 1 if m.any() else 0
            keep = max(used, 2)  # inputs and targets need at least one position each
            return x[:, :keep], m[:, :keep]

        def get_batch(step: int, micro: int):
            rng = np.random.default_rng([cfg.seed, step, micro])
            pick = rng.integers(0, len(ids), size=B)
            xb, mb = trimmed(ids[pick].transpose(1, 0, 2).reshape(2 * B, T + 1),  # (2B, L) chosen first
                             mask[pick].transpose(1, 0, 2).reshape(2 * B, T + 1))
            x, m = torch.from_numpy(xb).to(device), torch.from_numpy(mb).to(device)
            return x[:, :-1], x[:, 1:], m[:, 1:].float(), pick

        def pair_loss(m, batch):
            x, y, mk, pick = batch
            n = x.shape[0] // 2
            logp = sequence_logprobs(m, x, y, mk)  # (2B,)
            if pick is None or np.isnan(ref_cache[pick]).any():
                with torch.no_grad():
                    ref_logp = sequence_logprobs(ref, x, y, mk).float()  # (2B,)
                if pick is not None:
                    ref_cache[pick] = ref_logp.view(2, n).T.cpu().numpy()
            else:
                ref_logp = torch.from_numpy(ref_cache[pick].T.reshape(-1)).to(device=x.device, dtype=torch.float32)
            loss, acc, margin = dpo_loss(logp[:n], logp[n:], ref_logp[:n], ref_logp[n:], beta)
            nll = -(logp[:n] / mk[:n].sum(-1).clamp(min=1)).mean()  # chosen replies, per token
            return loss + nll_weight * nll if nll_weight else loss, acc, margin, nll.detach()

        def loss_fn(m, batch):
            loss, acc, margin, nll = pair_loss(m, batch)
            return loss, {"acc": acc, "margin": margin, "nll": nll}

        @torch.no_grad()
        def evaluate(m) -> dict:
            if len(val_ids) == 0:
                return {}
            m.eval()
            tot = {"val_loss": 0.0, "val_acc": 0.0, "val_margin": 0.0, "val_nll": 0.0}
            n_batches = 0
            for i in range(0, min(len(val_ids), 256), B):
                b = len(val_ids[i:i + B])
                xb, mb = trimmed(val_ids[i:i + B].transpose(1, 0, 2).reshape(2 * b, T + 1),
                                 val_mask[i:i + B].transpose(1, 0, 2).reshape(2 * b, T + 1))
                x, mk = torch.from_numpy(xb).to(device), torch.from_numpy(mb).to(device).float()
                with torch.autocast(device.type, dtype=dtype, enabled=dtype != torch.float32):
                    vals = pair_loss(m, (x[:, :-1], x[:, 1:], mk[:, 1:], None))
                for k, v in zip(tot, vals):
                    tot[k] += float(v)
                n_batches += 1
            return {k: v / n_batches for k, v in tot.items()}

        stage = Stage("dpo", model, tok, cfg, get_batch, loss_fn, 2 * B * T, evaluate=evaluate,
                      prior_training=bundle.meta.get("training", {}),
                      info={"base": str(model_dir), "beta": beta, "nll_weight": nll_weight, "data": list(data),
                            "seed": cfg.seed})
        return run_stage(stage, opts, dist, device, dtype)
