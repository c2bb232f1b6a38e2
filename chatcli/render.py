"""Terminal output: the one rich Console factory (`make_console`), the one colour rule
(`color_allowed`: a terminal, and NO_COLOR unset) and the one terminal test (`is_terminal`). Every
console of chatcli comes from here: the chat UI, `inspect`, `logs`, `bench`, training progress bars.

stdout carries only answers; progress, stats and notices go to stderr.
"""
from __future__ import annotations

import os
import sys

from rich.console import Console


def is_terminal(stream) -> bool:
    """Whether stream is a terminal (False for None, a closed stream, or one without isatty)."""
    try:
        return stream is not None and stream.isatty()
    except (AttributeError, ValueError):
        return False


def color_allowed(stream=None) -> bool:
    return not os.environ.get("NO_COLOR") and is_terminal(stream or sys.stdout)


def make_console(stream) -> Console:
    """A Console writing to stream. Where colour is not allowed it has no colour system at all, so it
    writes no escape codes (rich's no_color alone still writes bold and dim); no_color is set too,
    for the callers that choose between a coloured and a plain rendering."""
    plain = not color_allowed(stream)
    return Console(file=stream, highlight=False, soft_wrap=True, no_color=plain,
                   color_system=None if plain else "auto")


def out_console() -> Console:
    return make_console(sys.stdout)


def err_console() -> Console:
    return make_console(sys.stderr)


def notice(message: str) -> None:
    """A dim one-line notice on stderr."""
    err_console().print(f"[dim]{message}[/dim]")
