"""`chatcli serve` as a plain function: bind, load the model once, warm it up, serve until Ctrl-C
(the normal way to stop a server: exit 0 after in-flight requests get a few seconds to finish).

The socket is bound before the model loads, so a port already in use fails at once (one line,
exit 1), and `--port 0` picks a free port; the line announcing the address names the real one.
"""
from __future__ import annotations

import socket
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from chatcli.errors import ChatcliError


@dataclass
class ServeOptions:
    model: Path | None = None
    host: str = "127.0.0.1"
    port: int = 8000
    parallel: int = 4
    max_queue: int = 256
    api_key: str | None = None
    name: str | None = None
    log: bool = False
    access_log: bool = False
    device: str | None = None
    dtype: str | None = None


def bind(host: str, port: int) -> socket.socket:
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    except socket.gaierror as e:
        raise ChatcliError(f"cannot resolve host {host!r} ({e.strerror})") from None
    family, kind, proto, _, address = infos[0]
    sock = socket.socket(family, kind, proto)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind(address)
    except OSError as e:
        sock.close()
        raise ChatcliError(f"cannot listen on {host}:{port} ({e.strerror}); pick another --port") from None
    sock.listen(2048)
    sock.set_inheritable(True)
    return sock


def warm_up(engine) -> None:
    """One short generation through the engine, so the first request pays no first-call costs."""
    from chatcli.serve.engine import Job
    from model.sampling import SamplingConfig
    done = threading.Event()
    outcome: list[tuple] = []

    def emit(event: tuple) -> None:
        if event[0] in ("done", "error"):
            outcome.append(event)
            done.set()

    tok = engine.tokenizer
    engine.submit(Job(ids=[tok.bos_id, *tok.encode("Hello")], sampling=SamplingConfig(max_tokens=2),
                      stop_ids=[], emit=emit, seed=0))
    if not done.wait(120) or outcome[0][0] == "error":
        raise ChatcliError(f"the model failed its warm-up generation: {outcome[0][1] if outcome else 'timeout'}")


def serve(o: ServeOptions) -> int:
    try:
        import fastapi  # noqa: F401
        import uvicorn
    except ImportError:
        raise ChatcliError('chatcli serve needs FastAPI and uvicorn: pip install -e ".[serve]"') from None
    from chatcli.bundle import load_bundle
    from chatcli.chat.main import chat_defaults
    from chatcli.device import resolve_device, resolve_dtype
    from chatcli.serve.app import ServeState, create_app
    from chatcli.serve.engine import Engine
    if o.parallel < 1 or o.max_queue < 1:
        raise ChatcliError("--parallel and --max-queue must be at least 1")
    sock = bind(o.host, o.port)
    device = resolve_device(o.device)
    bundle = load_bundle(o.model, device=device, dtype=resolve_dtype(o.dtype, device))
    bundle.model.eval()
    engine = Engine(bundle, parallel=o.parallel, max_queue=o.max_queue).start()
    state = ServeState(engine=engine, model_id=o.name or bundle.name, defaults=chat_defaults(),
                       created=int(time.time()), api_key=o.api_key)
    store = None
    if o.log:
        from chatcli.logs import open_store
        store = open_store()
        state.record = store.recorder(model=str(bundle.path), source="serve")
    try:
        warm_up(engine)
        host, port = sock.getsockname()[:2]
        shown = f"[{host}]" if ":" in host else host
        print(f"chatcli serve: {state.model_id} ({bundle.model.config.num_params() / 1e6:.1f}M params, context "
              f"{bundle.model.config.max_seq_len}) at http://{shown}:{port}/v1 · OpenAI-compatible · "
              f"{o.parallel} at a time, {o.max_queue} queued at most" + (" · logging to " + str(store.path)
                                                                          if store else "") + " · Ctrl-C stops",
              file=sys.stderr, flush=True)
        config = uvicorn.Config(create_app(state), log_level="info" if o.access_log else "warning",
                                access_log=o.access_log, lifespan="off", timeout_graceful_shutdown=3)
        try:
            uvicorn.Server(config).run(sockets=[sock])
        except KeyboardInterrupt:  # uvicorn re-raises the Ctrl-C it shut down on: the normal way to stop
            pass
        print("chatcli serve: stopped", file=sys.stderr, flush=True)
    finally:
        engine.stop()
        sock.close()
        if store is not None:
            store.close()
    return 0
