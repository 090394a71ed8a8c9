"""A legacy session (2025-11-25) over three ``trio-mcp run --transport http`` workers and Redis.

Each worker is its own process on its own port, started with ``TRIO_MCP_REDIS_URL``.
The client holds the session's GET stream on one worker and sends every POST to
another one, as a load balancer without affinity would: sampling and elicitation
round trips (answered to yet another worker), progress, logging, a subscription and
its ``resources/updated``, ``list_changed``. Then the worker holding the GET stream is
killed with SIGKILL while it streams, and the client resumes with ``Last-Event-ID``
on another worker: every event arrives exactly once.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
import trio
from _support.paths import ROOT
from _support.redis import RedisServer, free_port

SERVER = ROOT / "tests" / "servers" / "scaleout_legacy_server.py"
LEGACY = "2025-11-25"
ACCEPT = "application/json, text/event-stream"
LIMIT = 60
BURST = 60


class Worker:
    def __init__(self, proc: subprocess.Popen[bytes], port: int, stderr: Path) -> None:
        self.proc, self.port, self.stderr = proc, port, stderr
        self.url = f"http://127.0.0.1:{port}/mcp"


@asynccontextmanager
async def workers(redis: RedisServer, tmp: Path, n: int = 3) -> AsyncIterator[list[Worker]]:
    env = dict(os.environ, TRIO_MCP_REDIS_URL=redis.url)
    started: list[Worker] = []
    try:
        for i in range(n):
            port = free_port()
            argv = [sys.executable, "-m", "trio_mcp", "run", str(SERVER)]
            argv += ["--transport", "http", "--port", str(port)]
            stderr = tmp / f"worker{i}.stderr"
            with stderr.open("wb") as err:
                proc = subprocess.Popen(
                    argv, stdin=subprocess.DEVNULL, stdout=err, stderr=err, env=env
                )
            started.append(Worker(proc, port, stderr))
        with trio.fail_after(LIMIT):
            for w in started:
                while b"serving MCP over HTTP" not in w.stderr.read_bytes():
                    assert w.proc.poll() is None, w.stderr.read_text()
                    await trio.sleep(0.05)
        yield started
    finally:
        for w in started:
            if w.proc.poll() is None:
                w.proc.send_signal(signal.SIGTERM)
        for w in started:
            await trio.to_thread.run_sync(w.proc.wait, LIMIT)


def headers(sid: str, **extra: str) -> dict[str, str]:
    return {"accept": ACCEPT, "mcp-session-id": sid, "mcp-protocol-version": LEGACY, **extra}


def rpc(rid: int, method: str, params: dict[str, Any] | None = None) -> dict[str, Any]:
    return {"jsonrpc": "2.0", "id": rid, "method": method, "params": params or {}}


def call(rid: int, tool: str, meta: dict[str, Any] | None = None, **args: Any) -> dict[str, Any]:
    params: dict[str, Any] = {"name": tool, "arguments": args}
    if meta is not None:
        params["_meta"] = meta
    return rpc(rid, "tools/call", params)


async def events_of(response: httpx.Response) -> AsyncIterator[dict[str, str]]:
    """Each SSE event of a streamed response, as its fields."""
    fields: dict[str, str] = {}
    async for line in response.aiter_lines():
        if not line:
            if fields:
                yield fields
            fields = {}
        elif not line.startswith(":"):
            key, _, value = line.partition(":")
            fields[key] = value[1:] if value.startswith(" ") else value


class GetStream:
    """The session's GET stream, read by a task: its messages, in order, and the last id."""

    def __init__(self) -> None:
        self.send, self.receive = trio.open_memory_channel[dict[str, Any]](1000)
        self.last: str | None = None
        self.ended = trio.Event()

    async def run(
        self,
        http: httpx.AsyncClient,
        w: Worker,
        sid: str,
        last: str | None = None,
        *,
        task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED,
    ) -> None:
        extra = {"accept": "text/event-stream"}
        if last is not None:
            extra["last-event-id"] = last
        try:
            async with http.stream("GET", w.url, headers=headers(sid, **extra)) as r:
                assert r.status_code == 200
                task_status.started()
                async for event in events_of(r):
                    if event.get("data"):
                        await self.send.send(json.loads(event["data"]))
                    self.last = event["id"]  # after the message is kept: it was received
        except (httpx.RemoteProtocolError, httpx.ReadError):
            pass  # the worker holding it died
        finally:
            self.ended.set()

    async def next(self) -> dict[str, Any]:
        with trio.fail_after(LIMIT):
            return await self.receive.receive()


async def post_stream(
    http: httpx.AsyncClient, w: Worker, sid: str, msg: dict[str, Any]
) -> AsyncIterator[dict[str, Any]]:
    """The messages of one POST's SSE answer, as they come (or its JSON answer)."""
    async with http.stream("POST", w.url, json=msg, headers=headers(sid)) as r:
        assert r.status_code == 200
        if r.headers["content-type"] == "application/json":  # the answer came first
            yield json.loads(await r.aread())
            return
        async for event in events_of(r):
            if event.get("data"):
                yield json.loads(event["data"])


async def round_trip(
    http: httpx.AsyncClient,
    on: Worker,
    answer_to: Worker,
    sid: str,
    msg: dict[str, Any],
    reply: Any,
) -> dict[str, Any]:
    """Call a tool on ``on``; answer its server-to-client request on ``answer_to``; the answer."""
    asked = False
    async for message in post_stream(http, on, sid, msg):
        if "method" in message and "id" in message:
            asked = True
            response = {"jsonrpc": "2.0", "id": message["id"], "result": reply(message)}
            r = await http.post(answer_to.url, json=response, headers=headers(sid))
            assert r.status_code == 202
        elif "result" in message or "error" in message:
            assert asked
            return message
    raise AssertionError("no answer")


async def test_a_legacy_session_over_three_workers(
    redis_server: RedisServer, tmp_path: Path
) -> None:
    async with (
        workers(redis_server, tmp_path) as (w0, w1, w2),
        httpx.AsyncClient(timeout=LIMIT) as http,
        trio.open_nursery() as nursery,
    ):
        caps = {"sampling": {}, "elicitation": {}}
        init = rpc(0, "initialize", {"protocolVersion": LEGACY, "capabilities": caps})
        r = await http.post(w0.url, json=init, headers={"accept": ACCEPT})
        assert r.status_code == 200 and r.json()["result"]["protocolVersion"] == LEGACY
        sid = r.headers["mcp-session-id"]
        note = {"jsonrpc": "2.0", "method": "notifications/initialized"}
        assert (await http.post(w1.url, json=note, headers=headers(sid))).status_code == 202
        level = rpc(1, "logging/setLevel", {"level": "info"})
        assert (await http.post(w1.url, json=level, headers=headers(sid))).json()["result"] == {}
        sub = rpc(2, "resources/subscribe", {"uri": "file:///doc"})
        assert [m async for m in post_stream(http, w2, sid, sub)][-1]["result"] == {}
        get = GetStream()
        await nursery.start(get.run, http, w0, sid)

        def completion(_: Any) -> dict[str, Any]:
            return {"role": "assistant", "content": {"type": "text", "text": "hi"}, "model": "m"}

        done = await round_trip(http, w1, w2, sid, call(3, "sample", prompt="hello"), completion)
        assert done["result"]["content"][0]["text"] == "model said hi"

        def accept(_: Any) -> dict[str, Any]:
            return {"action": "accept", "content": {"ok": True}}

        done = await round_trip(http, w2, w1, sid, call(4, "ask"), accept)
        assert done["result"]["content"][0]["text"] == "accept:True"
        progress = [
            m
            async for m in post_stream(http, w1, sid, call(5, "count", {"progressToken": "t"}, n=3))
        ]
        assert [m["params"]["progress"] for m in progress[:-1]] == [1, 2, 3]
        assert progress[-1]["result"]["content"][0]["text"] == "counted 3"

        # what the other workers send outside a request reaches the GET stream on w0
        await http.post(w2.url, json=call(6, "note", text="from w2"), headers=headers(sid))
        message = await get.next()
        assert (message["method"], message["params"]["data"]) == (
            "notifications/message",
            "from w2",
        )
        await http.post(w1.url, json=call(7, "touch", uri="file:///doc"), headers=headers(sid))
        message = await get.next()
        assert message == {
            "jsonrpc": "2.0",
            "method": "notifications/resources/updated",
            "params": {"uri": "file:///doc"},
        }
        await http.post(w2.url, json=call(8, "drop_spare"), headers=headers(sid))
        assert (await get.next())["method"] == "notifications/tools/list_changed"

        # w0 is killed while its GET stream carries a burst sent from w1
        async def burst() -> None:
            r = await http.post(w1.url, json=call(9, "burst", n=BURST), headers=headers(sid))
            assert r.status_code == 200

        nursery.start_soon(burst)
        seen = [(await get.next())["params"]["data"] for _ in range(10)]
        w0.proc.kill()
        await trio.to_thread.run_sync(w0.proc.wait, LIMIT)
        with trio.fail_after(LIMIT):
            await get.ended.wait()
        while True:  # what w0 had written before it died
            try:
                seen.append(get.receive.receive_nowait()["params"]["data"])
            except trio.WouldBlock:
                break
        assert get.last is not None
        resumed = GetStream()
        await nursery.start(resumed.run, http, w2, sid, get.last)
        before = len(seen)
        while seen[-1] != f"burst {BURST - 1}":
            seen.append((await resumed.next())["params"]["data"])
        assert seen == [f"burst {i}" for i in range(BURST)]  # each once, in order
        assert before < BURST  # w0 died mid-burst: the rest came through w2
        # the session lives on without w0
        r = await http.post(w1.url, json=call(10, "note", text="after"), headers=headers(sid))
        assert r.status_code == 200
        assert (await resumed.next())["params"]["data"] == "after"
        nursery.cancel_scope.cancel()
