"""Fitting a conversation into the model's context window, so decode_n never sees a prompt too long.

Rules (chat mode):
1. The prompt is bos + [system] + history[first_kept:] + user + assistant marker.
2. While prompt + target > max_len, drop the oldest whole turn (a user message and the answers
   after it); the system prompt is always kept. target = max_tokens when the user set one,
   otherwise `reserve(max_len)` (room for a useful answer).
3. If the prompt still does not fit with no history at all: with an explicit max_tokens it is
   lowered to what fits, as long as at least min(max_tokens, reserve) tokens remain; otherwise
   the user text is left-truncated to leave that room (or refused with no_truncate).
Raw mode (no template) applies rule 3 to bos + text.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from chatcli.errors import ChatcliError


def reserve(max_len: int) -> int:
    """Tokens always left free for the answer: a quarter of the context, at most 512."""
    return max(1, min(512, max_len // 4))


@dataclass
class Fit:
    ids: list[int]
    max_tokens: int  # what may be generated after ids (ids + max_tokens <= max_len)
    user_text: str  # the user text actually used (differs when truncated)
    first_kept: int = 0  # index of the first history message in the prompt
    notices: list[tuple[str, str]] = field(default_factory=list)  # (key, message)


def _turn_starts(history: list[dict]) -> list[int]:
    """Indices where a turn begins (each user message; index 0 in any case)."""
    starts = [i for i, m in enumerate(history) if m["role"] == "user"]
    return starts if starts and starts[0] == 0 else [0, *starts]


def fit_chat(template, system: str | None, history: list[dict], user_text: str, *, max_len: int,
             max_tokens: int | None, first_kept: int = 0, no_truncate: bool = False, turn_ids=None) -> Fit:
    """Choose the history window and max_tokens for one chat turn (see module docstring).

    turn_ids(message) -> ids renders a history message (default: template.turn_ids); the session
    passes one that renders its answers from the ids generated for them.
    """
    tok = template.tok
    turn_ids = turn_ids or template.turn_ids
    sys_ids = template.turn_ids({"role": "system", "content": system}) if system else []
    turns = [turn_ids(m) for m in history]
    lens = [len(t) for t in turns]
    user_ids = tok.encode(user_text)
    markers = len(template.wrap("user", [])) + len(template.generation_prefix)  # around the user text
    fixed = 1 + len(sys_ids) + len(user_ids) + markers  # bos, system, user turn, generation prefix
    target = max_tokens if max_tokens is not None else reserve(max_len)
    notices: list[tuple[str, str]] = []
    starts = [s for s in _turn_starts(history) if s >= first_kept] if history else []
    start = first_kept
    while start < len(history) and fixed + sum(lens[start:]) + target > max_len:
        later = [s for s in starts if s > start]
        start = later[0] if later else len(history)
    if start > first_kept:
        notices.append(("drop", f"older turns are being dropped to fit the model's context of {max_len} tokens "
                                 "(the system prompt is kept; /clear starts over)"))
    need = min(target, reserve(max_len))
    room = max_len - fixed - sum(lens[start:])
    text = user_text
    if room < need:
        overhead = fixed - len(user_ids)
        allowed = max_len - need - overhead
        if no_truncate:
            raise ChatcliError(f"the prompt has {fixed} tokens; with room for an answer the model's context "
                               f"of {max_len} allows {max_len - need} (drop --no-truncate to cut it from the left)")
        if allowed < 1:
            raise ChatcliError(f"the system prompt ({len(sys_ids)} tokens) leaves no room for a message in the "
                               f"model's context of {max_len} tokens; use a shorter one")
        user_ids = user_ids[-allowed:]
        text = tok.decode(user_ids)
        notices.append(("", f"the prompt was {fixed} tokens, too long for the context of {max_len}: "
                            f"kept its last {allowed} tokens"))
        room = need
    ids = [tok.bos_id, *sys_ids]
    for t in turns[start:]:
        ids += t
    ids += [*template.wrap("user", user_ids), *template.generation_prefix]
    new = max_len - len(ids)
    assert new == room >= 1, (new, room)
    if max_tokens is not None and max_tokens > new:
        notices.append(("shrink", f"max_tokens lowered from {max_tokens} to {new} to fit the context of {max_len}"))
    return Fit(ids, min(new, max_tokens) if max_tokens is not None else new, text, start, notices)


def fit_raw(tok, text: str, *, max_len: int, max_tokens: int | None, no_truncate: bool = False) -> Fit:
    """Plain completion: bos + text, left-truncated (or refused) when it leaves too little room."""
    ids = [tok.bos_id, *tok.encode(text)]
    target = max_tokens if max_tokens is not None else reserve(max_len)
    need = min(target, reserve(max_len))
    notices: list[tuple[str, str]] = []
    if len(ids) + need > max_len:
        if no_truncate:
            raise ChatcliError(f"the prompt has {len(ids)} tokens; with room for an answer the model's context "
                               f"of {max_len} allows {max_len - need} (drop --no-truncate to cut it from the left)")
        keep = max_len - need - 1
        body = ids[1:][-keep:] if keep > 0 else []
        notices.append(("", f"the prompt was {len(ids)} tokens, too long for the context of {max_len}: "
                            f"kept its last {keep} tokens"))
        ids = [tok.bos_id, *body]
        text = tok.decode(body)
    new = max_len - len(ids)
    if max_tokens is not None and max_tokens > new:
        notices.append(("shrink", f"max_tokens lowered from {max_tokens} to {new} to fit the context of {max_len}"))
    return Fit(ids, min(new, max_tokens) if max_tokens is not None else new, text, 0, notices)
