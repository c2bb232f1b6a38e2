"""The synthetic task families assembled: items per family, SFT conversations, preference pairs, test
slices, plain-text task lines, knowledge prose and copy runs for pretraining. Train material only ever
uses train keys (items.split_of). The shipped test slices (chatcli/tasks/testsets) are `test_items`
written by `write_test_slices`; chatcli/tasks/evaluate.py reads them back.

Families (FAMILIES): arithmetic, count_letter, reverse, chatcli (need no corpus) and meaning, translate,
poem_next (need the data root: WordNet, CC-CEDICT, 唐诗三百首; see lexical.load_resources).
"""
from __future__ import annotations

from pathlib import Path

from chatcli.data.sources import read_jsonl
from chatcli.tasks.evaluate import FAMILIES, TESTSETS_DIR
from chatcli.tasks.scoring import question_of
from chatcli.tasks.working import spelled
from model.checkpoint import atomic_write_jsonl
from recipes.tasks import lexical, selfqa, synthetic
from recipes.tasks.items import dpo_pair, raw_line, rng_for, sft_example

CORPUS_FREE = ("arithmetic", "count_letter", "reverse", "chatcli")
TEST_PER_FAMILY = 200
__all__ = ["FAMILIES", "CORPUS_FREE", "TESTSETS_DIR", "TEST_PER_FAMILY", "make_items", "test_items", "sft_records",
           "dpo_records", "pretrain_task_docs", "knowledge_docs", "copy_docs", "read_jsonl", "write_jsonl",
           "write_test_slices"]

# examples per family (train split); the lexical families cycle over their ~900 train keys with new phrasings
SFT_COUNTS = {"arithmetic": 40000, "count_letter": 12000, "reverse": 12000, "meaning": 6000,
              "translate": 6000, "poem_next": 8000, "chatcli": 3000}
DPO_COUNTS = {"arithmetic": 3000, "count_letter": 1500, "reverse": 1500, "meaning": 1500,
              "translate": 1500, "poem_next": 1500, "chatcli": 500}
PRETRAIN_COUNTS = {"arithmetic": 30000, "count_letter": 6000, "reverse": 6000, "meaning": 3000,
                   "translate": 3000, "poem_next": 4000, "chatcli": 1000}


def make_items(family: str, split: str, n: int, seed: int = 0, res: lexical.Resources | None = None) -> list[dict]:
    if family == "arithmetic":
        return synthetic.make_arithmetic(split, n, seed)
    if family == "count_letter":
        return synthetic.make_count_letter(split, n, seed)
    if family == "reverse":
        return synthetic.make_reverse(split, n, seed)
    if family == "chatcli":
        return selfqa.make_chatcli(split, n, seed)
    if res is None:
        raise ValueError(f"task family {family!r} needs the data root (lexical.load_resources)")
    make = {"meaning": lexical.make_meaning, "translate": lexical.make_translate,
            "poem_next": lexical.make_poem_next}[family]
    return make(res, split, n, seed)


def wrong_answer(item: dict, rng, res: lexical.Resources | None = None) -> str:
    fam = item["family"]
    if fam == "arithmetic":
        return synthetic.wrong_arithmetic(item, rng)
    if fam == "count_letter":
        return synthetic.wrong_count(item, rng)
    if fam == "reverse":
        return synthetic.wrong_reverse(item, rng)
    if fam == "chatcli":
        return selfqa.wrong_chatcli(item, rng)
    fn = {"meaning": lexical.wrong_meaning, "translate": lexical.wrong_translate, "poem_next": lexical.wrong_poem}[fam]
    return fn(item, rng, res)


def available(res: lexical.Resources | None) -> tuple[str, ...]:
    return FAMILIES if res is not None else CORPUS_FREE


# ---------------------------------------------------------------- records

def test_items(res: lexical.Resources | None, seed: int = 0, n: int = TEST_PER_FAMILY) -> dict[str, list[dict]]:
    return {f: make_items(f, "test", n, seed, res) for f in available(res)}


def sft_records(res: lexical.Resources | None, seed: int = 0, counts: dict | None = None,
                multi_turn: float = 0.1) -> list[dict]:
    """Single-turn task conversations, plus a share of two-question conversations, shuffled."""
    counts = counts or SFT_COUNTS
    recs = []
    for f in available(res):
        recs += [sft_example(it) for it in make_items(f, "train", counts[f], seed + 1, res)]
    rng = rng_for(seed, "sft-shuffle")
    rng.shuffle(recs)
    n_multi = int(len(recs) * multi_turn / 2)
    merged = []
    for i in range(n_multi):  # pair up neighbours into two-question conversations
        a, b = recs[2 * i], recs[2 * i + 1]
        merged.append({"messages": a["messages"] + b["messages"], "family": "multi_turn"})
    return merged + recs[2 * n_multi:]


def dpo_records(res: lexical.Resources | None, seed: int = 0, counts: dict | None = None) -> list[dict]:
    counts = counts or DPO_COUNTS
    recs = []
    for f in available(res):
        rng = rng_for(seed, "dpo", f)
        for it in make_items(f, "train", counts[f], seed + 2, res):
            recs.append(dpo_pair(it, wrong_answer(it, rng, res)))
    rng_for(seed, "dpo-shuffle").shuffle(recs)
    return recs


def pretrain_task_docs(res: lexical.Resources | None, seed: int = 0, counts: dict | None = None,
                       per_doc: int = 8) -> list[str]:
    """Plain-text task lines ("Q: What is 12 + 7?\\nA: 19"), per_doc pairs per document, train keys only."""
    counts = counts or PRETRAIN_COUNTS
    lines = []
    for f in available(res):
        lines += [raw_line(question_of(it), it["answer"]) for it in make_items(f, "train", counts[f], seed + 3, res)]
    rng_for(seed, "pretrain-shuffle").shuffle(lines)
    return ["\n".join(lines[i:i + per_doc]) for i in range(0, len(lines), per_doc)]


SPELL_PHRASES = ("The word \"{w}\" is spelled {s}.", "{w}: {s}.", "How to spell {w}: {s}.")
MEANING_PHRASES = ("{w}: {g}.", "The word \"{w}\" means {g}.", "What {w} means: {g}.",
                   "In the dictionary, {w} is defined as {g}.")
TRANSLATE_PHRASES = ("English \"{w}\" is {zh} ({py}) in Chinese.", "The Chinese word for \"{w}\" is {zh}.",
                     "{zh} ({py}) means \"{w}\".", "In Chinese, {w} is {zh}.", "“{w}”的中文是{zh}。")


def knowledge_docs(res: lexical.Resources | None, per_doc: int = 20, phrasings: int = 2, seed: int = 0) -> list[str]:
    """Reference text the knowledge families draw on, for every key (train and test) as ordinary prose:
    spellings of the common words, a glossary of the meaning words, an English-Chinese word list.
    Each fact is written `phrasings` ways (different sentence shapes), which is what lets a small model
    answer a question about a fact it only ever read as prose (Allen-Zhu & Li, Physics of LMs 3.1).
    The question/answer form of test keys appears nowhere in training."""
    rng = rng_for(seed, "knowledge-phrasing")

    def some(phrases):
        return rng.sample(phrases, min(phrasings, len(phrases)))
    lines = [p.format(w=w, s=spelled(w))
             for w in synthetic.COMMON_WORDS for p in some(SPELL_PHRASES)]
    if res is not None:
        lines += [p.format(w=w, g=g) for w, (g, _) in sorted(res.meaning.items()) for p in some(MEANING_PHRASES)]
        lines += [p.format(w=w, zh=zh, py=py) for w, (zh, _, py) in sorted(res.translate.items())
                  for p in some(TRANSLATE_PHRASES)]
    rng_for(seed, "knowledge-shuffle").shuffle(lines)
    return ["\n".join(lines[i:i + per_doc]) for i in range(0, len(lines), per_doc)]


def copy_docs(n: int, seed: int = 0) -> list[str]:
    """Documents that can only be predicted by copying: a random run of words, numbers or letters,
    then the same run again. A model pretrained on a few million tokens has no induction heads yet
    (its loss on a repeated random sequence is no lower the second time), so it cannot copy an operand
    or a word out of a question; a share of these in training grows them within a few hundred steps."""
    rng = rng_for(seed, "copy-docs")
    words = list(synthetic.COMMON_WORDS)
    docs = []
    for _ in range(n):
        kind = rng.choice(("words", "digits", "letters"))
        k = rng.randint(6, 30)
        if kind == "words":
            items = [rng.choice(words) for _ in range(k)]
        elif kind == "digits":
            items = ["".join(rng.choice("0123456789") for _ in range(rng.randint(1, 4))) for _ in range(k)]
        else:
            items = [rng.choice(synthetic.LETTERS) for _ in range(k)]
        run = " ".join(items) if kind != "letters" else "-".join(items)
        docs.append(f"{run}\n{run}\n{run}")
    return docs


# ---------------------------------------------------------------- files

write_jsonl = atomic_write_jsonl  # one JSON object a line, written atomically (unique temp file, fsync, rename)

def write_test_slices(directory: Path, tests: dict[str, list[dict]]) -> dict[str, int]:
    return {f: write_jsonl(Path(directory) / f"{f}.jsonl", items) for f, items in tests.items()}

