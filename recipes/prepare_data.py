#!/usr/bin/env python3
"""Build the training data of the default recipe (v4) from a data root (../shared/data by default).

Writes OUT (default runs/default/data):
  text/<corpus>.txt     prose, documents separated by blank lines: Shakespeare (without The Tempest),
                        Brown, KJV, fortunes, WordNet as sentences, Chinese poetry and fortunes
  knowledge.txt         the scoped facts as prose (glossary, spellings, word list, the chosen poems)
  copy.txt              random runs repeated (only copying predicts them: grows induction heads)
  chat.jsonl            {"messages"}: task and small-talk conversations (recipes/tasks) + chatterbot
  polish.jsonl          a fresh draw of conversations for the short chat polish after the mixed run
  prefs.jsonl           single-turn prompts with family/answer, for `chatcli train pairs` (DPO)
  heldout/<corpus>.txt  1% of every corpus by document hash (never trained on); tempest.txt whole
  scope.json            the words, glosses, Chinese and poems the model is taught
  stats.json            sizes and counts
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from chatcli.data.sources import read_jsonl  # noqa: E402
from model.checkpoint import atomic_write_json, atomic_write_jsonl, atomic_write_text  # noqa: E402
from recipes.tasks import mix  # noqa: E402
from recipes.tasks.items import rng_for, stable_hash  # noqa: E402
from recipes.tasks.scope import load_scope  # noqa: E402

EN_TEXT = ("brown", "kjv", "shakespeare", "fortunes")
ZH_TEXT = ("fortunes_zh", "poetry")
TEMPEST_TITLE = "THE TEMPEST"


def held_out(corpus: str, doc: str, fraction: float) -> bool:
    return stable_hash(f"heldout\x00{corpus}\x00{doc}") / 2.0 ** 64 < fraction


def read_docs(path: Path) -> list[str]:
    return [d for d in Path(path).read_text(encoding="utf-8").split("\n\n") if d.strip()]


def wordnet_sentence(s: dict) -> str:
    """One synset as plain sentences: 'dog: a member of the genus Canis. For example: the dog barked.'"""
    w, gloss = s["words"][0], s["gloss"].rstrip(".")
    text = f"{w}: {gloss}."
    if len(s["words"]) > 1:
        text += " Other words for it: " + ", ".join(s["words"][1:4]) + "."
    for ex in s.get("examples", [])[:1]:
        text += f" For example: {ex}."
    return text


def wordnet_docs(path: Path, per_doc: int = 8) -> list[str]:
    lines = [wordnet_sentence(s) for s in read_jsonl(path)]
    return ["\n".join(lines[i:i + per_doc]) for i in range(0, len(lines), per_doc)]


def write_docs(path: Path, docs: list[str]) -> int:
    atomic_write_text(path, "\n\n".join(d.strip("\n") for d in docs) + "\n" if docs else "")
    return len(docs)


write_jsonl = atomic_write_jsonl


def copy_docs(words: list[str], n: int, seed: int) -> list[str]:
    """A random run of words, digits or letters, then the same run again (twice)."""
    rng = rng_for(seed, "copy-docs")
    docs = []
    for _ in range(n):
        kind = rng.choice(("words", "digits", "letters"))
        k = rng.randint(4, 24)
        if kind == "words":
            run = " ".join(rng.choice(words) for _ in range(k))
        elif kind == "digits":
            run = " ".join(str(rng.randint(0, 999)) for _ in range(k))
        else:
            run = "-".join(rng.choice("abcdefghijklmnopqrstuvwxyz") for _ in range(k))
        docs.append(f"{run}\n{run}\n{run}")
    return docs


def prepare(data_root: Path, out: Path, *, seed: int = 0, holdout: float = 0.01, n_chat: int = 120000,
            n_words: int = 2000, n_poems: int = 40, log=print) -> dict:
    t0 = time.perf_counter()
    data_root, out = Path(data_root), Path(out)
    scope = load_scope(data_root, n_words=n_words, n_poems=n_poems)
    stats: dict = {"data_root": str(data_root), "seed": seed, "scope": scope.summary(), "text": {}, "heldout": {}}
    corpora = {c: read_docs(data_root / "en" / f"{c}.txt") for c in EN_TEXT}
    corpora["wordnet"] = wordnet_docs(data_root / "en" / "wordnet.jsonl")
    corpora.update({c: read_docs(data_root / "zh" / f"{c}.txt") for c in ZH_TEXT})
    tempest = [d for d in corpora["shakespeare"] if d.split("\n", 1)[0].strip() == TEMPEST_TITLE]
    if len(tempest) != 1:
        raise SystemExit(f"expected one '{TEMPEST_TITLE}' document in shakespeare.txt, found {len(tempest)}")
    corpora["shakespeare"] = [d for d in corpora["shakespeare"] if d is not tempest[0]]
    keep_in = {f"{p.title}\n{p.author}\n{p.text}" for p in scope.poems}
    for c, docs in corpora.items():
        held = [d for d in docs if d not in keep_in and held_out(c, d, holdout)]
        if not held and len(docs) > 1 and holdout > 0:  # few large documents: hold out one anyway
            held = [min(docs, key=lambda d: stable_hash(f"heldout\x00{c}\x00{d}"))]
        hs = set(held)
        stats["text"][c] = write_docs(out / "text" / f"{c}.txt", [d for d in docs if d not in hs])
        stats["heldout"][c] = write_docs(out / "heldout" / f"{c}.txt", held)
    write_docs(out / "tempest.txt", tempest)

    chat = read_jsonl(data_root / "chat" / "chatterbot.jsonl")
    bot_held = [r for r in chat if held_out("chatterbot", json.dumps(r["messages"], ensure_ascii=False), holdout)]
    bot = [{"messages": r["messages"], "family": "chatterbot"} for r in chat if r not in bot_held]
    stats["heldout"]["chatterbot"] = write_docs(out / "heldout" / "chatterbot.txt",
                                                ["\n".join(m["content"] for m in r["messages"]) for r in bot_held])
    convs = mix.conversations(scope, n_chat, seed) + bot
    rng_for(seed, "chat-order").shuffle(convs)
    stats["chat"] = write_jsonl(out / "chat.jsonl", convs)
    stats["polish"] = write_jsonl(out / "polish.jsonl", mix.conversations(scope, max(1, n_chat // 6), seed + 1) + bot)
    stats["prefs"] = write_jsonl(out / "prefs.jsonl", mix.preference_prompts(scope, 4000, seed + 2))
    stats["knowledge"] = write_docs(out / "knowledge.txt", mix.knowledge_text(scope, seed))
    stats["copy"] = write_docs(out / "copy.txt", copy_docs(scope.words, 20000, seed))
    atomic_write_json(out / "scope.json", {
        "words": [{"word": w, "gloss": scope.gloss[w], "zh": scope.zh.get(w, ("", []))[0]} for w in scope.words],
        "poems": [{"title": p.title, "author": p.author, "lines": p.lines} for p in scope.poems]}, indent=0)
    fam: dict[str, int] = {}
    for r in convs:
        for f in r["family"].split("+"):
            fam[f] = fam.get(f, 0) + 1
    stats["chat_by_family"] = dict(sorted(fam.items()))
    stats["mb"] = {p.name: round(p.stat().st_size / 1e6, 2) for p in sorted(out.rglob("*")) if p.is_file()
                   and p.suffix in (".txt", ".jsonl")}
    stats["time_s"] = round(time.perf_counter() - t0, 1)
    atomic_write_json(out / "stats.json", stats, indent=1)
    log(f"prepared {out} in {stats['time_s']} s: {stats['chat']} conversations, scope {scope.summary()}")
    return stats


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--data-root", default=str(REPO.parent / "shared" / "data"))
    ap.add_argument("--out", default=str(REPO / "runs" / "default" / "data"))
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--holdout", type=float, default=0.01, help="share of every corpus held out for bpb")
    ap.add_argument("--chat", type=int, default=120000, help="synthetic conversations in chat.jsonl")
    ap.add_argument("--words", type=int, default=2000, help="common words the model is taught")
    ap.add_argument("--poems", type=int, default=40, help="Tang poems the model is taught")
    a = ap.parse_args(argv)
    if not (Path(a.data_root) / "en" / "brown.txt").is_file():
        print(f"prepare_data: error: {a.data_root}: not a data root (en/brown.txt missing)", file=sys.stderr)
        return 1
    prepare(Path(a.data_root), Path(a.out), seed=a.seed, holdout=a.holdout, n_chat=a.chat, n_words=a.words,
            n_poems=a.poems, log=lambda m: print(m, file=sys.stderr))
    return 0


if __name__ == "__main__":
    sys.exit(main())
