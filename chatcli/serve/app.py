"""The HTTP routes of `chatcli serve` (FastAPI): OpenAI's chat completions, completions and models.

    POST /v1/chat/completions   messages -> the chat template -> one answer (stream: server-sent events)
    POST /v1/completions        plain completion of a prompt (no template), for base models too
    GET  /v1/models             the one model this server holds; GET /v1/models/{id} for it alone
    GET  /health                liveness plus the engine's queue and counters (not OpenAI)

Handlers run on the event loop and only tokenize, fit the context and queue a Job; the engine's
worker thread generates and hands events back through `loop.call_soon_threadsafe`. A streaming
client that disconnects cancels its job (the stream's `finally`); a non-streaming one is watched
with `request.is_disconnected()` while it waits.
"""
from __future__ import annotations

import asyncio
import json
import secrets
import sys
from collections.abc import Callable
from dataclasses import dataclass, replace

from fastapi import APIRouter, Depends, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, StreamingResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from chatcli.chat.context import fit_chat, fit_raw
from chatcli.errors import ChatcliError
from chatcli.serve.engine import Engine, Job, Overloaded
from chatcli.serve.protocol import APIError, ChatRequest, CompletionRequest, Reply, SamplingFields, split_messages
from model.sampling import SamplingConfig, SamplingError

SSE_HEADERS = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}


@dataclass
class ServeState:
    engine: Engine
    model_id: str
    defaults: SamplingConfig  # sampling used where a request leaves a field out
    created: int = 0
    api_key: str | None = None
    record: Callable[[dict], None] | None = None  # called with each finished exchange (logging)
    notify: Callable[[str], None] = lambda msg: print(f"chatcli serve: {msg}", file=sys.stderr, flush=True)

    @property
    def bundle(self):
        return self.engine.bundle


def _draw_seed() -> int:
    from chatcli.chat.session import draw_seed
    return draw_seed()


def create_app(state: ServeState) -> FastAPI:
    app = FastAPI(title="chatcli", docs_url=None, redoc_url=None, openapi_url=None)

    @app.exception_handler(APIError)
    async def _api_error(request: Request, e: APIError):
        return JSONResponse(e.body(), status_code=e.status)

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, e: RequestValidationError):
        err = (e.errors() or [{}])[0]
        loc = [str(x) for x in err.get("loc", ()) if x != "body"]
        param = ".".join(loc) or None
        msg = err.get("msg", "invalid request")
        if err.get("type") == "json_invalid":
            msg, param = "the request body is not valid JSON", None
        return JSONResponse(APIError(400, f"{param}: {msg}" if param else msg, param=param).body(),
                            status_code=400)

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, e: StarletteHTTPException):
        msg = {404: f"unknown path {request.url.path}",
               405: f"{request.method} is not allowed on {request.url.path}"}.get(e.status_code, str(e.detail))
        return JSONResponse(APIError(e.status_code, msg).body(), status_code=e.status_code)

    @app.exception_handler(Exception)
    async def _crash(request: Request, e: Exception):
        state.notify(f"internal error on {request.url.path}: {type(e).__name__}: {e}")
        return JSONResponse(APIError(500, "internal server error", type="server_error").body(), status_code=500)

    def authorized(request: Request) -> None:
        """Dependency of every /v1 route: with --api-key, require `Authorization: Bearer KEY`."""
        if state.api_key:
            scheme, _, token = request.headers.get("authorization", "").partition(" ")
            if scheme.lower() != "bearer" or not secrets.compare_digest(token.strip(), state.api_key):
                raise APIError(401, "invalid or missing API key (send Authorization: Bearer KEY)",
                               code="invalid_api_key")

    v1 = APIRouter(prefix="/v1", dependencies=[Depends(authorized)])

    def model_card() -> dict:
        return {"id": state.model_id, "object": "model", "created": state.created, "owned_by": "chatcli",
                "context_length": state.bundle.model.config.max_seq_len}

    @v1.get("/models")
    async def models():
        return {"object": "list", "data": [model_card()]}

    @v1.get("/models/{model_id:path}")
    async def one_model(model_id: str):
        _check_model(state, model_id)
        return model_card()

    @app.get("/health")
    async def health():
        return {"status": "ok", "model": state.model_id, **state.engine.snapshot()}

    @v1.post("/chat/completions")
    async def chat_completions(req: ChatRequest, request: Request):
        _check_request(state, req)
        template = state.bundle.template
        if template is None:
            raise APIError(400, "this model has no chat template (a base model): use /v1/completions")
        system, history, user = split_messages(req.messages)
        try:
            fit = fit_chat(template, system, history, user, max_len=_max_len(state), max_tokens=req.token_limit(),
                           no_truncate=True)
        except ChatcliError:
            raise _too_long(state) from None
        messages = ([{"role": "system", "content": system}] if system else []) + history[fit.first_kept:]
        return await _run(state, request, req, Reply("chat", state.model_id, 0), fit, template.stop_ids,
                          messages + [{"role": "user", "content": user}])

    @v1.post("/completions")
    async def completions(req: CompletionRequest, request: Request):
        _check_request(state, req)
        text = req.prompt_text()
        tok = state.bundle.tokenizer
        try:
            fit = fit_raw(tok, text, max_len=_max_len(state), max_tokens=req.token_limit(), no_truncate=True)
        except ChatcliError:
            raise _too_long(state) from None
        return await _run(state, request, req, Reply("text", state.model_id, 0), fit, [tok.eos_id],
                          [{"role": "user", "content": text}])

    app.include_router(v1)
    return app


def _max_len(state: ServeState) -> int:
    return state.bundle.model.config.max_seq_len


def _too_long(state: ServeState) -> APIError:
    return APIError(400, f"the prompt does not fit the model's context of {_max_len(state)} tokens with room "
                         "for an answer; send a shorter one", param="messages", code="context_length_exceeded")


def _check_model(state: ServeState, name: str | None) -> None:
    if name and name != state.model_id:
        raise APIError(404, f"model {name!r} not found; this server holds {state.model_id!r}",
                       param="model", code="model_not_found")


def _check_request(state: ServeState, req: SamplingFields) -> None:
    _check_model(state, req.model)
    req.refuse_unsupported()


def _sampling(state: ServeState, req: SamplingFields, max_tokens: int) -> SamplingConfig:
    given = {k: getattr(req, k) for k in ("temperature", "top_p", "top_k", "min_p", "repeat_penalty")
             if getattr(req, k) is not None}
    try:
        return replace(state.defaults, **given, max_tokens=max_tokens, stop=[], seed=None)
    except SamplingError as e:
        raise APIError(400, str(e)) from None


async def _run(state: ServeState, request: Request, req: SamplingFields, reply: Reply, fit, stop_ids,
               messages: list[dict]):
    seed = req.seed if req.seed is not None else (state.defaults.seed if state.defaults.seed is not None
                                                  else _draw_seed())
    reply.seed = seed
    sampling = _sampling(state, req, fit.max_tokens)
    loop = asyncio.get_running_loop()
    events: asyncio.Queue = asyncio.Queue()
    job = Job(ids=fit.ids, sampling=sampling, stop_ids=list(stop_ids), emit=lambda ev: None,
              stops=req.stop_list(), seed=seed)

    def emit(event: tuple) -> None:  # called from the engine's thread
        try:
            loop.call_soon_threadsafe(events.put_nowait, event)
        except RuntimeError:  # the event loop is gone (shutdown): nobody is listening
            job.cancel()

    job.emit = emit
    for _, msg in fit.notices:
        state.notify(f"{reply.id}: {msg}")
    try:
        state.engine.submit(job)
    except Overloaded as e:
        raise APIError(503, f"server overloaded: {e}", type="server_error", code="overloaded") from None

    def finished(text: str, stats) -> None:
        if state.record is not None:
            state.record({"messages": messages, "answer": text, "stats": stats, "seed": seed,
                          "settings": sampling.to_dict(), "kind": reply.kind, "id": reply.id})

    if req.stream:
        include_usage = bool(req.stream_options and req.stream_options.include_usage)
        return StreamingResponse(_sse(reply, job, events, include_usage, finished),
                                 media_type="text/event-stream", headers=SSE_HEADERS)
    watcher = asyncio.create_task(_watch_disconnect(request, job, events))
    try:
        parts: list[str] = []
        while True:
            event = await events.get()
            if event[0] == "gone":  # the client disconnected; nobody will read a reply
                raise APIError(499, "the client closed the request")
            if event[0] == "text":
                parts.append(event[1])
            elif event[0] == "done":
                text = "".join(parts)
                finished(text, event[2])
                return reply.full(text, event[1], event[2], job.queue_s)
            else:
                raise APIError(500, event[1], type="server_error")
    finally:
        watcher.cancel()
        job.cancel()  # no-op when it finished; stops it when this handler was cancelled


async def _watch_disconnect(request: Request, job: Job, events: asyncio.Queue) -> None:
    """While a non-streaming reply is generated: when its client goes away, cancel the job and wake the handler."""
    while not job.cancelled:
        if await request.is_disconnected():
            job.cancel()
            events.put_nowait(("gone",))
            return
        await asyncio.sleep(0.2)


def _sse_line(doc: dict) -> str:
    return f"data: {json.dumps(doc, ensure_ascii=False)}\n\n"


async def _sse(reply: Reply, job: Job, events: asyncio.Queue, include_usage: bool, finished):
    """Server-sent events of one streamed reply; leaving early (client gone) cancels the job."""
    try:
        yield _sse_line(reply.chunk(first=True))
        parts: list[str] = []
        while True:
            event = await events.get()
            if event[0] == "text":
                parts.append(event[1])
                yield _sse_line(reply.chunk(event[1]))
            elif event[0] == "done":
                for doc in reply.last_chunks(event[1], event[2], job.queue_s, include_usage):
                    yield _sse_line(doc)
                finished("".join(parts), event[2])
                break
            else:
                yield _sse_line(APIError(500, event[1], type="server_error").body())
                break
        yield "data: [DONE]\n\n"
    finally:
        job.cancel()
