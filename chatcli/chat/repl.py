"""The interactive chat loop: prompt_toolkit line editing with persistent history, multi-line
input, slash commands, streamed answers, Ctrl-C handling and a dim status line after each answer.

Input:  a line ending with \ continues on the next line; a line starting with \"\"\" opens a block
        that a line ending with \"\"\" closes. Lines starting with / are commands (// sends a literal /).
Keys:   Ctrl-C while typing clears the line; at an empty prompt (or Ctrl-D) it quits with exit 0.
        Ctrl-C while an answer streams stops it; the partial answer stays in history, marked.
History file: $CHATCLI_HISTORY, else $XDG_STATE_HOME/chatcli/history (~/.local/state/chatcli/history).
"""
from __future__ import annotations

import os
import sys
from contextlib import closing
from pathlib import Path

from chatcli.chat.slash import handle
from chatcli.chat.ui import UI, printable
from chatcli.errors import ChatcliError

PROMPT, MORE = ">>> ", "... "
BLOCK = '"""'


def history_path() -> Path:
    if os.environ.get("CHATCLI_HISTORY"):
        return Path(os.environ["CHATCLI_HISTORY"]).expanduser()
    state = os.environ.get("XDG_STATE_HOME") or str(Path.home() / ".local" / "state")
    return Path(state) / "chatcli" / "history"


class LineReader:
    """Reads one user message (possibly multi-line). read() -> text, "" (cancelled) or None (quit)."""

    def __init__(self, path: Path, ui: UI) -> None:
        self.ps = None
        try:
            self.ps = self._prompt_session(path)
        except Exception as e:  # not a usable terminal for prompt_toolkit: plain input() still works
            ui.dim(f"line editing unavailable ({e}); using plain input")

    @staticmethod
    def _prompt_session(path: Path):
        from prompt_toolkit import PromptSession
        from prompt_toolkit.history import FileHistory, InMemoryHistory
        from prompt_toolkit.key_binding import KeyBindings
        from prompt_toolkit.output import create_output

        kb = KeyBindings()

        @kb.add("c-c")
        def _(event):
            buf = event.app.current_buffer
            if buf.text:
                buf.reset()
            else:
                event.app.exit(exception=KeyboardInterrupt())

        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.touch(exist_ok=True)
            history = FileHistory(str(path))
        except OSError:
            history = InMemoryHistory()
        # answers go to stdout; when it is redirected, draw the prompt on the terminal (stderr)
        output = None if sys.stdout.isatty() else create_output(stdout=sys.stderr)
        return PromptSession(history=history, key_bindings=kb, output=output)

    def _line(self, prompt: str) -> str:
        if self.ps is not None:
            return self.ps.prompt(prompt)
        sys.stderr.write(prompt)
        sys.stderr.flush()
        line = sys.stdin.readline()
        if not line:
            raise EOFError
        return line.rstrip("\n")

    def read(self) -> str | None:
        try:
            line = self._line(PROMPT)
        except (EOFError, KeyboardInterrupt):
            return None
        try:
            if line.lstrip().startswith(BLOCK):
                return self._block(line.lstrip()[len(BLOCK):])
            lines = [line]
            while lines[-1].endswith("\\"):
                lines[-1] = lines[-1][:-1]
                try:
                    lines.append(self._line(MORE))
                except EOFError:
                    break
            return "\n".join(lines)
        except KeyboardInterrupt:
            return ""  # Ctrl-C at an empty continuation line cancels the whole message

    def _block(self, first: str) -> str:
        if first.rstrip().endswith(BLOCK):
            return first.rstrip()[:-len(BLOCK)]
        lines = [first] if first else []
        while True:
            try:
                line = self._line(MORE)
            except EOFError:
                break
            if line.rstrip().endswith(BLOCK):
                lines.append(line.rstrip()[:-len(BLOCK)])
                break
            lines.append(line)
        return "\n".join(lines).strip("\n")


def answer(session, text: str, ui: UI) -> None:
    """Stream one answer to stdout; Ctrl-C stops it (kept, marked); a status line follows."""
    out = sys.stdout
    tail = "\n"
    try:
        with closing(session.respond(text)) as chunks:
            for chunk in chunks:
                out.write(printable(chunk))
                out.flush()
                tail = chunk
    except KeyboardInterrupt:
        if not tail.endswith("\n"):
            out.write("\n")
        out.flush()
        ui.dim("[interrupted: the partial answer is kept in the conversation; /retry regenerates it]")
        tail = "\n"
    except ChatcliError as e:
        ui.error(str(e))
        return
    if not tail.endswith("\n"):
        out.write("\n")
    out.flush()
    if session.last is not None:
        ui.dim(session.last.line())


def banner(session, ui: UI, path: Path) -> None:
    b = session.bundle
    cfg = b.model.config
    ui.dim(f"chatcli chat · {b.path.name} ({cfg.num_params() / 1e6:.1f}M params, context {cfg.max_seq_len}, "
           f"{b.device.type} {str(b.dtype).replace('torch.', '')}) · seed {session.seed}")
    ui.dim("/help for commands · end a line with \\ for more lines · Ctrl-C stops an answer · Ctrl-D quits")


def run_repl(session, *, path: Path | None = None, ui: UI | None = None) -> int:
    ui = ui or UI()
    path = path or history_path()
    banner(session, ui, path)
    reader = LineReader(path, ui)
    while True:
        text = reader.read()
        if text is None:
            return 0
        if not text.strip():
            continue
        stripped = text.lstrip()
        if stripped.startswith("//"):
            text = stripped[1:]
        elif stripped.startswith("/"):
            result = handle(session, stripped, ui)
            if result.exit:
                return 0
            if result.regenerate is None:
                continue
            text = result.regenerate
        answer(session, text, ui)
