"""One mixed pretraining from step 0: chat JSONL rendered with loss masks next to plain text."""
from __future__ import annotations

import json

import numpy as np
import torch

from chatcli.data.shards import build_shards, encode_documents
from chatcli.data.sources import Document
from chatcli.training.pretrain import window_sampler
from tokenizer.chat import ChatTemplate


def _chat_file(tmp_path, n=40):
    path = tmp_path / "chat.jsonl"
    rows = [{"messages": [{"role": "user", "content": f"What is {i} + 1?"},
                          {"role": "assistant", "content": f"So the answer is {i + 1}."}]} for i in range(n)]
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


def test_chat_documents_are_rendered_with_reply_masks(tokenizer):
    tpl = ChatTemplate(tokenizer)
    msgs = [{"role": "user", "content": "Hi there"}, {"role": "assistant", "content": "Hello."}]
    docs = [Document("text", text="the king said"), Document("chat", messages=msgs)]
    ids, n_bytes, mask = encode_documents(docs, tokenizer, np.dtype(np.uint16), tpl)
    text_ids = [tokenizer.bos_id, *tokenizer.encode("the king said"), tokenizer.eos_id]
    chat_ids, chat_mask = tpl.render(msgs)
    assert ids.tolist() == text_ids + chat_ids
    assert mask.tolist() == [0] + [1] * (len(text_ids) - 1) + chat_mask
    targets = [i for i, m in zip(chat_ids, chat_mask) if m]
    assert tokenizer.decode(targets[:-1]) == "Hello." and targets[-1] == tpl.end_id  # the reply and <|end|>
    # without a template a chat document is its plain text, every token a target (the old behaviour)
    ids2, _, mask2 = encode_documents(docs, tokenizer, np.dtype(np.uint16))
    assert mask2 is None and tpl.end_id not in ids2.tolist()


def test_masked_shards_are_cached_and_sampled_aligned(tmp_path, tokenizer, corpus_file):
    tpl = ChatTemplate(tokenizer)
    specs = [str(_chat_file(tmp_path)), str(corpus_file)]
    first = build_shards(specs, tokenizer, tmp_path / "cache", val_frac=0.1, template=tpl)
    again = build_shards(specs, tokenizer, tmp_path / "cache", val_frac=0.1, template=tpl)
    assert not first.cached and again.cached and first.meta["masked"]
    assert np.array_equal(np.asarray(first.train_mask), np.asarray(again.train_mask))
    assert len(first.train_mask) == len(first.train) and 0 < first.meta["train_targets"] < len(first.train)
    plain = build_shards(specs, tokenizer, tmp_path / "cache", val_frac=0.1)
    assert plain.path != first.path and plain.train_mask is None
    get = window_sampler(np.asarray(first.train), 8, 32, seed=1, device=torch.device("cpu"),
                         mask=np.asarray(first.train_mask))
    x, y, m = get(0, 0)
    assert x.shape == y.shape == m.shape == (8, 32) and torch.equal(x[:, 1:], y[:, :-1])
    data, mask = np.asarray(first.train), np.asarray(first.train_mask)
    for row_x, row_m in zip(x.tolist(), m.tolist()):  # the mask follows the target (y) positions
        start = next(s for s in range(len(data) - 32) if data[s:s + 32].tolist() == row_x)
        assert row_m == mask[start + 1:start + 33].tolist()
    # after a user turn's <|end|> the <|assistant|> marker is given, never a target
    assist = tpl.role_ids["assistant"]
    assert not any(mk for t, mk in zip(y.flatten().tolist(), m.flatten().tolist()) if t == assist)


def test_mixed_pretrain_runs_and_learns_replies(tmp_path, tokenizer, corpus_file):
    from chatcli.training.pretrain import pretrain
    from chatcli.training.runner import RunOptions
    from model.train.config import TrainConfig
    tok_dir = tmp_path / "tok"
    tok_dir.mkdir()
    (tok_dir / "tokenizer.model").write_bytes(tokenizer.serialized())
    cfg = TrainConfig(max_steps=30, batch_size=8, context=64, lr=3e-3, warmup_steps=2, eval_every=30,
                      ckpt_every=30, log_every=10, seed=0)
    meta = pretrain([str(_chat_file(tmp_path)) + "@3", str(corpus_file)], tok_dir, "nano", cfg,
                    RunOptions(out=tmp_path / "run", threads=1), val_frac=0.1)
    rows = [json.loads(x) for x in (tmp_path / "run" / "metrics.jsonl").read_text().splitlines()]
    losses = [r["train_loss"] for r in rows if "train_loss" in r]
    assert meta["stages"][-1]["steps"] == 30 and losses[-1] < losses[0]
    assert (tmp_path / "run" / "model.safetensors").is_file()
