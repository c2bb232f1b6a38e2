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


def test_eval_quantize_int8_reports_a_close_bpb(model_dir, corpus_file):
    args = ("eval", "--model", str(model_dir), "--data", str(corpus_file), "--json", "--max-tokens", "300")
    fp32 = json.loads(run(*args).stdout)
    r = run(*args, "--quantize", "int8")
    assert r.exit_code == 0, r.output
    q = json.loads(r.stdout)
    assert q["quantize"] == "int8" and q["tokens"] == fp32["tokens"]
    assert q["bpb"] != fp32["bpb"] and abs(q["bpb"] - fp32["bpb"]) < 0.05 * fp32["bpb"]
    assert run(*args, "--quantize", "int4").exit_code == 1


def test_eval_tasks_json_per_family(model_dir, tmp_path):
    items = [{"family": "arithmetic", "prompt": [{"role": "user", "content": f"What is {a} + 1?"}],
              "answer": str(a + 1)} for a in range(3)]
    items += [{"family": "reverse", "prompt": [{"role": "user", "content": "Reverse abc."}], "answer": "cba"}]
    path = tmp_path / "slice.jsonl"
    path.write_text("".join(json.dumps(it) + "\n" for it in items))
    r = run("eval", "--model", str(model_dir), "--tasks", "--tasks-dir", str(path), "--json")
    assert r.exit_code == 0, r.output
    res = json.loads(r.stdout)
    assert set(res["families"]) == {"arithmetic", "reverse"}
    assert res["families"]["arithmetic"]["n"] == 3 and res["n"] == 4
    assert 0.0 <= res["average"] <= 1.0
    r = run("eval", "--model", str(model_dir), "--tasks", "--max-per-family", "1")
    assert r.exit_code == 0 and "average" in r.stdout


def test_eval_needs_exactly_one_mode(model_dir, corpus_file):
    assert run("eval", "--model", str(model_dir)).exit_code == 1
    r = run("eval", "--model", str(model_dir), "--tasks", "--data", str(corpus_file))
    assert r.exit_code == 1 and "either --data" in r.output


def test_eval_tasks_dir_with_a_malformed_line_gives_one_line_error(model_dir, tmp_path):
    good = {"family": "reverse", "prompt": [{"role": "user", "content": "Reverse abc."}], "answer": "cba"}
    (tmp_path / "reverse.jsonl").write_text(json.dumps(good) + "\n{not json\n", encoding="utf-8")
    r = run("eval", "--model", str(model_dir), "--tasks", "--tasks-dir", str(tmp_path))
    assert r.exit_code == 1 and "Traceback" not in r.output
    assert f"{tmp_path / 'reverse.jsonl'}:2: invalid JSON" in r.output
