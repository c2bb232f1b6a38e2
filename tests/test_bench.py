"""`chatcli bench`: JSON schema and positive rates on tiny models, shape parsing, user errors."""
from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from chatcli.app import app
from chatcli.bench import parse_shape
from chatcli.errors import ChatcliError
from model.config import ConfigError

KEYS = {"prompt_tokens", "gen_tokens", "batch", "pp_tok_s", "tg_tok_s", "ttft_s", "pp_tok_s_sd", "tg_tok_s_sd",
        "ttft_s_sd", "model", "shape", "dtype", "device", "quantize", "compile"}


def _run(*args):
    return CliRunner().invoke(app, ["bench", *args])


def _rows(result):
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def test_json_model_dir(model_dir):
    rows = _rows(_run("--model", str(model_dir), "--prompt-tokens", "8,16", "--gen-tokens", "4", "--batch", "1,2",
                      "-r", "2", "--device", "cpu", "--json"))
    assert len(rows) == 4
    assert {(r["prompt_tokens"], r["batch"]) for r in rows} == {(8, 1), (16, 1), (8, 2), (16, 2)}
    for r in rows:
        assert KEYS <= set(r)
        assert r["pp_tok_s"] > 0 and r["tg_tok_s"] > 0 and r["ttft_s"] > 0
        assert r["pp_tok_s_sd"] >= 0 and r["tg_tok_s_sd"] >= 0 and r["ttft_s_sd"] >= 0
        assert r["gen_tokens"] == 4 and r["dtype"] == "float32" and r["device"] == "cpu"
        assert r["quantize"] == "none" and r["compile"] is False and r["model"].endswith(model_dir.name)


def test_json_shape_int8_and_reference():
    shape = "d64,L2,H4,KV2,V200,S64"
    q = _rows(_run("--shape", shape, "--prompt-tokens", "8", "--gen-tokens", "4", "-r", "1", "--quantize", "int8",
                   "--device", "cpu", "--json"))
    assert q[0]["quantize"] == "int8" and q[0]["shape"].startswith("d64,L2,H4,KV2,V200")
    ref = _rows(_run("--shape", shape, "--prompt-tokens", "8", "--gen-tokens", "4", "-r", "1", "--engine", "reference",
                     "--device", "cpu", "--json"))
    assert ref[0]["engine"] == "reference" and ref[0]["tg_tok_s"] > 0


def test_table_output_and_header():
    result = _run("--shape", "d32,L1,H2,V100,S32", "--prompt-tokens", "4", "--gen-tokens", "2", "-r", "1",
                  "--device", "cpu")
    assert result.exit_code == 0, result.output
    assert "pp4" in result.stdout and "tg2" in result.stdout and "chatcli bench" not in result.stdout
    assert "chatcli bench" in result.stderr and "torch" in result.stderr and "params" in result.stderr


def test_parse_shape():
    cfg = parse_shape("d288,L6,H6,V32000")
    assert (cfg.dim, cfg.n_layers, cfg.n_heads, cfg.vocab_size, cfg.n_kv_heads) == (288, 6, 6, 32000, 6)
    assert parse_shape("stories15m").ffn_hidden == 768
    assert parse_shape("d64,L5,H8,KV4,V512,F172,S512").ffn_hidden == 172


@pytest.mark.parametrize("bad, error, message", [
    ("d288,L6", ChatcliError, "bad --shape 'd288,L6': missing n_heads"),
    ("x12", ChatcliError, "bad --shape 'x12': expected a preset"),
    ("huge", ChatcliError, "bad --shape 'huge': expected a preset"),
    ("d288,L6,H5", ConfigError, r"dim \(288\) must be divisible by n_heads \(5\)"),
])
def test_parse_shape_errors_name_the_problem(bad, error, message):
    with pytest.raises(error, match=message):
        parse_shape(bad)


@pytest.mark.parametrize("args, message", [
    (["--prompt-tokens", "60", "--gen-tokens", "8"], "exceed the model context of 64"),
    (["--prompt-tokens", "0"], "--prompt-tokens"),
    (["--batch", "two"], "--batch"),
    (["--quantize", "int4"], "int4"),
    (["--repetitions", "0"], "--repetitions"),
    (["--engine", "warp"], "engine"),
    (["--dtype", "fp8"], "dtype"),
])
def test_errors(args, message):
    result = _run("--shape", "d32,L1,H2,V100,S64", "--device", "cpu", *args)
    assert result.exit_code == 1
    assert "chatcli: error:" in result.stderr and message in result.stderr
    assert "Traceback" not in result.output


def test_model_and_shape_exclusive(model_dir):
    result = _run("--model", str(model_dir), "--shape", "stories260k")
    assert result.exit_code == 1 and "not both" in result.stderr


def test_default_engine_is_named_and_compiled_falls_back_with_one_notice(monkeypatch):
    shape = ["--shape", "d32,L1,H2,V100,S32", "--prompt-tokens", "4", "--gen-tokens", "3", "-r", "1", "--device", "cpu"]
    rows = _rows(_run(*shape, "--json"))
    assert rows[0]["engine"] == "fast" and rows[0]["compile"] is False  # auto on CPU: the fast engine

    import torch

    def broken_compile(fn, **kw):
        def run(*a, **k):
            raise RuntimeError("InductorError: no working C++ compiler")
        return run
    monkeypatch.setattr(torch, "compile", broken_compile)
    result = _run(*shape, "--engine", "compiled")
    assert result.exit_code == 0, result.output
    assert result.stderr.count("compiled decode step unavailable") == 1
    assert "engine fast (asked for compiled)" in result.stderr and "Traceback" not in result.output
