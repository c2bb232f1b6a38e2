"""Shared fixtures: a tiny corpus, tokenizer and model directory built in tmp dirs (hermetic)."""
from __future__ import annotations

import random
from pathlib import Path

import pytest
import torch

WORDS = ("the king said that a good man will go to the sea and find his love in the morning light "
         "while the old queen slept under a tall tree near the river of stars").split()
ZH = ["床前明月光", "疑是地上霜", "举头望明月", "低头思故乡", "春眠不觉晓", "处处闻啼鸟"]


def make_corpus(n_docs: int = 200, seed: int = 0) -> list[str]:
    """Small mixed English/Chinese/digits corpus of documents."""
    rng = random.Random(seed)
    docs = []
    for i in range(n_docs):
        lines = []
        for _ in range(rng.randint(1, 4)):
            words = [rng.choice(WORDS) for _ in range(rng.randint(4, 14))]
            lines.append(" ".join(words).capitalize() + rng.choice([".", "!", "?"]))
        if i % 5 == 0:
            lines.append(rng.choice(ZH) + "，" + rng.choice(ZH) + "。")
        if i % 7 == 0:
            a, b = rng.randint(0, 999), rng.randint(0, 999)
            lines.append(f"{a} + {b} = {a + b}")
        docs.append("\n".join(lines))
    return docs


@pytest.fixture(autouse=True)
def _private_chatcli_home(tmp_path_factory, monkeypatch):
    """Every test (and every process it starts) logs conversations under a tmp dir, never the real home,
    and sees an empty build cache (a C++ decode step the user built must not change what `auto` picks)."""
    monkeypatch.setenv("CHATCLI_HOME", str(tmp_path_factory.mktemp("chatcli-home")))
    monkeypatch.setenv("CHATCLI_CACHE_DIR", str(tmp_path_factory.mktemp("chatcli-cache")))
    monkeypatch.setenv("CHATCLI_NO_PREBUILD", "1")  # no interactive chat in a test starts a compiler


@pytest.fixture(scope="session")
def corpus() -> list[str]:
    return make_corpus()


@pytest.fixture(scope="session")
def corpus_file(tmp_path_factory, corpus) -> Path:
    path = tmp_path_factory.mktemp("corpus") / "corpus.txt"
    path.write_text("\n\n".join(corpus) + "\n", encoding="utf-8")
    return path


@pytest.fixture(scope="session")
def tokenizer(corpus):
    from tokenizer.sp import train_tokenizer
    return train_tokenizer(corpus, vocab_size=400)


@pytest.fixture(scope="session")
def tiny_config(tokenizer):
    from model.config import ModelConfig
    return ModelConfig(vocab_size=tokenizer.vocab_size, dim=64, n_layers=2, n_heads=4, n_kv_heads=2,
                       max_seq_len=128)


@pytest.fixture(scope="session")
def model_dir(tmp_path_factory, tokenizer, tiny_config) -> Path:
    """A complete model directory with random weights (seeded)."""
    from chatcli.bundle import save_bundle
    from model.transformer import Transformer
    torch.manual_seed(0)
    model = Transformer(tiny_config)
    out = tmp_path_factory.mktemp("models") / "tiny"
    save_bundle(out, model, tokenizer, training={"stages": []})
    return out


@pytest.fixture
def model_copy(tmp_path, model_dir) -> Path:
    """A private copy of the tiny model directory that a test may damage."""
    import shutil
    dst = tmp_path / "model"
    shutil.copytree(model_dir, dst)
    return dst


@pytest.fixture(scope="session")
def long_model_dir(tmp_path_factory, tokenizer) -> Path:
    """A tiny model (named "tiny") with a 2048-token context, so an answer can run long enough to be
    interrupted or cut off (the REPL and serve tests)."""
    from chatcli.bundle import save_bundle
    from model.config import ModelConfig
    from model.transformer import Transformer
    torch.manual_seed(0)
    cfg = ModelConfig(vocab_size=tokenizer.vocab_size, dim=64, n_layers=2, n_heads=4, n_kv_heads=2,
                      max_seq_len=2048)
    return save_bundle(tmp_path_factory.mktemp("long") / "tiny", Transformer(cfg), tokenizer)
