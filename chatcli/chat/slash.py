"""Slash commands of the chat REPL: /help /clear /system /set /show /retry /save /load /stats /exit.

`handle(session, line, ui, repl)` never raises for user mistakes: it prints a one-line message and
returns a SlashResult telling the REPL whether to exit or to generate (for /retry). `repl` is the
REPL's own state (chatcli.chat.repl.ReplState: status line, history and log switches).

ollama's spellings work too: /bye, /?, /set parameter KEY VALUE (num_predict, repeat_last_n ...),
/set verbose and /set quiet (status line on and off), /set nohistory and /set history.
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
    ("/set KEY VALUE", "temperature, top_k, top_p, min_p, repeat_penalty, repeat_window, seed (or random), "
                       "max_tokens (or auto), stop (TEXT, or none); also /set parameter KEY VALUE"),
    ("/set verbose", "show the status line after each answer (/set quiet hides it)"),
    ("/set nohistory", "stop saving input history and logging this chat (/set history resumes)"),
    ("/show", "model, settings and conversation size"),
    ("/retry", "regenerate the last answer"),
    ("/save FILE", "write the conversation as JSON"),
    ("/load FILE", "read a conversation written by /save and show its turns"),
    ("/stats", "timings of the last answer and totals"),
    ("/exit", "quit (also /quit, /bye, Ctrl-D, or Ctrl-C at an empty prompt); /? is /help"),
    ("input", "end a line with \\ to continue it; or open and close a block with \"\"\"; "
              "start with // to send a line that begins with /"),
    ("Ctrl-C", "while answering: stop the answer (the partial answer is kept)"),
]
NAMES = ["/help", "/clear", "/system", "/set", "/show", "/retry", "/save", "/load", "/stats", "/exit", "/quit",
         "/bye"]
FLAGS = {"verbose": "stats on", "quiet": "stats off", "nohistory": "history off", "history": "history on"}
FORMAT = "chatcli-conversation"


@dataclass
class SlashResult:
    exit: bool = False
    regenerate: str | None = None  # user text to answer again (/retry)


def handle(session, line: str, ui, repl=None) -> SlashResult:
    if repl is None:
        from chatcli.chat.repl import ReplState
        repl = ReplState()
    name, _, arg = line.strip().partition(" ")
    name, arg = name.lower(), arg.strip()
    try:
        if name in ("/exit", "/quit", "/bye"):
            return SlashResult(exit=True)
        if name in ("/help", "/?"):
            ui.rows(HELP)
        elif name == "/clear":
            session.clear()
            if repl.log is not None:
                repl.log.restart(session)
            ui.dim("new conversation" + (" (system prompt kept)" if session.system else ""))
        elif name == "/system":
            _system(session, arg, ui)
        elif name == "/set":
            _set(session, arg, ui, repl)
        elif name == "/show":
            show(session, ui, repl)
        elif name == "/retry":
            return SlashResult(regenerate=session.retry_text())
        elif name == "/save":
            ui.dim(f"saved {save(session, _path(arg, name))}")
        elif name == "/load":
            n = load(session, _path(arg, name))
            if repl.log is not None:
                repl.log.copy_history(session)  # logged as a new conversation that starts with these turns
            ui.dim(f"loaded {n} messages" + (" and a system prompt" if session.system else ""))
            from chatcli.chat.repl import reprint
            reprint(session, ui)
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


def _set(session, arg: str, ui, repl) -> None:
    key, _, value = arg.partition(" ")
    if key.lower() == "parameter":  # ollama: /set parameter KEY VALUE
        key, _, value = value.strip().partition(" ")
    elif key.lower() in FLAGS and not value.strip():
        what, _, on = FLAGS[key.lower()].partition(" ")
        if what == "stats":
            repl.show_stats = on == "on"
            ui.dim("status line after each answer: " + on)
        else:
            repl.set_history(on == "on")
            ui.dim("input history and conversation log: " + ("saved" if on == "on" else "not saved from now on"))
        return
    if not key:
        raise ChatcliError("usage: /set KEY VALUE (e.g. /set temperature 0.2); /show lists the settings")
    ui.dim(apply_setting(session, key, value))


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


def show(session, ui, repl=None) -> None:
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
    if repl is not None:
        log = repl.log
        logged = (f"on ({log.store.path}" + (f", conversation {log.cid})" if log.cid else ")")
                  if log is not None and log.active else "off")
        rows += [("status line", "on" if repl.show_stats else "off"), ("logging", logged)]
    ui.rows(rows)


def save(session, path: Path) -> Path:
    settings = session.settings.to_dict()
    if session.max_tokens_auto:
        settings["max_tokens"] = "auto"  # as /show says: the settings' number is not in use
    doc = {"format": FORMAT, "version": 1, "model": str(session.bundle.path), "system": session.system,
           "settings": settings, "seed": session.seed, "messages": session.history}
    from model.checkpoint import atomic_write_json
    try:
        atomic_write_json(path, doc)
    except OSError as e:
        raise ChatcliError(f"{path}: cannot write ({e.strerror})") from None
    return path


def load(session, path: Path) -> int:
    """Replace the conversation with the one in path (a /save file or a plain list of messages)."""
    system, history = read_conversation(path)
    session.set_history(system, history)
    return len(history)


def read_conversation(path: Path) -> tuple[str | None, list[dict]]:
    """(system, history) from a /save file or a plain list of messages; ChatcliError when malformed."""
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
    return system, history
