"""Scoring of task replies: the question of an item, the base-model prompt, answer normalisation per
family and exact-match scoring (what `chatcli eval --tasks` and `chatcli train pairs` judge replies by).

An item is a plain dict (the shape of the test-slice JSONL files; recipes/tasks/items.py builds them):
    {"family": str, "prompt": [{"role": "user", "content": str}], "answer": str,
     "accept": [str, ...] (optional extra correct answers), "key": str (the operands/word it is about)}
"""
from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable

from chatcli.tasks.working import final_answer


def question_of(item: dict) -> str:
    """The last user message of an item's prompt (the question itself)."""
    prompt = item["prompt"]
    if isinstance(prompt, str):
        return prompt
    return [m["content"] for m in prompt if m["role"] == "user"][-1]


def raw_prompt(question: str) -> str:
    """The base-model (no chat markers) prompt format; the answer runs to the end of the line."""
    return f"Q: {question}\nA:"


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
    """Single-word answers such as a reversed word: lower-case, no spaces, quotes or final period, and a
    word spelled with hyphens ('e-s-u-o-h') read as the word ('esuoh')."""
    return re.sub(r"(?<=[^\W\d_])-(?=[^\W\d_])", "", norm_text(s).replace(" ", ""))


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
