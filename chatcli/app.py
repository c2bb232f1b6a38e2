"""The Typer root: --version, --help, and registration of every subcommand module."""
from __future__ import annotations

from typing import Annotated

import typer

from chatcli import __version__
from chatcli.commands import bench, chat, convert, evaluate, inspect, logs, serve, train

HELP = """A chat assistant over a transformer you train on your own machine.

Examples:

  chatcli chat                                   # interactive chat with the bundled model

  echo "What is 12 + 30?" | chatcli chat          # one-shot, answer on stdout

  chatcli serve                                  # OpenAI-compatible server on http://127.0.0.1:8000/v1

  cat notes.txt | chatcli chat "Summarize:"      # instruction + piped material

  chatcli train tokenizer data/ --vocab-size 4096 --out runs/tok

  chatcli train pretrain data/ --tokenizer runs/tok --preset tiny --max-steps 2000 --out runs/base

  chatcli inspect next "The king said" --temperature 0.2,0.8,1.5

  chatcli bench --shape stories15m --json
"""

app = typer.Typer(name="chatcli", help=HELP, no_args_is_help=True, add_completion=False,
                  pretty_exceptions_enable=False, rich_markup_mode="rich",
                  context_settings={"help_option_names": ["-h", "--help"]})


def _version(value: bool) -> None:
    if value:
        import platform
        typer.echo(f"chatcli {__version__} (python {platform.python_version()})")
        raise typer.Exit()


@app.callback()
def root(version: Annotated[bool | None, typer.Option(
        "--version", "-V", callback=_version, is_eager=True, help="Print the version and exit.")] = None) -> None:
    """chatcli: train, chat with, inspect and benchmark your own small language model."""


for _module in (chat, serve, logs, train, evaluate, bench, inspect, convert):
    _module.register(app)


def main() -> None:
    app()


if __name__ == "__main__":
    main()
