"""`chatcli eval`: loss per token and bits per byte of a model on a text file (strided windows)."""
from __future__ import annotations

from pathlib import Path

import torch

from chatcli.bundle import load_bundle
from chatcli.data.shards import token_byte_lengths
from chatcli.data.sources import iter_file
from chatcli.device import resolve_device
from chatcli.errors import ChatcliError
from chatcli.training.runner import train_dtype
from model.train.evaluate import windowed_nll


def evaluate_text(model_dir: Path | None, data: Path, *, context: int = 0, stride: int = 0, device: str = "auto",
                  dtype: str = "auto", max_tokens: int = 0, batch_size: int = 8) -> dict:
    """Evaluate on data (text: documents split by blank lines; JSONL: "text"/chat/pref records).

    Returns {"bpb", "loss", "tokens", "bytes", "context", "stride", "model", "data"}.
    """
    data = Path(data)
    if not data.is_file():
        raise ChatcliError(f"{data}: no such file")
    dev = resolve_device(device)
    bundle = load_bundle(model_dir, device=dev, dtype=torch.float32)
    tok = bundle.tokenizer
    ids: list[int] = []
    for doc in iter_file(data):
        ids += [tok.bos_id, *tok.encode(doc.plain_text()), tok.eos_id]
    if len(ids) < 2:
        raise ChatcliError(f"{data}: no text to evaluate")
    if max_tokens:
        ids = ids[: max_tokens + 1]
    T = min(context or bundle.model.config.max_seq_len, bundle.model.config.max_seq_len)
    S = stride or max(1, T // 2)
    if S > T:
        raise ChatcliError(f"--stride ({S}) cannot exceed the context ({T})")
    res = windowed_nll(bundle.model, torch.tensor(ids, dtype=torch.int64), torch.from_numpy(token_byte_lengths(tok)),
                       context=T, stride=S, batch_size=batch_size, device=dev, autocast_dtype=train_dtype(dtype, dev))
    return {**res.to_dict(), "context": T, "stride": S, "model": str(bundle.path), "data": str(data)}


__all__ = ["evaluate_text"]
