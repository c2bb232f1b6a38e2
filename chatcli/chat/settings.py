"""Sampling settings as the user names them: /set KEY VALUE parsing and a readable summary."""
from __future__ import annotations

import difflib
from dataclasses import replace

from chatcli.chat.stops import unescape
from chatcli.errors import ChatcliError
from model.sampling import SamplingConfig

KEYS = {"temperature": float, "top_k": int, "top_p": float, "min_p": float, "repeat_penalty": float,
        "repeat_window": int, "seed": int, "max_tokens": int, "stop": str}
ALIASES = {"temp": "temperature", "t": "temperature", "topk": "top_k", "topp": "top_p", "minp": "min_p",
           "max": "max_tokens", "num_predict": "max_tokens", "n": "max_tokens", "repeat": "repeat_penalty",
           "repeat_last_n": "repeat_window"}  # num_predict, repeat_last_n: ollama's names


def normalize_key(key: str) -> str:
    k = key.strip().lower().replace("-", "_")
    k = ALIASES.get(k, k)
    if k == "num_ctx":
        raise ChatcliError("the context length is fixed by the model (see /show); it cannot be set")
    if k not in KEYS:
        close = difflib.get_close_matches(k, list(KEYS), n=1)
        hint = f"; did you mean {close[0]}?" if close else ""
        raise ChatcliError(f"unknown setting {key!r}{hint} (settings: {', '.join(KEYS)})")
    return k


def apply_setting(session, key: str, value: str) -> str:
    """Change one setting of a ChatSession; returns a confirmation line. Raises ChatcliError."""
    k = normalize_key(key)
    v = value.strip()
    if not v:
        raise ChatcliError(f"/set {k} needs a value")
    if k == "seed":
        seed = None if v.lower() in ("random", "none") else _number(k, v, int)
        session.settings = replace(session.settings, seed=seed)
        session.reseed(seed)
        return f"seed = {session.seed}" + (" (random)" if seed is None else "")
    if k == "max_tokens" and v.lower() in ("auto", "none", "0", "-1"):
        session.max_tokens_auto = True
        return "max_tokens = auto (until the answer ends or the context is full)"
    if k == "stop":
        stops = [] if v.lower() == "none" else [*session.settings.stop, unescape(v)]
        session.settings = replace(session.settings, stop=stops)
        return f"stop = {stops!r}"
    number = _number(k, v, KEYS[k])
    if k == "repeat_window" and number < 0:
        raise ChatcliError(f"repeat_window must be >= 0 (tokens looked back on), got {number}")
    new = replace(session.settings, **{k: number})  # validates (SamplingError)
    session.settings = new
    if k == "max_tokens":
        session.max_tokens_auto = False
    return f"{k} = {getattr(new, k)}"


def _number(key: str, value: str, kind: type):
    try:
        return kind(value)
    except ValueError:
        what = "an integer" if kind is int else "a number"
        raise ChatcliError(f"{key} must be {what}, got {value!r}") from None


def describe(settings: SamplingConfig, *, max_tokens_auto: bool, seed: int) -> list[tuple[str, str]]:
    s = settings
    return [("temperature", f"{s.temperature:g}" + (" (greedy)" if s.temperature == 0 else "")),
            ("top_k", f"{s.top_k}" + (" (off)" if s.top_k == 0 else "")),
            ("top_p", f"{s.top_p:g}" + (" (off)" if s.top_p >= 1 else "")),
            ("min_p", f"{s.min_p:g}" + (" (off)" if s.min_p == 0 else "")),
            ("repeat_penalty", f"{s.repeat_penalty:g} over the last {s.repeat_window} tokens"),
            ("seed", f"{seed}" + (" (drawn at random)" if s.seed is None else "")),
            ("max_tokens", "auto" if max_tokens_auto else str(s.max_tokens)),
            ("stop", repr(s.stop) if s.stop else "-")]
