"""The chat template: messages -> token ids (and a loss mask for training).

    <bos> [<|system|> text <|end|>] (<|user|> text <|end|> <|assistant|> text <|end|>)* ...

Message text is encoded with the ordinary encoder, which never produces control ids, so a user
who types "<|assistant|>" gets the characters, not the marker. Only this module places markers:
callers that hold already-encoded text (context fitting, the session's generated answers, DPO
replies) ask `wrap`, `reply_ids` and `generation_prefix` rather than building marker ids by hand.
The loss mask covers assistant text and the <|end|> that closes it, nothing else.
`marker` spells the markers and `jinja_template` writes this same template in Jinja for the
exporters (Hugging Face's apply_chat_template, llama.cpp's GGUF chat template).
"""
from __future__ import annotations

from collections.abc import Sequence
from typing import TypedDict

from tokenizer.sp import Tokenizer, TokenizerError

ROLES = ("system", "user", "assistant")
END = "end"
MARKER_OPEN, MARKER_CLOSE = "<|", "|>"


def marker(name: str) -> str:
    """A marker's spelling: marker("user") == "<|user|>", marker(END) == "<|end|>"."""
    return MARKER_OPEN + name + MARKER_CLOSE


def _lit(text: str) -> str:
    """text as a single-quoted Jinja string literal."""
    assert "'" not in text and "\\" not in text, f"a marker spelling needs no escaping: {text!r}"
    return f"'{text}'"


def jinja_template(*, checked: bool = True) -> str:
    """This module's template as Jinja text: bos_token, then marker + content + end marker per message,
    then the assistant marker when add_generation_prompt is set.

    checked=True (the Hugging Face export) also refuses unknown roles and a system message after the
    first; checked=False is the plain form the GGUF export writes. Each form is byte for byte what its
    exporter wrote when it spelled the template by hand (a test holds both texts).
    """
    m = "message" if checked else "m"
    role = f"{m}['role']"
    checks = ""
    if checked:
        roles = ", ".join(_lit(r) for r in ROLES)
        checks = ("{% if " + role + " not in [" + roles + "] %}"
                  "{{ raise_exception('roles are system, user and assistant') }}{% endif %}"
                  "{% if " + role + " == 'system' and not loop.first %}"
                  "{{ raise_exception('a system message may only come first') }}{% endif %}")
    turn = " + ".join([_lit(MARKER_OPEN), role, _lit(MARKER_CLOSE), f"{m}['content']", _lit(marker(END))])
    return ("{{ bos_token }}{% for " + m + " in messages %}" + checks + "{{ " + turn + " }}{% endfor %}"
            "{% if add_generation_prompt %}{{ " + _lit(marker("assistant")) + " }}{% endif %}")


class Message(TypedDict):
    role: str
    content: str


class ChatTemplate:
    def __init__(self, tok: Tokenizer) -> None:
        if not tok.has_chat_tokens:
            raise TokenizerError("this tokenizer has no chat markers (<|user|> ...); use --raw completion")
        self.tok = tok
        self.role_ids = {r: tok.special[marker(r)] for r in ROLES}
        self.end_id = tok.special[marker(END)]

    @property
    def stop_ids(self) -> list[int]:
        return [self.end_id, self.tok.eos_id]

    def _check(self, messages: Sequence[Message]) -> None:
        for i, m in enumerate(messages):
            if not isinstance(m, dict) or "role" not in m or "content" not in m:
                raise TokenizerError(f"message {i} needs \"role\" and \"content\"")
            if m["role"] not in ROLES:
                raise TokenizerError(f"message {i} has unknown role {m['role']!r} (expected one of {', '.join(ROLES)})")
            if not isinstance(m["content"], str):
                raise TokenizerError(f"message {i} content must be a string")
            if m["role"] == "system" and i != 0:
                raise TokenizerError(f"message {i}: a system message may only come first")

    @property
    def generation_prefix(self) -> list[int]:
        """What a prompt ends with so that the model answers: the assistant marker."""
        return [self.role_ids["assistant"]]

    def wrap(self, role: str, ids: Sequence[int]) -> list[int]:
        """One turn from text already encoded (or generated): marker, ids, end marker."""
        return [self.role_ids[role], *ids, self.end_id]

    def reply_ids(self, text: str) -> list[int]:
        """An assistant reply as it follows a rendered prompt: its text, then the end marker."""
        return [*self.tok.encode(text), self.end_id]

    def turn_ids(self, message: Message) -> list[int]:
        """One message: marker, text, end marker."""
        return self.wrap(message["role"], self.tok.encode(message["content"]))

    def render(self, messages: Sequence[Message]) -> tuple[list[int], list[int]]:
        """Full conversation for training: (ids, loss_mask) of equal length."""
        self._check(messages)
        ids, mask = [self.tok.bos_id], [0]
        for m in messages:
            turn = self.turn_ids(m)
            ids += turn
            learn = 1 if m["role"] == "assistant" else 0
            mask += [0] + [learn] * (len(turn) - 1)  # the role marker itself is given, not learned
        return ids, mask

    def render_prompt(self, messages: Sequence[Message]) -> list[int]:
        """Conversation so far, ending with the assistant marker, ready for generation."""
        self._check(messages)
        ids = [self.tok.bos_id]
        for m in messages:
            ids += self.turn_ids(m)
        return ids + self.generation_prefix
