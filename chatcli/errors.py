"""The one user-facing error type, and the decorator that turns errors into exit codes.

Input a user can get wrong raises ChatcliError (or a model/tokenizer error); at the command
boundary `cli_errors` prints one line on stderr and exits 1, with no traceback. Ctrl-C exits 130.
"""
from __future__ import annotations

import functools
import sys
from collections.abc import Callable
from typing import TypeVar

import typer

F = TypeVar("F", bound=Callable)


class ChatcliError(Exception):
    """An error caused by the user's input or environment, shown as one line."""


def _user_error_types() -> tuple[type[BaseException], ...]:
    from model.checkpoint import CheckpointError
    from model.config import ConfigError
    from model.sampling import SamplingError
    from tokenizer.sp import TokenizerError
    return (ChatcliError, CheckpointError, ConfigError, SamplingError, TokenizerError)


def fail(message: str) -> typer.Exit:
    """Print `chatcli: error: message` on stderr and return the Exit(1) to raise."""
    typer.echo(f"chatcli: error: {message}", err=True)
    return typer.Exit(1)


def cli_errors(fn: F) -> F:
    """Decorate a Typer command: user errors -> one line + exit 1; Ctrl-C -> exit 130."""
    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except KeyboardInterrupt:
            typer.echo("", err=True)
            typer.echo("chatcli: interrupted", err=True)
            raise typer.Exit(130) from None
        except BrokenPipeError:
            # the reader of our stdout went away (e.g. `| head`): stop quietly
            try:
                sys.stdout = open("/dev/null", "w")  # noqa: SIM115 - silence the flush at exit
            except OSError:
                pass
            raise typer.Exit(0) from None
        except typer.Exit:
            raise
        except Exception as e:
            if isinstance(e, _user_error_types()):
                raise fail(str(e)) from None
            raise
    return wrapper  # type: ignore[return-value]
