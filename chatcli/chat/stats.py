"""Timing and token counts of one answer (TurnStats) and of a whole session (SessionStats).

ttft        = time from the start of a turn to the first generated token id (prefill + first sample)
prefilled   = prompt tokens run through the model this turn; reused = prompt tokens whose keys and
              values were still in the KV cache from the turns before (prefilled + reused = prompt)
prefill/s   = prefilled tokens / ttft
decode/s    = (completion tokens - 1) / (time from the first to the last token id)
"""
from __future__ import annotations

from dataclasses import dataclass, field
from time import perf_counter

FINISH_NOTES = {"length": "stopped at max_tokens", "context": "stopped: context full",
                "interrupted": "interrupted"}


@dataclass
class TurnStats:
    prompt_tokens: int = 0
    completion_tokens: int = 0
    reused_tokens: int = 0  # of prompt_tokens, taken from the KV cache instead of prefilled
    ttft_s: float | None = None
    prefill_tok_s: float | None = None
    decode_tok_s: float | None = None
    total_s: float = 0.0
    finish_reason: str = "length"  # stop | length | context | interrupted
    seed: int | None = None
    _t0: float = field(default=0.0, repr=False)
    _t_first: float | None = field(default=None, repr=False)
    _t_last: float | None = field(default=None, repr=False)

    def start(self) -> None:
        self._t0 = perf_counter()

    def token(self) -> None:
        """Record the arrival of one generated token id."""
        now = perf_counter()
        if self._t_first is None:
            self._t_first = now
        self._t_last = now
        self.completion_tokens += 1

    def finish(self) -> None:
        end = perf_counter()
        self.total_s = end - self._t0
        first = self._t_first if self._t_first is not None else end
        self.ttft_s = first - self._t0
        if self.prefilled_tokens and self.ttft_s > 0:
            self.prefill_tok_s = self.prefilled_tokens / self.ttft_s
        if self.completion_tokens >= 2 and self._t_last is not None and self._t_last > first:
            self.decode_tok_s = (self.completion_tokens - 1) / (self._t_last - first)

    @property
    def prefilled_tokens(self) -> int:
        return self.prompt_tokens - self.reused_tokens

    def line(self) -> str:
        """One-line human summary for the status line and --stats."""
        parts = [f"{self.prompt_tokens} prompt tok", f"{self.completion_tokens} generated",
                 f"ttft {_fmt_s(self.ttft_s)}", f"prefill {_fmt_rate(self.prefill_tok_s)}",
                 f"decode {_fmt_rate(self.decode_tok_s)}",
                 f"{self.prefilled_tokens} prefilled, {self.reused_tokens} reused from cache"]
        note = FINISH_NOTES.get(self.finish_reason)
        if note:
            parts.append(note)
        return " · ".join(parts)

    def to_dict(self) -> dict:
        return {"prompt_tokens": self.prompt_tokens, "completion_tokens": self.completion_tokens,
                "ttft_s": _round(self.ttft_s, 4), "prefill_tok_s": _round(self.prefill_tok_s, 1),
                "decode_tok_s": _round(self.decode_tok_s, 1)}


@dataclass
class SessionStats:
    turns: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    decode_time_s: float = 0.0
    decode_tokens: int = 0
    dropped_messages: int = 0
    reused_tokens: int = 0

    def add(self, t: TurnStats) -> None:
        self.turns += 1
        self.prompt_tokens += t.prompt_tokens
        self.reused_tokens += t.reused_tokens
        self.completion_tokens += t.completion_tokens
        if t.decode_tok_s:
            self.decode_tokens += t.completion_tokens - 1
            self.decode_time_s += (t.completion_tokens - 1) / t.decode_tok_s

    def line(self) -> str:
        rate = self.decode_tokens / self.decode_time_s if self.decode_time_s > 0 else None
        return (f"{self.turns} answers · {self.prompt_tokens} prompt tok ({self.reused_tokens} reused from cache) · "
                f"{self.completion_tokens} generated · "
                f"mean decode {_fmt_rate(rate)} · {self.dropped_messages} old messages dropped for context")


def _round(x: float | None, nd: int) -> float | None:
    return None if x is None else round(x, nd)


def _fmt_s(x: float | None) -> str:
    if x is None:
        return "-"
    return f"{x * 1000:.0f} ms" if x < 1 else f"{x:.2f} s"


def _fmt_rate(x: float | None) -> str:
    return "-" if x is None else f"{x:,.0f} tok/s" if x >= 10 else f"{x:.1f} tok/s"
