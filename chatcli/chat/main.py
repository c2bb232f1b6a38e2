"""`chatcli chat` as a plain function: options -> validated settings -> model -> REPL or one-shot.

Mode: interactive when there is no prompt argument and stdin is a terminal; one-shot otherwise
(argument, piped stdin, or both). Settings, the conversation to continue (-c, --cid, --load) and
the log are all checked before the model loads. Every exchange is logged (chatcli.logs) unless
--no-log or CHATCLI_NO_LOG; a continued conversation (-c, --cid) keeps its id in the log.
"""
from __future__ import annotations

import sys
from dataclasses import dataclass, field
from pathlib import Path

from chatcli.errors import ChatcliError
from chatcli.render import is_terminal


@dataclass
class ChatOptions:
    prompt: str | None = None
    model: Path | None = None
    system: str | None = None
    temperature: float | None = None
    top_k: int | None = None
    top_p: float | None = None
    min_p: float | None = None
    repeat_penalty: float | None = None
    seed: int | None = None
    max_tokens: int | None = None
    stop: list[str] = field(default_factory=list)
    raw: bool = False
    json: bool = False
    stats: bool = False
    no_truncate: bool = False
    device: str | None = None
    dtype: str | None = None
    continue_last: bool = False
    cid: str | None = None
    load: Path | None = None
    no_log: bool = False


# Defaults for chatting with a small model (chat, the REPL and serve): a lower temperature than
# SamplingConfig's general-purpose 0.8 keeps a few-million-parameter model on topic.
CHAT_DEFAULTS = {"temperature": 0.2, "repeat_penalty": 1.0}


def chat_defaults(**given):
    """SamplingConfig with the chat defaults, overridden by `given` (raises SamplingError)."""
    from model.sampling import SamplingConfig
    return SamplingConfig(**{**CHAT_DEFAULTS, **given})


def sampling_from(o: ChatOptions):
    from chatcli.chat.stops import unescape
    given = {k: getattr(o, k) for k in ("temperature", "top_k", "top_p", "min_p", "repeat_penalty", "seed",
                                        "max_tokens") if getattr(o, k) is not None}
    return chat_defaults(**given, stop=[unescape(s) for s in o.stop])  # raises SamplingError (exit 1)


@dataclass
class Restored:
    system: str | None
    history: list[dict]
    cid: str | None  # the logged conversation to keep appending to (-c, --cid)
    what: str  # for the notice


def restored_conversation(o: ChatOptions, store) -> Restored | None:
    """The conversation asked for by -c, --cid or --load (ChatcliError when it cannot be had)."""
    chosen = [name for name, on in (("-c", o.continue_last), ("--cid", o.cid), ("--load", o.load)) if on]
    if not chosen:
        return None
    if len(chosen) > 1:
        raise ChatcliError(f"{' and '.join(chosen)} cannot be combined: continue one conversation")
    if o.raw:
        raise ChatcliError(f"{chosen[0]} needs the chat template; it cannot be used with --raw")
    if o.load:
        from chatcli.chat.slash import read_conversation
        system, history = read_conversation(Path(o.load).expanduser())
        return Restored(system, history, None, str(o.load))
    if store is None:
        from chatcli.logs import open_store
        store = open_store()
    cid = store.resolve(o.cid) if o.cid else store.last_id()
    if cid is None:
        raise ChatcliError(f"no conversation to continue yet ({store.path} has none); start one with chatcli chat")
    system, history = store.messages(cid)
    return Restored(system, history, cid, f"conversation {cid}")


def _open_log(o: ChatOptions, warn):
    from chatcli.logs import logging_disabled_by_env, open_store
    if o.no_log or logging_disabled_by_env():
        return None
    try:
        return open_store()
    except ChatcliError as e:
        warn(f"chatcli: warning: {e}; this chat is not logged")
        return None


def run(o: ChatOptions) -> int:
    from chatcli.chat.ui import UI
    settings = sampling_from(o)
    ui = UI()
    interactive = o.prompt is None and is_terminal(sys.stdin)
    if interactive and o.json:
        raise ChatcliError("--json needs a prompt: give it as an argument or on stdin")
    store = _open_log(o, lambda m: print(m, file=sys.stderr, flush=True))
    restored = restored_conversation(o, store)
    prompt = None
    if not interactive:
        from chatcli.chat.oneshot import oneshot_prompt
        prompt = oneshot_prompt(o.prompt, lambda m: print(m, file=sys.stderr, flush=True))

    from chatcli.bundle import load_bundle
    from chatcli.chat.session import ChatSession
    from chatcli.device import resolve_device, resolve_dtype
    from chatcli.logs import ChatLog
    device = resolve_device(o.device)
    bundle = load_bundle(o.model, device=device, dtype=resolve_dtype(o.dtype, device))
    bundle.model.eval()
    if bundle.template is None and not o.raw:
        ui.dim("this model's tokenizer has no chat markers (a base model): using plain completion")
        if restored is not None:
            raise ChatcliError("this model has no chat template, so a conversation cannot be continued with it")
    if o.system and (o.raw or bundle.template is None):
        raise ChatcliError("--system needs the chat template; it cannot be used with plain completion (--raw)")
    session = ChatSession(bundle, settings, system=o.system, raw=o.raw, max_tokens_auto=o.max_tokens is None,
                          no_truncate=o.no_truncate, notify=ui.dim)
    log = ChatLog(store, model=str(bundle.path), source="chat" if interactive else "oneshot",
                  cid=restored.cid if restored else None, warn=ui.error)
    if restored is not None:
        session.set_history(o.system or restored.system, restored.history)
        log.sync(session)
        if restored.cid is None:
            log.copy_history(session)  # --load: a new logged conversation that starts with the file's turns
    if interactive:
        from chatcli.chat import prebuild
        from chatcli.chat.repl import run_repl
        prebuild.start(session.engine, ui.dim)
        return run_repl(session, ui=ui, log=log, restored=restored.what if restored else None)
    from chatcli.chat.oneshot import run_oneshot
    try:
        return run_oneshot(session, prompt, as_json=o.json, show_stats=o.stats)
    finally:
        log.record(session)  # also the partial answer of an interrupted one-shot

