"""Corpus readers, weights, split, HF path (fake load_dataset), token shards and their cache."""
from __future__ import annotations

import json
import os

import numpy as np
import pytest

from chatcli.data import sources
from chatcli.data.corpus import load_corpus
from chatcli.data.shards import build_shards, token_byte_lengths
from chatcli.data.sources import parse_source, record_to_document
from chatcli.errors import ChatcliError


def write_jsonl(path, rows):
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


@pytest.fixture
def files(tmp_path):
    (tmp_path / "a.txt").write_text("first doc\nline two\n\n\nsecond doc\n\n  \nthird doc\n", encoding="utf-8")
    sub = tmp_path / "dir" / "nested"
    sub.mkdir(parents=True)
    (sub / "b.md").write_text("md one\n\nmd two\n", encoding="utf-8")
    (sub / "ignored.bin").write_bytes(b"\x00\x01")
    write_jsonl(tmp_path / "dir" / "t.jsonl", [{"text": "json text"}])
    write_jsonl(tmp_path / "chat.jsonl", [
        {"messages": [{"role": "system", "content": "be brief"}, {"role": "user", "content": "hi"},
                      {"role": "assistant", "content": "hello"}]}])
    write_jsonl(tmp_path / "pref.jsonl", [
        {"prompt": "2+2?", "chosen": "4", "rejected": "5"},
        {"prompt": [{"role": "user", "content": "hi"}], "chosen": [{"role": "assistant", "content": "hey"}],
         "rejected": [{"role": "assistant", "content": "go away"}]}])
    return tmp_path


def test_text_and_folder_readers(files):
    c = load_corpus([str(files / "a.txt")])
    assert [d.text for d in c.all_docs()] == ["first doc\nline two", "second doc", "third doc"]
    c = load_corpus([str(files / "dir")])
    assert sorted(d.plain_text() for d in c.all_docs()) == ["json text", "md one", "md two"]


def test_chat_and_preference_records(files):
    chat = list(load_corpus([str(files / "chat.jsonl")]).all_docs())
    assert chat[0].kind == "chat" and [m["role"] for m in chat[0].messages] == ["system", "user", "assistant"]
    prefs = list(load_corpus([str(files / "pref.jsonl")]).all_docs())
    assert [p.kind for p in prefs] == ["pref", "pref"]
    assert prefs[0].prompt == [{"role": "user", "content": "2+2?"}] and prefs[0].chosen == "4"
    assert prefs[1].chosen == "hey" and prefs[1].rejected == "go away"
    assert "go away" in prefs[1].plain_text() and "hi" in prefs[1].plain_text()
    only_chat = load_corpus([str(files / "chat.jsonl"), str(files / "a.txt")], kinds=("chat",))
    assert len(only_chat) == 1


@pytest.mark.parametrize("line,msg", [
    ("{not json", "invalid JSON"),
    ('["a"]', "expected a JSON object"),
    ('{"foo": 1}', "none of"),
    ('{"messages": [{"role": "bot", "content": "x"}]}', "role"),
    ('{"prompt": "p", "chosen": "c"}', "both"),
])
def test_malformed_line_is_named(tmp_path, line, msg):
    path = tmp_path / "bad.jsonl"
    path.write_text('{"text": "ok"}\n\n' + line + "\n", encoding="utf-8")
    with pytest.raises(ChatcliError, match=rf"bad\.jsonl:3: .*{msg}"):
        load_corpus([str(path)])


def test_recipe_readers_name_the_bad_line(tmp_path):
    """recipes/tasks read WordNet and CC-CEDICT through the one reader: a bad line is FILE:LINE, one line."""
    from recipes.tasks import lexical
    wn = tmp_path / "wordnet.jsonl"
    wn.write_text('{"words": ["dog"], "gloss": "an animal"}\n\n{"words": ["cat"], "gloss": \n', encoding="utf-8")
    with pytest.raises(ChatcliError) as e:
        lexical.pick_meanings(wn, ["dog", "cat"], 5)
    assert str(e.value).startswith(f"{wn}:3: invalid JSON") and "\n" not in str(e.value)


def test_non_utf8_and_missing_and_empty(tmp_path):
    bad = tmp_path / "latin.txt"
    bad.write_bytes("caf\xe9 au lait".encode("latin-1"))
    with pytest.raises(ChatcliError, match="latin.txt: not UTF-8"):
        load_corpus([str(bad)])
    with pytest.raises(ChatcliError, match="no such file"):
        load_corpus([str(tmp_path / "nope.txt")])
    (tmp_path / "empty.txt").write_text("\n\n  \n", encoding="utf-8")
    with pytest.raises(ChatcliError, match="empty corpus"):
        load_corpus([str(tmp_path / "empty.txt")])
    (tmp_path / "d").mkdir()
    with pytest.raises(ChatcliError, match="no .txt"):
        load_corpus([str(tmp_path / "d")])


def test_weights_and_split(tmp_path):
    a = tmp_path / "a.txt"
    a.write_text("\n\n".join(f"a{i}" for i in range(100)), encoding="utf-8")
    b = tmp_path / "b.txt"
    b.write_text("\n\n".join(f"b{i}" for i in range(100)), encoding="utf-8")
    assert parse_source(f"{a}@3").weight == 3.0 and parse_source(str(a)).weight == 1.0
    train, val = load_corpus([f"{a}@3", f"{b}@0.5"]).split(0.1, seed=1)
    val_texts = {d.text for d in val}
    train_texts = [d.text for d in train]
    assert 5 <= len(val) <= 40 and not val_texts & set(train_texts)  # disjoint by document
    n_a = sum(t.startswith("a") for t in train_texts)
    n_b = sum(t.startswith("b") for t in train_texts)
    assert n_a == 3 * len({t for t in train_texts if t.startswith("a")})
    assert 0.25 * 100 < n_b < 0.75 * 100  # about half the b documents
    train2, val2 = load_corpus([f"{a}@3", f"{b}@0.5"]).split(0.1, seed=1)
    assert [d.text for d in train2] == train_texts and [d.text for d in val2] == [d.text for d in val]
    _, val3 = load_corpus([f"{a}@3", f"{b}@0.5"]).split(0.1, seed=2)
    assert {d.text for d in val3} != val_texts
    # the split of a source does not depend on the other sources
    _, val_a_only = load_corpus([str(a)]).split(0.1, seed=1)
    assert {d.text for d in val_a_only} == {t for t in val_texts if t.startswith("a")}


def test_hf_reader_uses_record_path(monkeypatch):
    rows = [{"text": "once upon a time"}, {"messages": [{"role": "user", "content": "q"}]}, {"bad": 1}]
    calls = []

    def fake_load_dataset(name, split):
        calls.append((name, split))
        return rows[:2] if split == "train" else rows

    monkeypatch.setattr(sources, "_load_dataset", lambda: fake_load_dataset)
    src = parse_source("hf:roneneldan/TinyStories@2")
    assert (src.hf_name, src.hf_split, src.weight) == ("roneneldan/TinyStories", "train", 2.0)
    docs = list(load_corpus(["hf:roneneldan/TinyStories"]).all_docs())
    assert [d.kind for d in docs] == ["text", "chat"] and calls == [("roneneldan/TinyStories", "train")]
    with pytest.raises(ChatcliError, match=r"hf:x/y:validation:2: .*none of"):
        load_corpus(["hf:x/y:validation"])


def test_hf_without_datasets_is_clear(monkeypatch):
    import builtins
    real = builtins.__import__

    def no_datasets(name, *a, **k):
        if name == "datasets":
            raise ImportError("no")
        return real(name, *a, **k)

    monkeypatch.setattr(builtins, "__import__", no_datasets)
    with pytest.raises(ChatcliError, match="optional `datasets` package"):
        load_corpus(["hf:roneneldan/TinyStories"])


def test_record_to_document_shapes():
    assert record_to_document({"text": "x"}, "w").kind == "text"
    with pytest.raises(ChatcliError, match="w: \"text\" must be a string"):
        record_to_document({"text": 3}, "w")


def test_shards_framing_split_and_cache(tmp_path, tokenizer, corpus):
    data = tmp_path / "c.txt"
    data.write_text("\n\n".join(corpus), encoding="utf-8")
    cache = tmp_path / "cache"
    s1 = build_shards([str(data)], tokenizer, cache, val_frac=0.1, seed=3)
    assert not s1.cached and s1.train.dtype == np.uint16
    assert s1.meta["train_docs"] + s1.meta["val_docs"] == len(corpus) and s1.meta["val_docs"] > 0
    assert int((np.asarray(s1.train) == tokenizer.bos_id).sum()) == s1.meta["train_docs"]
    assert s1.train[0] == tokenizer.bos_id and s1.train[-1] == tokenizer.eos_id
    s2 = build_shards([str(data)], tokenizer, cache, val_frac=0.1, seed=3)
    assert s2.cached and s2.path == s1.path and np.array_equal(s2.train, s1.train)
    s3 = build_shards([str(data)], tokenizer, cache, val_frac=0.1, seed=4)
    assert not s3.cached and not np.array_equal(np.asarray(s3.val), np.asarray(s1.val))
    st = data.stat()
    os.utime(data, ns=(st.st_atime_ns, st.st_mtime_ns + 10**9))  # touched input -> new cache entry
    assert not build_shards([str(data)], tokenizer, cache, val_frac=0.1, seed=3).cached


def test_token_byte_lengths_cover_text(tokenizer):
    tb = token_byte_lengths(tokenizer)
    assert tb[tokenizer.bos_id] == 0 and tb[tokenizer.eos_id] == 0
    for text in ["The king said 12 + 30 = 42.", "床前明月光，疑是地上霜。", "tab\there\nnew line"]:
        ids = tokenizer.encode(text)
        # sentencepiece's dummy prefix adds one leading space byte per encode
        assert int(tb[ids].sum()) == len(text.encode("utf-8")) + 1
