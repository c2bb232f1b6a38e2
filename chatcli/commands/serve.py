"""`chatcli serve`: an OpenAI-compatible HTTP server. Thin: parses options, calls chatcli.serve.run.serve."""
from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from chatcli.errors import cli_errors

HELP = """Serve the model over HTTP with OpenAI's API: /v1/chat/completions (streaming as
server-sent events), /v1/completions and /v1/models. The model is loaded once and kept warm;
requests are queued and the active ones advance together, token by token.

Examples:

  chatcli serve                                    # http://127.0.0.1:8000/v1

  chatcli serve --port 8080 --api-key secret --log

  curl http://127.0.0.1:8000/v1/chat/completions -H 'Content-Type: application/json' -d '{"messages": [{"role": "user", "content": "Hi"}]}'

Python: OpenAI(base_url="http://127.0.0.1:8000/v1", api_key="none")
"""


def serve(
    model: Annotated[Path | None, typer.Option("--model", "-m", help="Model directory (default: the bundled "
                                                  "weights/default, or $CHATCLI_MODEL).", show_default=False)] = None,
    host: Annotated[str, typer.Option("--host", help="Address to listen on (0.0.0.0 for every interface).")]
        = "127.0.0.1",
    port: Annotated[int, typer.Option("--port", "-p", envvar="CHATCLI_PORT",
                                      help="Port (0 picks a free one; or set CHATCLI_PORT).")] = 8000,
    parallel: Annotated[int, typer.Option("--parallel", help="Requests generated at once (the rest wait).")] = 4,
    max_queue: Annotated[int, typer.Option("--max-queue", help="Requests that may wait; more get HTTP 503.")] = 256,
    api_key: Annotated[str | None, typer.Option("--api-key", envvar="CHATCLI_API_KEY",
                                                   help="Require 'Authorization: Bearer KEY' (or set CHATCLI_API_KEY).",
                                                   show_default=False)] = None,
    name: Annotated[str | None, typer.Option("--name", help="Model id clients must use (default: the model "
                                                "directory's name).", show_default=False)] = None,
    log: Annotated[bool, typer.Option("--log", help="Log every exchange to the SQLite log (see chatcli logs).")]
        = False,
    access_log: Annotated[bool, typer.Option("--access-log", help="Print one line per HTTP request on stderr.")]
        = False,
    device: Annotated[str | None, typer.Option("--device", help="auto, cpu, cuda, cuda:N or mps.")] = None,
    dtype: Annotated[str | None, typer.Option("--dtype", help="auto, fp32, bf16 or fp16.")] = None,
) -> None:
    from chatcli.serve.run import ServeOptions
    from chatcli.serve.run import serve as run
    raise typer.Exit(run(ServeOptions(model=model, host=host, port=port, parallel=parallel, max_queue=max_queue,
                                      api_key=api_key, name=name, log=log, access_log=access_log, device=device,
                                      dtype=dtype)))


def register(app: typer.Typer) -> None:
    app.command("serve", help=HELP)(cli_errors(serve))
