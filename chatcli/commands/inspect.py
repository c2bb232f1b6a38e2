"""`chatcli inspect`: look inside a model: card, tokens, next-token odds, attention, embeddings, curves.

Thin Typer layer: parse options, call chatcli.inspect.<view>.compute_*, then print JSON (--json)
or the rich rendering. Options given before the subcommand (--model, --device) apply to it.
"""
from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from chatcli.errors import cli_errors

ModelOpt = Annotated[Path | None, typer.Option(
    "--model", "-m", help="Model directory (default: $CHATCLI_MODEL or the bundled model).", show_default=False)]
DeviceOpt = Annotated[str | None, typer.Option("--device", help="cpu (default), cuda, mps or auto.")]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print one JSON document on stdout.")]
ChatOpt = Annotated[bool, typer.Option("--chat/--raw", help="Wrap TEXT as a user turn (--chat) or continue it as "
                                       "plain text after <bos> (--raw, default).")]
PngOpt = Annotated[Path | None, typer.Option("--png", help="Also write a PNG image here (needs matplotlib).")]

inspect_app = typer.Typer(
    help="Look inside the model: its knobs, tokens, next-token odds, attention, embeddings, training curves.\n\n"
         "With no subcommand, prints the model card.",
    invoke_without_command=True, no_args_is_help=False)


def _settings(ctx: typer.Context, model: Path | None, device: str | None) -> tuple[Path | None, str]:
    parent = (ctx.parent.obj if ctx.parent is not None else None) or {}
    return model or parent.get("model"), device or parent.get("device") or "cpu"


def _card(model: Path | None, device: str, json_out: bool) -> None:
    from chatcli.inspect.card import compute_card, render_card
    from chatcli.inspect.common import emit_json, load
    doc = compute_card(load(model, device))
    emit_json(doc) if json_out else render_card(doc)


@inspect_app.callback()
@cli_errors
def inspect_root(ctx: typer.Context, model: ModelOpt = None, device: DeviceOpt = None,
                 json_out: JsonOpt = False) -> None:
    """Look inside the model. With no subcommand: the model card."""
    ctx.obj = {"model": model, "device": device}
    if ctx.invoked_subcommand is None:
        _card(model, device or "cpu", json_out)


@inspect_app.command("card")
@cli_errors
def card(ctx: typer.Context, model: ModelOpt = None, device: DeviceOpt = None, json_out: JsonOpt = False) -> None:
    """Shape, parameters per component, memory, KV cache, tokenizer and training history."""
    _card(*_settings(ctx, model, device), json_out)


@inspect_app.command("tokens")
@cli_errors
def tokens(ctx: typer.Context, text: Annotated[str, typer.Argument(help="Text to split into tokens.")],
           model: ModelOpt = None, json_out: JsonOpt = False) -> None:
    """How TEXT splits into pieces and ids, with chars / bytes / tokens counts."""
    from chatcli.bundle import default_model_dir
    from chatcli.errors import ChatcliError
    from chatcli.inspect.common import emit_json, require_text
    from chatcli.inspect.tokens import compute_tokens, render_tokens
    from tokenizer.sp import Tokenizer
    require_text(text)
    directory = _settings(ctx, model, None)[0] or default_model_dir()
    if not Path(directory).is_dir():
        raise ChatcliError(f"{directory}: model directory not found")
    doc = compute_tokens(Tokenizer.load(directory), text)
    emit_json(doc) if json_out else render_tokens(doc)


@inspect_app.command("next")
@cli_errors
def next_token(ctx: typer.Context, text: Annotated[str, typer.Argument(help="Prompt whose next token to show.")],
               top: Annotated[int, typer.Option("--top", "-k", help="How many tokens to list.")] = 10,
               temperature: Annotated[str, typer.Option("--temperature", "-t",
                                                        help="Comma-separated temperatures, one column each.")] = "0.2,0.8,1.5",
               steps: Annotated[int, typer.Option("--steps", help="Walk this many greedy steps.")] = 1,
               chat: ChatOpt = False, model: ModelOpt = None, device: DeviceOpt = None,
               json_out: JsonOpt = False) -> None:
    """Top next tokens with probabilities, one column per temperature (softmax(logits / T))."""
    from chatcli.inspect.common import emit_json, load
    from chatcli.inspect.next_token import compute_next, parse_temperatures, render_next
    temps = parse_temperatures(temperature)
    doc = compute_next(load(*_settings(ctx, model, device)), text, top=top, temps=temps, chat=chat, steps=steps)
    emit_json(doc) if json_out else render_next(doc)


@inspect_app.command("attention")
@cli_errors
def attention(ctx: typer.Context, text: Annotated[str, typer.Argument(help="Text whose attention to show.")],
              layer: Annotated[int | None, typer.Option("--layer", "-l", help="Layer (default: the last).")] = None,
              head: Annotated[int | None, typer.Option("--head", help="Head (default: mean of all heads).")] = None,
              png: PngOpt = None, chat: ChatOpt = False, model: ModelOpt = None, device: DeviceOpt = None,
              json_out: JsonOpt = False) -> None:
    """Attention weights over TEXT's tokens as a heatmap; --png draws every head of the layer."""
    from chatcli.inspect.attention import compute_attention, pick_head, render_attention
    from chatcli.inspect.common import emit_json, load
    bundle = load(*_settings(ctx, model, device))
    full = compute_attention(bundle, text, layer=layer, head=head, chat=chat)  # all heads, for the PNG grid
    if png is not None:
        from chatcli.inspect.png import attention_png
        from chatcli.render import notice
        attention_png(full, png)
        notice(f"wrote {png}")
    doc = pick_head(full, head)
    emit_json(doc) if json_out else render_attention(doc)


@inspect_app.command("embeddings")
@cli_errors
def embeddings(ctx: typer.Context,
               word: Annotated[str | None, typer.Argument(help="A word that is one token.")] = None,
               top: Annotated[int, typer.Option("--top", "-k", help="How many neighbours.")] = 10,
               analogy: Annotated[tuple[str, str, str] | None, typer.Option(
                   "--analogy", help="A B C: nearest tokens to A - B + C (king man woman).")] = None,
               model: ModelOpt = None, device: DeviceOpt = None, json_out: JsonOpt = False) -> None:
    """Nearest tokens by cosine similarity of input embeddings, or an analogy A - B + C."""
    from chatcli.inspect.common import emit_json, load
    from chatcli.inspect.embeddings import compute_embeddings, render_embeddings
    if analogy is not None and all(a is None for a in analogy):
        analogy = None
    doc = compute_embeddings(load(*_settings(ctx, model, device)), word, top=top, analogy=analogy)
    emit_json(doc) if json_out else render_embeddings(doc)


@inspect_app.command("curve")
@cli_errors
def curve(run_dir: Annotated[Path, typer.Argument(help="Training --out directory holding metrics.jsonl.")],
          png: PngOpt = None, json_out: JsonOpt = False) -> None:
    """Training and validation loss curves from RUN_DIR/metrics.jsonl."""
    from chatcli.inspect.common import emit_json
    from chatcli.inspect.curve import load_series, render_curve
    doc = load_series(run_dir)
    if png is not None:
        from chatcli.inspect.png import curve_png
        from chatcli.render import notice
        curve_png(doc, png)
        notice(f"wrote {png}")
    emit_json(doc) if json_out else render_curve(doc)


def register(app: typer.Typer) -> None:
    app.add_typer(inspect_app, name="inspect")
