"""REPL behaviour a newcomer meets: the banner's expectations, word wrap, ollama's /set habits,
history that keeps a multi-line message whole, /set nohistory, and -c / /load reprinting turns."""
from __future__ import annotations

import json
import os
import sys
import time

import pytest
from rich.cells import cell_len

from chatcli.chat.ui import WordWrap

pexpect = pytest.importorskip("pexpect")


# ----- word wrap (pure) -----

@pytest.mark.parametrize("width", [7, 12, 20, 33])
def test_word_wrap_never_splits_a_word_that_fits(width):
    text = ("The old queen slept under a tall tree near the river of stars, while the king said that "
            "a good man will go to the sea.\nA new line starts here and   keeps its spaces. "
            "antidisestablishmentarianism! 床前明月光，疑是地上霜。")
    w = WordWrap(width)
    pieces = [text[i:i + 5] for i in range(0, len(text), 5)]  # arrives in arbitrary chunks
    out = "".join(w.feed(p) for p in pieces) + w.end_line()
    lines = out.split("\n")
    assert all(cell_len(line) <= width for line in lines), lines
    words = text.split()
    assert "".join(out.split()) == "".join(words)  # nothing lost or added but whitespace
    for word in words:
        if cell_len(word) <= width and all(cell_len(c) == 1 for c in word):
            assert any(word in line for line in lines), word  # a word that fits is never broken
    assert WordWrap(0).feed(text) == text  # off (not a terminal): the text exactly


# ----- banner -----

def _session(model_dir):
    from chatcli.bundle import load_bundle
    from chatcli.chat.session import ChatSession
    return ChatSession(load_bundle(model_dir))


def test_banner_shows_the_models_own_expectations(model_copy, capsys):
    from chatcli.chat.repl import banner
    from chatcli.chat.ui import UI
    cfg = json.loads((model_copy / "config.json").read_text())
    cfg["chat"] = {"can": "rhyme a little", "cannot": "count", "examples": ["Say hi", "Rhyme cat", "Name a sea"]}
    (model_copy / "config.json").write_text(json.dumps(cfg))
    banner(_session(model_copy), UI())
    err = capsys.readouterr().err
    assert "it can: rhyme a little" in err and "it cannot: count" in err
    assert "try: Say hi · Rhyme cat · Name a sea" in err and "remembers only the last 128 tokens" in err


def test_bundled_banner_prompts_get_finished_answers(capsys):
    """The three prompts the bundled model's banner offers produce an answer that ends by itself."""
    from chatcli.bundle import BUNDLED, load_bundle
    from chatcli.chat.main import chat_defaults
    from chatcli.chat.repl import banner, expectations
    from chatcli.chat.session import ChatSession
    from chatcli.chat.ui import UI
    if not (BUNDLED / "model.safetensors").exists():
        pytest.skip("no bundled model")
    bundle = load_bundle(BUNDLED)
    notes = expectations(bundle)
    assert notes and len(notes["examples"]) == 3
    banner(ChatSession(bundle, chat_defaults(seed=1)), UI())
    assert "try: " + " · ".join(notes["examples"]) in capsys.readouterr().err
    for prompt in notes["examples"]:
        s = ChatSession(bundle, chat_defaults(seed=1, max_tokens=120), max_tokens_auto=False)
        text = "".join(s.respond(prompt))
        assert text.strip() and s.last.finish_reason == "stop", (prompt, text)


# ----- in a real terminal -----

def _env(tmp_path) -> dict:
    return dict(os.environ, NO_COLOR="1", CHATCLI_HISTORY=str(tmp_path / "hist"), PROMPT_TOOLKIT_NO_CPR="1",
                TERM="xterm")


def _spawn(tmp_path, model_dir, *args):
    return pexpect.spawn(sys.executable, ["-m", "chatcli.app", "chat", "--model", str(model_dir), *args],
                         env=_env(tmp_path), encoding="utf-8", timeout=90, dimensions=(40, 120))


def _quit(c):
    time.sleep(0.3)
    c.sendeof()
    c.expect(pexpect.EOF)
    c.close()
    assert c.exitstatus == 0


def test_set_habits_multiline_history_and_nohistory(model_dir, tmp_path):
    from prompt_toolkit.history import FileHistory

    from chatcli.logs import LogStore, log_path
    c = _spawn(tmp_path, model_dir, "--seed", "1")
    try:
        c.expect_exact(">>>")
        c.sendline("/set parameter num_predict 4")
        c.expect_exact("max_tokens = 4")
        c.sendline("/set parameter repeat_last_n 16")
        c.expect_exact("repeat_window = 16")
        c.sendline('"""')
        c.sendline("line one")
        c.sendline('line two"""')
        c.expect(r"\d+ prompt tok · \d+ generated")
        c.sendline("/set quiet")
        c.expect_exact("status line after each answer: off")
        c.expect_exact(">>>")
        c.sendline("quiet question")
        c.expect_exact(">>>")
        time.sleep(1.5)
        c.sendline("/show")
        c.expect(r"status line\s+off")
        assert "prompt tok" not in c.before
        c.sendline("/set verbose")
        c.expect_exact("status line after each answer: on")
        c.sendline("/set nohistory")
        c.expect_exact("not saved from now on")
        c.sendline("secret question")
        c.expect(r"\d+ prompt tok · \d+ generated")
        c.expect_exact(">>>")
    finally:
        _quit(c)
    entries = list(FileHistory(str(tmp_path / "hist")).load_history_strings())[::-1]  # oldest first
    assert '"""line one\nline two"""' in entries  # one entry for the whole block
    assert "line one" not in entries and "secret question" not in entries
    store = LogStore(log_path())
    prompts = [t["prompt"] for t in store.turns(store.last_id())]
    assert prompts == ["line one\nline two", "quiet question"]


def test_continue_reprints_and_load_reprints(model_dir, tmp_path):
    from typer.testing import CliRunner

    from chatcli.app import app
    r = CliRunner().invoke(app, ["chat", "--model", str(model_dir), "remember the sea", "-n", "3", "--seed", "4"])
    assert r.exit_code == 0, r.stderr
    saved = tmp_path / "c.json"
    saved.write_text(json.dumps({"messages": [{"role": "user", "content": "loaded question"},
                                              {"role": "assistant", "content": "loaded answer"}]}))
    c = _spawn(tmp_path, model_dir, "-c")
    try:
        c.expect_exact("continuing conversation")
        c.expect_exact(">>> remember the sea")
        c.expect_exact(">>>")
        c.sendline(f"/load {saved}")
        c.expect_exact("loaded 2 messages")
        c.expect_exact(">>> loaded question")
        c.expect_exact("loaded answer")
        c.expect_exact(">>>")
    finally:
        _quit(c)
