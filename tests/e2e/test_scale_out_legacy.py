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
from collections.abc import AsyncIterator
from contextlib import AbstractAsyncContextManager
from pathlib import Path
from typing import Any

import httpx
import trio
from _support.deployment import Worker
from _support.deployment import workers as start_workers
from _support.http import ACCEPT, initialize, legacy_headers, sse_events
from _support.mcp_http import answer_of, call, events_of, get_headers, rpc
from _support.paths import ROOT
from _support.redis import RedisServer, redis_cli

SERVER = ROOT / "tests" / "servers" / "scaleout_legacy_server.py"
LEGACY = "2025-11-25"
LIMIT = 60
BURST = 60


def workers(
    redis: RedisServer, tmp: Path, n: int = 3, lease: float = 10.0, server: str = "native"
) -> AbstractAsyncContextManager[list[Worker]]:
    """``n`` workers of :data:`SERVER` with this task lease, on this HTTP server."""
    env = {"TRIO_MCP_TASK_LEASE": str(lease)}
    return start_workers(redis, tmp, SERVER, n, env=env, args=["--http-server", server])


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
        try:
            async with http.stream("GET", w.url, headers=get_headers(sid, last)) as r:
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
    async with http.stream("POST", w.url, json=msg, headers=legacy_headers(sid)) as r:
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
            r = await http.post(answer_to.url, json=response, headers=legacy_headers(sid))
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
        assert (await http.post(w1.url, json=note, headers=legacy_headers(sid))).status_code == 202
        level = rpc(1, "logging/setLevel", {"level": "info"})
        assert (await http.post(w1.url, json=level, headers=legacy_headers(sid))).json()[
            "result"
        ] == {}
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
        await http.post(w2.url, json=call(6, "note", text="from w2"), headers=legacy_headers(sid))
        message = await get.next()
        assert (message["method"], message["params"]["data"]) == (
            "notifications/message",
            "from w2",
        )
        await http.post(
            w1.url, json=call(7, "touch", uri="file:///doc"), headers=legacy_headers(sid)
        )
        message = await get.next()
        assert message == {
            "jsonrpc": "2.0",
            "method": "notifications/resources/updated",
            "params": {"uri": "file:///doc"},
        }
        await http.post(w2.url, json=call(8, "drop_spare"), headers=legacy_headers(sid))
        assert (await get.next())["method"] == "notifications/tools/list_changed"

        # w0 is killed while its GET stream carries a burst sent from w1
        async def burst() -> None:
            r = await http.post(w1.url, json=call(9, "burst", n=BURST), headers=legacy_headers(sid))
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
        r = await http.post(
            w1.url, json=call(10, "note", text="after"), headers=legacy_headers(sid)
        )
        assert r.status_code == 200
        assert (await resumed.next())["params"]["data"] == "after"
        nursery.cancel_scope.cancel()


async def open_session(http: httpx.AsyncClient, w: Worker, version: str = LEGACY) -> str:
    return await initialize(http, w.url, capabilities={"tasks": {}}, version=version)


async def test_a_worker_killed_fails_its_tasks_and_answers_its_requests(
    redis_server: RedisServer, tmp_path: Path
) -> None:
    """SIGKILL the worker running a task and a request: within the lease, on other workers,
    the task is ``failed`` and the request gets one error answer when its stream is resumed."""
    async with (
        workers(redis_server, tmp_path, lease=1.5) as (w0, w1, w2),
        httpx.AsyncClient(timeout=LIMIT) as http,
    ):
        sid = await open_session(http, w1)
        task = rpc(1, "tools/call", {"name": "forever", "arguments": {}, "task": {"ttl": 60_000}})
        r = await http.post(w0.url, json=task, headers=legacy_headers(sid))
        task_id = answer_of(r)["result"]["task"]["taskId"]
        # request 2: its client left (the stream spilled to Redis); request 8: its client
        # still reads when the worker dies (nothing of it is in Redis)
        left = await first_event_ids(http, w0, sid, call(2, "stall", {"progressToken": 7}))
        # w0 notices the client left when it reads the closed connection: only then does
        # the stream spill, so its progress event must be in Redis before w0 is killed
        await spilled(redis_server, sid, "notifications/progress")
        reading: list[str] = []
        progressed = trio.Event()

        async def read_on() -> None:
            msg = call(8, "stall", {"progressToken": 8})
            try:
                async with http.stream("POST", w0.url, json=msg, headers=legacy_headers(sid)) as r:
                    async for event in events_of(r):
                        reading.append(event["id"])
                        if event.get("data"):
                            progressed.set()
            except (httpx.RemoteProtocolError, httpx.ReadError):
                pass  # the worker died under it

        async with trio.open_nursery() as nursery:
            nursery.start_soon(read_on)
            with trio.fail_after(LIMIT):
                await progressed.wait()
            w0.proc.kill()  # SIGKILL: no goodbye
            await trio.to_thread.run_sync(w0.proc.wait)
        # from its priming event, the stream that spilled replays what it stored first
        for rid, last, on, before in ((2, left[0], w2, 1), (8, reading[-1], w1, 0)):
            with trio.fail_after(LIMIT):
                resumed = get_headers(sid, last)
                r = await http.get(on.url, headers=resumed)
            assert r.status_code == 200
            got = [json.loads(e["data"]) for e in sse_events(r.text) if e.get("data")]
            assert [m.get("method") for m in got[:before]] == ["notifications/progress"] * before
            answers = got[before:]
            assert [a.get("id") for a in answers] == [rid]  # exactly one answer, its own
            error = answers[0]["error"]
            assert error["code"] == -32603 and "stopped before answering" in error["message"]
            assert error["data"] == {"retryable": True}
        with trio.fail_after(LIMIT):
            while True:  # within the lease, whichever worker looks
                got = await http.post(
                    w1.url,
                    json=rpc(3, "tasks/get", {"taskId": task_id}),
                    headers=legacy_headers(sid),
                )
                status = answer_of(got)["result"]["status"]
                if status == "failed":
                    break
                assert status == "working", got.text
                await trio.sleep(0.1)
        listed = await http.post(w2.url, json=rpc(4, "tasks/list"), headers=legacy_headers(sid))
        assert [t["status"] for t in answer_of(listed)["result"]["tasks"]] == ["failed"]
        # the session itself goes on, on the workers left
        done = await http.post(w1.url, json=call(5, "count", n=1), headers=legacy_headers(sid))
        assert "counted 1" in done.text


async def test_a_worker_killed_answers_every_request_of_its_batches(
    redis_server: RedisServer, tmp_path: Path
) -> None:
    """SIGKILL the worker running three JSON-RPC batches (2025-03-26): resumed on other
    workers, each batch gets one response answering every one of its requests once.

    One batch its client left (spilled), holding a ``ping`` the session answered itself
    (recorded in Redis); one whose client reads, ids named in its stream id; one whose
    client reads, ids too long to name (recorded)."""
    async with (
        workers(redis_server, tmp_path, lease=1.5) as (w0, w1, w2),
        httpx.AsyncClient(timeout=LIMIT) as http,
    ):
        old = {"mcp-protocol-version": "2025-03-26"}
        sid = await open_session(http, w1, "2025-03-26")

        def stall(rid: Any) -> dict[str, Any]:
            return call(rid, "stall", {"progressToken": f"t{rid}"})

        batches: list[list[dict[str, Any]]] = [
            [stall(2), stall(3), rpc(4, "ping")],
            [stall(8), stall(9)],
            [stall("a" * 60), stall("b" * 60)],
        ]
        left: list[str] = []
        with trio.fail_after(LIMIT):
            async with http.stream(
                "POST", w0.url, json=batches[0], headers=legacy_headers(sid, **old)
            ) as r:
                async for event in events_of(r):
                    left.append(event["id"])
                    if event.get("data"):
                        break
        await spilled(redis_server, sid, "notifications/progress")
        reading: list[list[str]] = [[], []]
        progressed = [trio.Event(), trio.Event()]

        async def read_on(i: int) -> None:
            try:
                async with http.stream(
                    "POST", w0.url, json=batches[i + 1], headers=legacy_headers(sid, **old)
                ) as r:
                    async for event in events_of(r):
                        reading[i].append(event["id"])
                        if event.get("data"):
                            progressed[i].set()
            except (httpx.RemoteProtocolError, httpx.ReadError):
                pass  # the worker died under it

        async with trio.open_nursery() as nursery:
            for i in range(2):
                nursery.start_soon(read_on, i)
            with trio.fail_after(LIMIT):
                for event in progressed:
                    await event.wait()
            w0.proc.kill()  # SIGKILL: no goodbye
            await trio.to_thread.run_sync(w0.proc.wait)
        for batch, last, on in (
            (batches[0], left[-1], w2),
            (batches[1], reading[0][-1], w1),
            (batches[2], reading[1][-1], w2),
        ):
            with trio.fail_after(LIMIT):
                resumed = get_headers(sid, last, version="2025-03-26")
                r = await http.get(on.url, headers=resumed)
            assert r.status_code == 200
            got = [json.loads(e["data"]) for e in sse_events(r.text) if e.get("data")]
            assert all(m["method"] == "notifications/progress" for m in got[:-1])
            [response] = got[-1:]  # one response for the batch, last
            assert isinstance(response, list)
            assert sorted(a["id"] for a in response) == sorted(m["id"] for m in batch), response
            for a in response:
                if a["id"] == 4:
                    assert a["result"] == {}  # the ping the session had answered itself
                    continue
                error = a["error"]
                assert error["code"] == -32603 and "stopped before answering" in error["message"]
                assert error["data"] == {"retryable": True}
        # nothing is owed any more: the streams' keys are gone (each resumed to its end)
        keys = redis_cli(redis_server.port, "--scan", "--pattern", f"trio_mcp:events:{sid}:p*")
        assert keys.split() == []


async def spilled(redis: RedisServer, sid: str, text: str) -> None:
    """Wait until a POST stream of session ``sid`` has spilled an event holding ``text``."""

    def found() -> bool:
        keys = redis_cli(redis.port, "--scan", "--pattern", f"trio_mcp:events:{sid}:*").split()
        return any(text in redis_cli(redis.port, "XRANGE", key, "-", "+") for key in keys)

    with trio.fail_after(LIMIT):
        while not await trio.to_thread.run_sync(found):
            await trio.sleep(0.05)


async def first_event_ids(
    http: httpx.AsyncClient, w: Worker, sid: str, msg: dict[str, Any]
) -> list[str]:
    """POST ``msg``, read its stream up to its first message, then leave: the event ids."""
    ids: list[str] = []
    with trio.fail_after(LIMIT):
        async with http.stream("POST", w.url, json=msg, headers=legacy_headers(sid)) as r:
            async for event in events_of(r):
                ids.append(event["id"])
                if event.get("data"):
                    break
    return ids


async def test_two_hypercorn_workers_share_a_session(
    redis_server: RedisServer, tmp_path: Path
) -> None:
    """The ``asgi_app()`` path (``--http-server hypercorn``) shares legacy sessions too."""
    async with (
        workers(redis_server, tmp_path, n=2, server="hypercorn") as (w0, w1),
        httpx.AsyncClient(timeout=LIMIT) as http,
        trio.open_nursery() as nursery,
    ):
        assert b"hypercorn" in w0.stderr.read_bytes().lower()
        sid = await open_session(http, w0)
        level = rpc(1, "logging/setLevel", {"level": "info"})
        assert (
            answer_of(await http.post(w1.url, json=level, headers=legacy_headers(sid)))["result"]
            == {}
        )
        done = await http.post(w1.url, json=call(2, "count", n=2), headers=legacy_headers(sid))
        assert answer_of(done)["result"]["content"][0]["text"] == "counted 2"
        get = GetStream()
        await nursery.start(get.run, http, w0, sid)
        sent = await http.post(
            w1.url, json=call(3, "note", text="via w1"), headers=legacy_headers(sid)
        )
        assert answer_of(sent)["result"]["content"][0]["text"] == "true"
        assert (await get.next())["params"]["data"] == "via w1"  # written out by w0
        task = rpc(4, "tools/call", {"name": "forever", "arguments": {}, "task": {"ttl": 60_000}})
        task_id = answer_of(await http.post(w1.url, json=task, headers=legacy_headers(sid)))[
            "result"
        ]["task"]["taskId"]
        cancel = rpc(5, "tasks/cancel", {"taskId": task_id})
        cancelled = answer_of(await http.post(w0.url, json=cancel, headers=legacy_headers(sid)))
        assert cancelled["result"]["status"] == "cancelled"
        assert (await http.delete(w0.url, headers=legacy_headers(sid))).status_code == 200
        with trio.fail_after(LIMIT):
            while True:  # w1's copy hears of the DELETE by pub/sub
                r = await http.post(w1.url, json=call(6, "count", n=1), headers=legacy_headers(sid))
                if r.status_code == 404:
                    break
                await trio.sleep(0.05)
        nursery.cancel_scope.cancel()


async def test_redis_stopped_and_restarted_under_load(
    redis_server: RedisServer, tmp_path: Path
) -> None:
    """Legacy sessions, three workers, Redis stopped mid-load then back with its data (AOF).

    During the gap every answer is a result or a clear ``-32603`` (503 ``Retry-After``
    for what needs Redis: ``initialize``, a worker whose copy must be checked); no
    request hangs, no process exits. Afterwards the sessions opened before the gap go
    on, on every worker, GET stream included.
    """
    redis_server.stop()
    redis_server.persist = True
    redis_server.start()
    async with (
        workers(redis_server, tmp_path) as ws,
        httpx.AsyncClient(timeout=LIMIT) as http,
        trio.open_nursery() as nursery,
    ):
        sid = await open_session(http, ws[0])
        outcomes: dict[str, list[str]] = {"before": [], "gap": [], "after": []}
        phase = ["before"]
        unexpected: list[str] = []

        async def load(k: int) -> None:
            n = 0
            while True:
                n += 1
                w = ws[(k + n) % 3]
                if n % 4 == 0:  # initialize always needs Redis
                    init = rpc(0, "initialize", {"protocolVersion": LEGACY, "capabilities": {}})
                    msg, hdrs = init, {"accept": ACCEPT}
                else:
                    msg, hdrs = call(n, "count", n=1), legacy_headers(sid)
                with trio.fail_after(LIMIT):  # nothing hangs past the store's timeout
                    r = await http.post(w.url, json=msg, headers=hdrs)
                if r.status_code == 200 and "result" in answer_of(r):
                    outcomes[phase[0]].append("ok")
                elif r.status_code == 503 and r.headers.get("retry-after") == "1":
                    error = r.json()["error"]
                    assert (error["code"], error["message"]) == (
                        -32603,
                        "session store unavailable",
                    )
                    outcomes[phase[0]].append("unavailable")
                else:
                    unexpected.append(f"{phase[0]} {r.status_code} {r.text[:200]}")
                await trio.sleep(0.01)

        for k in range(3):
            nursery.start_soon(load, k)

        async def until(name: str, kind: str) -> None:
            with trio.fail_after(LIMIT):
                while outcomes[name].count(kind) < 6:
                    await trio.sleep(0.05)

        await until("before", "ok")
        redis_server.stop()
        phase[0] = "gap"
        await until("gap", "unavailable")
        assert all(w.proc.poll() is None for w in ws)  # no process exits
        redis_server.start()  # with its data: the session's record is back
        phase[0] = "after"
        await until("after", "ok")
        with trio.fail_after(LIMIT):
            while outcomes["after"][-9:].count("ok") < 9:  # every worker serves again
                await trio.sleep(0.05)
        nursery.cancel_scope.cancel()
        assert unexpected == []
        # the session opened before the gap, on every worker, GET stream included
        for i, w in enumerate(ws):
            done = await http.post(
                w.url, json=call(100 + i, "count", n=1), headers=legacy_headers(sid)
            )
            assert answer_of(done)["result"]["content"][0]["text"] == "counted 1"
        async with trio.open_nursery() as inner:
            get = GetStream()
            await inner.start(get.run, http, ws[2], sid)
            level = rpc(200, "logging/setLevel", {"level": "info"})
            assert answer_of(await http.post(ws[1].url, json=level, headers=legacy_headers(sid)))
            await http.post(
                ws[0].url, json=call(201, "note", text="after"), headers=legacy_headers(sid)
            )
            assert (await get.next())["params"]["data"] == "after"
            inner.cancel_scope.cancel()
        assert all(w.proc.poll() is None for w in ws)
