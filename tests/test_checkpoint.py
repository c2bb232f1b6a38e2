"""Model directories: round trip, atomic writes, strict loading, clear CLI errors, no pickle."""
from __future__ import annotations

import json
import os

import pytest
import torch
from typer.testing import CliRunner

from chatcli.app import app
from chatcli.bundle import load_bundle, save_bundle
from chatcli.errors import ChatcliError
from model.checkpoint import FILE_MODE, CheckpointError, atomic_output, atomic_write_bytes, atomic_write_jsonl, load_model
from model.transformer import Transformer


def test_round_trip_gives_identical_logits(model_dir):
    b = load_bundle(model_dir)
    torch.manual_seed(0)
    ref = Transformer(b.model.config).eval()  # same seed as the fixture
    ids = torch.randint(0, b.model.config.vocab_size, (1, 12))
    torch.testing.assert_close(b.model(ids), ref(ids), atol=0, rtol=0)
    assert b.model.output.weight is b.model.tok_embeddings.weight  # still tied after loading
    assert b.meta["format_version"] == 1 and b.meta["tokenizer"]["vocab_size"] == b.tokenizer.vocab_size


def test_bf16_on_disk_loads_in_fp32(tmp_path, model_dir, tokenizer):
    b = load_bundle(model_dir)
    save_bundle(tmp_path / "half", b.model, tokenizer, dtype=torch.bfloat16)
    assert (tmp_path / "half" / "model.safetensors").stat().st_size < (model_dir / "model.safetensors").stat().st_size
    m, _ = load_model(tmp_path / "half")
    assert m.tok_embeddings.weight.dtype == torch.float32
    ids = torch.randint(0, tokenizer.vocab_size, (1, 8))
    torch.testing.assert_close(m(ids), b.model(ids), atol=0.05, rtol=0.05)


def _expect(path, match):
    with pytest.raises((CheckpointError, ChatcliError), match=match):
        load_bundle(path)


def test_truncated_weights(model_copy):
    w = model_copy / "model.safetensors"
    w.write_bytes(w.read_bytes()[: w.stat().st_size // 2])
    _expect(model_copy, "corrupt or truncated")


def test_garbage_weights(model_copy):
    (model_copy / "model.safetensors").write_bytes(b"\x00" * 64)
    _expect(model_copy, "corrupt or truncated")


def test_missing_and_unknown_tensors(model_copy):
    from safetensors.torch import load_file, save_file
    w = model_copy / "model.safetensors"
    sd = load_file(w)
    sd.pop("norm.weight")
    save_file(sd, w)
    _expect(model_copy, "missing tensors: norm.weight")
    sd["norm.weight"] = torch.ones(64)
    sd["extra.bias"] = torch.zeros(3)
    save_file(sd, w)
    _expect(model_copy, "unknown tensors: extra.bias")


def test_shape_mismatch(model_copy):
    cfg = json.loads((model_copy / "config.json").read_text())
    cfg["model"]["ffn_hidden"] += 32
    (model_copy / "config.json").write_text(json.dumps(cfg))
    _expect(model_copy, "shape")


def test_vocab_mismatch_between_tokenizer_and_model(model_copy, tmp_path, corpus):
    from tokenizer.sp import train_tokenizer
    other = train_tokenizer(corpus, vocab_size=380)
    (model_copy / "tokenizer.model").write_bytes(other.serialized())
    _expect(model_copy, "380 tokens")


def test_bad_config_json(model_copy):
    (model_copy / "config.json").write_text("{not json")
    _expect(model_copy, "not valid JSON")
    (model_copy / "config.json").write_text(json.dumps({"format_version": 99, "model": {}}))
    _expect(model_copy, "format_version 99")


def test_nan_weights_refused(model_copy):
    from safetensors.torch import load_file, save_file
    w = model_copy / "model.safetensors"
    sd = load_file(w)
    sd["norm.weight"][0] = float("nan")
    save_file(sd, w)
    _expect(model_copy, "NaN")


def test_missing_directory(tmp_path):
    _expect(tmp_path / "nope", "not found")


def test_atomic_write_leaves_old_file_on_failure(tmp_path, monkeypatch):
    target = tmp_path / "f.bin"
    target.write_bytes(b"old")

    def boom(*a, **k):
        raise OSError("disk full")
    monkeypatch.setattr(os, "replace", boom)
    with pytest.raises(OSError):
        atomic_write_bytes(target, b"new contents")
    assert target.read_bytes() == b"old"
    assert [p.name for p in tmp_path.iterdir()] == ["f.bin"]  # no temp file left behind


def test_atomic_output_removes_the_temp_file_when_the_writer_fails(tmp_path):
    target = tmp_path / "sub" / "out.gguf"
    with pytest.raises(RuntimeError), atomic_output(target) as tmp:
        tmp.write_bytes(b"half")
        raise RuntimeError("writer crashed")
    assert not target.exists() and list(target.parent.iterdir()) == []
    with atomic_output(target) as tmp:
        assert tmp.parent == target.parent and tmp != target
        tmp.write_bytes(b"whole")
    assert target.read_bytes() == b"whole" and (target.stat().st_mode & 0o777) == FILE_MODE


def test_atomic_write_jsonl_is_one_record_a_line_unescaped(tmp_path):
    n = atomic_write_jsonl(tmp_path / "r.jsonl", [{"a": "静"}, [1, 2]])
    assert n == 2 and (tmp_path / "r.jsonl").read_bytes() == '{"a": "静"}\n[1, 2]\n'.encode()


def test_no_pickle_is_ever_loaded(monkeypatch, model_dir):
    import pickle

    def refuse(*a, **k):
        raise AssertionError("pickle used")
    monkeypatch.setattr(pickle, "load", refuse)
    monkeypatch.setattr(pickle, "loads", refuse)
    monkeypatch.setattr(torch, "load", refuse)
    load_bundle(model_dir)


@pytest.mark.parametrize("damage", ["truncate", "config"])
def test_cli_reports_one_line_and_exit_1(model_copy, damage):
    if damage == "truncate":
        w = model_copy / "model.safetensors"
        w.write_bytes(w.read_bytes()[:100])
    else:
        (model_copy / "config.json").write_text("[]")
    result = CliRunner().invoke(app, ["convert", "to-hf", str(model_copy), str(model_copy / "out")])
    assert result.exit_code == 1
    assert "Traceback" not in result.output
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("chatcli: error:") and str(model_copy) in lines[0]
