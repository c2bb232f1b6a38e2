"""Crash safety and scale-out, in subprocesses: SIGKILL then --resume reproduces the uninterrupted
losses exactly; SIGINT checkpoints a loadable model and exits 130; 2 gloo ranks match 1 process."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import pytest

from chatcli.bundle import load_bundle

ENV = {**os.environ, "OMP_NUM_THREADS": "1", "NO_COLOR": "1"}


@pytest.fixture(scope="module")
def setup(tmp_path_factory, corpus, tokenizer):
    d = tmp_path_factory.mktemp("resume")
    (d / "text.txt").write_text("\n\n".join(corpus) + "\n", encoding="utf-8")
    (d / "tok").mkdir()
    (d / "tok" / "tokenizer.model").write_bytes(tokenizer.serialized())
    return d


def cmd(setup, out, *extra):
    return [sys.executable, "-m", "chatcli.app", "train", "pretrain", str(setup / "text.txt"), "--tokenizer",
            str(setup / "tok"), "--preset", "nano", "--out", str(out), "--context", "32", "-b", "4", "--threads", "1",
            "--device", "cpu", "--log-every", "1", "--eval-every", "10", *extra]


def losses(out):
    rows = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
    return [(r["step"], r["train_loss"]) for r in rows if "train_loss" in r], \
        [(r["step"], r["val_loss"]) for r in rows if "val_loss" in r]


def wait_for_step(proc, out, step, timeout=90):
    t0 = time.time()
    while time.time() - t0 < timeout:
        path = out / "metrics.jsonl"
        if path.is_file():
            done = [json.loads(line)["step"] for line in path.read_text().splitlines() if '"train_loss"' in line]
            if done and done[-1] >= step:
                return
        assert proc.poll() is None, proc.communicate()[1][-2000:]
        time.sleep(0.05)
    raise AssertionError("training did not reach the step in time")


def test_sigkill_then_resume_matches_uninterrupted(setup):
    steps = ["--max-steps", "40", "--ckpt-every", "5", "--optimizer", "muon"]
    ref = setup / "ref"
    subprocess.run(cmd(setup, ref, *steps), env=ENV, check=True, capture_output=True, timeout=180)
    run = setup / "killed"
    proc = subprocess.Popen(cmd(setup, run, *steps), env=ENV, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    wait_for_step(proc, run, 12)
    assert proc.poll() is None  # still mid-run
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    partial, _ = losses(run)
    assert partial[-1][0] < 40
    done = subprocess.run(cmd(setup, run, *steps, "--resume"), env=ENV, capture_output=True, text=True, timeout=180)
    assert done.returncode == 0, done.stderr
    assert "resuming from step" in done.stderr
    got_train, got_val = losses(run)
    want_train, want_val = losses(ref)
    assert [s for s, _ in got_train] == list(range(1, 41))
    assert [s for s, _ in got_val] == [s for s, _ in want_val]
    assert [v for _, v in got_train] == pytest.approx([v for _, v in want_train], abs=1e-6)
    assert [v for _, v in got_val] == pytest.approx([v for _, v in want_val], abs=1e-6)


def test_sigint_checkpoints_and_exits_130(setup):
    out = setup / "interrupted"
    proc = subprocess.Popen(cmd(setup, out, "--max-steps", "100000", "--ckpt-every", "100000"), env=ENV,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    wait_for_step(proc, out, 3)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err[-2000:]
    assert "Traceback" not in err
    latest = json.loads((out / "train_state" / "latest.json").read_text())
    assert latest["step"] >= 3
    b = load_bundle(out)
    assert b.meta["training"]["stages"][-1]["steps"] == latest["step"]


def test_ddp_two_gloo_ranks_match_single_process(setup):
    args = ["--max-steps", "5", "--eval-every", "5"]
    single = setup / "single"
    subprocess.run(cmd(setup, single, *args, "--grad-accum", "2"), env=ENV, check=True, capture_output=True, timeout=180)
    ddp = setup / "ddp"
    launch = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2"]
    res = subprocess.run(launch + cmd(setup, ddp, *args)[1:], env=ENV, capture_output=True, text=True, timeout=240)
    assert res.returncode == 0, res.stderr[-3000:]
    s_train, s_val = losses(single)
    d_train, d_val = losses(ddp)
    assert [s for s, _ in d_train] == [1, 2, 3, 4, 5]
    assert [v for _, v in d_train] == pytest.approx([v for _, v in s_train], rel=1e-4)
    assert [v for _, v in d_val] == pytest.approx([v for _, v in s_val], rel=1e-4)
