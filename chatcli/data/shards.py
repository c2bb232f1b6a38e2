"""Tokenize a corpus once into memory-mapped token shards, cached by a hash of the inputs.

Layout of a cache entry `<cache>/<key>/`: train.bin, val.bin (flat uint16 token ids, uint32 when the
vocabulary exceeds 65535), train_mask.bin (uint8, 1 where the token is a training target; only when
the corpus has chat documents) and meta.json (written last: its presence marks a complete entry).
A text document is stored as bos + ids + eos, every token but bos a target; a chat document (when a
chat template is given) as the template renders it, only the assistant replies and their <|end|>
being targets, so one mixed pretraining run learns text and chat from step 0. The key hashes the sources' paths, sizes and mtimes,
their weights, the tokenizer bytes, the validation fraction and the split seed.
"""
from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from chatcli.data.corpus import load_corpus
from chatcli.data.sources import Document, parse_source
from chatcli.errors import ChatcliError
from model.checkpoint import atomic_write_bytes, atomic_write_json

SHARD_VERSION = 2


@dataclass
class TokenShards:
    train: np.ndarray  # (N,) memmap
    val: np.ndarray  # (M,) memmap
    meta: dict
    path: Path
    cached: bool  # True when reused from an earlier run
    train_mask: np.ndarray | None = None  # (N,) uint8 memmap, None when every token is a target


def token_dtype(vocab_size: int) -> np.dtype:
    return np.dtype(np.uint16) if vocab_size <= 65536 else np.dtype(np.uint32)


def cache_key(specs: Sequence[str], tokenizer_bytes: bytes, val_frac: float, seed: int) -> str:
    h = hashlib.sha256()
    fp = [SHARD_VERSION, val_frac, seed] + [parse_source(s).fingerprint() for s in specs]
    h.update(json.dumps(fp).encode())
    h.update(hashlib.sha256(tokenizer_bytes).digest())
    return h.hexdigest()[:20]


def encode_documents(docs: Sequence[Document], tok, dtype: np.dtype,
                     template=None) -> tuple[np.ndarray, int, np.ndarray | None]:
    """Documents concatenated -> (tokens, number of UTF-8 text bytes, target mask or None).

    With a chat template, chat documents are rendered with their markers and a mask that covers only
    the assistant replies; without one (or for text) a document is bos + ids + eos, all targets."""
    pieces, masks, n_bytes, any_chat = [], [], 0, False
    for d in docs:
        text = d.plain_text()
        n_bytes += len(text.encode("utf-8"))
        if template is not None and d.kind == "chat":
            ids, mask = template.render(d.messages)
            any_chat = True
        else:
            ids = [tok.bos_id, *tok.encode(text), tok.eos_id]
            mask = [0] + [1] * (len(ids) - 1)
        pieces.append(np.asarray(ids, dtype=dtype))
        masks.append(np.asarray(mask, dtype=np.uint8))
    if not pieces:
        return np.zeros(0, dtype=dtype), 0, None
    return np.concatenate(pieces), n_bytes, (np.concatenate(masks) if any_chat else None)


def _write_array(path: Path, arr: np.ndarray) -> None:
    atomic_write_bytes(path, arr.tobytes())


def _open(path: Path, dtype: np.dtype) -> np.ndarray:
    if path.stat().st_size == 0:
        return np.zeros(0, dtype=dtype)
    return np.memmap(path, dtype=dtype, mode="r")


def build_shards(specs: Sequence[str], tok, cache_root: Path, *, val_frac: float = 0.05, seed: int = 0,
                 kinds: Sequence[str] | None = None, log: Callable[[str], None] | None = None,
                 template=None) -> TokenShards:
    """Tokenize (or reuse) the corpus named by specs into train/val shards under cache_root.

    template: a tokenizer.chat.ChatTemplate to render chat documents with loss masks (see above)."""
    if not 0 <= val_frac < 1:
        raise ChatcliError(f"--val-frac must be in [0, 1), got {val_frac}")
    dtype = token_dtype(tok.vocab_size)
    key = cache_key(specs, tok.serialized(), val_frac, seed) + ("-chat" if template is not None else "")
    entry = Path(cache_root) / key
    meta_path = entry / "meta.json"
    if meta_path.is_file():
        meta = json.loads(meta_path.read_text())
        dt = np.dtype(meta["dtype"])
        tm = _open(entry / "train_mask.bin", np.dtype(np.uint8)) if meta.get("masked") else None
        return TokenShards(_open(entry / "train.bin", dt), _open(entry / "val.bin", dt), meta, entry, True, tm)
    corpus = load_corpus(specs, kinds)
    train_docs, val_docs = corpus.split(val_frac, seed)
    if log:
        log(f"tokenizing {len(train_docs)} training and {len(val_docs)} validation documents")
    train, train_bytes, train_mask = encode_documents(train_docs, tok, dtype, template)
    val, val_bytes, _ = encode_documents(val_docs, tok, dtype, template)
    entry.mkdir(parents=True, exist_ok=True)
    _write_array(entry / "train.bin", train)
    _write_array(entry / "val.bin", val)
    if train_mask is not None:
        _write_array(entry / "train_mask.bin", train_mask)
    meta = {"version": SHARD_VERSION, "dtype": dtype.name, "vocab_size": tok.vocab_size,
            "train_tokens": int(train.size), "val_tokens": int(val.size), "train_docs": len(train_docs),
            "val_docs": len(val_docs), "train_bytes": train_bytes, "val_bytes": val_bytes,
            "sources": list(specs), "val_frac": val_frac, "seed": seed, "masked": train_mask is not None,
            "train_targets": int(train_mask.sum()) if train_mask is not None else int(train.size)}
    atomic_write_json(meta_path, meta)
    tm = _open(entry / "train_mask.bin", np.dtype(np.uint8)) if train_mask is not None else None
    return TokenShards(_open(entry / "train.bin", dtype), _open(entry / "val.bin", dtype), meta, entry, False, tm)


def token_byte_lengths(tok) -> np.ndarray:
    """UTF-8 bytes of text each token id stands for (0 for bos/eos/control/unknown), shape (V,)."""
    out = np.zeros(tok.vocab_size, dtype=np.int64)
    for i in range(tok.vocab_size):
        if tok.is_special(i):
            continue
        piece = tok.piece(i)
        if tok.sp.is_byte(i):
            out[i] = 1
        else:
            out[i] = len(piece.replace("\u2581", " ").encode("utf-8"))
    return out
