"""`chatcli eval`: bits per byte and loss per token on a text file, or exact-match accuracy on the
task families' held-out slices (`--tasks`)."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from chatcli.errors import ChatcliError, cli_errors


@cli_errors
def eval_cmd(model: Annotated[Path | None, typer.Option("--model", "-m", help="model directory")] = None,
             data: Annotated[Path | None, typer.Option("--data", help="text file (or JSONL) to score")] = None,
             tasks: Annotated[bool, typer.Option("--tasks", help="exact-match accuracy per task family")] = False,
             tasks_dir: Annotated[Path | None, typer.Option(
                 "--tasks-dir", help="test slices to use (dir of <family>.jsonl or one JSONL; default: built in)")] = None,
             max_per_family: Annotated[int | None, typer.Option("--max-per-family", min=1)] = None,
             raw: Annotated[bool, typer.Option("--raw", help="score tasks with plain Q:/A: prompts (base models)")] = False,
             context: Annotated[int, typer.Option("--context", help="window length (default: the model's)")] = 0,
             stride: Annotated[int, typer.Option("--stride", help="window step (default: half the window)")] = 0,
             max_tokens: Annotated[int, typer.Option("--max-tokens", help="score at most N tokens (0: all)")] = 0,
             quantize: Annotated[str | None, typer.Option(
                 "--quantize", help="int8: weight-only int8 linear layers, to measure what quantization costs")] = None,
             device: Annotated[str, typer.Option("--device")] = "auto",
             dtype: Annotated[str, typer.Option("--dtype")] = "auto",
             as_json: Annotated[bool, typer.Option("--json", help="one JSON document on stdout")] = False) -> None:
    """Bits per byte and loss per token on a text file, or task accuracy with --tasks.

    Examples: chatcli eval --data heldout.txt --json; chatcli eval --tasks --max-per-family 50
    """
    if tasks == (data is not None):
        raise ChatcliError("give either --data FILE (bits per byte) or --tasks (task accuracy)")
    if tasks:
        from chatcli.training.evaluate import evaluate_task_slices
        res = evaluate_task_slices(model, tests=tasks_dir, max_per_family=max_per_family, raw=raw, device=device,
                                   quantize=quantize)
        if as_json:
            typer.echo(json.dumps(res, ensure_ascii=False))
            return
        for fam, r in res["families"].items():
            typer.echo(f"{fam:14s} {r['accuracy'] * 100:6.1f}%  ({r['correct']}/{r['n']})")
        typer.echo(f"{'average':14s} {res['average'] * 100:6.1f}%")
        return
    from chatcli.training.evaluate import evaluate_text
    res = evaluate_text(model, data, context=context, stride=stride, device=device, dtype=dtype,
                        max_tokens=max_tokens, quantize=quantize)
    if as_json:
        typer.echo(json.dumps(res))
    else:
        typer.echo(f"bpb {res['bpb']:.4f}  loss {res['loss']:.4f}  ({res['tokens']:,} tokens, {res['bytes']:,} bytes)")


def register(app: typer.Typer) -> None:
    app.command("eval")(eval_cmd)
