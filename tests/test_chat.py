"""chatcli chat: prompt joining, stop strings, context fitting, session determinism and the one-shot CLI."""
from __future__ import annotations

import json
import re

import pytest
import torch
from typer.testing import CliRunner

from chatcli.app import app
from chatcli.chat.context import fit_chat, fit_raw, reserve
from chatcli.chat.oneshot import decode_input, join_prompt
from chatcli.chat.stops import StopMatcher, unescape
from chatcli.errors import ChatcliError

ANSI = re.compile(r"\x1b\[")


@pytest.fixture(scope="module")
def ctx32_dir(tmp_path_factory, tokenizer):
    """A model whose context is only 32 tokens."""
    from chatcli.bundle import save_bundle
    from model.config import ModelConfig
    from model.transformer import Transformer
    torch.manual_seed(0)
    cfg = ModelConfig(vocab_size=tokenizer.vocab_size, dim=32, n_layers=1, n_heads=2, max_seq_len=32)
    return save_bundle(tmp_path_factory.mktemp("ctx") / "ctx32", Transformer(cfg), tokenizer)


@pytest.fixture(scope="module")
def bundle(model_dir):
    from chatcli.bundle import load_bundle
    return load_bundle(model_dir)


def run(args, input=None, env=None):
    return CliRunner().invoke(app, ["chat", *args], input=input, env=env)


def js(result) -> dict:
    assert result.exit_code == 0, (result.exit_code, result.stderr)
    return json.loads(result.stdout)


# ----- pure functions -----

def test_join_prompt_rule():
    assert join_prompt("Summarize:", "line one\nline two\n") == "Summarize:\n\nline one\nline two"
    assert join_prompt("Hi", None) == "Hi"
    assert join_prompt(None, "just stdin\n") == "just stdin"
    assert join_prompt("Hi", "  \n") == "Hi"
    assert join_prompt("  ", "material") == "material"
    for arg, stdin in [("", ""), (None, " \n\t"), ("   ", None)]:
        with pytest.raises(ChatcliError, match="empty prompt"):
            join_prompt(arg, stdin)


def test_decode_input_replaces_bad_bytes_and_warns():
    warnings = []
    assert decode_input("héllo".encode(), warnings.append) == "héllo" and not warnings
    assert decode_input(b"\xef\xbb\xbfbom", warnings.append) == "bom"
    text = decode_input(b"ok \xff\xfe end", warnings.append)
    assert text == "ok \ufffd\ufffd end" and len(warnings) == 1 and "UTF-8" in warnings[0]


def test_stop_matcher_holds_back_prefixes_and_cuts():
    m = StopMatcher(["END", "\n\n"])
    out = []
    for piece in ["Hello E", "N", "x wor", "ld E", "ND tail"]:
        text, hit = m.feed(piece)
        out.append(text)
        if hit:
            break
    assert "".join(out) == "Hello ENx world " and hit
    m = StopMatcher(["STOP"])
    assert m.feed("abc ST") == ("abc ", False)
    assert m.flush() == "ST"
    assert unescape(r"a\nb\tc\\n") == "a\nb\tc\\n"


def test_fit_chat_drops_oldest_turns_keeps_system(bundle):
    t = bundle.template
    history = []
    for i in range(12):
        history += [{"role": "user", "content": f"question number {i} about the king and the sea"},
                    {"role": "assistant", "content": f"answer {i}: the old queen slept under a tall tree"}]
    fit = fit_chat(t, "be brief", history, "last question", max_len=200, max_tokens=40)
    assert 0 < fit.first_kept < len(history) - 2 and fit.first_kept % 2 == 0  # whole turns only
    assert len(fit.ids) + fit.max_tokens <= 200 and fit.max_tokens == 40
    assert fit.ids[:2] == [t.tok.bos_id, t.role_ids["system"]]
    expected = t.render_prompt([{"role": "system", "content": "be brief"}, *history[fit.first_kept:],
                                {"role": "user", "content": "last question"}])
    assert fit.ids == expected
    assert [k for k, _ in fit.notices] == ["drop"]
    # one turn fewer would not have fitted
    more = t.render_prompt([{"role": "system", "content": "be brief"}, *history[fit.first_kept - 2:],
                            {"role": "user", "content": "last question"}])
    assert len(more) + 40 > 200


def test_fit_chat_shrinks_then_truncates(bundle):
    t = bundle.template
    fit = fit_chat(t, None, [], "the king said", max_len=32, max_tokens=100)
    assert len(fit.ids) + fit.max_tokens == 32 and ("shrink" in dict(fit.notices))
    long_text = "the king said that a good man will go to the sea " * 20
    fit = fit_chat(t, None, [], long_text, max_len=32, max_tokens=None)
    assert len(fit.ids) + fit.max_tokens == 32 and fit.max_tokens == reserve(32)
    assert long_text.endswith(fit.user_text) and 0 < len(fit.user_text) < len(long_text)
    with pytest.raises(ChatcliError, match="no-truncate"):
        fit_chat(t, None, [], long_text, max_len=32, max_tokens=None, no_truncate=True)
    with pytest.raises(ChatcliError, match="system prompt"):
        fit_chat(t, long_text, [], "hi", max_len=32, max_tokens=None)
    fit = fit_raw(t.tok, long_text, max_len=32, max_tokens=5)
    assert fit.ids[0] == t.tok.bos_id and len(fit.ids) + 5 <= 32 and fit.max_tokens == 5


# ----- session -----

def _session(bundle, **kw):
    from chatcli.chat.session import ChatSession
    from model.sampling import SamplingConfig
    return ChatSession(bundle, SamplingConfig(**kw), max_tokens_auto=False)


def test_session_same_seed_same_answers_and_history(bundle):
    a, b = _session(bundle, seed=11, max_tokens=15), _session(bundle, seed=11, max_tokens=15)
    for text in ["hello", "and then?"]:
        assert "".join(a.respond(text)) == "".join(b.respond(text))
    assert a.history == b.history and len(a.history) == 4
    assert a.last.prompt_tokens > 10 and a.last.completion_tokens >= 1
    c = _session(bundle, seed=12, max_tokens=15, temperature=1.5, top_p=1.0)
    d = _session(bundle, seed=11, max_tokens=15, temperature=1.5, top_p=1.0)
    assert "".join(c.respond("hello")) != "".join(d.respond("hello"))
    g1, g2 = _session(bundle, seed=1, temperature=0, max_tokens=15), _session(bundle, seed=2, temperature=0, max_tokens=15)
    assert "".join(g1.respond("hi")) == "".join(g2.respond("hi"))


def test_session_interrupt_keeps_partial_marked(bundle):
    s = _session(bundle, seed=3, max_tokens=50, repeat_penalty=1.0)
    gen = s.respond("tell me")
    first = next(gen)
    gen.close()  # what the REPL does when Ctrl-C arrives while printing
    assert s.history[-1]["role"] == "assistant" and s.history[-1]["interrupted"] is True
    assert s.history[-1]["content"] == first and s.last.finish_reason == "interrupted"
    assert s.retry_text() == "tell me" and s.history == []


def test_slash_commands(bundle, tmp_path):
    from chatcli.chat.slash import handle

    class Rec:
        def __init__(self):
            self.lines = []
        dim = info = error = lambda self, m: self.lines.append(m)
        def rows(self, rows):
            return self.lines.extend(f"{k} {v}" for k, v in rows)

    s, ui = _session(bundle, seed=5, max_tokens=5), Rec()
    handle(s, "/set temperature 0.25", ui)
    handle(s, "/set top-k 7", ui)
    assert s.settings.temperature == 0.25 and s.settings.top_k == 7
    for bad in ["/set top_p 3", "/set temperature warm", "/set nonsense 1", "/set"]:
        before = s.settings
        handle(s, bad, ui)
        assert s.settings == before
    assert "top_p must be in (0, 1]" in ui.lines[-4] and "must be a number" in ui.lines[-3]
    handle(s, "/sett max_tokens 3", ui)
    assert ui.lines[-1] == "unknown command /sett; did you mean /set? type /help"
    handle(s, "/set seed 99", ui)
    assert s.seed == 99
    "".join(s.respond("hello"))
    handle(s, "/system be kind", ui)
    path = tmp_path / "conv.json"
    handle(s, f"/save {path}", ui)
    doc = json.loads(path.read_text())
    assert doc["system"] == "be kind" and [m["role"] for m in doc["messages"]] == ["user", "assistant"]
    handle(s, "/clear", ui)
    assert s.history == [] and s.system == "be kind"
    handle(s, f"/load {path}", ui)
    assert s.history == doc["messages"]
    handle(s, f"/load {tmp_path / 'missing.json'}", ui)
    assert "cannot read" in ui.lines[-1]
    assert handle(s, "/retry", ui).regenerate == "hello"
    assert handle(s, "/exit", ui).exit


# ----- one-shot CLI -----

def test_oneshot_argument_plain_stdout(model_dir):
    r = run(["--model", str(model_dir), "the king said", "--seed", "1", "--max-tokens", "12", "--stats"])
    assert r.exit_code == 0, r.stderr
    assert r.stdout.endswith("\n") and not ANSI.search(r.stdout)
    assert "prompt tok" in r.stderr and "seed 1" in r.stderr and "prompt tok" not in r.stdout


def test_oneshot_json_schema_and_join_rule(model_dir, tokenizer):
    args = ["--model", str(model_dir), "--raw", "--json", "--seed", "4", "-n", "6"]
    both = js(run([*args, "Summarize:"], input="the old queen\n"))
    assert set(both) == {"text", "finish_reason", "prompt_tokens", "completion_tokens", "ttft_s",
                         "prefill_tok_s", "decode_tok_s", "prefilled_tokens", "reused_tokens", "model", "seed"}
    assert both["prompt_tokens"] == 1 + len(tokenizer.encode("Summarize:\n\nthe old queen"))
    assert both["prefilled_tokens"] == both["prompt_tokens"] and both["reused_tokens"] == 0  # one turn
    assert both["seed"] == 4 and both["completion_tokens"] <= 6 and both["model"] == str(model_dir)
    assert both["finish_reason"] in ("stop", "length")
    only_stdin = js(run(args, input="the old queen\n"))
    assert only_stdin["prompt_tokens"] == 1 + len(tokenizer.encode("the old queen"))
    drawn = js(run(["--model", str(model_dir), "--json", "-n", "4", "hi"]))
    assert isinstance(drawn["seed"], int)  # a drawn seed reproduces the run
    again = js(run(["--model", str(model_dir), "--json", "-n", "4", "hi", "--seed", str(drawn["seed"])]))
    assert again["text"] == drawn["text"]


def test_chat_system_prompt_reaches_the_rendered_prompt(model_dir, tokenizer, monkeypatch):
    """--system: the ids given to the decoder are the template's rendering of [system, user]."""
    import model.generate as gen
    from tokenizer.chat import ChatTemplate
    prompts = []
    real = gen.decode_n

    def spy(engine, ids, *a, **k):
        prompts.append(list(ids))
        return real(engine, ids, *a, **k)
    monkeypatch.setattr(gen, "decode_n", spy)
    r = run(["--model", str(model_dir), "--system", "You are terse.", "--seed", "1", "-n", "3", "hello there"])
    assert r.exit_code == 0, r.stderr
    want = ChatTemplate(tokenizer).render_prompt([{"role": "system", "content": "You are terse."},
                                                  {"role": "user", "content": "hello there"}])
    assert prompts == [want]
    r = run(["--model", str(model_dir), "--seed", "1", "-n", "3", "hello there"])
    assert r.exit_code == 0 and prompts[-1] == ChatTemplate(tokenizer).render_prompt(
        [{"role": "user", "content": "hello there"}])
    r = run(["--model", str(model_dir), "--raw", "--system", "x", "hi"])
    assert r.exit_code == 1 and "--system needs the chat template" in r.stderr


def test_oneshot_determinism_and_greedy(model_dir):
    base = ["--model", str(model_dir), "--json", "-n", "20", "--temperature", "1.3", "--top-p", "1", "hello"]
    a, b = js(run([*base, "--seed", "7"])), js(run([*base, "--seed", "7"]))
    c = js(run([*base, "--seed", "8"]))
    assert a["text"] == b["text"] and a["text"] != c["text"]
    g = [js(run(["--model", str(model_dir), "--json", "-n", "20", "-t", "0", "hello", "--seed", s]))["text"]
         for s in ("1", "2")]
    assert g[0] == g[1]


def test_oneshot_stop_string(model_dir):
    for seed in range(10):  # random weights: take the first seed whose sample does not end at once
        base = ["--model", str(model_dir), "--json", "-n", "40", "--seed", str(seed), "--raw",
                "--repeat-penalty", "1", "the king"]
        full = js(run(base))["text"]
        if len(full) > 6:
            break
    assert len(full) > 6
    stop = full[3:6]
    cut = js(run([*base, "--stop", stop]))
    assert cut["finish_reason"] == "stop" and cut["text"] == full[:full.find(stop)]


def test_oneshot_exit_codes(model_dir, tmp_path):
    m = ["--model", str(model_dir)]
    assert run([*m, ""], input="").exit_code == 1
    r = run([*m], input="  \n\t\n")
    assert r.exit_code == 1 and "empty prompt" in r.stderr and "Traceback" not in r.stderr
    r = run([*m, "hi", "--temperature", "-1"])
    assert r.exit_code == 1 and r.stderr.startswith("chatcli: error: temperature")
    r = run(["--model", str(tmp_path / "nope"), "hi"])
    assert r.exit_code == 1 and "model directory not found" in r.stderr
    r = run([*m, "hi", "--top-k", "many"])
    assert r.exit_code != 0 and r.stdout == ""


def test_oneshot_binary_stdin(model_dir):
    r = run(["--model", str(model_dir), "--json", "-n", "3", "--seed", "1"], input=b"\xff\xfe\x00 the king \x80")
    assert r.exit_code == 0 and "not valid UTF-8" in r.stderr
    assert json.loads(r.stdout)["prompt_tokens"] > 3


def test_oneshot_context_overflow(ctx32_dir):
    long_text = "the king said that a good man will go to the sea and find his love " * 10
    d = js(run(["--model", str(ctx32_dir), "--json", "--seed", "1", "-n", "100", "summarize"], input=long_text))
    assert d["prompt_tokens"] + d["completion_tokens"] <= 32 and d["prompt_tokens"] <= 32 - 1
    r = run(["--model", str(ctx32_dir), "--no-truncate", "summarize"], input=long_text)
    assert r.exit_code == 1 and "context" in r.stderr and r.stdout == ""
    r = run(["--model", str(ctx32_dir), "--json", "-n", "200", "hi"])
    assert json.loads(r.stdout)["prompt_tokens"] + json.loads(r.stdout)["completion_tokens"] <= 32
    assert "max_tokens lowered" in r.stderr
