"""CppDecoder: FastDecoder's weights with decode_one as one C++ call (model/csrc/decode_step.cpp), its one-call
sampler (model/csrc/sample.cpp), and the extension's build.

The extension is built once with torch.utils.cpp_extension.load (about a minute) into the user cache
($CHATCLI_CACHE_DIR, else $XDG_CACHE_HOME/chatcli, else ~/.cache/chatcli)/cpp/<key>, the key a hash of the
sources, the flags, torch's and Python's versions and this CPU (the build uses -march=native), computed once a
process (`build_key`; the cache root is read on every call). A later load imports that build's module file
directly (no compiler, no ninja, no setuptools import), so `is_built()` tells a caller whether using the
engine would compile. The module is named chatcli_decode_<key>, which is
also the TORCH_EXTENSION_NAME its PYBIND11_MODULE is compiled under, so every build has its own name.
Batch 1 on the CPU, fp32 activations over fp32 or int8 weights (model.quantize's per-output-column scales);
prefill stays FastDecoder's. `CppDecoder.sample` is model.sampling.sample's distribution in one call (the
decode loop uses it through model.engine.sampler_of); anything it does not take goes to `sample` itself.
"""
from __future__ import annotations

import functools
import hashlib
import importlib.util
import os
import platform
import shutil
import sys
from collections.abc import Callable
from pathlib import Path

import torch

from model.engine import error_summary
from model.fast import FastDecoder
from model.kv_cache import KVCache
from model.quantize import Int8Kernel
from model.sampling import SamplingConfig, sample

CSRC = Path(__file__).parent / "csrc"
SOURCE = CSRC / "decode_step.cpp"
SOURCES = [SOURCE, CSRC / "sample.cpp"]  # compiled and linked into one module
HEADERS = [CSRC / "common.h", CSRC / "sample.h"]
FLAGS = ["-O3", "-march=native", "-fopenmp"]
BUILD_NOTICE = "compiling the C++ decode step once (about a minute; later runs reuse it)"


class CppUnavailable(RuntimeError):
    """The C++ decode step cannot be built or loaded here (no compiler, a failed build, not built yet)."""


def _cpu_id() -> bytes:
    """What -march=native depends on: the CPU's feature flags where /proc/cpuinfo has them."""
    try:
        with open("/proc/cpuinfo", encoding="utf-8", errors="replace") as f:
            for line in f:
                if line.startswith(("flags", "Features")):
                    return line.encode()
    except OSError:
        pass
    return platform.processor().encode()


@functools.lru_cache(maxsize=1)
def build_key() -> str:
    """The build's key: computed once a process (it hashes the source and reads /proc/cpuinfo, and
    make_engine("auto") asks on every call); build_key.cache_clear() forgets it."""
    sources = b"".join(p.read_bytes() for p in SOURCES + HEADERS)
    return hashlib.sha256(sources + torch.__version__.encode() + platform.machine().encode()
                          + sys.version.encode() + _cpu_id() + " ".join(FLAGS).encode()).hexdigest()[:16]


def build_dir() -> Path:
    """<cache root>/cpp/<key>: the root read from the environment on every call, the key memoised."""
    root = os.environ.get("CHATCLI_CACHE_DIR") or os.path.join(
        os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache"), "chatcli")
    return Path(root) / "cpp" / build_key()


def module_name(d: Path | None = None) -> str:
    return "chatcli_decode_" + (d or build_dir()).name


def module_path(d: Path | None = None) -> Path:
    """The built module file (torch.utils.cpp_extension names it <name>.so, .pyd on Windows)."""
    d = d or build_dir()
    return d / (module_name(d) + (".pyd" if os.name == "nt" else ".so"))


def is_built() -> bool:
    """Whether loading the extension would reuse a finished build (no compiling)."""
    return module_path().is_file()


def _checked(mod):
    if not hasattr(mod, "DecodeStep"):
        raise CppUnavailable(f"{getattr(mod, '__file__', mod)} has no DecodeStep (a stale or foreign build)")
    return mod


def _import(name: str, path: Path):
    if name in sys.modules:
        return _checked(sys.modules[name])
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:
        raise CppUnavailable(f"cannot import {path}")
    mod = importlib.util.module_from_spec(spec)
    try:
        spec.loader.exec_module(mod)
    except ImportError as e:
        raise CppUnavailable(f"cannot import {path}: {e}") from e
    sys.modules[name] = mod
    return _checked(mod)


def _compiler() -> str | None:
    return os.environ.get("CXX") or shutil.which("c++") or shutil.which("g++") or shutil.which("clang++")


def load_extension(build: bool = True, notify: Callable[[str], None] | None = None):
    """The compiled step module: a finished build imported as is, else (build=True) compiled first.

    Raises CppUnavailable when it is not built and build is False, or when building fails; notify (if
    given) hears BUILD_NOTICE once before a compile starts.
    """
    d = build_dir()
    name, path = module_name(d), module_path(d)
    if path.is_file():
        return _import(name, path)
    if not build:
        raise CppUnavailable("not built yet (`chatcli bench --engine cpp` builds it)")
    if _compiler() is None:
        raise CppUnavailable("no C++ compiler found (install g++ or set CXX)")
    if notify:
        notify(BUILD_NOTICE)
    from torch.utils.cpp_extension import load
    d.mkdir(parents=True, exist_ok=True)
    try:
        mod = load(name, [str(p) for p in SOURCES], build_directory=str(d), extra_cflags=FLAGS, extra_ldflags=["-fopenmp"],
                   verbose=False)
    except Exception as e:  # compiler errors, a missing ninja, a failed import: all mean "not here"
        raise CppUnavailable(f"building the C++ decode step failed ({error_summary(e)})") from e
    sys.modules.setdefault(name, mod)
    return _checked(mod)


def supported(fast: FastDecoder) -> str | None:
    """None when the cpp engine can run this decoder, else why not."""
    if fast.device.type != "cpu":
        return f"it runs on the CPU only, not {fast.device.type}"
    if fast.dtype != torch.float32:
        return f"it runs fp32 only, not {str(fast.dtype).replace('torch.', '')}"
    kernels = [k for layer in fast.layers for k in layer[1:] if not isinstance(k, torch.Tensor)] + [fast.head]
    if not all(hasattr(k, "wt") or isinstance(k, Int8Kernel) for k in kernels):
        return "it runs fp32 or int8 weights only"
    return None


def _matrix(kernel) -> tuple[torch.Tensor, torch.Tensor]:
    """(weight, scales) as DecodeStep takes them: W^T (K, N) fp32 and no scales, or int8 q (N, K) and (N,)."""
    if isinstance(kernel, Int8Kernel):
        return kernel.q[:, :kernel.in_features].contiguous(), kernel.scales.contiguous()  # (N, K), (N,)
    return kernel.wt, torch.empty(0)  # (K, N)


class CppDecoder:
    """A model.engine engine: prefill through FastDecoder, decode_one as one C++ step into the same cache."""

    name = "cpp"

    def __init__(self, fast: FastDecoder, ext=None) -> None:
        why = supported(fast)
        if why:
            raise ValueError(f"the cpp engine cannot run this model: {why}")
        ext = ext or load_extension()
        self.fast, self.config, self.dtype = fast, fast.config, fast.dtype
        self.quantized = "int8" if isinstance(fast.head, Int8Kernel) else None
        ws, scales = [], []
        for an, *kernels in fast.layers:
            (qkv, s_qkv), (wo, s_wo), fn, (w13, s_13), (w2, s_2) = [
                k.contiguous() if isinstance(k, torch.Tensor) else _matrix(k) for k in kernels]
            ws += [an.contiguous(), qkv, wo, fn, w13, w2]
            scales += [s_qkv, s_wo, s_13, s_2]
        head, s_head = _matrix(fast.head)
        self._ext = ext
        self._step = ext.DecodeStep(ws, scales + [s_head], fast.norm_w.contiguous(), head, fast.emb.contiguous(),
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
        if pos >= self.config.max_seq_len:
            raise ValueError(f"position {pos} exceeds max_seq_len {self.config.max_seq_len}")
        return self._step.step(int(token), pos, cache.k, cache.v)  # (1, V)

    def sample(self, logits: torch.Tensor, cfg: SamplingConfig, generator: torch.Generator | None = None,
               recent: torch.Tensor | None = None) -> torch.Tensor:
        """model.sampling.sample for one fp32 CPU row in one C++ call: next token (1,); else sample itself."""
        if (logits.shape[0] != 1 or logits.dtype != torch.float32 or logits.device.type != "cpu"
                or (generator is not None and generator.device.type != "cpu")):
            return sample(logits, cfg, generator, recent)
        return self._ext.sample(logits, cfg.temperature, cfg.top_k, cfg.top_p, cfg.min_p, cfg.repeat_penalty,
                                recent, generator)  # (1,)
