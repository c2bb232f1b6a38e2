"""chatcli chat in a real pseudo-terminal (pexpect): a turn, slash commands, Ctrl-C, EOF; and a broken pipe."""
from __future__ import annotations

import os
import subprocess
import sys
import time

import pytest

pexpect = pytest.importorskip("pexpect")


def _env(tmp_path) -> dict:
    return dict(os.environ, NO_COLOR="1", CHATCLI_HISTORY=str(tmp_path / "hist"), PROMPT_TOOLKIT_NO_CPR="1",
                TERM="xterm")


def test_repl_turn_slash_commands_ctrl_c_and_eof(long_model_dir, tmp_path):
    c = pexpect.spawn(sys.executable, ["-m", "chatcli.app", "chat", "--model", str(long_model_dir)],
                      env=_env(tmp_path), encoding="utf-8", timeout=60, dimensions=(40, 200))
    try:
        c.expect_exact("/help for commands")
        c.expect_exact(">>>")
        c.sendline("/set max_tokens 8")
        c.expect_exact("max_tokens = 8")
        c.sendline("/set top_p 7")
        c.expect_exact("top_p must be in (0, 1], got 7.0")
        c.sendline("/sett temperature 0")
        c.expect_exact("unknown command /sett; did you mean /set? type /help")
        c.sendline("/show")
        c.expect(r"max_tokens\s+8")
        c.sendline("the king said")
        c.expect(r"\d+ prompt tok · \d+ generated · ttft [\d.]+ m?s")  # status line after the answer
        c.sendline("/set max_tokens 5000")
        c.expect_exact("max_tokens = 5000")
        c.sendline("/set repeat_penalty 1")
        c.expect_exact("repeat_penalty = 1.0")
        c.sendline("/set temperature 0")  # greedy: a long answer that does not end by itself
        c.expect_exact("temperature = 0.0")
        c.sendline("tell me a long story")
        c.expect_exact("max_tokens lowered from 5000 to")  # said once the answer starts
        # Ctrl-C at once: the whole 2,030-token answer took 0.54 s on the cpp engine and 1.3 s on the fast one
        # under load (about half that on an idle CPU), so the 0.3 s wait this used to take could outlast it
        time.sleep(0.05)
        c.sendintr()
        c.expect_exact("[interrupted")
        c.expect_exact("interrupted")  # the status line notes it too
        c.sendline("/stats")
        c.expect(r"session:\s+2 answers")
        c.expect_exact("context:")
        c.expect_exact(">>>")
        time.sleep(0.5)  # let the prompt take the terminal before Ctrl-D
        c.sendeof()
        c.expect(pexpect.EOF)
    finally:
        c.close()
    assert c.exitstatus == 0
    history = (tmp_path / "hist").read_text(encoding="utf-8")
    assert "the king said" in history and "/set max_tokens 8" in history


def test_repl_ctrl_c_at_empty_prompt_exits_0(model_dir, tmp_path):
    c = pexpect.spawn(sys.executable, ["-m", "chatcli.app", "chat", "--model", str(model_dir)],
                      env=_env(tmp_path), encoding="utf-8", timeout=60)
    try:
        c.expect_exact(">>>")
        c.send("some text")
        time.sleep(0.5)
        c.sendintr()  # clears the line, stays
        time.sleep(1.0)
        assert c.isalive()
        c.sendintr()  # at an empty prompt: quit
        c.expect(pexpect.EOF)
    finally:
        c.close()
    assert c.exitstatus == 0


def test_broken_pipe_is_quiet(model_dir):
    cmd = (f"{sys.executable} -m chatcli.app chat --model '{model_dir}' --raw --seed 1 -n 100 "
           f"--repeat-penalty 1 'the king' | head -c 3")
    p = subprocess.run(["bash", "-o", "pipefail", "-c", cmd], capture_output=True, timeout=60,
                       env=dict(os.environ, NO_COLOR="1"))
    assert p.returncode == 0, p.stderr
    assert b"Traceback" not in p.stderr and b"Broken" not in p.stderr and p.stderr == b""
