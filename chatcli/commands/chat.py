"""`chatcli chat`: interactive chat or one-shot answers. Thin: parses options, calls chatcli.chat.main.run."""
from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from chatcli.chat.main import CHAT_DEFAULTS
from chatcli.errors import cli_errors

HELP = """Chat with a model: interactively, or one-shot with a prompt argument and/or piped stdin.

With no prompt and stdin a terminal, starts an interactive chat (/help inside for commands).
Otherwise answers once: stdout carries only the answer. Piped stdin is joined after the
argument with a blank line between (argument = instruction, stdin = material).

Examples:

  chatcli chat                                     # interactive

  chatcli chat "Hi" > out.txt                      # one-shot

  cat notes.txt | chatcli chat "Summarize:"        # instruction + piped material

  chatcli chat "Tell a story" --temperature 0 --max-tokens 100 --stats

  chatcli chat "Once upon a time" --raw --stop "\\n\\n" --json

  chatcli chat -c                                  # continue the last conversation

  chatcli chat --cid 3f2a "and then?"              # continue a logged one (chatcli logs lists them)

Every exchange is logged to SQLite (chatcli logs) unless --no-log or CHATCLI_NO_LOG=1.
"""

_S = "Sampling"
_C = "Conversation"
_T = CHAT_DEFAULTS["temperature"]


def chat(
    prompt: Annotated[str | None, typer.Argument(help="The prompt; piped stdin is appended after a blank line.",
                                                    show_default=False)] = None,
    model: Annotated[Path | None, typer.Option("--model", "-m", help="Model directory (default: the bundled "
                                                  "weights/default, or $CHATCLI_MODEL).", show_default=False)] = None,
    system: Annotated[str | None, typer.Option("--system", "-s", help="System prompt.")] = None,
    temperature: Annotated[float | None, typer.Option("--temperature", "-t", rich_help_panel=_S,
                                                         help=f"0 = greedy (default {_T}).")] = None,
    top_k: Annotated[int | None, typer.Option("--top-k", rich_help_panel=_S, help="0 = off (default).")] = None,
    top_p: Annotated[float | None, typer.Option("--top-p", rich_help_panel=_S, help="1 = off (default 0.95).")] = None,
    min_p: Annotated[float | None, typer.Option("--min-p", rich_help_panel=_S, help="0 = off (default).")] = None,
    repeat_penalty: Annotated[float | None, typer.Option("--repeat-penalty", rich_help_panel=_S,
                                                            help="1 = off (default 1.1).")] = None,
    seed: Annotated[int | None, typer.Option("--seed", rich_help_panel=_S,
                                                help="Random seed (default: drawn, shown by --json/--stats).")] = None,
    max_tokens: Annotated[int | None, typer.Option("--max-tokens", "-n", rich_help_panel=_S,
                                                      help="Most tokens to generate (default: until the answer "
                                                           "ends or the context is full).")] = None,
    stop: Annotated[list[str] | None, typer.Option("--stop", rich_help_panel=_S,
                                                      help="Stop string (repeatable; \\n and \\t understood); "
                                                           "not included in the output.")] = None,
    raw: Annotated[bool, typer.Option("--raw", help="Plain completion without the chat template (base models).")] = False,
    json_out: Annotated[bool, typer.Option("--json", help="Print one JSON object: text, finish_reason, token "
                                                           "counts, timings, model, seed.")] = False,
    stats: Annotated[bool, typer.Option("--stats", help="Print token counts and speed on stderr.")] = False,
    no_truncate: Annotated[bool, typer.Option("--no-truncate", help="Refuse (exit 1) a prompt too long for the "
                                                                     "context instead of cutting it from the left.")] = False,
    continue_last: Annotated[bool, typer.Option("--continue", "-c", rich_help_panel=_C,
                                                help="Continue the last logged conversation.")] = False,
    cid: Annotated[str | None, typer.Option("--cid", rich_help_panel=_C, show_default=False,
                                               help="Continue the logged conversation with this id (or a unique "
                                                    "prefix of it; chatcli logs lists them).")] = None,
    load: Annotated[Path | None, typer.Option("--load", rich_help_panel=_C, show_default=False,
                                                 help="Start from a conversation saved with /save.")] = None,
    no_log: Annotated[bool, typer.Option("--no-log", rich_help_panel=_C,
                                         help="Do not log this chat (also CHATCLI_NO_LOG=1).")] = False,
    device: Annotated[str | None, typer.Option("--device", help="auto, cpu, cuda, cuda:N or mps.")] = None,
    dtype: Annotated[str | None, typer.Option("--dtype", help="auto, fp32, bf16 or fp16.")] = None,
) -> None:
    from chatcli.chat.main import ChatOptions, run
    code = run(ChatOptions(prompt=prompt, model=model, system=system, temperature=temperature, top_k=top_k,
                           top_p=top_p, min_p=min_p, repeat_penalty=repeat_penalty, seed=seed,
                           max_tokens=max_tokens, stop=list(stop or []), raw=raw, json=json_out, stats=stats,
                           no_truncate=no_truncate, device=device, dtype=dtype, continue_last=continue_last,
                           cid=cid, load=load, no_log=no_log))
    raise typer.Exit(code)


def register(app: typer.Typer) -> None:
    app.command("chat", help=HELP)(cli_errors(chat))
