"""Device and dtype selection (inference and training, one dtype table), passed explicitly everywhere else."""
from __future__ import annotations

import torch

from chatcli.errors import ChatcliError


def resolve_device(name: str | None = None) -> torch.device:
    """'auto' (or None) picks cuda, then mps, then cpu; anything else is checked."""
    if name in (None, "", "auto"):
        if torch.cuda.is_available():
            return torch.device("cuda")
        if getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
            return torch.device("mps")
        return torch.device("cpu")
    try:
        dev = torch.device(name)
    except RuntimeError:
        raise ChatcliError(f"unknown device {name!r} (use auto, cpu, cuda, cuda:N or mps)") from None
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise ChatcliError("device cuda was asked for but no CUDA GPU is available")
    if dev.type == "mps" and not torch.backends.mps.is_available():
        raise ChatcliError("device mps was asked for but MPS is not available")
    return dev


def cpu_has_bf16() -> bool:
    """True where the CPU has native bf16 dot products (AVX-512 BF16 or AMX)."""
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            flags = f.read()
        return "avx512_bf16" in flags or "amx_bf16" in flags
    except OSError:
        return False


DTYPES = {"fp32": torch.float32, "float32": torch.float32, "bf16": torch.bfloat16,
          "bfloat16": torch.bfloat16, "fp16": torch.float16, "float16": torch.float16}


def named_dtype(name: str) -> torch.dtype:
    if name not in DTYPES:
        raise ChatcliError(f"unknown dtype {name!r} (use auto, fp32, bf16 or fp16)")
    return DTYPES[name]


def resolve_dtype(name: str | None, device: torch.device) -> torch.dtype:
    """Compute dtype for inference: 'auto' is bf16 on CUDA, fp32 elsewhere."""
    if name in (None, "", "auto"):
        return torch.bfloat16 if device.type == "cuda" else torch.float32
    return named_dtype(name)


def train_dtype(name: str | None, device: torch.device) -> torch.dtype:
    """Autocast dtype for training: auto = bf16 on CUDA and on CPUs with native bf16, else fp32."""
    if name in (None, "", "auto"):
        if device.type == "cuda" or (device.type == "cpu" and cpu_has_bf16()):
            return torch.bfloat16
        return torch.float32
    return named_dtype(name)
