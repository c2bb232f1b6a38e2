"""CppDecoder: FastDecoder's weights with decode_one as one C++ call (model/csrc/decode_step.cpp), and its build.

The extension is built with torch.utils.cpp_extension.load into the user cache
($CHATCLI_CACHE_DIR, else $XDG_CACHE_HOME/chatcli, else ~/.cache/chatcli)/cpp/<hash of source, torch version,
machine>; a second load of the same source reuses that build. Batch 1, fp32 only; prefill stays FastDecoder's.
"""
from __future__ import annotations

import hashlib
import os
import platform
from pathlib import Path

import torch

from model.fast import FastDecoder
from model.kv_cache import KVCache

SOURCE = Path(__file__).parent / "csrc" / "decode_step.cpp"
FLAGS = ["-O3", "-march=native", "-fopenmp"]


def build_dir() -> Path:
    root = os.environ.get("CHATCLI_CACHE_DIR") or os.path.join(
        os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache"), "chatcli")
    key = hashlib.sha256(SOURCE.read_bytes() + torch.__version__.encode() + platform.machine().encode()
                         + " ".join(FLAGS).encode()).hexdigest()[:16]
    return Path(root) / "cpp" / key


def load_extension():
    """Build (first time, about a minute) or reuse the compiled step module."""
    from torch.utils.cpp_extension import load
    d = build_dir()
    d.mkdir(parents=True, exist_ok=True)
    return load("chatcli_decode_" + d.name, [str(SOURCE)], build_directory=str(d), extra_cflags=FLAGS,
                extra_ldflags=["-fopenmp"], verbose=False)


class CppDecoder:
    """A model.engine engine: prefill through FastDecoder, decode_one as one C++ step into the same cache."""

    name = "cpp"

    def __init__(self, fast: FastDecoder, ext=None) -> None:
        if fast.dtype != torch.float32 or fast.device.type != "cpu":
            raise ValueError("the cpp engine runs fp32 on the CPU only")
        ext = ext or load_extension()
        self.fast, self.config, self.dtype = fast, fast.config, fast.dtype
        ws = [t for (an, qkv, wo, fn, w13, w2) in fast.layers
              for t in (an.contiguous(), qkv.wt, wo.wt, fn.contiguous(), w13.wt, w2.wt)]
        self._step = ext.DecodeStep(ws, fast.norm_w.contiguous(), fast.head.wt, fast.emb.contiguous(),
                                    fast.cos.contiguous(), fast.sin.contiguous(), fast.H, fast.KV, fast.D,
                                    fast.FF, fast.eps)

    @property
    def device(self) -> torch.device:
        return self.fast.device

    def new_cache(self, batch: int = 1, max_len: int | None = None) -> KVCache:
        return self.fast.new_cache(batch, max_len)

    def prefill(self, ids: torch.Tensor, start: int, cache: KVCache) -> torch.Tensor:
        return self.fast.prefill(ids, start, cache)  # (B, V)

    def decode_one(self, token: torch.Tensor, pos: int, cache: KVCache) -> torch.Tensor:
        if token.numel() != 1:
            return self.fast.decode_one(token, pos, cache)  # (B, V): the C++ step is batch 1
        return self._step.step(int(token), pos, cache.k, cache.v)  # (1, V)
