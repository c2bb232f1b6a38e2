"""StreamDecoder: text out as token ids arrive, keeping leading spaces and whole UTF-8 characters.

Decoding token by token loses SentencePiece's word-initial spaces and splits multi-byte
characters that byte fallback spreads over several ids. This decoder re-decodes a short window
of recent ids and emits only the new, complete suffix.
"""
from __future__ import annotations

from tokenizer.sp import Tokenizer


class StreamDecoder:
    def __init__(self, tok: Tokenizer) -> None:
        self.tok = tok
        self.ids: list[int] = []
        self.prefix = 0  # start of the decode window
        self.read = 0  # ids before this are already emitted

    def push(self, token_id: int) -> str:
        """Add one id; return the text that became final (may be empty)."""
        self.ids.append(int(token_id))
        before = self.tok.decode(self.ids[self.prefix:self.read])
        after = self.tok.decode(self.ids[self.prefix:])
        if after.endswith("\ufffd") or len(after) <= len(before) or not after.startswith(before):
            return ""  # an incomplete character: wait for more bytes
        self.prefix, self.read = self.read, len(self.ids)
        return after[len(before):]

    def flush(self) -> str:
        """Whatever remains (an incomplete character decodes as U+FFFD)."""
        before = self.tok.decode(self.ids[self.prefix:self.read])
        after = self.tok.decode(self.ids[self.prefix:])
        self.prefix = self.read = len(self.ids)
        return after[len(before):] if after.startswith(before) else after

    def text(self) -> str:
        return self.tok.decode(self.ids)
