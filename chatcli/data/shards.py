"""Tokenize a corpus once into memory-mapped token shards, cached by a hash of the inputs.

Layout of a cache entry `<cache>/<key>/`: train.bin, val.bin (flat uint16 token ids, uint32 when the
vocabulary exceeds 65535) and meta.json (written last: its presence marks a complete entry).
Each document is stored as bos + ids + eos. The key hashes the sources' paths, sizes and mtimes,
their weights, the tokenizer bytes, the validation fraction and the split seed.
"""
from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Sequence

import numpy as np

from chatcli.data.corpus import load_corpus
from chatcli.data.sources import Document, parse_source
from chatcli.errors import ChatcliError
from model.checkpoint import atomic_write_bytes, atomic_write_json

SHARD_VERSION = 1


@dataclass
class TokenShards:
    train: np.ndarray  # (N,) memmap
    val: np.ndarray  # (M,) memmap
    meta: dict
    path: Path
    cached: bool  # True when reused from an earlier run


def token_dtype(vocab_size: int) -> np.dtype:
    return np.dtype(np.uint16) if vocab_size <= 65536 else np.dtype(np.uint32)


def cache_key(specs: Sequence[str], tokenizer_bytes: bytes, val_frac: float, seed: int) -> str:
    h = hashlib.sha256()
    fp = [SHARD_VERSION, val_frac, seed] + [parse_source(s).fingerprint() for s in specs]
    h.update(json.dumps(fp).encode())
    h.update(hashlib.sha256(tokenizer_bytes).digest())
    return h.hexdigest()[:20]


def encode_documents(docs: Sequence[Document], tok, dtype: np.dtype) -> tuple[np.ndarray, int]:
    """bos + ids + eos per document, concatenated; returns (tokens, number of UTF-8 text bytes)."""
    pieces, n_bytes = [], 0
    for d in docs:
        text = d.plain_text()
        n_bytes += len(text.encode("utf-8"))
        pieces.append(np.asarray([tok.bos_id, *tok.encode(text), tok.eos_id], dtype=dtype))
    if not pieces:
        return np.zeros(0, dtype=dtype), 0
    return np.concatenate(pieces), n_bytes


def _write_array(path: Path, arr: np.ndarray) -> None:
    atomic_write_bytes(path, arr.tobytes())


def _open(path: Path, dtype: np.dtype) -> np.ndarray:
    if path.stat().st_size == 0:
        return np.zeros(0, dtype=dtype)
    return np.memmap(path, dtype=dtype, mode="r")


def build_shards(specs: Sequence[str], tok, cache_root: Path, *, val_frac: float = 0.05, seed: int = 0,
                 kinds: Sequence[str] | None = None, log: Callable[[str], None] | None = None) -> TokenShards:
    """Tokenize (or reuse) the corpus named by specs into train/val shards under cache_root."""
    if not 0 <= val_frac < 1:
        raise ChatcliError(f"--val-frac must be in [0, 1), got {val_frac}")
    dtype = token_dtype(tok.vocab_size)
    key = cache_key(specs, tok.serialized(), val_frac, seed)
    entry = Path(cache_root) / key
    meta_path = entry / "meta.json"
    if meta_path.is_file():
        meta = json.loads(meta_path.read_text())
        dt = np.dtype(meta["dtype"])
        return TokenShards(_open(entry / "train.bin", dt), _open(entry / "val.bin", dt), meta, entry, True)
    corpus = load_corpus(specs, kinds)
    train_docs, val_docs = corpus.split(val_frac, seed)
    if log:
        log(f"tokenizing {len(train_docs)} training and {len(val_docs)} validation documents")
    train, train_bytes = encode_documents(train_docs, tok, dtype)
    val, val_bytes = encode_documents(val_docs, tok, dtype)
    entry.mkdir(parents=True, exist_ok=True)
    _write_array(entry / "train.bin", train)
    _write_array(entry / "val.bin", val)
    meta = {"version": SHARD_VERSION, "dtype": dtype.name, "vocab_size": tok.vocab_size,
            "train_tokens": int(train.size), "val_tokens": int(val.size), "train_docs": len(train_docs),
            "val_docs": len(val_docs), "train_bytes": train_bytes, "val_bytes": val_bytes,
            "sources": list(specs), "val_frac": val_frac, "seed": seed}
    atomic_write_json(meta_path, meta)
    return TokenShards(_open(entry / "train.bin", dtype), _open(entry / "val.bin", dtype), meta, entry, False)


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
