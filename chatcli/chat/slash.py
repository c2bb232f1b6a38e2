"""Slash commands of the chat REPL: /help /clear /system /set /show /retry /save /load /stats /exit.

`handle(session, line, ui)` never raises for user mistakes: it prints a one-line message and
returns a SlashResult telling the REPL whether to exit or to generate (for /retry).
"""
from __future__ import annotations

import difflib
import json
from dataclasses import dataclass
from pathlib import Path

from chatcli.chat.settings import apply_setting, describe
from chatcli.errors import ChatcliError

HELP = [
    ("/help", "this help"),
    ("/clear", "start a new conversation (the system prompt is kept)"),
    ("/system [TEXT]", "show, set (TEXT) or remove (/system none) the system prompt"),
    ("/set KEY VALUE", "temperature, top_k, top_p, min_p, repeat_penalty, seed (or random), "
                       "max_tokens (or auto), stop (TEXT, or none)"),
    ("/show", "model, settings and conversation size"),
    ("/retry", "regenerate the last answer"),
    ("/save FILE", "write the conversation as JSON"),
    ("/load FILE", "read a conversation written by /save"),
    ("/stats", "timings of the last answer and totals"),
    ("/exit", "quit (also /quit, Ctrl-D, or Ctrl-C at an empty prompt)"),
    ("input", "end a line with \\ to continue it; or open and close a block with \"\"\"; "
              "start with // to send a line that begins with /"),
    ("Ctrl-C", "while answering: stop the answer (the partial answer is kept)"),
]
NAMES = ["/help", "/clear", "/system", "/set", "/show", "/retry", "/save", "/load", "/stats", "/exit", "/quit"]
FORMAT = "chatcli-conversation"


@dataclass
class SlashResult:
    exit: bool = False
    regenerate: str | None = None  # user text to answer again (/retry)


def handle(session, line: str, ui) -> SlashResult:
    name, _, arg = line.strip().partition(" ")
    name, arg = name.lower(), arg.strip()
    try:
        if name in ("/exit", "/quit", "/bye"):
            return SlashResult(exit=True)
        if name in ("/help", "/?"):
            ui.rows(HELP)
        elif name == "/clear":
            session.clear()
            ui.dim("new conversation" + (" (system prompt kept)" if session.system else ""))
        elif name == "/system":
            _system(session, arg, ui)
        elif name == "/set":
            key, _, value = arg.partition(" ")
            if not key:
                raise ChatcliError("usage: /set KEY VALUE (e.g. /set temperature 0.2); /show lists the settings")
            ui.dim(apply_setting(session, key, value))
        elif name == "/show":
            show(session, ui)
        elif name == "/retry":
            return SlashResult(regenerate=session.retry_text())
        elif name == "/save":
            ui.dim(f"saved {save(session, _path(arg, name))}")
        elif name == "/load":
            n = load(session, _path(arg, name))
            ui.dim(f"loaded {n} messages" + (" and a system prompt" if session.system else ""))
        elif name == "/stats":
            if session.last is not None:
                ui.info("last answer: " + session.last.line())
            ui.info("session:     " + session.totals.line())
            ui.info(f"context:     {session.context_used()} of {session.max_len} tokens in use")
        else:
            close = difflib.get_close_matches(name, NAMES, n=1, cutoff=0.5)
            hint = f"did you mean {close[0]}? " if close else ""
            ui.error(f"unknown command {name}; {hint}type /help")
    except ChatcliError as e:
        ui.error(str(e))
    except ValueError as e:  # SamplingError and friends: one line, never a traceback
        ui.error(str(e))
    return SlashResult()


def _path(arg: str, name: str) -> Path:
    if not arg:
        raise ChatcliError(f"usage: {name} FILE")
    return Path(arg).expanduser()


def _system(session, arg: str, ui) -> None:
    if not arg:
        ui.info(f"system prompt: {session.system!r}" if session.system else "no system prompt")
        return
    if session.raw:
        raise ChatcliError("a system prompt needs the chat template; this session uses plain completion")
    session.system = None if arg.lower() == "none" else arg
    ui.dim("system prompt removed" if session.system is None else "system prompt set")


def show(session, ui) -> None:
    b = session.bundle
    cfg = b.model.config
    stages = [s.get("stage", "?") for s in (b.meta.get("training") or {}).get("stages", []) if isinstance(s, dict)]
    rows = [("model", str(b.path)),
            ("shape", f"{cfg.num_params() / 1e6:.2f}M params, dim {cfg.dim}, {cfg.n_layers} layers, "
                      f"vocab {cfg.vocab_size}, context {cfg.max_seq_len}"),
            ("training", " -> ".join(stages) if stages else "unknown"),
            ("device", f"{b.device} {str(b.dtype).replace('torch.', '')}"),
            ("mode", "plain completion (raw)" if session.raw else "chat template"),
            ("system", repr(session.system) if session.system else "-"),
            *describe(session.settings, max_tokens_auto=session.max_tokens_auto, seed=session.seed),
            ("conversation", f"{len(session.history)} messages, {session.context_used()} of "
                             f"{session.max_len} context tokens in use")]
    ui.rows(rows)


def save(session, path: Path) -> Path:
    doc = {"format": FORMAT, "version": 1, "model": str(session.bundle.path), "system": session.system,
           "settings": session.settings.to_dict(), "seed": session.seed, "messages": session.history}
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(doc, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    except OSError as e:
        raise ChatcliError(f"{path}: cannot write ({e.strerror})") from None
    return path


def load(session, path: Path) -> int:
    """Replace the conversation with the one in path (a /save file or a plain list of messages)."""
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except OSError as e:
        raise ChatcliError(f"{path}: cannot read ({e.strerror})") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise ChatcliError(f"{path}: not a JSON conversation ({e})") from None
    system = doc.get("system") if isinstance(doc, dict) else None
    messages = doc.get("messages") if isinstance(doc, dict) else doc
    if not isinstance(messages, list):
        raise ChatcliError(f"{path}: expected a list of messages or a /save file")
    history = []
    for i, m in enumerate(messages):
        if not (isinstance(m, dict) and isinstance(m.get("content"), str)
                and m.get("role") in ("system", "user", "assistant")):
            raise ChatcliError(f"{path}: message {i} needs a role (system, user or assistant) and text content")
        if m["role"] == "system":
            if i != 0:
                raise ChatcliError(f"{path}: message {i}: a system message may only come first")
            system = m["content"]
            continue
        history.append({k: v for k, v in m.items() if k in ("role", "content", "interrupted")})
    if system is not None and not isinstance(system, str):
        raise ChatcliError(f"{path}: \"system\" must be a string")
    session.set_history(system, history)
    return len(history)
