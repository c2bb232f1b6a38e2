"""Parity with Hugging Face transformers' LlamaForCausalLM, used only as a reference here."""
from __future__ import annotations

import pytest
import torch

transformers = pytest.importorskip("transformers")

from model.config import ModelConfig  # noqa: E402
from model.generate import decode_n  # noqa: E402
from model.hf import export_hf, hf_config, import_hf  # noqa: E402
from model.sampling import SamplingConfig  # noqa: E402
from model.transformer import Transformer  # noqa: E402

SHAPES = [
    dict(vocab_size=300, dim=64, n_layers=2, n_heads=4, n_kv_heads=2, max_seq_len=64, tie_embeddings=False),
    dict(vocab_size=257, dim=96, n_layers=3, n_heads=6, n_kv_heads=6, max_seq_len=80, tie_embeddings=True,
         rope_theta=500000.0, norm_eps=1e-6, ffn_hidden=200),
]


def _hf_model(cfg: ModelConfig, seed: int):
    torch.manual_seed(seed)
    hcfg = transformers.LlamaConfig(**{k: v for k, v in hf_config(cfg).items() if k not in ("architectures",)})
    hcfg._attn_implementation = "eager"
    model = transformers.LlamaForCausalLM(hcfg).eval()
    with torch.no_grad():  # HF inits norms to 1; randomise them so a swapped norm cannot pass
        for name, p in model.named_parameters():
            if "norm" in name:
                p.uniform_(0.5, 1.5)
    return model


@pytest.mark.parametrize("shape", SHAPES)
def test_import_hf_matches_transformers_logits(tmp_path, shape):
    cfg = ModelConfig(**shape)
    hf = _hf_model(cfg, seed=1)
    hf.save_pretrained(tmp_path, safe_serialization=True)
    ours = import_hf(tmp_path)
    ids = torch.randint(0, cfg.vocab_size, (2, 40))
    with torch.no_grad():
        ref = hf(ids).logits
        got = ours(ids)
    err = (got - ref).abs().max().item()
    assert err < 1e-5, f"max abs logit error {err}"


@pytest.mark.parametrize("shape", SHAPES)
def test_export_hf_is_reproduced_by_transformers(tmp_path, shape):
    torch.manual_seed(2)
    ours = Transformer(ModelConfig(**shape)).eval()
    with torch.no_grad():
        for name, p in ours.named_parameters():
            if "norm" in name:
                p.uniform_(0.5, 1.5)
    export_hf(ours, tmp_path)
    hf = transformers.LlamaForCausalLM.from_pretrained(tmp_path, attn_implementation="eager").eval()
    ids = torch.randint(0, shape["vocab_size"], (1, 33))
    with torch.no_grad():
        err = (hf(ids).logits - ours(ids)).abs().max().item()
    assert err < 1e-5, f"max abs logit error {err}"
    # greedy continuations agree token for token
    prompt = ids[0, :5].tolist()
    with torch.no_grad():
        hf_out = hf.generate(torch.tensor([prompt]), max_new_tokens=20, do_sample=False,
                             pad_token_id=0)[0, 5:].tolist()
    got = list(decode_n(ours, prompt, SamplingConfig(temperature=0, repeat_penalty=1.0, max_tokens=20)))
    assert got == hf_out


def test_cli_round_trip_through_hf(tmp_path, model_dir):
    from typer.testing import CliRunner

    from chatcli.app import app
    from chatcli.bundle import load_bundle
    r = CliRunner().invoke(app, ["convert", "to-hf", str(model_dir), str(tmp_path / "hf")])
    assert r.exit_code == 0, r.output
    assert (tmp_path / "hf" / "tokenizer.model").is_file()
    r = CliRunner().invoke(app, ["convert", "from-hf", str(tmp_path / "hf"), str(tmp_path / "back")])
    assert r.exit_code == 0, r.output
    a, b = load_bundle(model_dir), load_bundle(tmp_path / "back")
    ids = torch.randint(0, a.model.config.vocab_size, (1, 16))
    torch.testing.assert_close(a.model(ids), b.model(ids), atol=0, rtol=0)


def test_import_refuses_pickles_and_other_archs(tmp_path):
    import json

    from model.checkpoint import CheckpointError
    cfg = hf_config(ModelConfig(vocab_size=300, dim=64, n_layers=1, n_heads=4))
    (tmp_path / "config.json").write_text(json.dumps(cfg))
    (tmp_path / "pytorch_model.bin").write_bytes(b"pickle")
    with pytest.raises(CheckpointError, match="pickles"):
        import_hf(tmp_path)
    (tmp_path / "config.json").write_text(json.dumps({**cfg, "model_type": "gpt2"}))
    with pytest.raises(CheckpointError, match="gpt2"):
        import_hf(tmp_path)
