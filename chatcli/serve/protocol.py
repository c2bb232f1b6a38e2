"""The OpenAI wire format as chatcli serves it: request schemas, errors, replies and stream chunks.

Requests are validated by pydantic models that accept (and ignore) fields this server has no
use for, such as `user` or `logit_bias` with no entries; fields that would change the answer in
ways we cannot honour (n > 1, logprobs, non-zero frequency/presence penalties, echo, images) are
refused with a 400 rather than silently ignored. Besides OpenAI's sampling fields the server
takes llama.cpp-style `top_k`, `min_p` and `repeat_penalty`.

Every error body is OpenAI's: {"error": {"message", "type", "param", "code"}}.
Every reply carries `usage` and `timings` (ttft, prefill and decode speed, time queued, total).
"""
from __future__ import annotations

import time
import uuid
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from chatcli import __version__

FINGERPRINT = f"chatcli-{__version__}"


class APIError(Exception):
    """An error reply: HTTP status and OpenAI error fields."""

    def __init__(self, status: int, message: str, *, type: str = "invalid_request_error",
                 param: str | None = None, code: str | None = None) -> None:
        super().__init__(message)
        self.status, self.message, self.type, self.param, self.code = status, message, type, param, code

    def body(self) -> dict:
        return {"error": {"message": self.message, "type": self.type, "param": self.param, "code": self.code}}


class _Open(BaseModel):
    model_config = ConfigDict(extra="allow")


class TextPart(_Open):
    type: str
    text: str | None = None


class Message(_Open):
    role: str
    content: str | list[TextPart] | None = None


class StreamOptions(_Open):
    include_usage: bool = False


class SamplingFields(_Open):
    model: str | None = None
    temperature: float | None = Field(None, ge=0, le=2)
    top_p: float | None = Field(None, gt=0, le=1)
    top_k: int | None = Field(None, ge=0)
    min_p: float | None = Field(None, ge=0, lt=1)
    repeat_penalty: float | None = Field(None, gt=0)
    frequency_penalty: float | None = None
    presence_penalty: float | None = None
    max_tokens: int | None = Field(None, ge=1)
    max_completion_tokens: int | None = Field(None, ge=1)
    stop: str | list[str] | None = None
    seed: int | None = None
    n: int | None = 1
    stream: bool | None = False
    stream_options: StreamOptions | None = None
    logprobs: bool | int | None = None

    def refuse_unsupported(self) -> None:
        if self.n not in (None, 1):
            raise APIError(400, "only n=1 is supported", param="n")
        if self.logprobs:
            raise APIError(400, "logprobs are not supported", param="logprobs")
        for name in ("frequency_penalty", "presence_penalty"):
            if getattr(self, name):
                raise APIError(400, f"{name} is not supported (use repeat_penalty, e.g. 1.1)", param=name)
        stops = self.stop_list()
        if len(stops) > 16:
            raise APIError(400, "at most 16 stop strings", param="stop")

    def stop_list(self) -> list[str]:
        if self.stop is None:
            return []
        return [s for s in ([self.stop] if isinstance(self.stop, str) else self.stop) if s]

    def token_limit(self) -> int | None:
        return self.max_completion_tokens or self.max_tokens


class ChatRequest(SamplingFields):
    messages: list[Message] = Field(min_length=1)


class CompletionRequest(SamplingFields):
    prompt: str | list[str]
    echo: bool | None = False
    suffix: str | None = None

    def prompt_text(self) -> str:
        if self.echo:
            raise APIError(400, "echo is not supported", param="echo")
        if self.suffix:
            raise APIError(400, "suffix is not supported", param="suffix")
        if isinstance(self.prompt, list):
            if len(self.prompt) != 1:
                raise APIError(400, "give one prompt (a string or a list of one string)", param="prompt")
            return self.prompt[0]
        return self.prompt


def message_text(m: Message, i: int) -> str:
    """The text of a message; only text content parts are accepted."""
    if m.content is None:
        return ""
    if isinstance(m.content, str):
        return m.content
    texts = []
    for part in m.content:
        if part.type != "text" or part.text is None:
            raise APIError(400, f"messages[{i}]: only text content is supported (got a {part.type!r} part)",
                           param=f"messages[{i}].content")
        texts.append(part.text)
    return "".join(texts)


def split_messages(messages: list[Message]) -> tuple[str | None, list[dict], str]:
    """(system, history, last user text) from an OpenAI message list."""
    system = None
    history: list[dict] = []
    for i, m in enumerate(messages):
        role = "system" if m.role == "developer" else m.role
        text = message_text(m, i)
        if role == "system":
            if i != 0:
                raise APIError(400, f"messages[{i}]: a system message may only come first",
                               param=f"messages[{i}].role")
            system = text or None
        elif role in ("user", "assistant"):
            history.append({"role": role, "content": text})
        else:
            raise APIError(400, f"messages[{i}]: role {m.role!r} is not supported (system, user, assistant)",
                           param=f"messages[{i}].role")
    if not history or history[-1]["role"] != "user":
        raise APIError(400, "the last message must come from the user", param="messages")
    return system, history[:-1], history[-1]["content"]


def new_id(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:24]}"


def finish_reason(ours: str) -> str:
    return "stop" if ours == "stop" else "length"  # length and a full context both end on a limit


def usage(stats) -> dict:
    return {"prompt_tokens": stats.prompt_tokens, "completion_tokens": stats.completion_tokens,
            "total_tokens": stats.prompt_tokens + stats.completion_tokens}


def timings(stats, queue_s: float) -> dict:
    return {**stats.to_dict(), "queue_s": round(queue_s, 4), "total_s": round(stats.total_s, 4)}


class Reply:
    """Builds the documents of one reply (chat or text completion) with a shared id and time."""

    def __init__(self, kind: Literal["chat", "text"], model: str, seed: int) -> None:
        self.kind, self.model, self.seed = kind, model, seed
        self.id = new_id("chatcmpl" if kind == "chat" else "cmpl")
        self.created = int(time.time())

    def _head(self, obj: str) -> dict:
        return {"id": self.id, "object": obj, "created": self.created, "model": self.model,
                "system_fingerprint": FINGERPRINT}

    def full(self, text: str, reason: str, stats, queue_s: float) -> dict:
        if self.kind == "chat":
            choice = {"index": 0, "message": {"role": "assistant", "content": text}, "logprobs": None,
                      "finish_reason": finish_reason(reason)}
            doc = self._head("chat.completion")
        else:
            choice = {"index": 0, "text": text, "logprobs": None, "finish_reason": finish_reason(reason)}
            doc = self._head("text_completion")
        return {**doc, "choices": [choice], "usage": usage(stats), "timings": timings(stats, queue_s),
                "seed": self.seed}

    def chunk(self, text: str | None = None, *, first: bool = False, reason: str | None = None) -> dict:
        if self.kind == "chat":
            delta: dict = {"role": "assistant", "content": ""} if first else {}
            if text:
                delta["content"] = text
            choice = {"index": 0, "delta": delta, "logprobs": None, "finish_reason": reason}
            return {**self._head("chat.completion.chunk"), "choices": [choice]}
        choice = {"index": 0, "text": text or "", "logprobs": None, "finish_reason": reason}
        return {**self._head("text_completion"), "choices": [choice]}

    def last_chunks(self, reason: str, stats, queue_s: float, include_usage: bool) -> list[dict]:
        """The finishing chunk (with usage and timings unless include_usage asks for OpenAI's extra
        usage-only chunk, which then follows with empty choices)."""
        end = self.chunk(reason=finish_reason(reason))
        extra = {"usage": usage(stats), "timings": timings(stats, queue_s), "seed": self.seed}
        if not include_usage:
            return [{**end, **extra}]
        return [{**end, "usage": None}, {**self._head(end["object"]), "choices": [], **extra}]
