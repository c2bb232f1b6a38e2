"""ChatSession: the conversation (system prompt + history), sampling settings and the seeded
random stream, and `respond(text)` which streams one answer as text chunks.

Shared by the REPL, the one-shot runner and the tests; it never touches the terminal. Notices
(dropped turns, truncation) go through the `notify` callback. A session draws one seed (or takes
the given one) and keeps one torch.Generator, so replaying the same inputs with the same seed and
settings gives the same answers, while /retry continues the stream and gives a new answer.

The KV cache lives across turns (a model.kv_cache.PrefixCache): each turn prefills only the ids
after the longest prefix the cache already holds, usually just the new user message. For that
prefix to reach through earlier answers, an answer is re-rendered from the very ids that were
generated for it (not from a re-encoding of its text, which BPE may split differently).
"""
from __future__ import annotations

import random
from collections.abc import Callable, Iterator
from dataclasses import replace

from chatcli.chat.context import fit_chat, fit_raw
from chatcli.chat.stats import SessionStats, TurnStats
from chatcli.chat.stops import StopMatcher
from chatcli.errors import ChatcliError
from model.kv_cache import PrefixCache
from model.sampling import SamplingConfig, make_generator

INTERRUPTED = "interrupted"


def draw_seed() -> int:
    return random.SystemRandom().randrange(1, 2**31)


class ChatSession:
    def __init__(self, bundle, settings: SamplingConfig | None = None, *, system: str | None = None,
                 raw: bool = False, max_tokens_auto: bool = True, no_truncate: bool = False,
                 notify: Callable[[str], None] | None = None) -> None:
        self.bundle = bundle
        self.tok = bundle.tokenizer
        self.template = None if raw else bundle.template
        self.raw = self.template is None
        self.settings = settings or SamplingConfig()
        self.max_tokens_auto = max_tokens_auto  # generate until a stop or the context is full
        self.no_truncate = no_truncate
        self.system = system or None
        self.history: list[dict] = []
        self.first_kept = 0  # history[:first_kept] no longer fits the context
        self.notify = notify or (lambda msg: None)
        self._noticed: set[str] = set()
        self.last: TurnStats | None = None
        self.totals = SessionStats()
        self.seed = 0
        self._engine = None
        self._prefix: PrefixCache | None = None
        self._answer_ids: dict[str, list[int]] = {}  # answer text -> the ids generated for it
        self.reseed(self.settings.seed)

    # ----- state -----
    @property
    def messages(self) -> list[dict]:
        head = [{"role": "system", "content": self.system}] if self.system else []
        return head + self.history

    @property
    def max_len(self) -> int:
        return self.bundle.model.config.max_seq_len

    @property
    def stop_ids(self) -> list[int]:
        return self.template.stop_ids if self.template else [self.tok.eos_id]

    @property
    def engine(self):
        """The decode engine model.compiled.make_engine picks for this device (built once)."""
        if self._engine is None:
            from model.compiled import make_engine
            self._engine = make_engine(self.bundle.model, "auto", notify=self.notify)
        return self._engine

    @property
    def prefix(self) -> PrefixCache:
        """The KV cache kept between turns, with the ids it holds."""
        if self._prefix is None:
            self._prefix = PrefixCache(self.engine.new_cache(1, self.max_len))
        return self._prefix

    def _turn_ids(self, message: dict) -> list[int]:
        """A history message as ids: an answer as generated, anything else as the template encodes it."""
        ids = self._answer_ids.get(message["content"]) if message["role"] == "assistant" else None
        if ids is None:
            return self.template.turn_ids(message)
        return self.template.wrap("assistant", ids)

    def reseed(self, seed: int | None = None) -> None:
        """Restart the random stream from `seed` (a fresh random seed when None)."""
        self.seed = int(seed) if seed is not None else draw_seed()
        self._gen = make_generator(self.seed, self.bundle.device)

    def clear(self) -> None:
        self.history.clear()
        self.first_kept = 0

    def set_history(self, system: str | None, history: list[dict]) -> None:
        self.system = system or None
        self.history = history
        self.first_kept = 0

    def _notice(self, key: str, msg: str) -> None:
        if key and key in self._noticed:
            return
        if key:
            self._noticed.add(key)
        self.notify(msg)

    # ----- generation -----
    def respond(self, user_text: str) -> Iterator[str]:
        """Stream the answer to user_text; the turn (partial if interrupted) ends up in history.

        `self.last` holds the TurnStats of this answer (complete once the iterator is exhausted).
        """
        from model.generate import GenerationStats, decode_n
        from tokenizer.stream import StreamDecoder

        explicit = None if self.max_tokens_auto else self.settings.max_tokens
        if self.raw:
            fit = fit_raw(self.tok, user_text, max_len=self.max_len, max_tokens=explicit,
                          no_truncate=self.no_truncate)
        else:
            fit = fit_chat(self.template, self.system, self.history, user_text, max_len=self.max_len,
                           max_tokens=explicit, first_kept=self.first_kept, no_truncate=self.no_truncate,
                           turn_ids=self._turn_ids)
            if fit.first_kept > self.first_kept:
                self.totals.dropped_messages += fit.first_kept - self.first_kept
                self.first_kept = fit.first_kept
        for key, msg in fit.notices:
            self._notice(key, msg)
        assert 0 < len(fit.ids) and len(fit.ids) + fit.max_tokens <= self.max_len
        sampling = replace(self.settings, max_tokens=fit.max_tokens, stop=[])
        stats = TurnStats(prompt_tokens=len(fit.ids), seed=self.seed)
        self.last = stats
        user = {"role": "user", "content": fit.user_text}
        gstats = GenerationStats()
        stopper = StopMatcher(self.settings.stop)
        decoder = StreamDecoder(self.tok)
        parts: list[str] = []
        generated: list[int] = []
        done = False
        engine, prefix = self.engine, self.prefix
        stats.start()
        try:
            for tid in decode_n(engine, fit.ids, sampling, stop_ids=self.stop_ids, stats=gstats,
                                generator=self._gen, prefix=prefix):
                stats.reused_tokens = gstats.reused_tokens
                generated.append(tid)
                stats.token()
                text, hit = stopper.feed(decoder.push(tid))
                if text:
                    parts.append(text)
                    yield text
                if hit:
                    gstats.finish_reason = "stop"
                    break
            else:
                text, hit = stopper.feed(decoder.flush())
                text += "" if hit else stopper.flush()
                if hit:
                    gstats.finish_reason = "stop"
                if text:
                    parts.append(text)
                    yield text
            done = True
        finally:
            stats.finish_reason = gstats.finish_reason if done else INTERRUPTED
            stats.finish()
            self.totals.add(stats)
            answer = {"role": "assistant", "content": "".join(parts)}
            if not done:
                answer[INTERRUPTED] = True
            self.history += [user, answer]
            self._remember(answer["content"], generated)

    def _remember(self, text: str, ids: list[int]) -> None:
        """Keep the generated ids of an answer whose text they spell exactly (for cache reuse)."""
        live = {m["content"] for m in self.history if m["role"] == "assistant"}
        self._answer_ids = {t: v for t, v in self._answer_ids.items() if t in live}
        if not self.raw and self.tok.decode(ids) == text:
            self._answer_ids[text] = list(ids)

    def retry_text(self) -> str:
        """Remove the last exchange and return its user text, for /retry."""
        if self.history and self.history[-1]["role"] == "assistant":
            self.history.pop()
        if not self.history or self.history[-1]["role"] != "user":
            raise ChatcliError("nothing to retry yet")
        text = self.history.pop()["content"]
        self.first_kept = min(self.first_kept, len(self.history))
        return text

    def context_used(self) -> int:
        """Tokens the next prompt would start from (history that still fits, without a new message)."""
        if self.raw:
            return 0
        ids = self.template.render_prompt(self.messages[:1] if self.system else [])
        return len(ids) + sum(len(self._turn_ids(m)) for m in self.history[self.first_kept:])
