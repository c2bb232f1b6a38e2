"""Terminal output helpers: rich on a TTY, plain text elsewhere, NO_COLOR honoured.

stdout carries only answers; progress, stats and notices go to stderr.
"""
from __future__ import annotations

import os
import sys

from rich.console import Console


def color_allowed(stream=None) -> bool:
    stream = stream or sys.stdout
    if os.environ.get("NO_COLOR"):
        return False
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False


def out_console() -> Console:
    """Console on stdout: colour and markup only on a terminal (rich itself honours NO_COLOR)."""
    return Console(file=sys.stdout, highlight=False, soft_wrap=True,
                   force_terminal=None, no_color=not color_allowed(sys.stdout))


def err_console() -> Console:
    return Console(file=sys.stderr, highlight=False, soft_wrap=True, stderr=True,
                   no_color=not color_allowed(sys.stderr))


def notice(message: str) -> None:
    """A dim one-line notice on stderr."""
    err_console().print(f"[dim]{message}[/dim]")
