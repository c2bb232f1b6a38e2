"""recipes/prepare_data.py against a small fake data root in the formats of ../shared/data."""
from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent


def _load_prepare():
    spec = importlib.util.spec_from_file_location("prepare_data", REPO / "recipes" / "prepare_data.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


WORDS = ["water", "music", "house", "river", "dog", "book", "tree", "light", "money", "bird", "mountain",
         "child", "city", "door", "fire", "garden", "horse", "island", "letter", "market"]
ZH = {"water": "水", "music": "音乐", "house": "房子", "river": "河", "dog": "狗", "book": "书", "tree": "树",
      "light": "光", "money": "钱", "bird": "鸟", "mountain": "山", "child": "孩子", "city": "城市", "door": "门",
      "fire": "火", "garden": "花园", "horse": "马", "island": "岛", "letter": "信", "market": "市场"}
POEMS = [("登鹳雀楼", "王之涣", "白日依山尽，黄河入海流。\n欲穷千里目，更上一层楼。"),
         ("静夜思", "李白", "床前看月光，疑是地上霜。\n举头望明月，低头思故乡。"),
         ("春晓", "孟浩然", "春眠不觉晓，处处闻啼鸟。\n夜来风雨声，花落知多少。"),
         ("相思", "王维", "红豆生南国，春来发几枝。\n愿君多采撷，此物最相思。")]


def write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")


@pytest.fixture(scope="module")
def data_root(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("data")
    brown = [" ".join(f"the {w} was near a {WORDS[(i + j) % len(WORDS)]}" for j in range(6)) + "."
             for i, w in enumerate(WORDS * 3)]
    write(root / "en" / "brown.txt", "\n\n".join(brown) + "\n")
    write(root / "en" / "kjv.txt", "\n\n".join(f"Genesis {i}\nIn the beginning {i} + 1 = {i + 1} things."
                                              for i in range(1, 40)) + "\n")
    plays = ["ALL'S WELL THAT ENDS WELL\nby William Shakespeare\nHelena speaks.",
             "THE TEMPEST\nby William Shakespeare\nTEMPESTMARKER Prospero speaks of the island.",
             "HAMLET\nby William Shakespeare\nTo be or not to be."]
    write(root / "en" / "shakespeare.txt", "\n\n".join(plays) + "\n")
    write(root / "en" / "fortunes.txt", "\n\n".join(f"Fortune number {i}.\n\t-- Someone" for i in range(60)) + "\n")
    wn = [{"pos": "n", "words": [w], "gloss": f"a thing called {w}; more text", "examples": [f"the {w} is here"],
           "hypernyms": ["entity"], "antonyms": []} for w in WORDS]
    wn.append({"pos": "v", "words": ["run", "go"], "gloss": "move fast by using one's feet", "examples": [],
               "hypernyms": ["travel"], "antonyms": []})
    write(root / "en" / "wordnet.jsonl", "".join(json.dumps(s) + "\n" for s in wn))
    ce = [{"simplified": z, "traditional": z, "pinyin": "x1", "english": [w]} for w, z in ZH.items()]
    write(root / "zh" / "cedict.jsonl", "".join(json.dumps(e, ensure_ascii=False) + "\n" for e in ce))
    write(root / "zh" / "fortunes_zh.txt", "\n\n".join("我有" + "".join(ZH.values()) + str(i) for i in range(30)) + "\n")
    docs = ["导引\n和岘\n气和玉烛，睿化著鸿明。", "学而\n孔子弟子及再传弟子\n学而时习之，不亦说乎？"]
    docs += [f"{t}\n{a}\n{x}" for t, a, x in POEMS]
    docs += ["帝京篇十首 一\n太宗皇帝\n秦川雄帝宅，函谷壮皇居。"]
    write(root / "zh" / "poetry.txt", "\n\n".join(docs) + "\n")
    chats = [{"messages": [{"role": "user", "content": f"Hello {i}?"}, {"role": "assistant", "content": f"Hi {i}."}],
              "lang": "en", "category": "greetings"} for i in range(50)]
    write(root / "chat" / "chatterbot.jsonl", "".join(json.dumps(c) + "\n" for c in chats))
    return root


@pytest.fixture(scope="module")
def prepared(data_root, tmp_path_factory):
    out = tmp_path_factory.mktemp("prepared")
    stats = _load_prepare().prepare(data_root, out, holdout=0.05, n_words=20, scale=0.02, log=lambda m: None)
    return out, stats


def test_outputs_exist_and_tempest_held_out(prepared):
    out, stats = prepared
    tempest = (out / "tempest.txt").read_text(encoding="utf-8")
    assert tempest.startswith("THE TEMPEST\n") and "TEMPESTMARKER" in tempest
    pre = "".join(p.read_text(encoding="utf-8") for p in (out / "pretrain").glob("*.txt"))
    assert "TEMPESTMARKER" not in pre and "To be or not to be" in pre + (out / "heldout" / "shakespeare.txt").read_text()
    assert "白日依山尽" in pre and "For example: the dog is here." in pre
    for p in (out / "pretrain").glob("*.txt"):
        text = p.read_text(encoding="utf-8")
        assert "\n\n\n" not in text and text.endswith("\n")
    assert json.loads((out / "stats.json").read_text())["sft_examples"] == stats["sft_examples"]


def test_heldout_documents_not_in_training(prepared):
    out, _ = prepared
    pre_docs = set()
    for p in (out / "pretrain").glob("*.txt"):
        pre_docs |= set(p.read_text(encoding="utf-8").split("\n\n"))
    n_held = 0
    for p in (out / "heldout").glob("*.txt"):
        for d in p.read_text(encoding="utf-8").strip("\n").split("\n\n"):
            if d and p.stem != "chatterbot":
                n_held += 1
                assert d.strip("\n") not in pre_docs
    assert n_held > 0
    held_chat = [json.loads(x)["messages"] for x in (out / "heldout" / "chatterbot.jsonl").read_text().splitlines()]
    sft = [json.loads(x)["messages"] for x in (out / "sft.jsonl").read_text().splitlines()]
    assert held_chat and all(m not in sft for m in held_chat)


def test_tasks_from_corpus_families(prepared):
    out, stats = prepared
    tests = {p.stem: [json.loads(x) for x in p.read_text(encoding="utf-8").splitlines()]
             for p in (out / "tests").glob("*.jsonl")}
    assert set(tests) == {"arithmetic", "count_letter", "reverse", "meaning", "translate", "poem_next", "chatcli"}
    sft = [json.loads(x) for x in (out / "sft.jsonl").read_text(encoding="utf-8").splitlines()]
    dpo = [json.loads(x) for x in (out / "dpo.jsonl").read_text(encoding="utf-8").splitlines()]
    for fam in ("meaning", "translate", "poem_next"):
        train_keys = {r["messages"][0]["content"] for r in sft if r["family"] == fam}
        assert train_keys, fam
        for it in tests[fam]:
            assert all(f"'{it['key']}'" not in q and f"\"{it['key']}\"" not in q for q in train_keys)
    for it in tests.get("translate", []):
        assert ZH[it["key"]] == it["answer"]
    for it in tests.get("poem_next", []):
        assert any(it["key"] + "，" + it["answer"] in x or it["key"] + "。\n" + it["answer"] in x
                   for _, _, x in POEMS)
    for r in dpo:
        assert r["chosen"] != r["rejected"]
        if r["family"] == "poem_next":  # a different line of the same poem
            assert any(r["chosen"] in x and r["rejected"] in x for _, _, x in POEMS)
    assert stats["tests"]["meaning"] == len(tests["meaning"])
