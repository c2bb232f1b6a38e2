"""inspect computations: probabilities, attention maps, parameter counts, embeddings, metrics parsing."""
from __future__ import annotations

import json

import pytest
import torch

from chatcli.errors import ChatcliError
from model.config import ModelConfig
from model.introspect import attention_maps, attention_output, attention_probs, capture_attention_inputs, parameter_breakdown
from model.transformer import Transformer


@pytest.fixture(scope="module")
def bundle(model_dir):
    from chatcli.inspect.common import load
    return load(model_dir)


def _model(seed=0, **kw):
    torch.manual_seed(seed)
    cfg = ModelConfig(**{**dict(vocab_size=97, dim=64, n_layers=2, n_heads=4, n_kv_heads=2, max_seq_len=64), **kw})
    return Transformer(cfg).eval()


def test_next_probabilities_equal_softmax_of_logits(bundle):
    from chatcli.inspect.next_token import compute_next
    temps = [0.2, 1.0, 1.7]
    doc = compute_next(bundle, "the king said", top=7, temps=temps, chat=False, steps=3)
    ids = [bundle.tokenizer.bos_id] + bundle.tokenizer.encode("the king said")
    for st in doc["steps"]:
        with torch.no_grad():
            logits = bundle.model(torch.tensor([ids]))[0, -1].double()
        assert st["context_tokens"] == len(ids)
        ranked = [e["id"] for e in st["top"]]
        assert ranked == torch.topk(logits, 7).indices.tolist()
        for k, t in enumerate(temps):
            p = torch.softmax(logits / t, dim=-1)
            for e in st["top"]:
                assert e["probs"][k] == pytest.approx(float(p[e["id"]]), rel=1e-4, abs=1e-7)
            assert st["top_mass"][k] == pytest.approx(float(p[ranked].sum()), rel=1e-4)
            h = float(-(p * p.clamp_min(1e-300).log2()).sum())
            assert st["entropy_bits"][k] == pytest.approx(h, rel=1e-3, abs=1e-4)
        assert st["chosen"]["id"] == int(logits.argmax())
        ids.append(st["chosen"]["id"])
    assert doc["greedy_continuation"] == bundle.tokenizer.decode([s["chosen"]["id"] for s in doc["steps"]])


def test_next_temperature_zero_is_one_hot_and_parse_errors(bundle):
    from chatcli.inspect.next_token import compute_next, parse_temperatures
    doc = compute_next(bundle, "a good man", top=3, temps=[0.0], chat=True, steps=1)
    assert [e["probs"][0] for e in doc["steps"][0]["top"]] == [1.0, 0.0, 0.0]
    assert parse_temperatures(" 0.5, 2") == [0.5, 2.0]
    for bad in ("hot", "-1", "nan", "", "1,2,3,4,5,6,7"):
        with pytest.raises(ChatcliError):
            parse_temperatures(bad)


@pytest.mark.parametrize("kv_heads", [1, 2, 4])
def test_attention_probs_reproduce_the_module_output(kv_heads):
    model = _model(seed=kv_heads, n_kv_heads=kv_heads)
    with torch.no_grad():  # sharpen q.k so the maps are far from uniform (as in a trained model)
        for block in model.layers:
            block.attention.wq.weight.mul_(25)
            block.attention.wk.weight.mul_(25)
    ids = torch.randint(0, 97, (1, 19), generator=torch.Generator().manual_seed(1))
    logits, captured = capture_attention_inputs(model, ids)
    assert torch.equal(logits, model(ids))
    for block, (x, cos, sin, out) in zip(model.layers, captured):
        probs = attention_probs(block.attention, x, cos, sin)  # (1, H, T, T)
        torch.testing.assert_close(attention_output(block.attention, x, probs), out, atol=1e-5, rtol=1e-4)
        # a wrong map (uniform over the prefix) must not reproduce it: the check has teeth
        uniform = torch.ones_like(probs).tril() / torch.arange(1, 20).view(1, 1, -1, 1)
        assert (attention_output(block.attention, x, uniform) - out).abs().max() > 0.1 * out.abs().max()
        assert probs.max() > 0.9  # some row is peaked: the maps are not trivially uniform


def test_attention_maps_are_causal_distributions(bundle):
    ids = [bundle.tokenizer.bos_id] + bundle.tokenizer.encode("the old queen slept under a tall tree")
    maps, logits = attention_maps(bundle.model, ids)
    cfg = bundle.model.config
    T = len(ids)
    assert maps.shape == (cfg.n_layers, cfg.n_heads, T, T)
    torch.testing.assert_close(maps.sum(-1), torch.ones(cfg.n_layers, cfg.n_heads, T))
    assert maps.triu(1).abs().max() == 0
    assert (maps[..., torch.ones(T, T, dtype=torch.bool).tril()] > 0).all()  # softmax never gives exact zeros on the visible prefix
    torch.testing.assert_close(logits, bundle.model(torch.tensor([ids]))[0])


def test_attention_view_validates_and_picks_heads(bundle):
    from chatcli.inspect.attention import compute_attention, pick_head
    doc = compute_attention(bundle, "the sea", layer=None, head=None)
    assert doc["layer"] == bundle.model.config.n_layers - 1 and len(doc["weights"]) == bundle.model.config.n_heads
    one = pick_head(doc, 2)
    assert one["heads"] == [2] and one["weights"][0] == doc["weights"][2]
    for layer, head in ((bundle.model.config.n_layers, None), (-1, None), (0, bundle.model.config.n_heads)):
        with pytest.raises(ChatcliError, match="does not exist"):
            compute_attention(bundle, "the sea", layer=layer, head=head)


@pytest.mark.parametrize("tied", [True, False])
def test_parameter_breakdown_counts_each_tensor_once(tied):
    model = _model(tie_embeddings=tied)
    b = parameter_breakdown(model)
    unique = {id(p): p.numel() for p in model.parameters()}
    assert b["total"] == sum(unique.values()) == model.config.num_params() == sum(b["components"].values())
    V, C = model.config.vocab_size, model.config.dim
    assert b["components"]["embeddings"] == V * C
    assert b["components"]["output"] == (0 if tied else V * C)
    assert b["bytes_by_dtype"] == {"float32": 4 * b["total"]}
    head = [t for t in b["tensors"] if t["name"] == "output.weight"][0]
    assert head["shared_with"] == ("tok_embeddings.weight" if tied else None)


def test_card_numbers(bundle):
    from chatcli.inspect.card import compute_card
    card = compute_card(bundle)
    cfg = bundle.model.config
    assert card["parameters"]["total"] == cfg.num_params() == card["parameters"]["from_config"]
    assert card["bytes"]["on_disk"] == {"F32": 4 * cfg.num_params()}
    assert card["kv_cache"]["bytes_per_token"]["float32"] == 2 * cfg.n_layers * cfg.n_kv_heads * cfg.head_dim * 4
    assert card["tokenizer"]["vocab_size"] == bundle.tokenizer.vocab_size
    assert set(card["tokenizer"]["special"]) == {"<|system|>", "<|user|>", "<|assistant|>", "<|end|>"}
    assert card["training"]["stages_run"] == []


def _one_token_words(tok, n):
    words = []
    for i in range(tok.vocab_size):
        p = tok.piece(i)
        if p.startswith("▁") and len(p) > 2 and p[1:].isalpha() and tok.encode(p[1:]) == [i]:
            words.append(p[1:])
    assert len(words) >= n, words
    return words[:n]


def test_analogy_excludes_inputs(bundle):
    from chatcli.inspect.embeddings import compute_embeddings
    a, b = _one_token_words(bundle.tokenizer, 2)
    # a - b + b == a: without the exclusion, a itself would top the list at cosine 1
    doc = compute_embeddings(bundle, None, top=5, analogy=(a, b, b))
    ids = [n["id"] for n in doc["neighbours"]]
    ia, ib = (bundle.tokenizer.encode(w)[0] for w in (a, b))
    assert ia not in ids and ib not in ids and len(ids) == 5
    near = compute_embeddings(bundle, a, top=6, analogy=None)
    assert [n["id"] for n in near["neighbours"] if n["id"] != ib][:5] == ids
    cos = [n["cosine"] for n in near["neighbours"]]
    assert cos == sorted(cos, reverse=True) and all(-1 <= c <= 1 for c in cos)
    W = bundle.model.tok_embeddings.weight.detach()
    top = near["neighbours"][0]
    assert top["cosine"] == pytest.approx(float(torch.cosine_similarity(W[ia], W[top["id"]], dim=0)), abs=1e-5)
    assert not any(bundle.tokenizer.is_special(i) for i in ids)


def test_embeddings_refuses_a_split_word(bundle):
    from chatcli.inspect.embeddings import compute_embeddings
    with pytest.raises(ChatcliError, match="not one token.*splits into"):
        compute_embeddings(bundle, "xqzvw", top=3, analogy=None)


def test_tokens_counts_and_byte_segments(tokenizer):
    from chatcli.inspect.tokens import compute_tokens
    text = "the king 🙂 said 12"
    doc = compute_tokens(tokenizer, text)
    assert [t["id"] for t in doc["tokens"]] == tokenizer.encode(text)
    assert doc["counts"] == {"chars": len(text), "bytes": len(text.encode()), "tokens": len(doc["tokens"]),
                             "chars_per_token": len(text) / len(doc["tokens"]),
                             "bytes_per_token": len(text.encode()) / len(doc["tokens"])}
    assert "".join(s["text"] for s in doc["segments"]) == " " + text
    assert any(s["text"] == "🙂" and len(s["ids"]) == 4 for s in doc["segments"])
    assert doc["roundtrip"]


def test_curve_series_and_errors(tmp_path):
    from chatcli.inspect.curve import load_series
    rows = [{"stage": "pretrain", "step": s, "train_loss": 5.0 - s / 10, "lr": 1e-3} for s in range(0, 30, 5)]
    rows += [{"stage": "pretrain", "step": 25, "val_loss": 3.0, "val_bpb": 1.5},
             {"stage": "sft", "step": 3, "train_loss": 2.0}, {"note": "no loss here"}]
    (tmp_path / "metrics.jsonl").write_text("\n".join(json.dumps(r) for r in rows) + "\n\n")
    doc = load_series(tmp_path)
    pre, sft = doc["stages"]
    assert pre["stage"] == "pretrain" and pre["train"]["step"] == [0, 5, 10, 15, 20, 25]
    assert pre["train"]["loss"] == pytest.approx([5.0, 4.5, 4.0, 3.5, 3.0, 2.5])
    assert pre["val"] == {"step": [25], "loss": [3.0], "bpb": [1.5]}
    assert pre["summary"]["train_min"] == 2.5 and sft["summary"]["train_last"] == 2.0
    with open(tmp_path / "metrics.jsonl", "a") as f:
        f.write('{"stage": "sft", "step": 4, "train_loss": 1.0}\n{"stage": "sft", "step": 5, "train_lo\n')
    with pytest.raises(ChatcliError, match=r"metrics.jsonl:12: invalid JSON"):
        load_series(tmp_path)
    (tmp_path / "metrics.jsonl").write_text('{"train_loss": 1.0}\n')
    with pytest.raises(ChatcliError, match=r"metrics.jsonl:1: loss row without"):
        load_series(tmp_path)
    (tmp_path / "metrics.jsonl").write_text('{"lr": 1.0, "step": 1}\n')
    with pytest.raises(ChatcliError, match="no rows with train_loss"):
        load_series(tmp_path)


def test_braille_chart_places_extremes():
    from chatcli.inspect.chart import line_chart
    rows = [r.plain for r in line_chart([([0, 10], [1.0, 3.0], "")], [([5], [2.0], "")], width=20, height=5)]
    assert rows[0].startswith("3 ┤") and rows[4].startswith("1 ┤")
    assert rows[0].rstrip()[-1] != " " and ord(rows[0].rstrip()[-1]) >= 0x2800  # the top right holds the line end
    assert "●" in rows[2]
    assert rows[-1].split() == ["0", "5", "10"]
