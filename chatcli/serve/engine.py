"""The serving engine: one worker thread owns the model and runs every request on it.

Requests wait in a bounded FIFO queue; up to `parallel` of them are active at once and the worker
advances them round-robin, one token each per pass, so concurrent streams progress together.
Each active request has its own KV cache, token history and seeded torch.Generator (inside its
own `model.generate.decode_n` generator), so requests never share state: a request's text is the
same whether it runs alone or among fifty others.

The worker never blocks on a client: it hands events to `Job.emit` (thread-safe, set by the HTTP
layer) and checks `Job.cancelled` before every step, so a client that goes away stops its
generation at the next token.

Events sent to `emit`:  ("text", str)  ·  ("done", finish_reason, TurnStats)  ·  ("error", message)
"""
from __future__ import annotations

import collections
import threading
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from time import perf_counter

from chatcli.chat.stats import TurnStats
from chatcli.chat.stops import StopMatcher
from model.sampling import SamplingConfig, make_generator


class Overloaded(Exception):
    """The queue is full."""


@dataclass
class Job:
    ids: list[int]  # the whole prompt, already fitted to the context
    sampling: SamplingConfig  # max_tokens is the budget after fitting; stop strings are in `stops`
    stop_ids: list[int]
    emit: Callable[[tuple], None]
    stops: list[str] = field(default_factory=list)
    seed: int = 0
    cancelled: bool = False
    queued_at: float = field(default_factory=perf_counter)
    queue_s: float = 0.0
    stats: TurnStats | None = None

    def cancel(self) -> None:
        self.cancelled = True


class _Running:
    """One admitted job: its decode_n generator plus text decoding and stop-string matching."""

    def __init__(self, engine: Engine, job: Job) -> None:
        from model.generate import GenerationStats, decode_n
        from tokenizer.stream import StreamDecoder
        self.job = job
        job.queue_s = perf_counter() - job.queued_at
        job.stats = TurnStats(prompt_tokens=len(job.ids), seed=job.seed)
        self.gstats = GenerationStats()
        self.stopper = StopMatcher(job.stops)
        self.decoder = StreamDecoder(engine.tokenizer)
        sampling = replace(job.sampling, stop=[])
        self.tokens = decode_n(engine.decoder, job.ids, sampling, stop_ids=job.stop_ids, device=engine.device,
                               stats=self.gstats, generator=make_generator(job.seed, engine.device))
        job.stats.start()

    def step(self) -> bool:
        """Generate one token and emit its text; True when the job has finished."""
        job, stats = self.job, self.job.stats
        try:
            tid = next(self.tokens)
        except StopIteration:
            text, hit = self.stopper.feed(self.decoder.flush())
            text += "" if hit else self.stopper.flush()
            if text:
                job.emit(("text", text))
            return self._finish("stop" if hit else self.gstats.finish_reason)
        stats.token()
        text, hit = self.stopper.feed(self.decoder.push(tid))
        if text:
            job.emit(("text", text))
        if hit:
            self.tokens.close()
            return self._finish("stop")
        return False

    def _finish(self, reason: str) -> bool:
        stats = self.job.stats
        stats.finish_reason = reason
        stats.finish()
        self.job.emit(("done", reason, stats))
        return True

    def close(self) -> None:
        self.tokens.close()
        self.job.stats.finish_reason = "cancelled"
        self.job.stats.finish()


class Engine:
    def __init__(self, bundle, *, parallel: int = 4, max_queue: int = 256) -> None:
        from model.fast import fast_decoder
        if parallel < 1 or max_queue < 1:
            raise ValueError("parallel and max_queue must be >= 1")
        self.bundle = bundle
        self.tokenizer = bundle.tokenizer
        self.device = bundle.device
        self.decoder = fast_decoder(bundle.model)  # built once, shared by every request (read-only)
        self.parallel, self.max_queue = parallel, max_queue
        self._pending: collections.deque[Job] = collections.deque()
        self._cv = threading.Condition()
        self._stopping = False
        self.active = 0
        self.counters = {"requests": 0, "completed": 0, "cancelled": 0, "failed": 0, "completion_tokens": 0}
        self._thread = threading.Thread(target=self._run, name="chatcli-engine", daemon=True)

    # ----- control -----
    def start(self) -> Engine:
        self._thread.start()
        return self

    def stop(self) -> None:
        with self._cv:
            self._stopping = True
            self._cv.notify_all()
        if self._thread.is_alive():
            self._thread.join(timeout=10)

    def submit(self, job: Job) -> None:
        """Queue a job; raises Overloaded when max_queue jobs are already waiting."""
        with self._cv:
            if self._stopping:
                raise Overloaded("the server is shutting down")
            if len(self._pending) >= self.max_queue:
                raise Overloaded(f"{len(self._pending)} requests are already waiting; try again later")
            self._pending.append(job)
            self.counters["requests"] += 1
            self._cv.notify()

    def snapshot(self) -> dict:
        with self._cv:
            return {"active": self.active, "queued": len(self._pending), "parallel": self.parallel,
                    "max_queue": self.max_queue, **self.counters}

    # ----- the worker -----
    def _run(self) -> None:
        running: list[_Running] = []
        while True:
            with self._cv:
                while not self._pending and not running and not self._stopping:
                    self._cv.wait()
                if self._stopping:
                    for r in running:
                        r.close()
                    for job in self._pending:
                        job.emit(("error", "the server is shutting down"))
                    self._pending.clear()
                    return
                while self._pending and len(running) < self.parallel:
                    job = self._pending.popleft()
                    if job.cancelled:
                        self.counters["cancelled"] += 1
                        continue
                    try:
                        running.append(_Running(self, job))
                    except Exception as e:  # a bad job must not stop the worker
                        self.counters["failed"] += 1
                        job.emit(("error", f"generation failed: {e}"))
                self.active = len(running)
            for r in list(running):
                outcome = self._advance(r)
                if outcome is not None:
                    running.remove(r)
                    with self._cv:
                        self.counters[outcome] += 1
                        self.counters["completion_tokens"] += r.job.stats.completion_tokens
                        self.active = len(running)

    def _advance(self, r: _Running) -> str | None:
        """One step of one job; the counter to bump when it left the running set, else None."""
        if r.job.cancelled:
            r.close()
            return "cancelled"
        try:
            return "completed" if r.step() else None
        except Exception as e:
            r.close()
            r.job.emit(("error", f"generation failed: {e}"))
            return "failed"
