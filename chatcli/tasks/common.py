"""Shared pieces of the task families: items, deterministic splits, prompt rendering, answer normalisation.

An *item* is a plain dict, the same shape in memory and in the test-slice JSONL files:
    {"family": str, "prompt": [{"role": "user", "content": str}], "answer": str,
     "accept": [str, ...] (optional extra correct answers), "key": str (the operands/word it is about)}
`key` decides the split: `split_of(family, key)` hashes it, so a word or operand pair is either a
test key or a train key for every phrasing, in every file (SFT, DPO, pretraining lines, test slice).
"""
from __future__ import annotations

import hashlib
import random
import re
import unicodedata
from typing import Callable, Iterable

from chatcli.tasks.working import final_answer, solution_of, with_final

TEST_FRACTION = 0.1  # share of keys (words, operand pairs, poem lines) reserved for test slices


def stable_hash(text: str) -> int:
    """A 64-bit hash of text that does not change between runs or Python versions."""
    return int.from_bytes(hashlib.blake2b(text.encode("utf-8"), digest_size=8).digest(), "big")


def split_of(family: str, key: str, test_fraction: float = TEST_FRACTION) -> str:
    """'test' or 'train' for a key of a family, deterministically by hash."""
    u = stable_hash(f"{family}\x00{key}") / 2.0 ** 64
    return "test" if u < test_fraction else "train"


def rng_for(seed: int, *parts: object) -> random.Random:
    """A private Random seeded from a seed and any labels (family, split, ...)."""
    return random.Random(stable_hash("\x00".join([str(seed), *map(str, parts)])))


def make_item(family: str, key: str, question: str, answer: str, accept: Iterable[str] = (), **extra) -> dict:
    item = {"family": family, "key": key, "prompt": [{"role": "user", "content": question}], "answer": answer}
    acc = sorted({a for a in accept if a != answer})
    if acc:
        item["accept"] = acc
    item.update(extra)
    return item


def question_of(item: dict) -> str:
    """The last user message of an item's prompt (the question itself)."""
    prompt = item["prompt"]
    if isinstance(prompt, str):
        return prompt
    return [m["content"] for m in prompt if m["role"] == "user"][-1]


def raw_prompt(question: str) -> str:
    """The base-model (no chat markers) prompt format; the answer runs to the end of the line."""
    return f"Q: {question}\nA:"


def raw_line(question: str, answer: str) -> str:
    """One question/answer pair in the base-model format, as used in pretraining text."""
    return f"Q: {question}\nA: {answer}"


def sft_example(item: dict, answer: str | None = None) -> dict:
    """A chat SFT record for an item: the worked solution where the family has one, else the answer."""
    reply = answer or solution_of(item) or item["answer"]
    return {"messages": [*item["prompt"], {"role": "assistant", "content": reply}], "family": item["family"]}


def dpo_pair(item: dict, rejected: str) -> dict:
    """chosen: the (worked) correct reply; rejected: the same working ending in a wrong answer, or the wrong answer.
    The item's answer rides along so that `chatcli train pairs` can score the model's own replies."""
    assert rejected != item["answer"], "a preference pair needs two different answers"
    solution = solution_of(item)
    chosen, rej = (solution, with_final(solution, rejected)) if solution else (item["answer"], rejected)
    return {"prompt": item["prompt"], "chosen": chosen, "rejected": rej, "family": item["family"],
            "answer": item["answer"], "accept": list(item.get("accept", []))}


# ---------------------------------------------------------------- normalisation and scoring

_TRAIL = ".。!！?？ \t\n"
_QUOTES = "\"'“”‘’「」『』`"


def norm_text(s: str) -> str:
    """Generic normalisation: NFKC, trim whitespace, quotes and trailing punctuation, collapse spaces, lower-case."""
    s = unicodedata.normalize("NFKC", s).strip()
    s = s.strip(_QUOTES).strip().rstrip(_TRAIL).strip().strip(_QUOTES).strip()
    return re.sub(r"\s+", " ", s).lower()


def norm_number(s: str) -> str:
    """Numbers: the first integer in the text, without thousands separators ('1,024.' -> '1024')."""
    s = unicodedata.normalize("NFKC", s).strip()
    m = re.search(r"-?\d[\d,]*", s)
    if not m:
        return norm_text(s)
    return str(int(m.group(0).replace(",", "")))


def norm_zh(s: str) -> str:
    """Chinese answers: drop all whitespace, quotes and trailing punctuation (。，！？)."""
    s = unicodedata.normalize("NFKC", s)
    s = re.sub(r"\s+", "", s).strip(_QUOTES)
    return s.rstrip(_TRAIL + ",，;；").strip(_QUOTES)


def norm_word(s: str) -> str:
    """Single-token answers such as a reversed word: lower-case, no spaces, quotes or final period."""
    return norm_text(s).replace(" ", "")


NORMALISERS: dict[str, Callable[[str], str]] = {
    "arithmetic": norm_number,
    "count_letter": norm_number,
    "reverse": norm_word,
    "meaning": norm_text,
    "translate": norm_zh,
    "poem_next": norm_zh,
    "chatcli": norm_text,
}


def normalise(family: str, text: str) -> str:
    return NORMALISERS.get(family, norm_text)(text)


CONTAINED = ("meaning", "translate", "poem_next")  # answered in a sentence: '"snow" means ...', '"snow" in Chinese is 雪.'


def score(item: dict, output: str) -> bool:
    """Exact match after the family's normalisation, against the answer or any accepted alternative;
    for the knowledge families (CONTAINED) the normalised answer must occur in the reply's first line."""
    # the text after the last "answer is" (worked solutions), else the first line: answers are one
    # line and anything after a newline is the model rambling on
    fam = item["family"]
    answers = [item["answer"], *item.get("accept", [])]
    if fam in CONTAINED:
        line = output.strip().split("\n", 1)[0] if fam != "poem_next" else output.strip()
        got = normalise(fam, line)
        return any(normalise(fam, a) and normalise(fam, a) in got for a in answers)
    got = normalise(fam, final_answer(output))
    return any(got == normalise(fam, a) for a in answers)
