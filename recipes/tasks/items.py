"""Shared pieces of the synthetic task generators: items, deterministic splits and seeds, and the
record shapes built from an item (SFT conversation, preference pair, plain-text pretraining line).

An *item* is a plain dict, the same shape in memory and in the test-slice JSONL files
(chatcli/tasks/scoring.py reads it back):
    {"family": str, "prompt": [{"role": "user", "content": str}], "answer": str,
     "accept": [str, ...] (optional extra correct answers), "key": str (the operands/word it is about)}
`key` decides the split: `split_of(family, key)` hashes it, so a word or operand pair is either a
test key or a train key for every phrasing, in every file (SFT, DPO, pretraining lines, test slice).
"""
from __future__ import annotations

import hashlib
import random
from collections.abc import Iterable

from chatcli.tasks.working import FINAL, solution_of

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


def raw_line(question: str, answer: str) -> str:
    """One question/answer pair in the base-model format, as used in pretraining text."""
    return f"Q: {question}\nA: {answer}"


def sft_example(item: dict, answer: str | None = None) -> dict:
    """A chat SFT record for an item: the worked solution where the family has one, else the answer."""
    reply = answer or solution_of(item) or item["answer"]
    return {"messages": [*item["prompt"], {"role": "assistant", "content": reply}], "family": item["family"]}


def with_final(solution: str, answer: str) -> str:
    """A solution with its final answer replaced (preference pairs: same working, wrong conclusion)."""
    head, sep, _ = solution.rpartition(FINAL.split("{}")[0])
    assert sep, "a worked solution ends in its final answer"
    return head + FINAL.format(answer)


def dpo_pair(item: dict, rejected: str) -> dict:
    """chosen: the (worked) correct reply; rejected: the same working ending in a wrong answer, or the wrong answer.
    The item's answer rides along so that `chatcli train pairs` can score the model's own replies."""
    assert rejected != item["answer"], "a preference pair needs two different answers"
    solution = solution_of(item)
    chosen, rej = (solution, with_final(solution, rejected)) if solution else (item["answer"], rejected)
    return {"prompt": item["prompt"], "chosen": chosen, "rejected": rej, "family": item["family"],
            "answer": item["answer"], "accept": list(item.get("accept", []))}
