"""chatcli.chat.prebuild: an interactive CPU chat on the fast fallback starts one background build of the
C++ step, and no build starts when it would not help (built already, no compiler, not the fallback, opted out)."""
from __future__ import annotations

import subprocess

import pytest
import torch

from chatcli.chat import prebuild
from model.config import ModelConfig
from model.engine import ReferenceEngine
from model.fast import FastDecoder
from model.transformer import Transformer


@pytest.fixture
def fast():
    torch.manual_seed(0)
    cfg = ModelConfig(vocab_size=64, dim=32, n_layers=1, n_heads=2, n_kv_heads=2, ffn_hidden=48, max_seq_len=16)
    return FastDecoder(Transformer(cfg).eval())


@pytest.fixture
def launches(monkeypatch):
    """Record Popen calls instead of compiling; the build is allowed (opt-out removed, a compiler found)."""
    calls = []

    class FakePopen:
        def __init__(self, cmd, **kw):
            calls.append((cmd, kw))

    monkeypatch.delenv("CHATCLI_NO_PREBUILD", raising=False)
    monkeypatch.setattr(subprocess, "Popen", FakePopen)
    monkeypatch.setattr("model.cpp_ext._compiler", lambda: "/usr/bin/c++")
    return calls


def test_fast_fallback_starts_one_detached_build(fast, launches):
    said = []
    assert prebuild.start(fast, said.append) is not None
    assert said == [prebuild.NOTICE]
    (cmd, kw), = launches
    assert "load_extension(build=True)" in cmd[-1]
    assert kw["start_new_session"] and kw["stdout"] is subprocess.DEVNULL and kw["stderr"] is subprocess.DEVNULL
    # the build script the child runs is valid Python that builds through model.cpp_ext
    compile(cmd[-1], "<prebuild>", "exec")


@pytest.mark.parametrize("case", ["opted_out", "built", "no_compiler", "reference", "bf16"])
def test_no_build_when_it_would_not_help(fast, launches, monkeypatch, case):
    engine = fast
    if case == "opted_out":
        monkeypatch.setenv("CHATCLI_NO_PREBUILD", "1")
    elif case == "built":
        monkeypatch.setattr("model.cpp_ext.is_built", lambda: True)
    elif case == "no_compiler":
        monkeypatch.setattr("model.cpp_ext._compiler", lambda: None)
    elif case == "reference":
        engine = ReferenceEngine(Transformer(fast.config))
    else:
        engine = FastDecoder(Transformer(fast.config).to(torch.bfloat16))
    said = []
    assert prebuild.start(engine, said.append) is None
    assert prebuild.why_not(engine)
    assert said == [] and launches == []
