"""`chatcli eval`: loss per token and bits per byte of a model on a text file (strided windows)."""
from __future__ import annotations

from pathlib import Path

import torch

from chatcli.bundle import load_bundle
from chatcli.data.shards import token_byte_lengths
from chatcli.data.sources import iter_file
from chatcli.device import resolve_device, train_dtype
from chatcli.errors import ChatcliError
from model.train.evaluate import windowed_nll


def evaluate_text(model_dir: Path | None, data: Path, *, context: int = 0, stride: int = 0, device: str = "auto",
                  dtype: str = "auto", max_tokens: int = 0, batch_size: int = 8, quantize: str | None = None) -> dict:
    """Evaluate on data (text: documents split by blank lines; JSONL: "text"/chat/pref records).

    Returns {"bpb", "loss", "tokens", "bytes", "context", "stride", "model", "data"}.
    """
    data = Path(data)
    if not data.is_file():
        raise ChatcliError(f"{data}: no such file")
    dev = resolve_device(device)
    bundle = load_quantized(model_dir, dev, quantize)
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
    return {**res.to_dict(), "context": T, "stride": S, "model": str(bundle.path), "data": str(data),
            "quantize": quantize or "none"}


def load_quantized(model_dir: Path | None, dev: torch.device, quantize: str | None):
    """Load a bundle in fp32, optionally with weight-only int8 linear layers (model.quantize)."""
    if quantize not in (None, "", "none", "int8"):
        raise ChatcliError(f"unknown --quantize {quantize!r} (use int8)")
    bundle = load_bundle(model_dir, device=dev, dtype=torch.float32)
    if quantize == "int8":
        from model.quantize import quantize_int8
        bundle.model = quantize_int8(bundle.model)
    return bundle


def evaluate_task_slices(model_dir: Path | None, *, tests: Path | None = None, max_per_family: int | None = None,
                         raw: bool = False, device: str = "auto", quantize: str | None = None,
                         progress=None) -> dict:
    """Exact-match accuracy per task family on the held-out test slices (chatcli.tasks)."""
    from chatcli.tasks import evaluate_tasks
    if tests is not None and not Path(tests).exists():
        raise ChatcliError(f"{tests}: no such file or directory")
    bundle = load_quantized(model_dir, resolve_device(device), quantize)
    if not raw and bundle.template is None:
        raise ChatcliError("this model has no chat markers; score it with --raw (Q: ... A: prompts)")
    res = evaluate_tasks(bundle, tests, max_per_family, fmt="raw" if raw else "chat", progress=progress)
    return {**res, "model": str(bundle.path), "quantize": quantize or "none"}


__all__ = ["evaluate_text", "evaluate_task_slices", "load_quantized"]
