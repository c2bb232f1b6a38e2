"""End to end through the CLI: tokenizer -> pretrain -> sft -> dpo -> eval, plus input errors."""
from __future__ import annotations

import json
import math
import random

import pytest
from typer.testing import CliRunner

from chatcli.app import app
from chatcli.bundle import load_bundle

COMMON = ["--threads", "1", "--device", "cpu", "--log-every", "2"]


def run(*args):
    return CliRunner().invoke(app, [str(a) for a in args])


@pytest.fixture(scope="module")
def data(tmp_path_factory, corpus):
    d = tmp_path_factory.mktemp("data")
    (d / "text.txt").write_text("\n\n".join(corpus) + "\n", encoding="utf-8")
    rng = random.Random(0)
    with open(d / "chat.jsonl", "w", encoding="utf-8") as f:
        for _ in range(40):
            a, b = rng.randint(0, 99), rng.randint(0, 99)
            f.write(json.dumps({"messages": [{"role": "user", "content": f"What is {a} + {b}?"},
                                             {"role": "assistant", "content": f"{a} + {b} = {a + b}."}]}) + "\n")
    with open(d / "pref.jsonl", "w", encoding="utf-8") as f:
        for _ in range(30):
            a, b = rng.randint(0, 99), rng.randint(0, 99)
            f.write(json.dumps({"prompt": f"What is {a} + {b}?", "chosen": f"{a} + {b} = {a + b}.",
                                "rejected": "I do not know."}) + "\n")
    return d


def rows(path):
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_full_pipeline(tmp_path, data):
    tok = tmp_path / "tok"
    r = run("train", "tokenizer", data / "text.txt", data / "chat.jsonl", data / "pref.jsonl",
            "--vocab-size", 400, "--out", tok)
    assert r.exit_code == 0, r.output
    assert (tok / "tokenizer.model").is_file()

    base = tmp_path / "base"
    r = run("train", "pretrain", f"{data / 'text.txt'}@2", data / "chat.jsonl", "--tokenizer", tok,
            "--preset", "nano", "--max-steps", 8, "--out", base, "--context", 32, "-b", 4, "--eval-every", 4,
            "--optimizer", "muon", "--schedule", "wsd", *COMMON)
    assert r.exit_code == 0, r.output
    m = rows(base / "metrics.jsonl")
    assert [x["step"] for x in m if "train_loss" in x] == [2, 4, 6, 8]
    assert all({"stage", "lr", "tok_s", "tokens", "time_s"} <= set(x) for x in m if "train_loss" in x)
    evals = [x for x in m if "val_bpb" in x]
    assert [x["step"] for x in evals] == [4, 8] and evals[-1]["val_loss"] < evals[0]["val_loss"] + 0.5
    b = load_bundle(base)
    assert b.model.config.max_seq_len == 32 and b.model.config.vocab_size == 400
    assert b.meta["training"]["stages"][0]["stage"] == "pretrain" and b.meta["training"]["tokens_seen"] == 8 * 4 * 32

    sft = tmp_path / "sft"
    r = run("train", "sft", data / "chat.jsonl", "--model", base, "--max-steps", 4, "--out", sft, "-b", 4,
            "--eval-every", 4, "--padding", *COMMON)
    assert r.exit_code == 0, r.output
    dpo = tmp_path / "dpo"
    r = run("train", "dpo", data / "pref.jsonl", "--model", sft, "--max-steps", 4, "--out", dpo, "-b", 2,
            "--eval-every", 4, "--beta", 0.2, *COMMON)
    assert r.exit_code == 0, r.output
    d = rows(dpo / "metrics.jsonl")
    assert all("acc" in x and "margin" in x for x in d if "train_loss" in x)
    assert {"val_acc", "val_margin"} <= set(d[-1])
    meta = json.loads((dpo / "config.json").read_text())["training"]
    assert [s["stage"] for s in meta["stages"]] == ["pretrain", "sft", "dpo"]
    assert meta["stages"][2]["beta"] == 0.2 and meta["tokens_seen"] == sum(s["tokens"] for s in meta["stages"])

    # policy == reference (lr 0): every pair's margin is 0 and the loss log 2, whether the reference
    # log-probs were just computed or come from the per-pair cache (3 pairs, 4 a batch: repeats from step 1)
    few = tmp_path / "few.jsonl"
    few.write_text("".join(line + "\n" for line in (data / "pref.jsonl").read_text().splitlines()[:3]))
    r = run("train", "dpo", few, "--model", sft, "--max-steps", 5, "--out", tmp_path / "dpo0", "-b", 4,
            "--lr", 0, "--val-frac", 0, "--eval-every", 0, *COMMON[:-2], "--log-every", 1)
    assert r.exit_code == 0, r.output
    d0 = [x for x in rows(tmp_path / "dpo0" / "metrics.jsonl") if "train_loss" in x]
    assert len(d0) == 5 and all(abs(x["train_loss"] - math.log(2)) < 1e-5 and abs(x["margin"]) < 1e-6 for x in d0)
    # DPO+NLL: the same run with --nll-weight 0.5 adds half the chosen replies' per-token NLL, and only that
    r = run("train", "dpo", few, "--model", sft, "--max-steps", 5, "--out", tmp_path / "dpo1", "-b", 4,
            "--lr", 0, "--val-frac", 0, "--eval-every", 0, "--nll-weight", 0.5, *COMMON[:-2], "--log-every", 1)
    assert r.exit_code == 0, r.output
    d1 = [x for x in rows(tmp_path / "dpo1" / "metrics.jsonl") if "train_loss" in x]
    assert all(x["nll"] > 0.5 for x in d1)  # a tiny model is far from sure of its replies
    assert all(abs(x["train_loss"] - (math.log(2) + 0.5 * x["nll"])) < 1e-5 for x in d1)
    assert [x["nll"] for x in d1] == [x["nll"] for x in d0]  # same batches, same chosen replies
    r = run("train", "dpo", few, "--model", sft, "--out", tmp_path / "dpo2", "--nll-weight", -1, *COMMON)
    assert r.exit_code == 1 and "--nll-weight must be >= 0" in r.output

    r = run("eval", "--model", dpo, "--data", data / "text.txt", "--json", "--max-tokens", 300)
    assert r.exit_code == 0, r.output
    assert {"bpb", "loss", "tokens", "bytes"} <= set(json.loads(r.stdout))

    # same seed -> same run
    again = tmp_path / "again"
    r = run("train", "sft", data / "chat.jsonl", "--model", base, "--max-steps", 4, "--out", again, "-b", 4,
            "--eval-every", 4, "--padding", *COMMON)
    assert [x["train_loss"] for x in rows(again / "metrics.jsonl") if "train_loss" in x] == \
        [x["train_loss"] for x in rows(sft / "metrics.jsonl") if "train_loss" in x]
    # a finished run is not overwritten by accident
    r = run("train", "sft", data / "chat.jsonl", "--model", base, "--max-steps", 4, "--out", again, *COMMON)
    assert r.exit_code == 1 and "--resume" in r.output


def test_input_errors_are_one_line(tmp_path, data, tokenizer):
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"text": "fine"}\n{"text": oops}\n', encoding="utf-8")
    r = run("train", "tokenizer", bad, "--vocab-size", 400, "--out", tmp_path / "t")
    assert r.exit_code == 1 and f"{bad}:2: invalid JSON" in r.output and "Traceback" not in r.output
    r = run("train", "tokenizer", data / "chat.jsonl", "--vocab-size", 60000, "--out", tmp_path / "t")
    assert r.exit_code == 1 and "vocab size 60000" in r.output
    tokdir = tmp_path / "tok"
    tokdir.mkdir()
    (tokdir / "tokenizer.model").write_bytes(tokenizer.serialized())
    (tmp_path / "blank.txt").write_text("\n\n\n", encoding="utf-8")
    r = run("train", "pretrain", tmp_path / "blank.txt", "--tokenizer", tokdir, "--out", tmp_path / "o", "--max-steps", 2)
    assert r.exit_code == 1 and "empty corpus" in r.output
    r = run("train", "pretrain", data / "text.txt", "--tokenizer", tokdir, "--out", tmp_path / "o2", "--max-steps", 2,
            "--preset", "huge")
    assert r.exit_code == 1 and "unknown preset" in r.output
    r = run("train", "sft", data / "pref.jsonl", "--model", tmp_path / "none", "--out", tmp_path / "o3", "--max-steps", 2)
    assert r.exit_code == 1 and "not found" in r.output
