"""chatcli/render.py: one Console factory and one colour rule for every console (chat UI, training
progress, inspect/logs/bench output); NO_COLOR=1 means no escape codes at all, even on a terminal."""
from __future__ import annotations

import io
import re
import sys

from chatcli import render

ANSI = re.compile(r"\x1b\[")


class FakeTTY(io.StringIO):
    def isatty(self) -> bool:
        return True


def _ttys(monkeypatch):
    """stdout and stderr are terminals that understand colour (set in the test body: pytest's capture
    puts its own sys.stdout/stderr back between fixture setup and the call)."""
    monkeypatch.delenv("NO_COLOR", raising=False)
    monkeypatch.delenv("FORCE_COLOR", raising=False)
    monkeypatch.setenv("TERM", "xterm-256color")
    out, err = FakeTTY(), FakeTTY()
    monkeypatch.setattr(sys, "stdout", out)
    monkeypatch.setattr(sys, "stderr", err)
    return out, err


def _every_console(tmp_path) -> list:
    from chatcli.chat.ui import UI
    from chatcli.training.reporting import Reporter
    rep = Reporter(tmp_path, "sft", 10)
    consoles = [render.out_console(), render.err_console(), UI().err, rep.progress.console]
    rep.close()
    return consoles


def _printed(console) -> str:
    console.print("[bold red]warning[/bold red] [dim]and a dim note[/dim]")
    return console.file.getvalue()


def test_no_color_means_no_escape_codes_anywhere(tmp_path, monkeypatch):
    _ttys(monkeypatch)
    monkeypatch.setenv("NO_COLOR", "1")
    for c in _every_console(tmp_path):
        c.file.seek(0)
        c.file.truncate()
        text = _printed(c)
        assert "warning and a dim note" in text and not ANSI.search(text), repr(text)
        assert c.no_color and c.color_system is None


def test_a_terminal_without_no_color_gets_styles(tmp_path, monkeypatch):
    _ttys(monkeypatch)
    for c in _every_console(tmp_path):
        c.file.seek(0)
        c.file.truncate()
        assert ANSI.search(_printed(c)) and not c.no_color


def test_pipes_get_plain_text(monkeypatch):
    monkeypatch.delenv("NO_COLOR", raising=False)
    monkeypatch.setattr(sys, "stdout", io.StringIO())
    assert not render.color_allowed(sys.stdout) and not ANSI.search(_printed(render.out_console()))


def test_is_terminal_is_false_for_what_is_not_one(tmp_path):
    closed = open(tmp_path / "f", "w")
    closed.close()
    assert not any(render.is_terminal(s) for s in (None, io.StringIO(), object(), closed))
    assert render.is_terminal(FakeTTY())
