"""Corpus-free task families: integer arithmetic, counting a letter in a word, spelling a word backwards.

Each family has `make(split, n, seed) -> [item]` (items whose key falls in `split`, see common.split_of)
and `wrong(item, rng) -> str` (a plausible wrong answer for preference pairs). Everything is a pure
function of the seed, so the test slices can be rebuilt from code alone.
"""
from __future__ import annotations

import random

from recipes.tasks.items import make_item, rng_for, split_of
from recipes.tasks.words import COMMON_WORDS

# ---------------------------------------------------------------- arithmetic

ARITH_TEMPLATES = {
    "+": ["What is {a} + {b}?", "What is {a} plus {b}?", "Calculate {a} + {b}.", "{a} + {b} = ?",
          "Add {a} and {b}.", "What is the sum of {a} and {b}?", "How much is {a} + {b}?",
          "Please compute {a} + {b}.", "{a} 加 {b} 等于多少？", "计算 {a} + {b}"],
    "-": ["What is {a} - {b}?", "What is {a} minus {b}?", "Subtract {b} from {a}.", "{a} - {b} = ?",
          "Calculate {a} - {b}.", "How much is {a} minus {b}?", "What do you get if you take {b} away from {a}?",
          "Please compute {a} - {b}.", "{a} 减 {b} 等于多少？", "计算 {a} - {b}"],
    "x": ["What is {a} x {b}?", "What is {a} times {b}?", "Multiply {a} by {b}.", "{a} * {b} = ?",
          "What is the product of {a} and {b}?", "Calculate {a} × {b}.", "How much is {a} times {b}?",
          "Please compute {a} x {b}.", "{a} 乘以 {b} 等于多少？", "计算 {a} × {b}"],
}
OPS = ("+", "-", "x")


def _operand(rng: random.Random, max_digits: int) -> int:
    digits = rng.randint(1, max_digits)
    return rng.randint(0 if digits == 1 else 10 ** (digits - 1), 10 ** digits - 1)


def arith_operands(rng: random.Random) -> tuple[str, int, int]:
    """One (op, a, b): + and - take operands of 1-3 digits (a >= b for -); x takes 3 by 1 or 2 by 2 digits."""
    op = rng.choice(OPS)
    if op == "x":
        if rng.random() < 0.5:
            a, b = _operand(rng, 3), _operand(rng, 1)
        else:
            a, b = _operand(rng, 2), _operand(rng, 2)
        if rng.random() < 0.5:
            a, b = b, a
    else:
        a, b = _operand(rng, 3), _operand(rng, 3)
        if op == "-" and a < b:
            a, b = b, a
    return op, a, b


def arith_value(op: str, a: int, b: int) -> int:
    return a + b if op == "+" else a - b if op == "-" else a * b


def arith_key(op: str, a: int, b: int) -> str:
    """The split key: operands in canonical order for + and x, so '3 + 5' and '5 + 3' share a split."""
    if op != "-" and a > b:
        a, b = b, a
    return f"{a} {op} {b}"


def _sample_keys(family: str, split: str, n: int, seed: int, draw) -> list:
    """Up to n distinct draws whose key is in split (rejection sampling over the seeded rng)."""
    rng = rng_for(seed, family, split)
    seen, out, tries = set(), [], 0
    while len(out) < n and tries < n * 200 + 1000:
        tries += 1
        key, value = draw(rng)
        if key in seen or split_of(family, key) != split:
            continue
        seen.add(key)
        out.append((value, rng))
    return out


def make_arithmetic(split: str, n: int, seed: int = 0) -> list[dict]:
    def draw(rng):
        op, a, b = arith_operands(rng)
        return arith_key(op, a, b), (op, a, b)
    items = []
    for (op, a, b), rng in _sample_keys("arithmetic", split, n, seed, draw):
        q = rng.choice(ARITH_TEMPLATES[op]).format(a=a, b=b)
        items.append(make_item("arithmetic", arith_key(op, a, b), q, str(arith_value(op, a, b)), op=op, a=a, b=b))
    return items


def wrong_arithmetic(item: dict, rng: random.Random) -> str:
    """Off by one, a dropped/extra carry (+-10, +-100), or off by one operand for products."""
    a, op, b = item["key"].split(" ")
    a, b, v = int(a), int(b), int(item["answer"])
    deltas = [1, -1, 10, -10, 100, -100]
    if op == "x":
        deltas += [a, -a, b, -b]
    cands = [v + d for d in deltas if v + d >= 0 and d != 0]
    return str(rng.choice(cands))


# ---------------------------------------------------------------- letters in a word

COUNT_TEMPLATES = ["How many times does the letter '{l}' appear in '{w}'?", "How many {l}'s are in the word \"{w}\"?",
                   "Count the letter '{l}' in '{w}'.", "In the word '{w}', how many times does '{l}' occur?",
                   "How many letters '{l}' does \"{w}\" have?", "Count how many times {l} appears in {w}.",
                   "How often does the letter {l} occur in the word {w}?", "单词 {w} 中有几个字母 {l}？"]
REVERSE_TEMPLATES = ["Spell '{w}' backwards.", "Reverse the word '{w}'.", "What is '{w}' written backwards?",
                     "Write {w} in reverse.", "Reverse the letters of \"{w}\".", "How do you spell {w} backwards?",
                     "Write the word \"{w}\" backwards, letter by letter reversed.", "把单词 {w} 倒过来拼写。"]
LETTERS = "abcdefghijklmnopqrstuvwxyz"


def words_in(family: str, split: str, words=COMMON_WORDS) -> list[str]:
    return [w for w in words if split_of(family, w) == split]


def make_count_letter(split: str, n: int, seed: int = 0, words=COMMON_WORDS) -> list[dict]:
    """n items over the split's words (cycling with fresh letters/phrasings when n exceeds the word count)."""
    pool = words_in("count_letter", split, words)
    rng = rng_for(seed, "count_letter", split)
    items, seen = [], set()
    for i in range(n * 4):
        if len(items) >= n or not pool:
            break
        w = pool[i % len(pool)] if i < len(pool) else rng.choice(pool)
        if rng.random() < 0.8:
            letter = rng.choice(w)  # letters that occur, weighted by how often they do
        else:
            letter = rng.choice([c for c in LETTERS if c not in w])
        q = rng.choice(COUNT_TEMPLATES).format(l=letter, w=w)
        if (w, letter, q) in seen:
            continue
        seen.add((w, letter, q))
        items.append(make_item("count_letter", w, q, str(w.count(letter)), letter=letter))
    return items


def wrong_count(item: dict, rng: random.Random) -> str:
    v = int(item["answer"])
    return str(v + 1 if v == 0 or rng.random() < 0.5 else v - 1)


def make_reverse(split: str, n: int, seed: int = 0, words=COMMON_WORDS) -> list[dict]:
    pool = words_in("reverse", split, words)
    rng = rng_for(seed, "reverse", split)
    items = []
    for i in range(n):
        if not pool:
            break
        w = pool[i % len(pool)] if i < len(pool) else rng.choice(pool)
        items.append(make_item("reverse", w, rng.choice(REVERSE_TEMPLATES).format(w=w), w[::-1]))
    return items


def wrong_reverse(item: dict, rng: random.Random) -> str:
    """A near miss: two neighbouring letters swapped, a letter dropped or doubled, or the word unreversed."""
    ans, word = item["answer"], item["key"]
    cands = []
    for i in range(len(ans) - 1):
        s = ans[:i] + ans[i + 1] + ans[i] + ans[i + 2:]
        cands.append(s)
    for i in range(len(ans)):
        cands.append(ans[:i] + ans[i + 1:])
        cands.append(ans[:i] + ans[i] + ans[i:])
    cands.append(word)
    cands = [c for c in cands if c != ans and c]
    return rng.choice(cands)
