"""`chatcli eval`: bits per byte and loss per token of a model on a text file."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Optional

import typer

from chatcli.errors import cli_errors


@cli_errors
def eval_cmd(model: Annotated[Optional[Path], typer.Option("--model", "-m", help="model directory")] = None,
             data: Annotated[Path, typer.Option("--data", help="text file (or JSONL) to score")] = ...,
             context: Annotated[int, typer.Option("--context", help="window length (default: the model's)")] = 0,
             stride: Annotated[int, typer.Option("--stride", help="window step (default: half the window)")] = 0,
             max_tokens: Annotated[int, typer.Option("--max-tokens", help="score at most N tokens (0: all)")] = 0,
             device: Annotated[str, typer.Option("--device")] = "auto",
             dtype: Annotated[str, typer.Option("--dtype")] = "auto",
             as_json: Annotated[bool, typer.Option("--json", help="one JSON document on stdout")] = False) -> None:
    """Bits per byte and loss per token on a text file (strided windows over the context)."""
    from chatcli.training.evaluate import evaluate_text
    res = evaluate_text(model, data, context=context, stride=stride, device=device, dtype=dtype, max_tokens=max_tokens)
    if as_json:
        typer.echo(json.dumps(res))
    else:
        typer.echo(f"bpb {res['bpb']:.4f}  loss {res['loss']:.4f}  ({res['tokens']:,} tokens, {res['bytes']:,} bytes)")


def register(app: typer.Typer) -> None:
    app.command("eval")(eval_cmd)
