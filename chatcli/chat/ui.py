"""Terminal side-channel for chat: dim notices, errors and tables on stderr (stdout stays the answer).

Styles (dim, bold, red) only when stderr is a terminal and NO_COLOR is unset.
Messages are escaped so text like "[x]" is never taken for rich markup.
"""
from __future__ import annotations

import re
import sys

from rich.markup import escape

from rich.console import Console

from chatcli.render import color_allowed


_CONTROL = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f]")


def printable(text: str) -> str:
    """Model text safe to print: control characters (ESC, CR, C1 ...) dropped; newline and tab kept.

    A model can emit any byte through byte fallback; an ESC sequence must never reach the terminal.
    """
    return _CONTROL.sub("", text)


class UI:
    def __init__(self) -> None:
        # NO_COLOR or not a terminal: no escape codes at all (rich's no_color alone keeps dim/bold)
        plain = not color_allowed(sys.stderr)
        self.err = Console(file=sys.stderr, highlight=False, soft_wrap=True, stderr=True,
                           color_system=None if plain else "auto")

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
