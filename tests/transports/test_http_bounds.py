"""Legacy HTTP streams against the real server: memory bounded in bytes, every stream ends.

Issue 13, items 5 and 6. A stream whose final event reached the client leaves
nothing in the event store; undelivered answers stay under the store's byte
bound (and resume, unless evicted: then 400, never a silent gap); a request
the client cancelled ends its POST stream, so its session can expire.
"""

from __future__ import annotations

import json
from typing import Any

import orjson
import pytest
import trio
from _support.http import (
    initialize,
    legacy_call,
    legacy_headers,
    raw_request,
    serving,
    sse_events,
)

from trio_mcp import Server
from trio_mcp.lowlevel import InMemoryEventStore

httpx = pytest.importorskip("httpx2")

SIZE = 100_000


def build() -> tuple[Server, dict[str, Any]]:
    server = Server("bounds", "1.0")
    seen: dict[str, Any] = {"started": trio.Event(), "cancelled": trio.Event(), "gate": None}

    @server.tool()
    async def blob(size: int) -> str:
        gate = seen["gate"]
        if gate is not None:  # the test lets it answer once the client has left
            await gate.wait()
        return "x" * size

    @server.tool()
    async def hang() -> str:
        seen["started"].set()
        try:
            await trio.sleep_forever()
        except trio.Cancelled:
            seen["cancelled"].set()
            raise
        return "never"  # pragma: no cover

    return server, seen


async def settle(transport: Any) -> None:
    """Until no handler runs and no response is attached (the server side caught up)."""
    while transport._requests.count or any(s.busy for s in transport.sessions.values()):
        await trio.sleep(0.01)


async def test_delivered_streams_leave_nothing_in_the_store() -> None:
    server, _ = build()
    store = InMemoryEventStore()
    with trio.fail_after(20):
        async with (
            serving(server, event_store=store, json_response="never") as t,
            httpx.AsyncClient() as c,
        ):
            url = t.urls[0]
            sid = await initialize(c, url)
            for i in range(20):
                r = await c.post(
                    url, json=legacy_call(i, "blob", {"size": SIZE}), headers=legacy_headers(sid)
                )
                answer = json.loads(sse_events(r.text)[-1]["data"])
                assert len(answer["result"]["content"][0]["text"]) == SIZE
                await settle(t)
                assert store.nbytes == 0, i  # the final event reached the client: forgotten
            assert list(t.sessions[sid].streams) == ["g"]  # only the standalone stream


async def test_undelivered_answers_stay_under_the_store_bound_and_resume() -> None:
    server, seen = build()
    bound = 3 * SIZE + 4096
    store = InMemoryEventStore(max_bytes_per_session=bound)
    with trio.fail_after(30):
        async with serving(server, event_store=store) as t, httpx.AsyncClient() as c:
            url = t.urls[0]
            sid = await initialize(c, url)
            priming: list[str] = []
            session = t.sessions[sid]
            for i in range(10):
                gate = seen["gate"] = trio.Event()
                body = legacy_call(i, "blob", {"size": SIZE})
                async with c.stream("POST", url, json=body, headers=legacy_headers(sid)) as r:
                    async for chunk in r.aiter_text():
                        (event,) = sse_events(chunk)
                        priming.append(event["id"])
                        break  # drop the connection after the priming event
                while session._attached:  # the server saw the client leave
                    await trio.sleep(0.01)
                gate.set()  # now the answer comes: stored, for a resume
                await settle(t)
                assert store.session_bytes(sid) <= bound
                assert store.nbytes <= bound
            assert store.session_bytes(sid) > 2 * SIZE  # the last answers are kept
            seen["gate"] = None
            resume = {**legacy_headers(sid), "accept": "text/event-stream"}
            r = await c.get(url, headers={**resume, "last-event-id": priming[-1]})
            assert r.status_code == 200
            (answer,) = [json.loads(e["data"]) for e in sse_events(r.text) if e.get("data")]
            assert answer["id"] == 9 and len(answer["result"]["content"][0]["text"]) == SIZE
            r = await c.get(url, headers={**resume, "last-event-id": priming[0]})
            assert r.status_code == 400  # evicted: the client is told, nothing is skipped
            await settle(t)
            r = await c.get(url, headers={**resume, "last-event-id": priming[-1]})
            assert r.status_code == 400  # delivered by the resume: forgotten since


async def test_a_cancelled_request_ends_its_stream_and_the_session_expires() -> None:
    server, seen = build()
    store = InMemoryEventStore()
    with trio.fail_after(20):
        async with (
            serving(server, event_store=store, session_idle_timeout=0.3, keepalive=0.05) as t,
            httpx.AsyncClient() as c,
        ):
            url = t.urls[0]
            sid = await initialize(c, url)
            body = legacy_call(1, "hang", {})
            events: list[dict[str, str]] = []
            async with trio.open_nursery() as nursery:

                async def call() -> None:
                    r = await c.post(url, json=body, headers=legacy_headers(sid))
                    assert r.status_code == 200  # an (empty) stream, not an error
                    assert r.headers["content-type"] == "text/event-stream"
                    events.extend(sse_events(r.text))

                nursery.start_soon(call)
                await seen["started"].wait()
                cancel = {
                    "jsonrpc": "2.0",
                    "method": "notifications/cancelled",
                    "params": {"requestId": 1, "reason": "changed my mind"},
                }
                r = await c.post(url, json=cancel, headers=legacy_headers(sid))
                assert r.status_code == 202
            # The POST's response ended, with no answer (none may be sent for it).
            assert seen["cancelled"].is_set()
            assert [e for e in events if e.get("data")] == []
            assert list(t.sessions[sid].streams) == ["g"]
            await settle(t)
            assert store.nbytes == 0
            while t.sessions:  # nothing holds the session: it expires
                await trio.sleep(0.05)
            assert len(store) == 0


async def test_a_stream_answering_connection_close_closes_the_connection() -> None:
    """Found by tests/transports/test_http_fuzz.py: the end of a legacy SSE response ran
    Hypercorn's close of a ``Connection: close`` connection in our task, and the
    disconnect it reported cancelled that close half-way: the client never saw EOF."""
    server, _ = build()
    with trio.fail_after(15):
        async with serving(server, json_response="never") as t, httpx.AsyncClient() as c:
            url = t.urls[0]
            sid = await initialize(c, url)
            headers = [(k.encode(), v.encode()) for k, v in legacy_headers(sid).items()]
            headers.append((b"content-type", b"application/json"))
            for i in range(5):
                body = orjson.dumps(legacy_call(i, "blob", {"size": 10}))
                status, data = await raw_request(url, headers, body)  # reads until EOF
                assert status == 200
                assert json.loads(sse_events(data.decode())[-1]["data"])["id"] == i
