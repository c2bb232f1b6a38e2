"""The C++ decode step (model.cpp_ext) against FastDecoder on a tiny GQA model: same greedy tokens, close logits."""
from __future__ import annotations

import shutil

import pytest
import torch

from model.config import ModelConfig
from model.fast import FastDecoder
from model.transformer import Transformer

# work in progress (not wired into make_engine yet); its build takes about a minute, so it stays out of the default run
pytestmark = pytest.mark.slow

CFG = ModelConfig(vocab_size=200, dim=64, n_layers=2, n_heads=4, n_kv_heads=2, ffn_hidden=96, max_seq_len=80)


@pytest.fixture(scope="session")
def ext(tmp_path_factory):
    if shutil.which("g++") is None and shutil.which("c++") is None:
        pytest.skip("no C++ compiler")
    mp = pytest.MonkeyPatch()
    mp.setenv("CHATCLI_CACHE_DIR", str(tmp_path_factory.mktemp("cache")))
    from model.cpp_ext import load_extension
    try:
        yield load_extension()
    finally:
        mp.undo()


@pytest.mark.skip(reason="WIP: module built by load_extension lacks DecodeStep (a direct load works); unresolved")
def test_cpp_step_matches_fast(ext):
    from model.cpp_ext import CppDecoder
    torch.manual_seed(0)
    fast = FastDecoder(Transformer(CFG).eval())
    cpp = CppDecoder(fast, ext)
    c1, c2 = fast.new_cache(1, 80), cpp.new_cache(1, 80)
    ids = torch.tensor([[1, 5, 9, 3]])  # (1, 4)
    fast.prefill(ids, 0, c1)
    tok = cpp.prefill(ids, 0, c2).argmax(-1)  # (1,)
    for pos in range(4, 24):
        a, b = fast.decode_one(tok, pos, c1), cpp.decode_one(tok, pos, c2)  # (1, V)
        assert torch.allclose(a, b, atol=1e-4)
        assert a.argmax(-1).item() == b.argmax(-1).item()
        tok = a.argmax(-1)
