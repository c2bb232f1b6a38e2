"""chatcli/device.py: device and dtype resolution for inference and training, and their errors."""
from __future__ import annotations

import pytest
import torch

from chatcli import device as dv
from chatcli.errors import ChatcliError

CPU, CUDA = torch.device("cpu"), torch.device("cuda")


def _machine(monkeypatch, *, cuda: bool, mps: bool, bf16_cpu: bool = False) -> None:
    monkeypatch.setattr(torch.cuda, "is_available", lambda: cuda)
    monkeypatch.setattr(torch.backends.mps, "is_available", lambda: mps)
    monkeypatch.setattr(dv, "cpu_has_bf16", lambda: bf16_cpu)


@pytest.mark.parametrize("cuda, mps, want", [(True, True, "cuda"), (False, True, "mps"), (False, False, "cpu")])
def test_auto_prefers_cuda_then_mps_then_cpu(monkeypatch, cuda, mps, want):
    _machine(monkeypatch, cuda=cuda, mps=mps)
    for name in (None, "", "auto"):
        assert dv.resolve_device(name) == torch.device(want)


def test_named_devices_are_checked(monkeypatch):
    _machine(monkeypatch, cuda=False, mps=False)
    assert dv.resolve_device("cpu") == CPU
    with pytest.raises(ChatcliError, match="no CUDA GPU"):
        dv.resolve_device("cuda:1")
    with pytest.raises(ChatcliError, match="MPS is not available"):
        dv.resolve_device("mps")
    with pytest.raises(ChatcliError, match=r"unknown device 'tpu' \(use auto, cpu"):
        dv.resolve_device("tpu")
    _machine(monkeypatch, cuda=True, mps=False)
    assert dv.resolve_device("cuda:1") == torch.device("cuda", 1)


def test_inference_dtype_auto_is_bf16_on_cuda_only():
    assert dv.resolve_dtype("auto", CUDA) == torch.bfloat16
    assert dv.resolve_dtype(None, CPU) == dv.resolve_dtype("auto", torch.device("mps")) == torch.float32
    assert dv.resolve_dtype("fp16", CPU) == dv.resolve_dtype("float16", CUDA) == torch.float16
    assert dv.resolve_dtype("bf16", CPU) == torch.bfloat16 and dv.resolve_dtype("fp32", CUDA) == torch.float32


@pytest.mark.parametrize("bf16_cpu, want", [(True, torch.bfloat16), (False, torch.float32)])
def test_training_dtype_auto_follows_the_cpu(monkeypatch, bf16_cpu, want):
    _machine(monkeypatch, cuda=False, mps=False, bf16_cpu=bf16_cpu)
    assert dv.train_dtype("auto", CPU) == want
    assert dv.train_dtype("auto", CUDA) == torch.bfloat16
    assert dv.train_dtype("fp32", CUDA) == torch.float32  # a named dtype is taken as asked


@pytest.mark.parametrize("resolve", [dv.resolve_dtype, dv.train_dtype])
def test_unknown_dtype_is_one_clear_error(resolve):
    with pytest.raises(ChatcliError, match=r"unknown dtype 'fp8' \(use auto, fp32, bf16 or fp16\)"):
        resolve("fp8", CPU)
