"""`chatcli inspect` end to end: --json documents, terminal views, PNG files, one-line errors."""
from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from chatcli.app import app

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(scope="module")
def run(model_dir):
    runner = CliRunner()

    def invoke(*args, model=True):
        argv = ["inspect", *args] + (["--model", str(model_dir)] if model else [])
        return runner.invoke(app, argv, env={"NO_COLOR": "1", "COLUMNS": "120"})
    return invoke


@pytest.fixture
def metrics_dir(tmp_path):
    rows = [{"stage": "pretrain", "step": s, "train_loss": 6.0 / (1 + s / 20), "lr": 1e-3} for s in range(0, 100, 4)]
    rows += [{"stage": "pretrain", "step": s, "val_loss": 6.2 / (1 + s / 20), "val_bpb": 2.0 / (1 + s / 20)}
             for s in (0, 50, 96)]
    (tmp_path / "metrics.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    return tmp_path


def _json(result) -> dict:
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def test_card_default_and_subcommand(run, model_dir):
    doc = _json(run("--json"))
    assert set(doc) >= {"path", "config", "parameters", "bytes", "kv_cache", "context_length", "tokenizer", "training"}
    assert doc["parameters"]["total"] == doc["parameters"]["from_config"]
    assert sum(doc["parameters"]["components"].values()) == doc["parameters"]["total"]
    assert _json(run("card", "--json")) == doc
    text = run().stdout
    assert "knob" in text and f"{doc['parameters']['total']:,}" in text and "shared" in text


def test_model_option_before_subcommand_and_env(run, model_dir):
    r = CliRunner().invoke(app, ["inspect", "--model", str(model_dir), "tokens", "the sea", "--json"])
    assert _json(r)["counts"]["tokens"] >= 2
    r = CliRunner().invoke(app, ["inspect", "card", "--json"], env={"CHATCLI_MODEL": str(model_dir)})
    assert _json(r)["path"] == str(model_dir)


def test_tokens_json_and_view(run):
    doc = _json(run("tokens", "the king said 12", "--json"))
    assert set(doc) >= {"text", "tokens", "segments", "counts"}
    assert set(doc["counts"]) == {"chars", "bytes", "tokens", "chars_per_token", "bytes_per_token"}
    out = run("tokens", "the king said 12").stdout
    assert f"{doc['counts']['tokens']} tokens" in out and "|" in out


def test_next_json_and_view(run):
    doc = _json(run("next", "the king said", "--top", "4", "--temperature", "0.5,1,2", "--steps", "2", "--json"))
    assert set(doc) >= {"text", "mode", "temperatures", "steps", "greedy_continuation"}
    assert doc["temperatures"] == [0.5, 1.0, 2.0] and len(doc["steps"]) == 2
    st = doc["steps"][0]
    assert set(st) >= {"top", "top_mass", "entropy_bits", "chosen", "context_tokens"}
    assert len(st["top"]) == 4 and all(len(e["probs"]) == 3 for e in st["top"])
    # sharper at low T: the favourite's probability falls as T rises
    fav = st["top"][0]["probs"]
    assert fav[0] > fav[1] > fav[2]
    out = run("next", "the king said", "--top", "3").stdout
    assert "T=0.2" in out and "T=1.5" in out and "█" in out and "%" in out


def test_attention_json_view_and_png(run, tmp_path):
    doc = _json(run("attention", "the old queen", "--layer", "0", "--head", "1", "--json"))
    assert set(doc) >= {"tokens", "layer", "head", "heads", "weights", "n_layers", "n_heads", "head_summary"}
    assert doc["layer"] == 0 and doc["head"] == 1 and len(doc["weights"]) == 1
    W, T = doc["weights"][0], len(doc["tokens"])
    assert len(W) == T and all(abs(sum(row) - 1) < 1e-5 for row in W)
    assert all(W[r][c] == 0 for r in range(T) for c in range(r + 1, T))
    png = tmp_path / "attn.png"
    r = run("attention", "the old queen", "--png", str(png))
    assert r.exit_code == 0 and "wrote" in r.stderr
    data = png.read_bytes()
    assert data.startswith(PNG_SIGNATURE) and len(data) > 5000
    import matplotlib.image
    img = matplotlib.image.imread(png)
    assert img.ndim == 3 and img.shape[0] > 100 and img.shape[1] > 300  # a grid of heads, wider than tall
    out = r.stdout
    assert "layer 1" in out and "mean of 4 heads" in out and "<s>" in out


def test_attention_caps_long_texts(run):
    out = run("attention", " ".join(["the sea"] * 20)).stdout
    assert "showing the last" in out


def test_embeddings_json(run, tokenizer):
    words = [tokenizer.piece(i)[1:] for i in range(tokenizer.vocab_size)
             if tokenizer.piece(i).startswith("▁") and len(tokenizer.piece(i)) > 3
             and tokenizer.encode(tokenizer.piece(i)[1:]) == [i]][:3]
    doc = _json(run("embeddings", words[0], "--top", "4", "--json"))
    assert set(doc) >= {"mode", "query", "neighbours", "embedding_dim"} and doc["mode"] == "nearest"
    assert len(doc["neighbours"]) == 4 and set(doc["neighbours"][0]) == {"id", "piece", "cosine"}
    doc = _json(run("embeddings", "--analogy", *words, "--json"))
    assert doc["mode"] == "analogy" and len(doc["neighbours"]) == 10
    assert not {w["id"] for w in doc["query"]["inputs"]} & {n["id"] for n in doc["neighbours"]}
    assert "Nearest tokens" in run("embeddings", words[0]).stdout


def test_curve_json_view_and_png(run, metrics_dir, tmp_path):
    doc = _json(run("curve", str(metrics_dir), "--json", model=False))
    assert set(doc) == {"path", "stages"}
    st = doc["stages"][0]
    assert set(st) == {"stage", "train", "val", "summary"} and len(st["train"]["step"]) == 25
    assert st["val"]["bpb"] == pytest.approx([2.0, 2.0 / 3.5, 2.0 / 5.8])
    out = run("curve", str(metrics_dir), model=False).stdout
    assert "pretrain" in out and "└" in out and "●" in out and any(0x2800 < ord(c) < 0x2900 for c in out)
    png = tmp_path / "curve.png"
    assert run("curve", str(metrics_dir), "--png", str(png), model=False).exit_code == 0
    assert png.read_bytes().startswith(PNG_SIGNATURE) and png.stat().st_size > 5000


@pytest.mark.parametrize("args,needle", [
    (("attention", "the sea", "--layer", "9"), "layer 9 does not exist"),
    (("attention", "the sea", "--head", "4"), "head 4 does not exist"),
    (("embeddings", "xqzvw"), "not one token"),
    (("next", ""), "empty"),
    (("tokens", ""), "empty"),
    (("next", "the", "--temperature", "warm"), "not a number"),
    (("attention", "the sea", "--png", "/nonexistent-dir/x.png"), "does not exist"),
])
def test_bad_input_is_one_line_exit_1(run, args, needle):
    r = run(*args)
    assert r.exit_code == 1, r.output
    assert r.stderr.count("\n") == 1 and r.stderr.startswith("chatcli: error:") and needle in r.stderr
    assert r.stdout == ""


def test_curve_errors_name_the_problem(run, tmp_path):
    r = run("curve", str(tmp_path), model=False)
    assert r.exit_code == 1 and "no metrics.jsonl" in r.stderr and r.stderr.count("\n") == 1
    (tmp_path / "metrics.jsonl").write_text('{"step": 1, "train_loss": 2.0}\nnot json\n')
    r = run("curve", str(tmp_path), model=False)
    assert r.exit_code == 1 and "metrics.jsonl:2: invalid JSON" in r.stderr and r.stderr.count("\n") == 1


def test_missing_model_is_one_line(tmp_path):
    r = CliRunner().invoke(app, ["inspect", "--model", str(tmp_path / "nope")])
    assert r.exit_code == 1 and "not found" in r.stderr and r.stderr.count("\n") == 1
