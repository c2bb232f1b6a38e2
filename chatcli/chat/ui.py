"""Terminal side-channel for chat: dim notices, errors and tables on stderr (stdout stays the answer),
and WordWrap, which breaks a streamed answer between words when stdout is a terminal.

Styles (dim, bold, red) only when stderr is a terminal and NO_COLOR is unset (chatcli.render's rule).
Messages are escaped so text like "[x]" is never taken for rich markup.
"""
from __future__ import annotations

import re

from rich.cells import cell_len
from rich.markup import escape

from chatcli.render import err_console

_CONTROL = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f]")


def printable(text: str) -> str:
    """Model text safe to print: control characters (ESC, CR, C1 ...) dropped; newline and tab kept.

    A model can emit any byte through byte fallback; an ESC sequence must never reach the terminal.
    """
    return _CONTROL.sub("", text)


class WordWrap:
    """Streamed text -> text with newlines inserted so no word is split at the terminal's edge.

    A word (a run of non-space characters) is held back until it ends, then written on the current
    line if it fits, else on a new one; the space before a wrapped word is dropped. Wide characters
    (CJK) may break anywhere, as in print. A word longer than the line is cut at the edge.
    `width` <= 0 turns wrapping off (pipes get the answer exactly as generated).
    """

    def __init__(self, width: int) -> None:
        self.width = width
        self.col = 0  # cells already on the current line
        self.word = ""  # the word being held back
        self.space = ""  # whitespace seen after the last written word, not yet written

    def feed(self, text: str) -> str:
        if self.width <= 0:
            return text
        out: list[str] = []
        for ch in text:
            if ch == "\n":
                out.append(self._word() + "\n")
                self.col, self.space = 0, ""
            elif ch in " \t":
                out.append(self._word())
                self.space += ch
            elif cell_len(ch) > 1:  # wide characters break anywhere
                out.append(self._word())
                self.word = ch
                out.append(self._word())
            else:
                self.word += ch
                if cell_len(self.word) >= self.width:  # longer than a line: cut it
                    out.append(self._word())
        return "".join(out)

    def flush(self) -> str:
        return self._word() if self.width > 0 else ""

    def _word(self) -> str:
        if not self.word:
            return ""
        w, pad = cell_len(self.word), cell_len(self.space.expandtabs(4))
        if self.col and self.col + pad + w > self.width:
            text, self.col = "\n" + self.word, w
        else:
            text, self.col = self.space + self.word, self.col + pad + w
        self.word, self.space = "", ""
        return text

    def end_line(self) -> str:
        """Flush, and a newline unless the cursor is already at the start of a line."""
        text = self.flush()
        need = self.col > 0
        self.col, self.space = 0, ""
        return text + ("\n" if need else "")


class UI:
    def __init__(self) -> None:
        self.err = err_console()  # NO_COLOR or not a terminal: no escape codes at all

    def dim(self, msg: str) -> None:
        self.err.print(f"[dim]{escape(msg)}[/dim]")

    def info(self, msg: str) -> None:
        self.err.print(escape(msg))

    def error(self, msg: str) -> None:
        self.err.print(f"[red]{escape(msg)}[/red]")

    def rows(self, rows: list[tuple[str, str]]) -> None:
        width = max((len(k) for k, _ in rows), default=0)
        for k, v in rows:
            self.err.print(f"  [bold]{escape(k.ljust(width))}[/bold]  {escape(v)}")
