"""CompiledDecoder: FastDecoder's fixed-shape decode step as one compiled graph, and engine choice.

The step (`FastDecoder.step_static`: token and position as tensors, one full-length cache with a
mask) is handed to torch.compile with fullgraph=True and static shapes: Inductor's C++ kernels with
its C++ wrapper on CPU, CUDA graphs ("reduce-overhead") on a GPU, so no Python runs between the
kernels of a step. Compiling takes minutes on a small CPU the first time; Inductor's on-disk cache
(under the user's temp/cache dir, keyed by graph, shapes, dtype and torch version) brings a later
build of the same shape down to seconds.
Prefill stays eager (its length varies). The engine owns one static cache per batch size: the
cache it hands out is always that one, and a step only reads positions <= pos (masked).

`make_engine(model, kind)` is how callers pick a decode path: "reference", "fast", "compiled",
"cpp" (model.cpp_ext: the whole batch-1 CPU step as one C++ call, fp32 or int8 weights, built once into
the user cache), or "auto": compiled on CUDA; on the CPU cpp when the model is fp32 (int8-quantized or
not), batch 1 and the C++ step is already built (auto never compiles), else fast (the measured
compiled step did not win at our sizes: see benchmarks/RESULTS.md). When compiling fails (no C++ compiler, an unsupported op)
or the model does not suit the engine asked for, it falls back to the fast engine and says so once
through `notify`.
"""
from __future__ import annotations

from collections.abc import Callable

import torch

from model.engine import ReferenceEngine, error_summary
from model.fast import FastDecoder
from model.kv_cache import KVCache

KINDS = ("auto", "compiled", "cpp", "fast", "reference")


class CompileUnavailable(RuntimeError):
    """The compiled step could not be built on this machine."""


class CompiledDecoder:
    """A model.engine engine whose decode_one is a compiled whole step."""

    def __init__(self, fast: FastDecoder, batch: int = 1) -> None:
        self.fast = fast
        self.config, self.dtype, self.batch = fast.config, fast.dtype, batch
        cuda = fast.device.type == "cuda"
        self.name = "compiled-cudagraphs" if cuda else "compiled-inductor"
        self.static = fast.setup_static(batch, fast.config.max_seq_len)
        self._pos = torch.zeros(1, dtype=torch.long, device=fast.device)  # (1,)
        if cuda:
            self._step = torch.compile(fast.step_static, mode="reduce-overhead", fullgraph=True, dynamic=False)
        else:  # Inductor's C++ wrapper: the step's kernels are called from C++, not from Python
            self._step = torch.compile(fast.step_static, options={"cpp_wrapper": True}, fullgraph=True, dynamic=False)

    @property
    def device(self) -> torch.device:
        return self.fast.device

    def new_cache(self, batch: int = 1, max_len: int | None = None) -> KVCache:
        if batch != self.batch:
            raise ValueError(f"this compiled engine was built for batch {self.batch}, not {batch}")
        return self.static

    def prefill(self, ids: torch.Tensor, start: int, cache: KVCache) -> torch.Tensor:
        assert cache is self.static, "the compiled engine decodes into its own static cache"
        return self.fast.prefill(ids, start, cache)  # (B, V)

    @torch.inference_mode()
    def decode_one(self, token: torch.Tensor, pos: int, cache: KVCache) -> torch.Tensor:
        assert cache is self.static, "the compiled engine decodes into its own static cache"
        self._pos.fill_(pos)
        return self._step(token.view(-1), self._pos)  # (B, V)

    def warm_up(self) -> None:
        """Compile now (first call), so a failure shows here and not in the middle of an answer."""
        try:
            token = torch.zeros(self.batch, dtype=torch.long, device=self.device)
            for _ in range(2):  # the second call checks that the first one's guards hold
                self.decode_one(token, 0, self.static)
        except Exception as e:  # Inductor raises many kinds; any of them means "not here"
            raise CompileUnavailable(error_summary(e)) from e


def _cpp_engine(fast: FastDecoder, batch: int, *, build: bool, notify: Callable[[str], None]):
    """The cpp engine over fast, or None (with one notice when it was asked for by name)."""
    from model.cpp_ext import CppDecoder, load_extension, supported
    why = "it decodes batch 1 only" if batch != 1 else supported(fast)
    if why is None:
        try:
            return CppDecoder(fast, load_extension(build=build, notify=notify))
        except RuntimeError as e:  # CppUnavailable, or a shape the C++ step refuses
            why = str(e)
    if build:
        notify(f"C++ decode step unavailable ({why}); using the fast engine")
    return None


def make_engine(model, kind: str = "auto", *, batch: int = 1, notify: Callable[[str], None] | None = None):
    """The decode engine of `kind` for a Transformer (int8-quantized or not); see module docstring."""
    if kind not in KINDS:
        raise ValueError(f"unknown engine {kind!r} (use {', '.join(KINDS)})")
    if kind == "reference":
        return ReferenceEngine(model)
    say = notify or (lambda m: None)
    fast = FastDecoder(model)
    if kind == "cpp" or (kind == "auto" and fast.device.type == "cpu"):
        return _cpp_engine(fast, batch, build=kind == "cpp", notify=say) or fast
    if kind == "fast" or (kind == "auto" and fast.device.type != "cuda"):
        return fast
    try:
        engine = CompiledDecoder(fast, batch)
        engine.warm_up()
        return engine
    except CompileUnavailable as e:
        say(f"compiled decode step unavailable ({e}); using the fast engine")
        return FastDecoder(model)
