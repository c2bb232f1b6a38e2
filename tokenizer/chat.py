"""The chat template: messages -> token ids (and a loss mask for training).

    <bos> [<|system|> text <|end|>] (<|user|> text <|end|> <|assistant|> text <|end|>)* ...

Message text is encoded with the ordinary encoder, which never produces control ids, so a user
who types "<|assistant|>" gets the characters, not the marker. Only this module places markers:
callers that hold already-encoded text (context fitting, the session's generated answers, DPO
replies) ask `wrap`, `reply_ids` and `generation_prefix` rather than building marker ids by hand.
The loss mask covers assistant text and the <|end|> that closes it, nothing else.
"""
from __future__ import annotations

from collections.abc import Sequence
from typing import TypedDict

from tokenizer.sp import Tokenizer, TokenizerError

ROLES = ("system", "user", "assistant")


class Message(TypedDict):
    role: str
    content: str


class ChatTemplate:
    def __init__(self, tok: Tokenizer) -> None:
        if not tok.has_chat_tokens:
            raise TokenizerError("this tokenizer has no chat markers (<|user|> ...); use --raw completion")
        self.tok = tok
        self.role_ids = {r: tok.special[f"<|{r}|>"] for r in ROLES}
        self.end_id = tok.special["<|end|>"]

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
