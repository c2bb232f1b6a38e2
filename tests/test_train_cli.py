"""End to end through the CLI: tokenizer -> pretrain -> sft -> dpo -> eval (module-scoped fixtures, one
focused test a stage), plus input errors."""
from __future__ import annotations

import json
import math
import random

import pytest
import torch
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


@pytest.fixture(scope="module")
def tok(tmp_path_factory, data):
    out = tmp_path_factory.mktemp("tok")
    r = run("train", "tokenizer", data / "text.txt", data / "chat.jsonl", data / "pref.jsonl",
            "--vocab-size", 400, "--out", out)
    assert r.exit_code == 0, r.output
    return out


@pytest.fixture(scope="module")
def base(tmp_path_factory, data, tok):
    out = tmp_path_factory.mktemp("base")
    r = run("train", "pretrain", f"{data / 'text.txt'}@2", data / "chat.jsonl", "--tokenizer", tok,
            "--preset", "nano", "--max-steps", 8, "--out", out, "--context", 32, "-b", 4, "--eval-every", 4,
            "--optimizer", "muon", "--schedule", "wsd", *COMMON)
    assert r.exit_code == 0, r.output
    return out


def _sft(data, model, out):
    return run("train", "sft", data / "chat.jsonl", "--model", model, "--max-steps", 4, "--out", out, "-b", 4,
               "--eval-every", 4, "--padding", *COMMON)


@pytest.fixture(scope="module")
def sft(tmp_path_factory, data, base):
    out = tmp_path_factory.mktemp("sft")
    r = _sft(data, base, out)
    assert r.exit_code == 0, r.output
    return out


@pytest.fixture(scope="module")
def dpo(tmp_path_factory, data, sft):
    out = tmp_path_factory.mktemp("dpo")
    r = run("train", "dpo", data / "pref.jsonl", "--model", sft, "--max-steps", 4, "--out", out, "-b", 2,
            "--eval-every", 4, "--beta", 0.2, *COMMON)
    assert r.exit_code == 0, r.output
    return out


def test_tokenizer_has_the_asked_vocabulary(tok):
    from tokenizer.sp import Tokenizer
    t = Tokenizer.load(tok)
    assert t.vocab_size == 400 and t.has_chat_tokens


def test_pretrain_logs_evaluates_and_records_its_run(base):
    m = rows(base / "metrics.jsonl")
    assert [x["step"] for x in m if "train_loss" in x] == [2, 4, 6, 8]
    assert all({"stage", "lr", "tok_s", "tokens", "time_s"} <= set(x) for x in m if "train_loss" in x)
    evals = [x for x in m if "val_bpb" in x]
    assert [x["step"] for x in evals] == [4, 8]
    # it learned: held-out loss falls (by a clear margin: 5.52 -> 5.20 here), under a uniform guess over 400 ids
    assert evals[-1]["val_loss"] < evals[0]["val_loss"] - 0.1 and evals[0]["val_loss"] < math.log(400)
    assert evals[-1]["val_bpb"] < evals[0]["val_bpb"]
    b = load_bundle(base)
    assert b.model.config.max_seq_len == 32 and b.model.config.vocab_size == 400
    assert b.meta["training"]["stages"][0]["stage"] == "pretrain" and b.meta["training"]["tokens_seen"] == 8 * 4 * 32


def test_sft_continues_the_base_run(sft, base):
    m = rows(sft / "metrics.jsonl")
    assert [x["step"] for x in m if "train_loss" in x] == [2, 4] and any("val_bpb" in x for x in m)
    meta = json.loads((sft / "config.json").read_text())["training"]
    assert [s["stage"] for s in meta["stages"]] == ["pretrain", "sft"] and meta["stages"][1]["packing"] is False


def test_dpo_logs_preference_figures_and_the_stage_history(dpo):
    d = rows(dpo / "metrics.jsonl")
    assert all("acc" in x and "margin" in x for x in d if "train_loss" in x)
    assert {"val_acc", "val_margin"} <= set(d[-1])
    meta = json.loads((dpo / "config.json").read_text())["training"]
    assert [s["stage"] for s in meta["stages"]] == ["pretrain", "sft", "dpo"]
    assert meta["stages"][2]["beta"] == 0.2 and meta["tokens_seen"] == sum(s["tokens"] for s in meta["stages"])


def test_dpo_against_itself_and_with_nll_weight(tmp_path, data, sft):
    """policy == reference (lr 0): every pair's margin is 0 and the loss log 2, whether the reference
    log-probs were just computed or come from the per-pair cache (3 pairs, 4 a batch: repeats from step 1);
    --nll-weight 0.5 adds half the chosen replies' per-token NLL, and only that."""
    few = tmp_path / "few.jsonl"
    few.write_text("".join(line + "\n" for line in (data / "pref.jsonl").read_text().splitlines()[:3]))
    args = ("--model", sft, "--max-steps", 5, "-b", 4, "--lr", 0, "--val-frac", 0, "--eval-every", 0,
            *COMMON[:-2], "--log-every", 1)
    r = run("train", "dpo", few, "--out", tmp_path / "dpo0", *args)
    assert r.exit_code == 0, r.output
    d0 = [x for x in rows(tmp_path / "dpo0" / "metrics.jsonl") if "train_loss" in x]
    assert len(d0) == 5 and all(abs(x["train_loss"] - math.log(2)) < 1e-5 and abs(x["margin"]) < 1e-6 for x in d0)
    r = run("train", "dpo", few, "--out", tmp_path / "dpo1", "--nll-weight", 0.5, *args)
    assert r.exit_code == 0, r.output
    d1 = [x for x in rows(tmp_path / "dpo1" / "metrics.jsonl") if "train_loss" in x]
    assert all(x["nll"] > 0.5 for x in d1)  # a tiny model is far from sure of its replies
    assert all(abs(x["train_loss"] - (math.log(2) + 0.5 * x["nll"])) < 1e-5 for x in d1)
    assert [x["nll"] for x in d1] == [x["nll"] for x in d0]  # same batches, same chosen replies


def test_dpo_refuses_a_negative_nll_weight(tmp_path, data, sft):
    r = run("train", "dpo", data / "pref.jsonl", "--model", sft, "--out", tmp_path / "dpo2", "--nll-weight", -1, *COMMON)
    assert r.exit_code == 1 and "--nll-weight must be >= 0" in r.output


def test_eval_reports_bits_per_byte(data, dpo):
    r = run("eval", "--model", dpo, "--data", data / "text.txt", "--json", "--max-tokens", 300)
    assert r.exit_code == 0, r.output
    res = json.loads(r.stdout)
    assert {"bpb", "loss", "tokens", "bytes"} <= set(res)
    assert res["bpb"] == pytest.approx(res["loss"] * res["tokens"] / res["bytes"] / math.log(2), rel=0.05)


def test_same_seed_same_run_and_no_accidental_overwrite(tmp_path, data, base, sft):
    again = tmp_path / "again"
    r = _sft(data, base, again)
    assert r.exit_code == 0, r.output
    assert [x["train_loss"] for x in rows(again / "metrics.jsonl") if "train_loss" in x] == \
        [x["train_loss"] for x in rows(sft / "metrics.jsonl") if "train_loss" in x]
    r = run("train", "sft", data / "chat.jsonl", "--model", base, "--max-steps", 4, "--out", again, *COMMON)
    assert r.exit_code == 1 and "--resume" in r.output


def test_sft_packs_conversations_by_default(tmp_path, data, base, monkeypatch):
    """Without --padding, SFT rows are windows of one stream of rendered conversations: they cross
    conversation boundaries, and the mask learns only assistant replies and their <|end|>."""
    from chatcli.training import sft as sft_stage
    from chatcli.training.runner import RunOptions
    from model.train.config import TrainConfig
    r = run("train", "sft", data / "chat.jsonl", "--model", base, "--max-steps", 2, "--out", tmp_path / "cli", "-b", 4,
            *COMMON)
    assert r.exit_code == 0, r.output
    assert json.loads((tmp_path / "cli" / "config.json").read_text())["training"]["stages"][1]["packing"] is True
    seen = []
    monkeypatch.setattr(sft_stage, "run_stage", lambda stage, *a: seen.append(stage) or {})
    sft_stage.sft([str(data / "chat.jsonl")], base, TrainConfig(max_steps=1, batch_size=6, context=32),
                  RunOptions(out=tmp_path / "api", device="cpu", dtype="fp32"))
    stage = seen[0]
    assert stage.info["packing"] is True
    x, y, m = stage.get_batch(0, 0)
    assert x.shape == y.shape == m.shape == (6, 32) and torch.equal(x[:, 1:], y[:, :-1])
    tok = load_bundle(base).tokenizer
    assert (x[:, 1:] == tok.bos_id).any()  # a new conversation starts inside a row
    s = tok.special
    learned, given = y[m.bool()].tolist(), y[~m.bool()].tolist()
    assert learned and not {tok.bos_id, s["<|user|>"], s["<|assistant|>"], s["<|system|>"]} & set(learned)
    assert s["<|end|>"] in learned and s["<|end|>"] in given  # replies' ends are learned, the user's are not
    assert stage.get_batch(0, 0)[0].tolist() == x.tolist() and stage.get_batch(1, 0)[0].tolist() != x.tolist()


def test_sft_time_budget_ends_the_run_and_drives_the_schedule(tmp_path, data, base, monkeypatch):
    """--time-budget: the lr schedule's position is the fraction of the budget spent, and the run stops
    once the budget is spent, long before --max-steps (the loop's clock is a fake: 1 s a reading)."""
    import types

    from model.train import loop
    from model.train.config import TrainConfig
    from model.train.schedule import lr_factor
    ticks = iter(range(10_000))
    monkeypatch.setattr(loop, "time", types.SimpleNamespace(perf_counter=lambda: float(next(ticks))))
    out = tmp_path / "timed"
    r = run("train", "sft", data / "chat.jsonl", "--model", base, "--max-steps", 1000, "--out", out, "-b", 2,
            "--time-budget", 12, "--warmup", 0, "--lr", 1e-3, "--eval-every", 0, *COMMON[:-2], "--log-every", 1)
    assert r.exit_code == 0, r.output
    m = rows(out / "metrics.jsonl")
    train = [x for x in m if "train_loss" in x]
    assert 3 <= len(train) <= 12 and train[-1]["time_s"] >= 12 > train[-2]["time_s"]  # stopped by the clock
    cfg = TrainConfig()
    spent = [0.0] + [x["time_s"] for x in train[:-1]]  # the clock when each step set its lr
    for row, t in zip(train, spent):
        want = 1e-3 * lr_factor(int(1000 * t / 12), 1000, 0, "cosine", cfg.min_lr_ratio, cfg.decay_frac)
        assert row["lr"] == pytest.approx(want)
    assert train[-1]["lr"] < 0.3 * train[0]["lr"]  # most of the cosine done in a handful of steps
    assert any("val_loss" in x and x["step"] == train[-1]["step"] for x in m)  # evaluated at the early end
    meta = json.loads((out / "config.json").read_text())["training"]["stages"][-1]
    assert meta["steps"] == len(train) == train[-1]["step"]


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
