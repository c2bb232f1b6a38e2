"""GGUF export: the file read back with gguf's own reader (metadata, vocabulary, tensors), the RoPE
row permutation proven equivalent, the CLI, and llama.cpp itself on our file (skipped without it)."""
from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from typer.testing import CliRunner

pytest.importorskip("gguf")

from chatcli.app import app  # noqa: E402
from chatcli.gguf_export import gguf_tensors, interleave_rope_rows, read_gguf, write_gguf  # noqa: E402
from model.transformer import Transformer, apply_rope, rope_tables  # noqa: E402


@pytest.fixture(scope="module")
def bundle(model_dir):
    from chatcli.bundle import load_bundle
    return load_bundle(model_dir)


def test_f32_round_trip(bundle, tmp_path):
    path = write_gguf(bundle.model, bundle.tokenizer, tmp_path / "m.gguf")
    meta, tensors = read_gguf(path)
    cfg, tok = bundle.model.config, bundle.tokenizer
    assert meta["general.architecture"] == "llama" and meta["general.file_type"] == 0
    assert (meta["llama.embedding_length"], meta["llama.block_count"], meta["llama.feed_forward_length"],
            meta["llama.attention.head_count"], meta["llama.attention.head_count_kv"],
            meta["llama.context_length"], meta["llama.rope.dimension_count"]) == (
        cfg.dim, cfg.n_layers, cfg.ffn_hidden, cfg.n_heads, cfg.n_kv_heads, cfg.max_seq_len, cfg.head_dim)
    assert math.isclose(meta["llama.attention.layer_norm_rms_epsilon"], cfg.norm_eps, rel_tol=1e-6)
    assert meta["tokenizer.ggml.model"] == "llama"
    assert meta["tokenizer.ggml.tokens"] == [tok.piece(i) for i in range(tok.vocab_size)]
    types = meta["tokenizer.ggml.token_type"]
    assert types[tok.bos_id] == types[tok.special["<|end|>"]] == 3 and types[0] == 2  # control, unknown
    assert sum(t == 6 for t in types) == 256  # byte fallback pieces
    assert (meta["tokenizer.ggml.bos_token_id"], meta["tokenizer.ggml.eos_token_id"]) == (tok.bos_id, tok.eos_id)
    assert "<|assistant|>" in meta["tokenizer.chat_template"]
    sd = bundle.model.state_dict()
    assert set(tensors) == set(gguf_tensors(bundle.model)) and "output.weight" not in tensors  # tied head
    assert len(tensors) == 2 + 9 * cfg.n_layers
    np.testing.assert_array_equal(tensors["token_embd.weight"], sd["tok_embeddings.weight"].numpy())
    np.testing.assert_array_equal(tensors["blk.1.ffn_gate.weight"], sd["layers.1.feed_forward.w1.weight"].numpy())
    np.testing.assert_array_equal(tensors["blk.0.attn_v.weight"], sd["layers.0.attention.wv.weight"].numpy())
    q = torch.tensor(tensors["blk.0.attn_q.weight"])
    assert not torch.equal(q, sd["layers.0.attention.wq.weight"])  # permuted for llama.cpp's RoPE ...
    D = cfg.head_dim  # ... and exactly: row 2i of a head is row i, row 2i+1 is row i + D/2
    torch.testing.assert_close(q.view(cfg.n_heads, D, -1)[:, 0::2].reshape(-1, cfg.dim),
                               sd["layers.0.attention.wq.weight"].view(cfg.n_heads, D, -1)[:, :D // 2].reshape(-1, cfg.dim),
                               rtol=0, atol=0)


def test_q8_0_round_trip(bundle, tmp_path):
    path = write_gguf(bundle.model, bundle.tokenizer, tmp_path / "m8.gguf", outtype="q8_0")
    meta, tensors = read_gguf(path)
    ref = gguf_tensors(bundle.model)
    assert meta["general.file_type"] == 7
    f32 = write_gguf(bundle.model, bundle.tokenizer, tmp_path / "m32.gguf")
    assert path.stat().st_size < 0.6 * f32.stat().st_size  # 34 bytes per 32 weights instead of 128
    for name, want in ref.items():
        got = tensors[name]
        if want.ndim == 1:
            np.testing.assert_array_equal(got, want)  # norms stay F32
        else:  # Q8_0: 32-value blocks, error about half a step of the block scale (an fp16 scale adds 127 * 2^-11)
            blocks = np.abs(want).reshape(-1, 32).max(1, keepdims=True) / 127
            err = np.abs(got - want).reshape(-1, 32)
            assert (err <= blocks * 0.57 + 1e-6).all(), name
            assert not np.array_equal(got, want)


def test_q8_0_refuses_widths_not_multiple_of_32(tokenizer, tmp_path):
    from chatcli.errors import ChatcliError
    from model.config import ModelConfig
    model = Transformer(ModelConfig(vocab_size=tokenizer.vocab_size, dim=48, n_layers=1, n_heads=2, max_seq_len=16))
    with pytest.raises(ChatcliError, match="multiple of 32"):
        write_gguf(model, tokenizer, tmp_path / "x.gguf", outtype="q8_0")


def test_interleaved_rows_make_pair_rope_equal_rotate_half_rope():
    """Attention scores are the same whether q, k use rotate-half RoPE (chatcli) or, after the row
    permutation, RoPE on adjacent pairs (llama.cpp's "llama" rope)."""
    from model.config import ModelConfig
    cfg = ModelConfig(vocab_size=300, dim=32, n_layers=1, n_heads=2, max_seq_len=16)
    H, D, T = cfg.n_heads, cfg.head_dim, 9
    g = torch.Generator().manual_seed(0)
    wq, wk, x = torch.randn(H * D, cfg.dim, generator=g), torch.randn(H * D, cfg.dim, generator=g), torch.randn(T, cfg.dim, generator=g)
    cos, sin = rope_tables(cfg, T)  # (T, D)

    def half(w):  # rotate-half RoPE on x @ w.T, per head -> (H, T, D)
        return apply_rope((x @ w.T).view(T, H, D).transpose(0, 1), cos, sin)

    def pairs(w):  # pair RoPE: (x[2i], x[2i+1]) rotated by the angle of frequency i
        y = (x @ w.T).view(T, H, D // 2, 2).transpose(0, 1)  # (H, T, D/2, 2)
        c, s = cos[:, :D // 2].unsqueeze(-1), sin[:, :D // 2].unsqueeze(-1)  # (T, D/2, 1)
        a, b = y[..., :1], y[..., 1:]
        return torch.cat([a * c - b * s, a * s + b * c], -1).reshape(H, T, D)

    want = half(wq) @ half(wk).transpose(1, 2)  # (H, T, T)
    got = pairs(interleave_rope_rows(wq, H)) @ pairs(interleave_rope_rows(wk, H)).transpose(1, 2)
    torch.testing.assert_close(got, want, atol=1e-4, rtol=1e-4)


def test_cli_to_gguf(model_dir, tmp_path):
    out = tmp_path / "out" / "tiny.gguf"
    r = CliRunner().invoke(app, ["convert", "to-gguf", str(model_dir), str(out), "--outtype", "q8_0"])
    assert r.exit_code == 0, r.output
    assert read_gguf(out)[0]["general.file_type"] == 7
    bad = CliRunner().invoke(app, ["convert", "to-gguf", str(model_dir), str(out), "--outtype", "q4"])
    assert bad.exit_code == 1 and "unknown --outtype" in bad.stderr and "Traceback" not in bad.output
    missing = CliRunner().invoke(app, ["convert", "to-gguf", str(tmp_path / "nope"), str(out)])
    assert missing.exit_code == 1 and "not found" in missing.stderr


def test_llama_cpp_runs_our_file_like_we_do(bundle, tmp_path):
    """llama.cpp (llama-cpp-python) on the exported F32 file: same tokens for plain text, logits
    close to ours at every position, the same greedy continuation."""
    llama_cpp = pytest.importorskip("llama_cpp")
    from model.generate import decode_n
    from model.sampling import SamplingConfig
    path = write_gguf(bundle.model, bundle.tokenizer, tmp_path / "m.gguf")
    llm = llama_cpp.Llama(model_path=str(path), n_ctx=bundle.model.config.max_seq_len, n_threads=1,
                          logits_all=True, verbose=False)
    tok = bundle.tokenizer
    for text in ("the king said", "The old queen slept.", "12 + 30 = 42"):
        assert llm.tokenize(text.encode(), add_bos=True, special=False) == [tok.bos_id, *tok.encode(text)], text
    ids = [tok.bos_id, *tok.encode("the king said that a good man")]
    llm.reset()
    llm.eval(ids)
    theirs = torch.tensor(np.array(llm.scores[:len(ids)]), dtype=torch.float32)  # (T, V)
    with torch.inference_mode():
        ours = bundle.model(torch.tensor([ids]))[0]  # (T, V)
    assert (theirs - ours).abs().max().item() < 1e-3 * max(1.0, ours.abs().max().item())
    greedy = list(decode_n(bundle.model, ids, SamplingConfig(temperature=0, repeat_penalty=1.0, max_tokens=16)))
    llm.reset()
    got = []
    for t in llm.generate(ids, temp=0.0, top_k=1, repeat_penalty=1.0, reset=True):
        if t == tok.eos_id or len(got) == len(greedy):
            break
        got.append(t)
    assert got == greedy[:len(got)] and len(got) == min(len(greedy), 16)
