"""Worked solutions ("show your working") for the computational task families, and final-answer extraction.

A 4M-parameter model cannot add 347 + 285 in one forward pass, but it can follow a column-by-column
procedure one token at a time, the way a child does on paper: each step needs only a one-digit fact
and a copy. Spelling a word out, letter by numbered letter, does the same for counting and reversing.
The SFT targets of these families are the worked solutions below; every solution ends in
"So the answer is X." and `final_answer` reads X back for exact-match scoring, so a model that
answers directly ("632") and one that shows its working are scored the same way.
"""
from __future__ import annotations

import re

COLUMNS = ("ones", "tens", "hundreds", "thousands", "ten-thousands")
FINAL = "So the answer is {}."
_FINAL_RE = re.compile(r"(?:answer is|答案是)\s*[:：]?\s*", re.IGNORECASE)


def final_answer(output: str) -> str:
    """The answer a reply gives: what follows the last "answer is" (or 答案是), else its first line."""
    text = output.strip()
    hits = list(_FINAL_RE.finditer(text))
    if hits:
        return text[hits[-1].end():].split("\n", 1)[0].strip()
    return text.split("\n", 1)[0] if text else ""


def _digits(n: int, width: int) -> list[int]:
    """Digits of n from the ones column up, zero-padded to width."""
    return [(n // 10 ** i) % 10 for i in range(width)]


def add_columns(a: int, b: int) -> tuple[list[tuple[str, int]], bool]:
    """Column addition from the ones up: ([(expression, column sum), ...], a carry left over at the end).
    The one procedure behind the eval's working (add_steps) and the recipe's (recipes/tasks/dialogue.py)."""
    width = max(len(str(a)), len(str(b)))
    da, db = _digits(a, width), _digits(b, width)
    cols, carry = [], 0
    for i in range(width):
        s = da[i] + db[i] + carry
        cols.append((f"{da[i]} + {db[i]}" + (" + 1" if carry else ""), s))
        carry = s // 10
    return cols, bool(carry)


def sub_columns(a: int, b: int) -> list[tuple[str, int, bool]]:
    """Column subtraction (a >= b) from the ones up: [(expression, column result, borrows), ...]."""
    width = len(str(a))
    da, db = _digits(a, width), _digits(b, width)
    cols, borrow = [], 0
    for i in range(width):
        top = da[i]
        r = top - db[i] - borrow
        lend = r < 0
        if lend:
            top, r = top + 10, r + 10
        cols.append((f"{top} - {db[i]}" + (" - 1" if borrow else ""), r, lend))
        borrow = int(lend)
    return cols


def add_steps(a: int, b: int) -> str:
    """'ones 7 + 5 = 12, write 2, carry 1; tens 4 + 8 + 1 = 13, write 3, carry 1; ...'"""
    cols, carry = add_columns(a, b)
    steps = [f"{COLUMNS[i]} {expr} = {s}, write {s % 10}" + (", carry 1" if s >= 10 else "")
             for i, (expr, s) in enumerate(cols)]
    if carry:
        steps.append(f"{COLUMNS[len(cols)]} write the carry 1")
    return "; ".join(steps)


def sub_steps(a: int, b: int) -> str:
    """a >= b. 'ones 12 - 8 = 4, borrow 1; tens 10 - 7 - 1 = 2, borrow 1; hundreds 5 - 1 - 1 = 3'"""
    assert a >= b, "subtraction is worked with the larger number first"
    return "; ".join(f"{COLUMNS[i]} {expr} = {r}" + (", borrow 1" if lend else "")
                     for i, (expr, r, lend) in enumerate(sub_columns(a, b)))


def mul1_steps(a: int, d: int) -> str:
    """a times a single digit d: 'ones 7 x 6 = 42, write 2, carry 4; tens 4 x 6 + 4 = 28, ...'"""
    da = _digits(a, len(str(a)))
    steps, carry = [], 0
    for i, x in enumerate(da):
        p = x * d + carry
        expr = f"{x} x {d}" + (f" + {carry}" if carry else "")
        last = i == len(da) - 1
        if last:
            steps.append(f"{COLUMNS[i]} {expr} = {p}, write {p}")
        else:
            steps.append(f"{COLUMNS[i]} {expr} = {p}, write {p % 10}" + (f", carry {p // 10}" if p >= 10 else ""))
        carry = p // 10
    return "; ".join(steps)


def solve_arithmetic(op: str, a: int, b: int) -> str:
    """The worked solution of 'a op b' as asked (operand order as in the question)."""
    if op == "+":
        return f"{a} + {b}: {add_steps(a, b)}. {FINAL.format(a + b)}"
    if op == "-":
        if a < b:
            return f"{b} - {a}: {sub_steps(b, a)}. It is negative. {FINAL.format(a - b)}"
        return f"{a} - {b}: {sub_steps(a, b)}. {FINAL.format(a - b)}"
    big, small = (a, b) if len(str(a)) >= len(str(b)) else (b, a)
    if small < 10:
        return f"{big} x {small}: {mul1_steps(big, small)}. {FINAL.format(a * b)}"
    # two digits by two: one partial product per digit of the second number, then add them
    ones, tens = small % 10, small // 10
    p1, p2 = big * ones, big * tens
    parts = [f"{big} x {ones}: {mul1_steps(big, ones)}, so {big} x {ones} = {p1}",
             f"{big} x {tens}: {mul1_steps(big, tens)}, so {big} x {tens}0 = {p2}0",
             f"{p1} + {p2}0: {add_steps(p1, p2 * 10)}"]
    return ". ".join(parts) + f". {FINAL.format(a * b)}"


def spelled(word: str) -> str:
    return "-".join(word)


def solve_count(word: str, letter: str) -> str:
    """'Spelled out: b-a-n-a-n-a. Counting a: b 0, a 1, n 1, a 2, n 2, a 3. So the answer is 3.'"""
    run, n = [], 0
    for c in word:
        n += c == letter
        run.append(f"{c} {n}")
    return f"Spelled out: {spelled(word)}. Counting {letter}: {', '.join(run)}. {FINAL.format(n)}"


def solve_reverse(word: str) -> str:
    """'Numbered: 1 h, 2 o, 3 u, 4 s, 5 e. Backwards: 5 e, 4 s, 3 u, 2 o, 1 h. So the answer is e-s-u-o-h.'"""
    fwd = [f"{i + 1} {c}" for i, c in enumerate(word)]
    return f"Numbered: {', '.join(fwd)}. Backwards: {', '.join(reversed(fwd))}. {FINAL.format(spelled(word[::-1]))}"


def solution_of(item: dict) -> str | None:
    """The worked solution of an item of a worked family (None for the others)."""
    fam = item["family"]
    if "key" not in item:  # hand-written items (eval --tasks FILE) need only family, prompt and answer
        return None
    if fam == "arithmetic":
        if "a" in item and "b" in item:
            a, b = int(item["a"]), int(item["b"])
            op = item.get("op") or item["key"].split(" ")[1]
        else:
            x, op, y = item["key"].split(" ")
            a, b = int(x), int(y)
        return solve_arithmetic(op, a, b)
    if fam == "count_letter" and "letter" in item:
        return solve_count(item["key"], item["letter"])
    if fam == "reverse":
        return solve_reverse(item["key"])
    return None

