#!/usr/bin/env python3
"""Build the training data of the default recipe from a data root (../shared/data by default).

Writes OUT (default runs/default/data):
  mid/knowledge.txt   every knowledge fact in all its phrasings; mid/tang300.txt the poems; mid/copy.txt
                      random runs repeated (copy practice); all three for the SFT mixture
  pretrain/*.txt      documents separated by blank lines: English corpora, WordNet as sentences, Chinese
                      poetry (唐诗三百首 repeated) and fortunes, task lines ("Q: ...\\nA: ...", train keys only),
                      reference lines (spellings, glossary, English-Chinese word list)
  heldout/<corpus>.txt 1% of every corpus by document hash (never in pretrain/ or sft.jsonl)
  tempest.txt         The Tempest, held out whole
  sft.jsonl           {"messages": [...]}: chatterbot (minus its hold-out) + synthetic task conversations
  dpo.jsonl           {"prompt": [...], "chosen", "rejected"}
  tests/<family>.jsonl held-out test slices {"family", "prompt", "answer", ...}
  stats.json          sizes and counts
With --write-testsets the test slices are also written to chatcli/tasks/testsets/ (shipped in the repo).
"""
from __future__ import annotations

import argparse
import json
import re
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from chatcli.tasks import build, lexical  # noqa: E402
from chatcli.tasks.common import rng_for, stable_hash  # noqa: E402
from chatcli.tasks.synthetic import arith_key  # noqa: E402

EN_TEXT = ("brown", "kjv", "shakespeare", "fortunes")
ZH_TEXT = ("fortunes_zh", "poetry")
TEMPEST_TITLE = "THE TEMPEST"


def held_out(corpus: str, doc: str, fraction: float) -> bool:
    return stable_hash(f"heldout\x00{corpus}\x00{doc}") / 2.0 ** 64 < fraction


def article(word: str) -> str:
    return "An" if word[:1].lower() in "aeiou" else "A"


def wordnet_sentence(s: dict) -> str:
    """One synset as plain sentences: 'A dog is a member of ... For example: the dog barked all night.'"""
    w, gloss = s["words"][0], s["gloss"].rstrip(".")
    if s["pos"] == "n":
        text = f"{article(w)} {w} is {gloss}." if re.match(r"(a|an|the|any|one|some)\b", gloss) else f"{w[:1].upper() + w[1:]}: {gloss}."
    elif s["pos"] == "v":
        text = f"To {w} is to {gloss}."
    else:
        text = f"{w[:1].upper() + w[1:]} means {gloss}."
    if len(s["words"]) > 1:
        text += " Other words for it: " + ", ".join(s["words"][1:4]) + "."
    if s.get("hypernyms"):
        text += f" It is a kind of {s['hypernyms'][0]}."
    if s.get("antonyms"):
        text += f" The opposite is {s['antonyms'][0]}."
    for ex in s.get("examples", [])[:2]:
        text += f" For example: {ex}."
    return text


def wordnet_docs(path: Path, per_doc: int = 6) -> list[str]:
    """Synsets grouped in file order, per_doc sentences a document."""
    lines = [wordnet_sentence(json.loads(line)) for line in open(path, encoding="utf-8")]
    return ["\n".join(lines[i:i + per_doc]) for i in range(0, len(lines), per_doc)]


def write_docs(path: Path, docs: list[str]) -> int:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text("\n\n".join(d.strip("\n") for d in docs) + "\n" if docs else "", encoding="utf-8")
    tmp.replace(path)
    return len(docs)


ARITH_RE = re.compile(r"(\d{1,3}) ?([+\-x×*]) ?(\d{1,3}) ?=")


def arithmetic_leaks(doc: str, test_keys: set[str]) -> bool:
    for a, op, b in ARITH_RE.findall(doc):
        op = "x" if op in "×*" else op
        if arith_key(op, int(a), int(b)) in test_keys:
            return True
    return False


def prepare(data_root: Path, out: Path, *, seed: int = 0, holdout: float = 0.01, poem_repeats: int = 3,
            scale: float = 1.0, n_words: int = 1000, write_testsets: bool = False, log=print) -> dict:
    t0 = time.perf_counter()
    data_root, out = Path(data_root), Path(out)
    stats: dict = {"data_root": str(data_root), "seed": seed, "pretrain": {}, "heldout": {}}
    res = lexical.load_resources(data_root, n_words=n_words)
    tests = build.test_items(res, seed)
    arith_test = {it["key"] for it in tests["arithmetic"]}
    pre, held = {}, {}
    corpora = {c: lexical.read_docs(data_root / "en" / f"{c}.txt") for c in EN_TEXT}
    corpora["wordnet"] = wordnet_docs(data_root / "en" / "wordnet.jsonl")
    corpora.update({c: lexical.read_docs(data_root / "zh" / f"{c}.txt") for c in ZH_TEXT})
    tempest = [d for d in corpora["shakespeare"] if d.split("\n", 1)[0].strip() == TEMPEST_TITLE]
    if len(tempest) != 1:
        raise SystemExit(f"expected one '{TEMPEST_TITLE}' document in shakespeare.txt, found {len(tempest)}")
    corpora["shakespeare"] = [d for d in corpora["shakespeare"] if d is not tempest[0]]
    keep_in = set(res.tang300_docs)  # the poem family needs these poems: never held out
    leaks = 0
    for c, docs in corpora.items():
        held[c] = [d for d in docs if d not in keep_in and held_out(c, d, holdout)]
        if not held[c] and len(docs) > 1 and holdout > 0:  # few large documents: hold out one anyway
            held[c] = [min((d for d in docs if d not in keep_in), key=lambda d: stable_hash(f"heldout\x00{c}\x00{d}"))]
        hs = set(held[c])
        pre[c] = []
        for d in docs:
            if d in hs:
                continue
            if arithmetic_leaks(d, arith_test):
                leaks += 1
                continue
            pre[c].append(d)
    pre["poetry"] += res.tang300_docs * max(0, poem_repeats - 1)  # extra copies to help recall
    counts = lambda base: {k: max(1, int(v * scale)) for k, v in base.items()}  # noqa: E731
    pre["tasks"] = build.pretrain_task_docs(res, seed, counts(build.PRETRAIN_COUNTS))
    pre["knowledge"] = build.knowledge_docs(res)
    rng_for(seed, "pretrain-order").shuffle(pre["poetry"])
    # for the SFT mixture: every knowledge fact in all its phrasings, and the poems of the poem family
    stats["mid"] = {"knowledge": write_docs(out / "mid" / "knowledge.txt", build.knowledge_docs(res, phrasings=5, seed=seed + 1)),
                    "tang300": write_docs(out / "mid" / "tang300.txt", res.tang300_docs),
                    "copy": write_docs(out / "mid" / "copy.txt", build.copy_docs(20000, seed))}
    for c, docs in pre.items():
        write_docs(out / "pretrain" / f"{c}.txt", docs)
        stats["pretrain"][c] = {"docs": len(docs), "mb": round((out / "pretrain" / f"{c}.txt").stat().st_size / 1e6, 2)}
    for c, docs in held.items():
        write_docs(out / "heldout" / f"{c}.txt", docs)
        stats["heldout"][c] = len(docs)
    write_docs(out / "tempest.txt", tempest)
    stats["arithmetic_leak_docs_dropped"] = leaks

    chat = [json.loads(line) for line in open(data_root / "chat" / "chatterbot.jsonl", encoding="utf-8")]
    chat_held = [r for r in chat if held_out("chatterbot", json.dumps(r["messages"], ensure_ascii=False), holdout)]
    chat_train = [{"messages": r["messages"], "family": "chatterbot"} for r in chat if r not in chat_held]
    build.write_jsonl(out / "heldout" / "chatterbot.jsonl", chat_held)
    write_docs(out / "heldout" / "chatterbot.txt", ["\n".join(m["content"] for m in r["messages"]) for r in chat_held])
    stats["heldout"]["chatterbot"] = len(chat_held)

    sft = build.sft_records(res, seed, counts(build.SFT_COUNTS))
    sft += chat_train * 2  # twice: the only open-ended conversation data
    rng_for(seed, "sft-final").shuffle(sft)
    dpo = build.dpo_records(res, seed, counts(build.DPO_COUNTS))
    stats["sft_examples"] = build.write_jsonl(out / "sft.jsonl", sft)
    stats["dpo_pairs"] = build.write_jsonl(out / "dpo.jsonl", dpo)
    fam = lambda recs: {f: sum(1 for r in recs if r.get("family") == f) for f in sorted({r.get("family") for r in recs})}  # noqa: E731
    stats["sft_by_family"], stats["dpo_by_family"] = fam(sft), fam(dpo)
    stats["tests"] = build.write_test_slices(out / "tests", tests)
    if write_testsets:
        build.write_test_slices(build.TESTSETS_DIR, tests)
    stats["mb"] = {k: round(sum(p.stat().st_size for p in (out / k).rglob("*") if p.is_file()) / 1e6, 2)
                   for k in ("pretrain", "heldout", "tests")}
    stats["mb"].update({f: round((out / f).stat().st_size / 1e6, 2) for f in ("tempest.txt", "sft.jsonl", "dpo.jsonl")})
    stats["time_s"] = round(time.perf_counter() - t0, 1)
    (out / "stats.json").write_text(json.dumps(stats, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    log(f"prepared {out} in {stats['time_s']} s: pretrain {stats['mb']['pretrain']} MB, "
        f"{stats['sft_examples']} SFT examples, {stats['dpo_pairs']} DPO pairs")
    return stats


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--data-root", default=str(REPO.parent / "shared" / "data"))
    ap.add_argument("--out", default=str(REPO / "runs" / "default" / "data"))
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--holdout", type=float, default=0.01, help="share of every corpus held out for bpb")
    ap.add_argument("--poem-repeats", type=int, default=3, help="copies of 唐诗三百首 in the pretraining text")
    ap.add_argument("--scale", type=float, default=1.0, help="multiply the synthetic example counts")
    ap.add_argument("--words", type=int, default=1000, help="words for the meaning and translate families")
    ap.add_argument("--write-testsets", action="store_true", help="also refresh chatcli/tasks/testsets/")
    a = ap.parse_args(argv)
    if not (Path(a.data_root) / "en" / "brown.txt").is_file():
        print(f"prepare_data: error: {a.data_root}: not a data root (en/brown.txt missing)", file=sys.stderr)
        return 1
    prepare(Path(a.data_root), Path(a.out), seed=a.seed, holdout=a.holdout, poem_repeats=a.poem_repeats,
            scale=a.scale, n_words=a.words, write_testsets=a.write_testsets,
            log=lambda m: print(m, file=sys.stderr))
    return 0


if __name__ == "__main__":
    sys.exit(main())
