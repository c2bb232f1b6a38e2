"""Task families: determinism, train/test disjointness, correct answers, preference pairs, scoring,
and evaluate_tasks on a tiny random model."""
from __future__ import annotations

import json
import random
import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from chatcli.tasks.scoring import normalise, question_of, score
from chatcli.tasks.working import final_answer, solution_of, solve_arithmetic, solve_count, solve_reverse
from recipes.tasks import families as build
from recipes.tasks import selfqa, synthetic
from recipes.tasks.items import split_of


def test_generators_are_deterministic_by_seed():
    for fam in build.CORPUS_FREE:
        a = build.make_items(fam, "train", 50, seed=3)
        b = build.make_items(fam, "train", 50, seed=3)
        assert a == b
    assert build.make_items("arithmetic", "train", 50, seed=3) != build.make_items("arithmetic", "train", 50, seed=4)


@pytest.mark.parametrize("fam", build.CORPUS_FREE)
def test_test_keys_never_in_training_material(fam):
    test = build.make_items(fam, "test", 200)
    train = build.make_items(fam, "train", 3000, seed=1)
    test_keys = {it["key"] for it in test}
    assert test and train
    assert test_keys.isdisjoint(it["key"] for it in train)
    if fam != "chatcli":
        assert all(split_of(fam, it["key"]) == "test" for it in test)
    else:  # held-out phrasings, every fact still tested
        assert {it["answer"] for it in test} == {a for _, a in selfqa.FACTS}
        assert {question_of(it) for it in test}.isdisjoint(question_of(it) for it in train)


def test_arithmetic_commuted_pairs_share_a_split():
    pairs = [synthetic.arith_operands(random.Random(i)) for i in range(300)]
    for op, a, b in pairs:
        if op != "-":
            assert synthetic.arith_key(op, a, b) == synthetic.arith_key(op, b, a)


def _eval_question(q: str) -> int:
    """Recompute an arithmetic question independently of the generator: find 'a <op> b' in any phrasing."""
    nums = [int(n) for n in re.findall(r"\d+", q)]
    a, b = nums
    if any(s in q for s in ("+", "plus", "sum", "Add", "加")):
        return a + b
    if "from" in q or "away from" in q:  # "Subtract b from a", "take b away from a"
        return max(a, b) - min(a, b)
    if any(s in q for s in (" - ", "minus", "减")):
        return a - b
    return a * b


def test_arithmetic_answers_are_correct():
    items = build.make_items("arithmetic", "train", 400) + build.make_items("arithmetic", "test", 200)
    for it in items:
        assert int(it["answer"]) == _eval_question(question_of(it)), it
        a, op, b = it["key"].split()
        assert max(len(a), len(b)) <= 3 and int(it["answer"]) >= 0


def test_letter_count_and_reverse_answers_are_correct():
    for it in build.make_items("count_letter", "train", 300) + build.make_items("count_letter", "test", 100):
        word, letter = it["key"], it["letter"]
        assert f"{word}" in question_of(it) and letter in question_of(it)
        assert int(it["answer"]) == sum(1 for c in word if c == letter)
    for it in build.make_items("reverse", "train", 300) + build.make_items("reverse", "test", 100):
        assert it["key"] in question_of(it)
        assert it["answer"] == "".join(reversed(it["key"]))


def test_preference_pairs_chosen_correct_rejected_wrong():
    recs = build.dpo_records(None, seed=0, counts={f: 60 for f in build.FAMILIES})
    assert {r["family"] for r in recs} == set(build.CORPUS_FREE)
    for r in recs:
        assert r["chosen"] != r["rejected"] and r["rejected"]
        item = {"family": r["family"], "answer": final_answer(r["chosen"])}
        assert score(item, r["chosen"]) and not score(item, r["rejected"])
        if r["family"] == "arithmetic":
            assert int(final_answer(r["chosen"]).rstrip(".")) == _eval_question(question_of({"prompt": r["prompt"]}))


def test_sft_and_pretrain_lines_use_train_keys_only():
    test_q = {it["key"] for it in build.make_items("arithmetic", "test", 200)}
    docs = build.pretrain_task_docs(None, counts={f: 400 for f in build.FAMILIES})
    text = "\n".join(docs)
    assert "Q: " in text and "\nA: " in text
    for a, op, b in re.findall(r"(\d+) ([+\-x×*]) (\d+)", text):
        assert synthetic.arith_key("x" if op in "×*" else op, int(a), int(b)) not in test_q
    reverse_test = {it["answer"] for it in build.make_items("reverse", "test", 200)}
    answers = {line[3:] for line in text.splitlines() if line.startswith("A: ")}
    assert answers.isdisjoint(reverse_test - {w for w in synthetic.COMMON_WORDS})
    sft = build.sft_records(None, counts={f: 200 for f in build.FAMILIES})
    for r in sft:
        roles = [m["role"] for m in r["messages"]]
        assert roles[0] == "user" and roles[-1] == "assistant"
        assert all(roles[i] != roles[i + 1] for i in range(len(roles) - 1))
    assert any(r["family"] == "multi_turn" for r in sft)


def test_normalisation_and_scoring():
    assert normalise("arithmetic", " 1,024. ") == "1024"
    assert normalise("arithmetic", "The answer is 19.") == "19"
    assert normalise("reverse", " 'Olleh'. ") == "olleh"
    assert normalise("translate", " 狗。") == "狗"
    assert normalise("poem_next", "黄河入海流。") == "黄河入海流"
    assert normalise("meaning", "A married  woman.") == "a married woman"
    it = {"family": "translate", "answer": "书", "accept": ["册"]}
    assert score(it, "书") and score(it, "册\n") and not score(it, "狗")
    assert score({"family": "arithmetic", "answer": "19"}, "19\nand more text")
    assert not score({"family": "arithmetic", "answer": "19"}, "")
    assert not score({"family": "reverse", "answer": "olleh"}, "oleh")


def test_builtin_test_slices_match_code():
    """Shipped slices of corpus-free families are exactly what the code regenerates (seed 0)."""
    for fam in build.CORPUS_FREE:
        path = build.TESTSETS_DIR / f"{fam}.jsonl"
        assert path.is_file(), f"{path}: a corpus-free family's slice is not shipped"
        assert build.read_jsonl(path) == build.make_items(fam, "test", build.TEST_PER_FAMILY, 0)
    from chatcli.tasks import load_test_items
    items = load_test_items()
    assert set(build.CORPUS_FREE) <= {it["family"] for it in items}
    for it in items:
        assert set(it) >= {"family", "prompt", "answer"} and it["prompt"][-1]["role"] == "user"


def test_evaluate_tasks_on_tiny_model(model_dir, tmp_path):
    from chatcli.bundle import load_bundle
    from chatcli.tasks import evaluate_tasks
    bundle = load_bundle(model_dir)
    items = build.make_items("arithmetic", "test", 3) + build.make_items("reverse", "test", 3)
    path = tmp_path / "slice.jsonl"
    path.write_text("".join(json.dumps(it) + "\n" for it in items), encoding="utf-8")
    seen = []
    for src in (items, path):
        res = evaluate_tasks(bundle, src, max_per_family=2, progress=lambda i, n: seen.append((i, n)))
        assert set(res) >= {"format", "n", "average", "families", "time_s"}
        assert res["n"] == 4 and list(res["families"]) == ["arithmetic", "reverse"]
        for fam in res["families"].values():
            assert fam["n"] == 2 and 0 <= fam["accuracy"] <= 1 and fam["accuracy"] == fam["correct"] / 2
            assert len(fam["samples"]) == 2 and set(fam["samples"][0]) == {"question", "answer", "output", "correct"}
        assert res["average"] == pytest.approx(sum(f["accuracy"] for f in res["families"].values()) / 2)
    assert seen[-1] == (4, 4)
    raw = evaluate_tasks(bundle, items[:2], fmt="raw")
    assert raw["format"] == "raw" and raw["n"] == 2


# ---------------------------------------------------------------- worked solutions

def _column_digits(steps: str, verb: str) -> list[str]:
    return re.findall(verb + r" (\d+)", steps)


@given(st.sampled_from(["+", "-", "x"]), st.integers(0, 999), st.integers(0, 999))
@settings(max_examples=400, deadline=None)
def test_worked_arithmetic_ends_in_the_value_and_each_step_is_true(op, a, b):
    if op == "x" and a >= 100 and b >= 10:
        b %= 10  # the family's products are 3 by 1 or 2 by 2 digits
    sol = solve_arithmetic(op, a, b)
    value = {"+": a + b, "-": a - b, "x": a * b}[op]
    assert final_answer(sol) == f"{value}."
    for lhs, rhs in re.findall(r"((?:\d+ [-+x] )+\d+) = (\d+)", sol):  # every 'p op q [op r] = s' holds
        assert eval(lhs.replace("x", "*")) == int(rhs), (lhs, rhs, sol)


def test_worked_count_and_reverse():
    assert solve_count("banana", "a") == ("Spelled out: b-a-n-a-n-a. Counting a: b 0, a 1, n 1, a 2, n 2, a 3. "
                                          "So the answer is 3.")
    assert solve_count("tree", "z").endswith("So the answer is 0.")
    assert solve_reverse("house") == ("Numbered: 1 h, 2 o, 3 u, 4 s, 5 e. Backwards: 5 e, 4 s, 3 u, 2 o, 1 h. "
                                      "So the answer is e-s-u-o-h.")
    for it in build.make_items("count_letter", "train", 50) + build.make_items("reverse", "train", 50):
        assert score(it, solution_of(it))


def test_final_answer_reads_the_last_conclusion_or_the_first_line():
    assert final_answer("7 + 5 = 12, write 2. So the answer is 12.") == "12."
    assert final_answer("the answer is 3. No wait, the answer is 4.") == "4."
    assert final_answer("所以答案是 5。") == "5。"
    assert final_answer("632\nQ: more rambling") == "632"
    assert final_answer("") == ""
    item = {"family": "arithmetic", "answer": "632"}
    assert score(item, "632") and score(item, "... So the answer is 632.") and not score(item, "So the answer is 633.")


def test_copy_docs_repeat_their_run():
    docs = build.copy_docs(60, seed=3)
    assert docs == build.copy_docs(60, seed=3) and len(set(docs)) == 60
    for d in docs:
        a, b, c = d.split("\n")
        assert a == b == c and len(a) > 0


def test_chatcli_training_varies_surface_but_never_meets_a_held_out_phrasing():
    def norm(q: str) -> str:
        return "".join(c for c in q.lower() if c.isalnum() or c == " ").strip()

    train = build.make_items("chatcli", "train", 3000, seed=1)
    test = build.make_items("chatcli", "test", 200)
    base = {q for qs, _ in selfqa.FACTS for q in qs}
    varied = [question_of(it) for it in train if question_of(it) not in base]
    assert len(varied) > 1500  # most repeats come in another surface form
    assert any(q.islower() for q in varied) and any(q.startswith(selfqa.PREFIXES) for q in varied)
    held = {norm(question_of(it)) for it in test}
    assert not any(held_q in norm(question_of(it)) for it in train for held_q in held)
    answer_of = {q: a for qs, a in selfqa.FACTS for q in qs}
    for it in train[:300]:  # a variant keeps its fact's answer
        q = question_of(it)
        assert any(norm(b) in norm(q) for b, a in answer_of.items() if a == it["answer"])


def test_reversed_word_spelled_with_hyphens_scores_as_the_word():
    item = {"family": "reverse", "prompt": "Write soft backwards.", "answer": "tfos"}
    assert score(item, "Numbered: 1 s, 2 o, 3 f, 4 t. Backwards: 4 t, 3 f, 2 o, 1 s. So the answer is t-f-o-s.")
    assert score(item, "So the answer is tfos.")
    assert not score(item, "So the answer is t-f-e-s.")
    assert not score(item, "So the answer is t-f-o.")
