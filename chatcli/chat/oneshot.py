"""One-shot mode: build the prompt from the argument and/or piped stdin, stream the answer to stdout.

Join rule: the argument is the instruction and stdin the material, so
    cat notes.txt | chatcli chat "Summarize:"   ->   "Summarize:\n\n<notes.txt>"
Either part alone is used as is (stdin without its trailing newline). stdout carries only the
answer (flushed per chunk, newline at the end, control characters such as ESC dropped;
--json keeps the exact text, escaped); notices and --stats go to stderr.
"""
from __future__ import annotations

import json
import os
import sys

from chatcli.chat.ui import printable
from chatcli.errors import ChatcliError
from chatcli.render import is_terminal


def read_stdin_bytes(stream=None) -> bytes:
    stream = stream or sys.stdin
    buf = getattr(stream, "buffer", None)
    if buf is not None:
        return buf.read()
    data = stream.read()
    return data.encode("utf-8", "surrogateescape") if isinstance(data, str) else data


def decode_input(data: bytes, warn) -> str:
    """UTF-8 (a leading BOM dropped); invalid bytes become U+FFFD with one warning."""
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        warn(f"chatcli: warning: stdin is not valid UTF-8 (first bad byte at offset {e.start}); "
             "invalid bytes were replaced with U+FFFD")
        return data.decode("utf-8-sig", errors="replace")


def join_prompt(argument: str | None, stdin_text: str | None) -> str:
    """The one-shot prompt: argument, blank line, stdin; raises ChatcliError when both are empty."""
    arg = argument if argument and argument.strip() else ""
    material = stdin_text.rstrip("\r\n") if stdin_text and stdin_text.strip() else ""
    if arg and material:
        return f"{arg.rstrip()}\n\n{material}"
    if arg or material:
        return arg or material
    raise ChatcliError("empty prompt: give a prompt argument or pipe text on stdin "
                       "(e.g. chatcli chat \"Hi\", or cat notes.txt | chatcli chat \"Summarize:\")")


def _quiet_broken_pipe() -> None:
    """stdout's reader went away: point stdout at /dev/null so the final flush stays quiet."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError, AttributeError):
        pass


def run_oneshot(session, prompt: str, *, as_json: bool = False, show_stats: bool = False) -> int:
    """Answer one prompt; returns the exit code (KeyboardInterrupt propagates for exit 130)."""
    out = sys.stdout
    try:
        out.reconfigure(errors="replace")  # never die on a terminal that cannot show a character
    except (AttributeError, ValueError):
        pass
    pieces: list[str] = []
    wrote_any = False
    try:
        try:
            for chunk in session.respond(prompt):
                pieces.append(chunk)
                if not as_json:
                    out.write(printable(chunk))
                    out.flush()
                    wrote_any = True
        except KeyboardInterrupt:
            if wrote_any:
                out.write("\n")
                out.flush()
            raise
        text = "".join(pieces)
        stats = session.last
        if as_json:
            doc = {"text": text, "finish_reason": stats.finish_reason, **stats.to_dict(),
                   "prefilled_tokens": stats.prefilled_tokens, "reused_tokens": stats.reused_tokens,
                   "model": str(session.bundle.path), "seed": session.seed}
            out.write(json.dumps(doc, ensure_ascii=False) + "\n")
        elif not text.endswith("\n"):
            out.write("\n")
        out.flush()
    except BrokenPipeError:
        _quiet_broken_pipe()
        return 0
    if show_stats:
        print(f"{stats.line()} · seed {session.seed}", file=sys.stderr, flush=True)
    return 0


def oneshot_prompt(argument: str | None, warn) -> str:
    """Read stdin when it is not a terminal and join it with the argument."""
    stdin_text = None
    if sys.stdin is not None and not is_terminal(sys.stdin):
        stdin_text = decode_input(read_stdin_bytes(), warn)
    return join_prompt(argument, stdin_text)

