"""`chatcli logs`: list and show the logged conversations. Thin: options -> chatcli.logs + logs_view."""
from __future__ import annotations

from typing import Annotated

import typer

from chatcli.errors import ChatcliError, cli_errors

HELP = """List and show logged conversations (every chat exchange is logged to SQLite unless
--no-log, CHATCLI_NO_LOG=1 or /set nohistory).

Examples:

  chatcli logs                         # the 20 most recent conversations

  chatcli logs -q "poem" -n 5          # conversations where a prompt or answer contains "poem"

  chatcli logs show                    # the most recent conversation, every turn

  chatcli logs show 3f2a --json        # one conversation by id (any unique prefix) as JSON

  chatcli chat --cid 3f2a              # continue it
"""

logs_app = typer.Typer(help=HELP, invoke_without_command=True, no_args_is_help=False)


@logs_app.callback()
@cli_errors
def logs(ctx: typer.Context,
         count: Annotated[int, typer.Option("--count", "-n", help="How many conversations to list (0 = all).")] = 20,
         query: Annotated[str | None, typer.Option("--query", "-q", help="Only conversations whose prompts or "
                                                      "answers contain this text.", show_default=False)] = None,
         json_out: Annotated[bool, typer.Option("--json", help="Print a JSON array.")] = False) -> None:
    """List conversations, newest first: id, last update, turns, where from, first prompt."""
    if ctx.invoked_subcommand is not None:
        return
    from chatcli.logs import log_path, open_store
    from chatcli.logs_view import print_list
    if count < 0:
        raise ChatcliError("--count must be >= 0")
    if not log_path().exists():
        print_list([], as_json=json_out, where=f"{log_path()} does not exist")
        return
    store = open_store()
    print_list(store.conversations(limit=count or None, query=query), as_json=json_out, where=str(store.path))


@logs_app.command("show")
@cli_errors
def show(cid: Annotated[str | None, typer.Argument(help="Conversation id or a unique prefix (default: the "
                                                      "most recent).", show_default=False)] = None,
         json_out: Annotated[bool, typer.Option("--json", help="Print one JSON object with every turn.")] = False,
         all_turns: Annotated[bool, typer.Option("--all", help="Include answers replaced by /retry.")] = False) -> None:
    """Show one conversation: every prompt and answer, with token counts and speed."""
    from chatcli.logs import log_path, open_store
    from chatcli.logs_view import print_conversation
    if not log_path().exists():
        raise ChatcliError(f"no conversations logged yet ({log_path()} does not exist)")
    store = open_store()
    ref = store.resolve(cid) if cid else store.last_id(("chat", "oneshot", "serve"))
    if ref is None:
        raise ChatcliError("no conversations logged yet")
    print_conversation(store.conversation(ref), store.turns(ref, include_replaced=all_turns), as_json=json_out)


@logs_app.command("path")
def path() -> None:
    """Print where the log database is (CHATCLI_HOME, XDG_DATA_HOME or ~/.local/share/chatcli)."""
    from chatcli.logs import log_path
    typer.echo(str(log_path()))


def register(app: typer.Typer) -> None:
    app.add_typer(logs_app, name="logs")
