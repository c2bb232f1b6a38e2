"""`chatcli eval`: JSON keys, bpb consistent with the loss, strides, clear errors."""
from __future__ import annotations

import json

from typer.testing import CliRunner

from chatcli.app import app


def run(*args):
    return CliRunner().invoke(app, list(args))


def test_eval_json_keys_and_values(model_dir, corpus_file):
    r = run("eval", "--model", str(model_dir), "--data", str(corpus_file), "--json", "--max-tokens", "600")
    assert r.exit_code == 0, r.output
    res = json.loads(r.stdout)
    assert {"bpb", "loss", "tokens", "bytes"} <= set(res)
    assert res["tokens"] == 600 and 0 < res["bytes"] < 4 * res["tokens"]
    # random weights: loss near ln(vocab), bpb = nats/ln2 scaled by tokens per byte (roughly)
    assert 4.5 < res["loss"] < 7.5 and res["bpb"] > 1.0
    r2 = run("eval", "--model", str(model_dir), "--data", str(corpus_file), "--json", "--max-tokens", "600",
             "--stride", "16", "--context", "64")
    res2 = json.loads(r2.stdout)
    assert res2["tokens"] == 600 and res2["bytes"] == res["bytes"] and res2["stride"] == 16


def test_eval_plain_output_and_errors(model_dir, corpus_file, tmp_path):
    r = run("eval", "--model", str(model_dir), "--data", str(corpus_file), "--max-tokens", "200")
    assert r.exit_code == 0 and r.stdout.startswith("bpb ")
    r = run("eval", "--model", str(model_dir), "--data", str(tmp_path / "missing.txt"))
    assert r.exit_code == 1 and "missing.txt: no such file" in r.output
    r = run("eval", "--model", str(tmp_path / "nomodel"), "--data", str(corpus_file))
    assert r.exit_code == 1 and "model directory not found" in r.output
