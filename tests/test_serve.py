"""chatcli serve against real clients: a server process started on 127.0.0.1 by the test, spoken to
with the official `openai` client (sync and async), plain HTTP for raw SSE and disconnects, and a
bounded load test (50 concurrent streams, each checked against its own sequential reference)."""
from __future__ import annotations

import asyncio
import json
import os
import re
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

openai = pytest.importorskip("openai")


class Server:
    def __init__(self, model: Path, tmp: Path, *extra: str) -> None:
        self.err_path = tmp / f"serve-{os.getpid()}-{time.time_ns()}.err"
        self.err = open(self.err_path, "w")
        env = dict(os.environ, NO_COLOR="1", CHATCLI_HOME=str(tmp / "home"))
        self.proc = subprocess.Popen([sys.executable, "-m", "chatcli.app", "serve", "--model", str(model),
                                      "--port", "0", *extra], stdout=subprocess.DEVNULL, stderr=self.err, env=env)
        deadline = time.time() + 120
        while True:
            text = self.err_path.read_text()
            m = re.search(r"at (http://127\.0\.0\.1:\d+)/v1", text)
            if m:
                self.url = m.group(1)
                break
            if self.proc.poll() is not None or time.time() > deadline:
                raise AssertionError(f"server did not start: {text}")
            time.sleep(0.1)

    def stop(self) -> int:
        self.proc.send_signal(2)  # Ctrl-C: graceful shutdown
        try:
            return self.proc.wait(20)
        finally:
            if self.proc.poll() is None:
                self.proc.kill()
            self.err.close()

    def health(self) -> dict:
        return json.loads(urllib.request.urlopen(self.url + "/health", timeout=10).read())

    def client(self, **kw):
        return openai.OpenAI(base_url=self.url + "/v1", api_key="none", max_retries=0, timeout=60, **kw)


@pytest.fixture(scope="module")
def server(long_model_dir, tmp_path_factory):
    s = Server(long_model_dir, tmp_path_factory.mktemp("srv"), "--parallel", "4")
    yield s
    assert s.stop() == 0
    assert "Traceback" not in s.err_path.read_text()


def post(url: str, body: bytes | dict, headers: dict | None = None) -> tuple[int, dict]:
    data = body if isinstance(body, bytes) else json.dumps(body).encode()
    req = urllib.request.Request(url, data=data, headers={"Content-Type": "application/json", **(headers or {})})
    try:
        with urllib.request.urlopen(req, timeout=60) as r:
            return r.status, json.loads(r.read())
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read())


MSG = [{"role": "user", "content": "the king said"}]


def test_models_lists_the_served_model(server):
    c = server.client()
    models = c.models.list().data
    assert [m.id for m in models] == ["tiny"]
    assert c.models.retrieve("tiny").id == "tiny"
    with pytest.raises(openai.NotFoundError):
        c.models.retrieve("gpt-4")


def test_chat_completion_has_usage_timings_and_is_seeded(server):
    c = server.client()
    r = c.chat.completions.create(model="tiny", messages=MSG, max_tokens=12, seed=5, temperature=1.0)
    choice = r.choices[0]
    assert r.object == "chat.completion" and choice.message.role == "assistant"
    assert isinstance(choice.message.content, str) and choice.finish_reason in ("stop", "length")
    u = r.usage
    assert u.prompt_tokens > 3 and 0 <= u.completion_tokens <= 12
    assert u.total_tokens == u.prompt_tokens + u.completion_tokens
    extra = r.model_extra
    assert extra["seed"] == 5
    t = extra["timings"]
    assert t["completion_tokens"] == u.completion_tokens and t["ttft_s"] >= 0 and t["total_s"] >= t["ttft_s"]
    again = c.chat.completions.create(model="tiny", messages=MSG, max_tokens=12, seed=5, temperature=1.0)
    assert again.choices[0].message.content == choice.message.content and again.id != r.id
    if u.completion_tokens == 12:
        assert choice.finish_reason == "length"


def test_stream_equals_the_full_reply_and_ends_with_usage(server):
    c = server.client()
    args = dict(model="tiny", messages=MSG, max_tokens=20, seed=11, temperature=1.0)
    full = c.chat.completions.create(**args)
    chunks = list(c.chat.completions.create(**args, stream=True))
    assert chunks[0].choices[0].delta.role == "assistant"
    text = "".join(ch.choices[0].delta.content or "" for ch in chunks if ch.choices)
    assert text == full.choices[0].message.content
    last = chunks[-1]
    assert last.choices[0].finish_reason == full.choices[0].finish_reason
    assert last.usage.completion_tokens == full.usage.completion_tokens
    assert last.model_extra["timings"]["completion_tokens"] == full.usage.completion_tokens
    # OpenAI's include_usage: a final chunk with no choices carries the usage
    chunks = list(c.chat.completions.create(**args, stream=True, stream_options={"include_usage": True}))
    assert chunks[-1].choices == [] and chunks[-1].usage.total_tokens == full.usage.total_tokens
    assert chunks[-2].choices[0].finish_reason is not None and chunks[-2].usage is None


def test_stop_strings_cut_the_answer(server):
    c = server.client()
    args = dict(model="tiny", messages=MSG, max_tokens=40, seed=3, temperature=1.0,
                extra_body={"repeat_penalty": 1.0})
    free = c.chat.completions.create(**args).choices[0].message.content
    if len(free.strip()) < 6:
        pytest.skip("the random model ended its answer too soon to pick a stop string")
    stop = free.strip()[3:6]
    cut = c.chat.completions.create(**args, stop=[stop])
    assert cut.choices[0].message.content == free[:free.index(stop)]
    assert cut.choices[0].finish_reason == "stop"


def test_completions_endpoint_plain_and_streamed(server):
    c = server.client()
    r = c.completions.create(model="tiny", prompt="the old queen", max_tokens=10, seed=2, temperature=1.0)
    assert r.object == "text_completion" and r.usage.completion_tokens <= 10
    streamed = "".join(ch.choices[0].text for ch in c.completions.create(
        model="tiny", prompt="the old queen", max_tokens=10, seed=2, temperature=1.0, stream=True) if ch.choices)
    assert streamed == r.choices[0].text


@pytest.mark.parametrize("args, status, fragment", [
    (dict(temperature=3), 400, "temperature"),
    (dict(n=2), 400, "n=1"),
    (dict(frequency_penalty=0.5), 400, "repeat_penalty"),
    (dict(model="gpt-4"), 404, "not found"),
    (dict(messages=[{"role": "assistant", "content": "hi"}]), 400, "last message"),
    (dict(messages=[{"role": "user", "content": "hi"}, {"role": "system", "content": "late"}]), 400, "first"),
    (dict(messages=[{"role": "tool", "content": "x"}]), 400, "not supported"),
    (dict(messages=[]), 400, "messages"),
    (dict(messages=[{"role": "user", "content": "the king " * 1500}]), 400, "context"),
])
def test_bad_requests_get_openai_errors(server, args, status, fragment):
    c = server.client()
    kwargs = dict(model="tiny", messages=MSG, max_tokens=4)
    kwargs.update(args)
    with pytest.raises(openai.APIStatusError) as info:
        c.chat.completions.create(**kwargs)
    assert info.value.status_code == status
    err = info.value.body if "message" in (info.value.body or {}) else info.value.body["error"]
    assert fragment in err["message"] and err["type"] == "invalid_request_error"


def test_raw_http_errors_are_json(server):
    status, body = post(server.url + "/v1/chat/completions", b"{not json")
    assert status == 400 and "not valid JSON" in body["error"]["message"]
    status, body = post(server.url + "/v1/chat/completions", {"messages": "hi"})
    assert status == 400 and body["error"]["param"] == "messages"
    try:
        urllib.request.urlopen(server.url + "/v1/nothing", timeout=10)
        raise AssertionError("expected 404")
    except urllib.error.HTTPError as e:
        assert e.code == 404 and "unknown path" in json.loads(e.read())["error"]["message"]


def test_curl_style_stream_is_server_sent_events(server):
    req = urllib.request.Request(server.url + "/v1/chat/completions", headers={"Content-Type": "application/json"},
                                 data=json.dumps({"messages": MSG, "max_tokens": 5, "stream": True}).encode())
    with urllib.request.urlopen(req, timeout=60) as r:
        assert r.headers["content-type"].startswith("text/event-stream")
        events = [line for line in r.read().decode().split("\n\n") if line]
    assert all(e.startswith("data: ") for e in events) and events[-1] == "data: [DONE]"
    docs = [json.loads(e[6:]) for e in events[:-1]]
    assert {d["id"] for d in docs} == {docs[0]["id"]} and docs[-1]["usage"]["completion_tokens"] <= 5


def _wait_idle(server, timeout=30) -> dict:
    deadline = time.time() + timeout
    while True:
        h = server.health()
        if h["active"] == 0 and h["queued"] == 0:
            return h
        assert time.time() < deadline, h
        time.sleep(0.1)


@pytest.mark.parametrize("stream", [True, False])
def test_client_that_disconnects_stops_its_generation(server, stream):
    before = _wait_idle(server)
    host, port = server.url.removeprefix("http://").split(":")
    body = json.dumps({"messages": [{"role": "user", "content": "tell me a long story"}], "max_tokens": 1900,
                       "temperature": 0, "repeat_penalty": 1.0, "stream": stream}).encode()
    s = socket.create_connection((host, int(port)))
    s.sendall(b"POST /v1/chat/completions HTTP/1.1\r\nHost: t\r\nContent-Type: application/json\r\n"
              b"Content-Length: %d\r\n\r\n" % len(body) + body)
    if stream:
        assert b"200 OK" in s.recv(4096)
    deadline = time.time() + 10
    while server.health()["active"] == 0 and time.time() < deadline:  # generation has started
        time.sleep(0.02)
    s.close()
    after = _wait_idle(server)
    assert after["cancelled"] == before["cancelled"] + 1 and after["completed"] == before["completed"]
    assert after["completion_tokens"] - before["completion_tokens"] < 1900


def test_fifty_concurrent_streams_all_complete_none_mixed(server):
    n = 50
    prompts = [[{"role": "user", "content": f"the king said {i}"}] for i in range(n)]
    sync = server.client()
    reference = [sync.chat.completions.create(model="tiny", messages=p, max_tokens=16, seed=100 + i,
                                              temperature=1.0) for i, p in enumerate(prompts)]

    async def one(client, i):
        stream = await client.chat.completions.create(model="tiny", messages=prompts[i], max_tokens=16,
                                                      seed=100 + i, temperature=1.0, stream=True)
        parts, ids, usage = [], set(), None
        async for ch in stream:
            ids.add(ch.id)
            if ch.choices:
                parts.append(ch.choices[0].delta.content or "")
            usage = ch.usage or usage
        return "".join(parts), ids, usage

    async def main():
        client = openai.AsyncOpenAI(base_url=server.url + "/v1", api_key="none", max_retries=0, timeout=120)
        t0 = time.perf_counter()
        results = await asyncio.gather(*(one(client, i) for i in range(n)))
        return results, time.perf_counter() - t0

    results, wall = asyncio.run(main())
    assert len(results) == n
    for i, (text, ids, usage) in enumerate(results):
        assert len(ids) == 1  # one reply id per stream
        assert text == reference[i].choices[0].message.content, i  # exactly its own sequential answer
        assert usage.completion_tokens == reference[i].usage.completion_tokens
    assert len({next(iter(ids)) for _, ids, _ in results}) == n
    print(f"\n{n} concurrent streams: all completed, none mixed, {wall:.2f} s wall")
    assert _wait_idle(server)["failed"] == 0


def test_api_key_port_in_use_and_logging(long_model_dir, tmp_path):
    s = Server(long_model_dir, tmp_path, "--api-key", "sekrit", "--log")
    try:
        with pytest.raises(openai.AuthenticationError):
            s.client().models.list()
        c = openai.OpenAI(base_url=s.url + "/v1", api_key="sekrit", max_retries=0)
        r = c.chat.completions.create(model="tiny", messages=MSG, max_tokens=4, seed=1)
        port = s.url.rsplit(":", 1)[1]
        busy = subprocess.run([sys.executable, "-m", "chatcli.app", "serve", "--model", str(long_model_dir),
                               "--port", port], capture_output=True, text=True, timeout=60)
        assert busy.returncode == 1 and "cannot listen" in busy.stderr and "Traceback" not in busy.stderr
        assert len(busy.stderr.strip().splitlines()) == 1
    finally:
        assert s.stop() == 0
    from chatcli.logs import LogStore
    store = LogStore(tmp_path / "home" / "logs.db")
    conv = store.conversations()
    assert len(conv) == 1
    turns = store.turns(conv[0]["id"])
    assert turns[-1]["answer"] == r.choices[0].message.content and turns[-1]["prompt"] == "the king said"
