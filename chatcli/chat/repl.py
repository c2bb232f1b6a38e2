"""The interactive chat loop: prompt_toolkit line editing with persistent history, multi-line
input, slash commands, streamed answers, Ctrl-C handling and a dim status line after each answer.

Input:  a line ending with \\ continues on the next line; a line starting with \"\"\" opens a block
        that a line ending with \"\"\" closes. Lines starting with / are commands (// sends a literal /).
        History keeps each message as one entry: a multi-line message is recalled whole (as a
        \"\"\" block), not line by line.
Keys:   Ctrl-C while typing clears the line; at an empty prompt (or Ctrl-D) it quits with exit 0.
        Ctrl-C while an answer streams stops it; the partial answer stays in history, marked.
Output: answers stream to stdout, wrapped between words when stdout is a terminal; the banner,
        notices, the status line and reprinted turns (after -c, --cid, --load or /load) go to stderr.
History file: $CHATCLI_HISTORY, else $XDG_STATE_HOME/chatcli/history (~/.local/state/chatcli/history).
"""
from __future__ import annotations

import os
import shutil
import sys
from contextlib import closing
from dataclasses import dataclass
from pathlib import Path

from chatcli.chat.slash import handle
from chatcli.chat.ui import UI, WordWrap, printable
from chatcli.errors import ChatcliError

PROMPT, MORE = ">>> ", "... "
BLOCK = '"""'


def history_path() -> Path:
    if os.environ.get("CHATCLI_HISTORY"):
        return Path(os.environ["CHATCLI_HISTORY"]).expanduser()
    state = os.environ.get("XDG_STATE_HOME") or str(Path.home() / ".local" / "state")
    return Path(state) / "chatcli" / "history"


def history_entry(text: str) -> str:
    """How a message is kept in history: as typed when it is one line, else as a \"\"\" block."""
    return text if "\n" not in text else f"{BLOCK}{text}{BLOCK}"


@dataclass
class ReplState:
    """What the REPL itself can switch (the session holds the conversation and sampling)."""
    show_stats: bool = True  # the dim line after each answer (/set quiet, /set verbose)
    log: object = None  # chatcli.logs.ChatLog, or None
    reader: LineReader | None = None
    retrying: bool = False  # the next answer replaces the last one (/retry)

    @property
    def saving_history(self) -> bool:
        hist = self.reader.history if self.reader else None
        return hist is not None and not hist.paused

    def set_history(self, on: bool) -> None:
        """/set history, /set nohistory: the history file and the conversation log together."""
        if self.reader is not None and self.reader.history is not None:
            self.reader.history.paused = not on
        if self.log is not None:
            self.log.paused = not on or self.log.store is None


def _history_classes():
    from prompt_toolkit.history import FileHistory, InMemoryHistory

    class _Whole:
        """History that ignores prompt_toolkit's per-line appends; the REPL adds whole messages."""
        paused = False

        def append_string(self, string: str) -> None:
            pass

        def add(self, string: str) -> None:
            super().append_string(string)

        def store_string(self, string: str) -> None:
            if not self.paused:
                super().store_string(string)

    class WholeFileHistory(_Whole, FileHistory):
        pass

    class WholeMemoryHistory(_Whole, InMemoryHistory):
        pass

    return WholeFileHistory, WholeMemoryHistory


class LineReader:
    """Reads one user message (possibly multi-line). read() -> text, "" (cancelled) or None (quit)."""

    def __init__(self, path: Path, ui: UI) -> None:
        self.ps = None
        self.history = None
        try:
            self.ps = self._prompt_session(path)
        except Exception as e:  # not a usable terminal for prompt_toolkit: plain input() still works
            ui.dim(f"line editing unavailable ({e}); using plain input")

    def _prompt_session(self, path: Path):
        from prompt_toolkit import PromptSession
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

        whole_file, whole_memory = _history_classes()
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.touch(exist_ok=True)
            self.history = whole_file(str(path))
        except OSError:
            self.history = whole_memory()
        # answers go to stdout; when it is redirected, draw the prompt on the terminal (stderr)
        output = None if sys.stdout.isatty() else create_output(stdout=sys.stderr)
        return PromptSession(history=self.history, key_bindings=kb, output=output)

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
                text = self._block(line.lstrip()[len(BLOCK):])
            else:
                lines = [line]
                while lines[-1].endswith("\\"):
                    lines[-1] = lines[-1][:-1]
                    try:
                        lines.append(self._line(MORE))
                    except EOFError:
                        break
                text = "\n".join(lines)
        except KeyboardInterrupt:
            return ""  # Ctrl-C at an empty continuation line cancels the whole message
        if self.history is not None and text.strip():
            self.history.add(history_entry(text))
        return text

    def _block(self, first: str) -> str:
        if first.rstrip().endswith(BLOCK):
            return first.rstrip()[:-len(BLOCK)].strip("\n")
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


def _wrap_width() -> int:
    """Columns to wrap answers at: the terminal's width when stdout is one, else 0 (no wrapping)."""
    try:
        if not sys.stdout.isatty():
            return 0
    except (AttributeError, ValueError):
        return 0
    return shutil.get_terminal_size((80, 24)).columns


def answer(session, text: str, ui: UI, repl: ReplState | None = None) -> None:
    """Stream one answer to stdout; Ctrl-C stops it (kept, marked); a status line follows."""
    repl = repl or ReplState()
    out = sys.stdout
    wrap = WordWrap(_wrap_width())
    replaces, repl.retrying = repl.retrying, False
    tail = "\n"

    def end_line() -> None:
        out.write(wrap.end_line() if wrap.width > 0 else "" if tail.endswith("\n") else "\n")
        out.flush()

    try:
        try:
            with closing(session.respond(text)) as chunks:
                for chunk in chunks:
                    out.write(wrap.feed(printable(chunk)))
                    out.flush()
                    tail = chunk
        except KeyboardInterrupt:
            end_line()
            ui.dim("[interrupted: the partial answer is kept in the conversation; /retry regenerates it]")
        except ChatcliError as e:
            ui.error(str(e))
            return
        else:
            end_line()
        if session.last is not None and repl.show_stats:
            ui.dim(session.last.line())
    finally:
        if repl.log is not None:
            repl.log.record(session, replaces_last=replaces)


MODEL_NOTES = {  # what the bundled model can and cannot do, when its config.json has no "chat" section
    "can": "add and subtract numbers up to 999 with the working; say who it is; recite some famous Tang "
           "poems; count, spell and reverse common English words, give their meaning or Chinese (often wrong)",
    "cannot": "know anything outside that scope, hold long conversations, or be relied on",
    "examples": ["What is 17 + 25?", "Who are you?", "How many letters are in 'house'?"],
}


def expectations(bundle) -> dict | None:
    """{"can", "cannot", "examples"} for the banner: config.json's "chat" section, else the bundled
    model's notes (for the bundled model only), else None."""
    given = bundle.meta.get("chat") if isinstance(bundle.meta, dict) else None
    if isinstance(given, dict) and given:
        return {"can": str(given.get("can", "")), "cannot": str(given.get("cannot", "")),
                "examples": [str(x) for x in given.get("examples", [])][:3]}
    from chatcli.bundle import BUNDLED
    try:
        bundled = Path(bundle.path).resolve() == BUNDLED.resolve()
    except OSError:
        bundled = False
    return MODEL_NOTES if bundled else None


def banner(session, ui: UI, path: Path | None = None) -> None:
    b = session.bundle
    cfg = b.model.config
    ui.dim(f"chatcli chat · {b.path.name} ({cfg.num_params() / 1e6:.1f}M params, context {cfg.max_seq_len} tokens, "
           f"{b.device.type} {str(b.dtype).replace('torch.', '')}) · seed {session.seed}")
    notes = expectations(b)
    small = cfg.num_params() < 100e6
    if notes:
        if notes["can"]:
            ui.dim(f"it can: {notes['can']}")
        if notes["cannot"]:
            ui.dim(f"it cannot: {notes['cannot']}; it remembers only the last {cfg.max_seq_len} tokens")
        if notes["examples"]:
            ui.dim("try: " + " · ".join(notes["examples"]))
    elif small:
        ui.dim(f"a small model: expect fluent-sounding text that is often wrong; it remembers only the last "
               f"{cfg.max_seq_len} tokens")
    ui.dim("/help for commands · end a line with \\ for more lines · Ctrl-C stops an answer · Ctrl-D quits")


def reprint(session, ui: UI) -> None:
    """Show the turns of a loaded or continued conversation, as they were typed and answered."""
    if session.system:
        ui.dim(f"system: {session.system}")
    for m in session.history:
        if m["role"] == "user":
            ui.info(PROMPT + m["content"].replace("\n", "\n" + MORE))
        else:
            ui.info(m["content"] + (" [interrupted]" if m.get("interrupted") else ""))


def run_repl(session, *, path: Path | None = None, ui: UI | None = None, log=None,
             restored: str | None = None) -> int:
    ui = ui or UI()
    path = path or history_path()
    banner(session, ui, path)
    if restored is not None:
        ui.dim(f"continuing {restored}: {len(session.history)} messages")
        reprint(session, ui)
    repl = ReplState(log=log)
    repl.reader = reader = LineReader(path, ui)
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
            result = handle(session, stripped, ui, repl)
            if result.exit:
                return 0
            if result.regenerate is None:
                continue
            text = result.regenerate
            repl.retrying = True
        answer(session, text, ui, repl)
