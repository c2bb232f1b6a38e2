"""`chatcli chat` as a plain function: options -> validated settings -> model -> REPL or one-shot.

Mode: interactive when there is no prompt argument and stdin is a terminal; one-shot otherwise
(argument, piped stdin, or both). Settings are validated before the model loads.
"""
from __future__ import annotations

import sys
from dataclasses import dataclass, field
from pathlib import Path

from chatcli.errors import ChatcliError


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


# Defaults for chatting with a small model (chat, the REPL and serve): a lower temperature than
# SamplingConfig's general-purpose 0.8 keeps a few-million-parameter model on topic.
CHAT_DEFAULTS = {"temperature": 0.5}


def chat_defaults(**given):
    """SamplingConfig with the chat defaults, overridden by `given` (raises SamplingError)."""
    from model.sampling import SamplingConfig
    return SamplingConfig(**{**CHAT_DEFAULTS, **given})


def sampling_from(o: ChatOptions):
    from chatcli.chat.stops import unescape
    given = {k: getattr(o, k) for k in ("temperature", "top_k", "top_p", "min_p", "repeat_penalty", "seed",
                                        "max_tokens") if getattr(o, k) is not None}
    return chat_defaults(**given, stop=[unescape(s) for s in o.stop])  # raises SamplingError (exit 1)


def run(o: ChatOptions) -> int:
    from chatcli.chat.ui import UI
    settings = sampling_from(o)
    ui = UI()
    interactive = o.prompt is None and _isatty(sys.stdin)
    if interactive and o.json:
        raise ChatcliError("--json needs a prompt: give it as an argument or on stdin")
    prompt = None
    if not interactive:
        from chatcli.chat.oneshot import oneshot_prompt
        prompt = oneshot_prompt(o.prompt, lambda m: print(m, file=sys.stderr, flush=True))

    from chatcli.bundle import load_bundle
    from chatcli.chat.session import ChatSession
    from chatcli.device import resolve_device, resolve_dtype
    device = resolve_device(o.device)
    bundle = load_bundle(o.model, device=device, dtype=resolve_dtype(o.dtype, device))
    bundle.model.eval()
    if bundle.template is None and not o.raw:
        ui.dim("this model's tokenizer has no chat markers (a base model): using plain completion")
    if o.system and (o.raw or bundle.template is None):
        raise ChatcliError("--system needs the chat template; it cannot be used with plain completion (--raw)")
    session = ChatSession(bundle, settings, system=o.system, raw=o.raw, max_tokens_auto=o.max_tokens is None,
                          no_truncate=o.no_truncate, notify=ui.dim)
    if interactive:
        from chatcli.chat.repl import run_repl
        return run_repl(session, ui=ui)
    from chatcli.chat.oneshot import run_oneshot
    return run_oneshot(session, prompt, as_json=o.json, show_stats=o.stats)


def _isatty(stream) -> bool:
    try:
        return stream is not None and stream.isatty()
    except (AttributeError, ValueError):
        return False
