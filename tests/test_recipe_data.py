"""recipes/prepare_data.py (v4) and recipes/tasks against a small fake data root in the formats of ../shared/data."""
from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest

from recipes.tasks import dialogue, mix
from recipes.tasks.scope import load_scope

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
    wn = [{"pos": "n", "words": [w], "gloss": f"the test thing number {i}; more text", "examples": [f"the {w} is here"],
           "hypernyms": ["entity"], "antonyms": []} for i, w in enumerate(WORDS)]
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
    stats = _load_prepare().prepare(data_root, out, holdout=0.05, n_chat=400, n_words=20, n_poems=4, log=lambda m: None)
    return out, stats


def test_outputs_exist_and_tempest_held_out(prepared):
    out, stats = prepared
    tempest = (out / "tempest.txt").read_text(encoding="utf-8")
    assert tempest.startswith("THE TEMPEST\n") and "TEMPESTMARKER" in tempest
    text = "".join(p.read_text(encoding="utf-8") for p in (out / "text").glob("*.txt"))
    assert "TEMPESTMARKER" not in text and "To be or not to be" in text + (out / "heldout" / "shakespeare.txt").read_text()
    held = "".join(p.read_text(encoding="utf-8") for p in (out / "heldout").glob("*.txt"))
    assert "白日依山尽" in text and "For example: the dog is here." in text + held
    for p in (out / "text").glob("*.txt"):
        body = p.read_text(encoding="utf-8")
        assert "\n\n\n" not in body and body.endswith("\n")
    assert json.loads((out / "stats.json").read_text())["chat"] == stats["chat"] > 400  # + chatterbot


def test_heldout_documents_not_in_training(prepared):
    out, _ = prepared
    train_docs = set()
    for p in [*(out / "text").glob("*.txt"), out / "knowledge.txt"]:
        train_docs |= set(p.read_text(encoding="utf-8").split("\n\n"))
    n_held = 0
    for p in (out / "heldout").glob("*.txt"):
        for d in p.read_text(encoding="utf-8").strip("\n").split("\n\n"):
            if d and p.stem != "chatterbot":
                n_held += 1
                assert d.strip("\n") not in train_docs
    assert n_held > 0
    chat = (out / "chat.jsonl").read_text(encoding="utf-8")
    for d in (out / "heldout" / "chatterbot.txt").read_text(encoding="utf-8").strip().split("\n\n"):
        q, a = d.split("\n")[:2]
        assert json.dumps([{"role": "user", "content": q}, {"role": "assistant", "content": a}]) not in chat


def test_scope_is_taught_in_chat_and_prose(prepared):
    out, stats = prepared
    scope = json.loads((out / "scope.json").read_text(encoding="utf-8"))
    assert stats["scope"]["words"] == len(scope["words"]) > 10 and stats["scope"]["poems"] == 4
    zh = {w["word"]: w["zh"] for w in scope["words"]}
    assert all(zh[w] == ZH[w] for w in zh if zh[w])  # the fake dictionary's one sense each
    chat = [json.loads(x) for x in (out / "chat.jsonl").read_text(encoding="utf-8").splitlines()]
    replies = " ".join(m["content"] for r in chat for m in r["messages"] if m["role"] == "assistant")
    for w in scope["words"][:5]:
        assert w["gloss"] in replies or w["gloss"] in (out / "knowledge.txt").read_text(encoding="utf-8")
    assert "黄河入海流。" in replies and "So the answer is" in replies
    prefs = [json.loads(x) for x in (out / "prefs.jsonl").read_text(encoding="utf-8").splitlines()]
    assert prefs and {p["family"] for p in prefs} <= {"arithmetic", "count_letter", "reverse", "meaning",
                                                       "translate", "poem_next"}
    from chatcli.tasks.scoring import score
    for p in prefs[:200]:  # every chosen reply is right by the scorer `train pairs` uses
        assert score(p, p["chosen"]), p


def test_worked_solutions_are_right():
    import random
    rng = random.Random(3)
    for _ in range(500):
        q, reply, it = dialogue.arithmetic(rng)
        a, op, b = it["key"].split(" ")
        want = int(a) + int(b) if op == "+" else int(a) - int(b)
        assert it["answer"] == str(want) and reply.endswith(f"So the answer is {want}.")
    assert dialogue.add_working(347, 285) == "7 + 5 = 12, write 2 carry 1; 4 + 8 + 1 = 13, write 3 carry 1; 3 + 2 + 1 = 6, write 6"
    assert dialogue.sub_working(532, 178) == "12 - 8 = 4, borrow 1; 13 - 7 - 1 = 5, borrow 1; 5 - 1 - 1 = 3"
    assert dialogue.number_words(342) == "three hundred and forty-two" and dialogue.number_words(17) == "seventeen"
    reply, n = dialogue.count_reply("banana", "a")
    assert n == 3 and reply.endswith("So the answer is 3.")


def test_follow_ups_refer_to_the_previous_turn(data_root):
    import random
    scope = load_scope(data_root, n_words=20, n_poems=4)
    rng = random.Random(0)
    seen = set()
    for _ in range(300):
        q, reply, item = mix.turn(rng, scope)
        nxt = mix.follow_up(rng, scope, item)
        if nxt is None:
            continue
        fq, freply, fitem = nxt
        seen.add(fitem["family"])
        if item["family"] == "arithmetic" and fitem["key"] not in fq:  # not "What about 3 + 4?"
            assert fitem["key"].split(" ")[0] == item["answer"]  # "And plus 5?" works on the last result
        if item["family"] in ("spell", "meaning", "translate") and fitem["family"] in ("reverse", "spell", "meaning"):
            assert fitem["key"] == item["key"]
    assert {"arithmetic", "reverse", "meaning"} <= seen
