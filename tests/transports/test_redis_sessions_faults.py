"""Shared legacy sessions when Redis refuses, races, or is abused (a real redis-server).

The workers, tools and helpers are those of ``test_redis_sessions.py``. Each test
here reproduces one defect found in review; nothing asserts on time (``fail_after``
only bounds a hang).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from functools import partial
from typing import Any

import pytest
import trio
from _support.http import legacy_headers, serving
from _support.mcp_http import Events, answer_of, call, get_headers, until_status
from _support.redis import RedisServer, redis_cli
from transports.test_redis_sessions import LIMIT, build, open_session, workers

httpx = pytest.importorskip("httpx2")


async def test_redis_refusing_writes_is_503_not_a_crash(redis_server: RedisServer) -> None:
    """Redis at ``maxmemory`` (OOM error replies) never takes a worker down."""
    with trio.fail_after(LIMIT):
        async with workers(redis_server) as (urls, _), httpx.AsyncClient(timeout=LIMIT) as c:
            a, b, w3 = urls
            sid = await open_session(c, a)
            level = {"jsonrpc": "2.0", "id": 0, "method": "logging/setLevel"}
            level["params"] = {"level": "info"}
            assert (await c.post(b, json=level, headers=legacy_headers(sid))).status_code == 200
            async with c.stream("GET", a, headers=get_headers(sid)) as stream:
                events = Events(stream)
                await events.next()
                redis_cli(redis_server.port, "CONFIG", "SET", "maxmemory", "1")
                try:
                    # a log record outside the request (the pump), list_changed (the fan-out)
                    r = await c.post(b, json=call(1, "note", text="x"), headers=legacy_headers(sid))
                    assert answer_of(r)["result"]["content"][0]["text"] == "queued"
                    r = await c.post(w3, json=call(2, "drop_spare"), headers=legacy_headers(sid))
                    assert r.status_code == 200
                    params = {"protocolVersion": "2025-11-25", "capabilities": {}}
                    r = await c.post(
                        w3,
                        json={"jsonrpc": "2.0", "id": 3, "method": "initialize", "params": params},
                        headers={"accept": "application/json, text/event-stream"},
                    )
                    assert r.status_code == 503, r.text
                    assert r.json()["error"]["message"] == "session store unavailable"
                finally:
                    redis_cli(redis_server.port, "CONFIG", "SET", "maxmemory", "0")
                # every worker still serves, and what it sends outside requests arrives
                for i, url in enumerate((a, b, w3)):
                    r = await c.post(
                        url, json=call(10 + i, "echo", text="up"), headers=legacy_headers(sid)
                    )
                    assert answer_of(r)["result"]["content"][0]["text"] == "up"
                r = await c.post(b, json=call(20, "note", text="back"), headers=legacy_headers(sid))
                got = await events.message()
                if got["method"] == "notifications/tools/list_changed":
                    got = await events.message()  # its fan-out may have run after the refusals
                assert got["params"]["data"] == "back"


@asynccontextmanager
async def transports(redis: RedisServer, n: int = 2) -> AsyncIterator[list[Any]]:
    """``n`` workers sharing ``redis``: their HTTP transports (``urls``, ``sessions``...)."""
    seen: dict[str, Any] = {"event": trio.Event(), "go": trio.Event()}
    async with AsyncExitStack() as stack:
        out = []
        for _ in range(n):
            out.append(await stack.enter_async_context(serving(build(redis.url, seen))))
        yield out


def subscribe(rid: int, uri: str, method: str = "resources/subscribe") -> dict[str, Any]:
    return {"jsonrpc": "2.0", "id": rid, "method": method, "params": {"uri": uri}}


async def test_subscriptions_written_by_two_copies_are_both_kept(redis_server: RedisServer) -> None:
    """Two copies that each took a subscribe before hearing of the other's: none is lost."""
    with trio.fail_after(LIMIT):
        async with transports(redis_server) as (ta, tb), httpx.AsyncClient(timeout=LIMIT) as c:
            a, b = ta.urls[0], tb.urls[0]
            sid = await open_session(c, a)
            r = await c.post(b, json=call(1, "echo", text="x"), headers=legacy_headers(sid))
            assert r.status_code == 200  # B holds a valid copy too
            copies = [ta.sessions[sid], tb.sessions[sid]]
            # what each copy's subscribe handler does, before either heard of the other
            for copy, uri in zip(copies, ("file:///x", "file:///y"), strict=True):
                copy.session.subscriptions.add(uri)
            for copy in copies:
                await copy.sync()
            found = await ta._legacy.shared.load(sid)
            assert sorted(found[0]["subscriptions"]) == ["file:///x", "file:///y"]
            # and an unsubscribe on either worker really unsubscribes
            await until_status(c, a, subscribe(2, "file:///y", "resources/unsubscribe"), sid, 200)
            r = await c.post(
                b,
                json=subscribe(3, "file:///x", "resources/unsubscribe"),
                headers=legacy_headers(sid),
            )
            assert answer_of(r)["result"] == {}
            members = redis_cli(redis_server.port, "SMEMBERS", "trio_mcp:subs:file:///x")
            assert sid not in members
            found = await tb._legacy.shared.load(sid)
            assert found[0]["subscriptions"] == []


async def test_no_key_outlives_the_sessions_it_was_for(redis_server: RedisServer) -> None:
    """A client can make keys (one per URI it subscribes to): they expire with its session."""
    cli = partial(redis_cli, redis_server.port)
    with trio.fail_after(LIMIT):
        async with transports(redis_server) as (ta, tb), httpx.AsyncClient(timeout=LIMIT) as c:
            a, b = ta.urls[0], tb.urls[0]
            sid = await open_session(c, a)
            r = await c.post(b, json=subscribe(1, "urn:x:" + "a" * 64), headers=legacy_headers(sid))
            assert answer_of(r)["result"] == {}
            key = "trio_mcp:subs:urn:x:" + "a" * 64
            assert int(cli("PTTL", key)) > 0  # before: -1, kept forever once the session expired
            cli("PEXPIRE", key, "100000")  # as if time had passed: a check refreshes it
            await tb._legacy.shared.touch([sid])
            assert int(cli("PTTL", key)) > 100000
            # the set of live sessions: an expired session leaves it at the next initialize
            cli("DEL", f"trio_mcp:session:{sid}")  # what its expiry does
            fresh = await open_session(c, b)
            assert cli("SMEMBERS", "trio_mcp:sessions").split() == [fresh]


async def test_a_get_whose_session_ends_during_its_attach_ends(redis_server: RedisServer) -> None:
    """The copy ends (DELETE elsewhere, expiry) while the GET's attach is in Redis: no hang."""
    cli = partial(redis_cli, redis_server.port)
    with trio.fail_after(LIMIT):
        async with transports(redis_server) as (ta, _), httpx.AsyncClient(timeout=LIMIT) as c:
            a = ta.urls[0]
            sid = await open_session(c, a)
            got: list[Any] = []

            async def get() -> None:
                async with c.stream("GET", a, headers=get_headers(sid)) as stream:
                    got.append(stream.status_code)
                    got.append(await stream.aread())

            cli("CLIENT", "PAUSE", str(LIMIT * 1000), "WRITE")  # the attach script waits
            try:
                async with trio.open_nursery() as nursery:
                    nursery.start_soon(get)
                    while "cmd=evalsha" not in "".join(
                        line for line in cli("CLIENT", "LIST").splitlines() if "flags=b" in line
                    ):
                        await trio.sleep(0.01)
                    await ta._legacy.end(ta.sessions[sid])  # what a "drop" from another worker does
                    cli("CLIENT", "UNPAUSE")
            finally:
                cli("CLIENT", "UNPAUSE")
            assert got[0] == 404


async def test_a_quiet_get_stream_outlives_the_idle_timeout(redis_server: RedisServer) -> None:
    """A GET held with no events and no POSTs keeps its session and its stream's events: a
    client resuming from the priming event after the idle timeout resumes, on another worker.

    Redis expiry runs on Redis' clock, so this one waits out real time (1.5 idle periods,
    a precondition, not an assertion on how long anything took)."""
    idle = 0.4
    with trio.fail_after(LIMIT):
        async with (
            workers(redis_server, session_idle_timeout=idle) as (urls, _),
            httpx.AsyncClient(timeout=LIMIT) as c,
        ):
            a, b, w3 = urls
            sid = await open_session(c, a)
            async with c.stream("GET", b, headers=get_headers(sid)) as stream:
                assert stream.status_code == 200
                events = Events(stream)  # held: its line iterator ends the response when dropped
                priming = await events.next()
                await trio.sleep(idle * 1.5)
                exists = redis_cli(redis_server.port, "EXISTS", f"trio_mcp:events:{sid}:g")
                assert exists.strip() == "1"
            async with c.stream("GET", w3, headers=get_headers(sid, priming["id"])) as resumed:
                assert resumed.status_code == 200


async def test_a_write_to_a_session_gone_elsewhere_is_404(redis_server: RedisServer) -> None:
    """``logging/setLevel`` (and a subscribe) on a copy whose record is gone: unknown session.

    The record goes as a DELETE on another worker or its expiry takes it: a copy that
    has not heard of it yet (pub/sub, its validity) is still used, but the write finds
    no record, and the request is answered as on any deleted session (before: success).
    """
    cli = partial(redis_cli, redis_server.port)
    with trio.fail_after(LIMIT):
        async with transports(redis_server) as (ta, tb), httpx.AsyncClient(timeout=LIMIT) as c:
            a, b = ta.urls[0], tb.urls[0]
            sid = await open_session(c, a)
            r = await c.post(b, json=call(1, "echo", text="x"), headers=legacy_headers(sid))
            assert r.status_code == 200  # B holds a valid copy
            cli("DEL", f"trio_mcp:session:{sid}")  # gone, and no copy told
            level = {"jsonrpc": "2.0", "id": 2, "method": "logging/setLevel"}
            level["params"] = {"level": "info"}
            r = await c.post(b, json=level, headers=legacy_headers(sid))
            assert (r.status_code, r.json()["error"]["code"]) == (404, -32001), r.text
            assert cli("EXISTS", f"trio_mcp:session:{sid}").strip() == "0"  # not written back
            # the copy is checked at its next use: gone there too
            r = await c.post(b, json=call(3, "echo", text="x"), headers=legacy_headers(sid))
            assert (r.status_code, r.json()["error"]["code"]) == (404, -32001)
            assert sid not in tb.sessions
            # a subscribe's write finds the record gone: answered as an unknown session
            sid = await open_session(c, a)
            r = await c.post(b, json=call(4, "echo", text="x"), headers=legacy_headers(sid))
            assert r.status_code == 200
            cli("DEL", f"trio_mcp:session:{sid}")
            r = await c.post(b, json=subscribe(5, "file:///doc"), headers=legacy_headers(sid))
            assert answer_of(r)["error"]["code"] == -32001
            assert cli("EXISTS", f"trio_mcp:session:{sid}").strip() == "0"
