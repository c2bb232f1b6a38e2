"""`chatcli train pairs`: on-policy preference pairs scored by the task verifiers."""
from __future__ import annotations

import json

import torch
from typer.testing import CliRunner

from chatcli.app import app
from chatcli.bundle import load_bundle
from chatcli.tasks.evaluate import generate_reply
from chatcli.training.onpolicy import balanced, on_policy_pairs
from recipes.tasks.items import dpo_pair, make_item


def run(*args):
    return CliRunner().invoke(app, list(args))


def greedy(bundle, question: str, budget: int) -> str:
    t = bundle.template
    return generate_reply(bundle, t.render_prompt([{"role": "user", "content": question}]), t.stop_ids, budget, False).strip()


def record(question: str, answer: str, family: str = "chatcli") -> dict:
    return dpo_pair(make_item(family, question, question, answer), "a wrong reply")


def test_wrong_greedy_answer_becomes_the_rejected_reply(model_dir):
    bundle = load_bundle(model_dir)
    rec = record("What is chatcli?", "a chat assistant in your terminal.")
    budget = len(bundle.tokenizer.encode(rec["chosen"])) + 16
    pairs, stats = on_policy_pairs(bundle, [rec], seed=1)
    assert stats == {"chatcli": {"prompts": 1, "greedy_correct": 0, "pairs": 1}}
    (p,) = pairs
    assert p["chosen"] == rec["chosen"] and p["prompt"] == rec["prompt"]
    assert p["rejected"] == greedy(bundle, "What is chatcli?", budget)  # the model's own answer
    assert p["on_policy"] and p["answer"] == rec["answer"]


def talkative(model_dir):
    """The tiny random model (tied embeddings) repeats the last prompt token, a chat marker, which
    decodes to nothing; with an untied output layer whose special-token rows are zero it says words."""
    bundle = load_bundle(model_dir)
    head = bundle.model.tok_embeddings.weight.detach().clone()
    for i in range(bundle.tokenizer.vocab_size):
        if bundle.tokenizer.is_special(i):
            head[i] = 0.0
    bundle.model.output.weight = torch.nn.Parameter(head)
    return bundle


def test_right_greedy_answer_is_chosen_against_a_wrong_sample(model_dir):
    bundle = talkative(model_dir)
    q = "Who are you?"
    probe = record(q, "x" * 40)
    budget = len(bundle.tokenizer.encode(probe["chosen"])) + 16
    said = greedy(bundle, q, budget)
    assert said, "the random model should say something"
    rec = {**probe, "answer": said.split("\n")[0]}  # the verifier now accepts what the model says
    pairs, stats = on_policy_pairs(bundle, [rec], temperature=5.0, seed=3)
    assert stats["chatcli"]["greedy_correct"] == 1
    (p,) = pairs  # at temperature 5 the sample is noise, so wrong
    assert p["chosen"] == said and p["rejected"] != said


def test_balanced_shares_prompts_between_families():
    recs = [record(f"q{i}", "1", "meaning") for i in range(50)] + [record(f"r{i}", "二", "translate")
                                                                        for i in range(7)]
    picked = balanced(recs, 20, seed=0)
    fams = [r["family"] for r in picked]
    assert fams.count("translate") == 7 and fams.count("meaning") == 10
    assert balanced(recs, 20, seed=0) == picked


def test_cli_writes_pairs_and_names_bad_lines(model_dir, tmp_path):
    data = tmp_path / "dpo.jsonl"
    data.write_text("".join(json.dumps(record(f"What is {w}?", "nothing like this")) + "\n"
                            for w in ("tea", "rain", "salt")), encoding="utf-8")
    out = tmp_path / "pairs.jsonl"
    r = run("train", "pairs", str(data), "--model", str(model_dir), "--out", str(out), "--n", "3", "--json")
    assert r.exit_code == 0, r.output
    res = json.loads(r.stdout)
    assert res["prompts"] == 3 and res["pairs"] == 3
    lines = [json.loads(x) for x in out.read_text(encoding="utf-8").splitlines()]
    assert len(lines) == 3 and all(x["chosen"] != x["rejected"] for x in lines)
    # the pairs train: `train dpo` accepts the file as it is
    r = run("train", "dpo", str(out), "--model", str(model_dir), "--out", str(tmp_path / "dpo"), "--max-steps", "2",
            "--batch-size", "2", "--val-frac", "0.34")
    assert r.exit_code == 0, r.output

    bad = tmp_path / "bad.jsonl"
    rec = record("What is tea?", "nothing")
    del rec["answer"]
    bad.write_text(json.dumps(record("a?", "b")) + "\n" + json.dumps(rec) + "\n", encoding="utf-8")
    r = run("train", "pairs", str(bad), "--model", str(model_dir), "--out", str(out))
    assert r.exit_code == 1 and f"{bad}:2:" in r.output and "answer" in r.output
    bad.write_text("\n" + json.dumps(record("a?", "b")) + "\n" + json.dumps(rec) + "\n", encoding="utf-8")
    r = run("train", "pairs", str(bad), "--model", str(model_dir), "--out", str(out))
    assert r.exit_code == 1 and f"{bad}:3:" in r.output  # the file's line, blank lines counted
    assert "Traceback" not in r.output
    bad.write_text("{not json\n", encoding="utf-8")
    r = run("train", "pairs", str(bad), "--model", str(model_dir), "--out", str(out))
    assert r.exit_code == 1 and f"{bad}:1: invalid JSON" in r.output
