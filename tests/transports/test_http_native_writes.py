"""The native server's writes to a client that stops reading, then leaves; held POSTs' timer.

A write waiting for the socket fails as soon as the connection's reader sees
the client go (end of stream or reset), not after ``write_timeout``: the SSE
response ends, and the session is free of it. Held POST streams
(``json_response="auto"``) are timed by one task per transport: several silent
POSTs each begin as SSE after :data:`~trio_mcp._transports._http_sse.JSON_HOLD`.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
import trio
from _support.http import LEGACY, initialize, legacy_call, legacy_headers, serving, sse_events

from trio_mcp import Context, Server
from trio_mcp._transports import _http_sse
from trio_mcp.lowlevel import HttpTransport, InMemoryEventStore

httpx = pytest.importorskip("httpx2")

EVENTS, SIZE = 400, 50_000  # 20 MB of progress: more than loopback's socket buffers hold


def build() -> tuple[Server, dict[str, Any]]:
    server = Server("native-writes", "1.0")
    seen: dict[str, Any] = {"flooded": trio.Event(), "gate": trio.Event()}

    @server.tool()
    async def flood(ctx: Context) -> str:
        for i in range(EVENTS):
            await ctx.report_progress(i, EVENTS, "x" * SIZE)
        seen["flooded"].set()
        return "flooded"

    @server.tool()
    async def echo() -> str:
        return "still here"

    @server.tool()
    async def slow(n: int) -> str:
        await seen["gate"].wait()
        return f"slow {n}"

    return server, seen


def port_of(t: HttpTransport) -> int:
    return int(t.urls[0].rsplit(":", 1)[1].split("/")[0])


def raw_post(sid: str, body: dict[str, Any]) -> bytes:
    data = json.dumps(body).encode()
    return (
        b"POST /mcp HTTP/1.1\r\nhost: 127.0.0.1\r\ncontent-type: application/json\r\n"
        b"accept: application/json, text/event-stream\r\n"
        b"mcp-protocol-version: " + LEGACY.encode() + b"\r\n"
        b"mcp-session-id: " + sid.encode() + b"\r\n"
        b"content-length: %d\r\n\r\n" % len(data)
    ) + data


@pytest.mark.parametrize("how", ["half-close", "close"])
async def test_a_write_blocked_on_a_client_that_left_ends_without_the_write_timeout(
    how: str,
) -> None:
    """``write_timeout`` is a day: only the client leaving can end the blocked write."""
    server, seen = build()
    with trio.fail_after(20):
        async with serving(server, write_timeout=86_400.0) as t, httpx.AsyncClient() as c:
            sid = await initialize(c, t.urls[0])
            stream = await trio.open_tcp_stream("127.0.0.1", port_of(t))
            body = legacy_call(1, "flood", {})
            body["params"]["_meta"] = {"progressToken": 1}
            await stream.send_all(raw_post(sid, body))
            await seen["flooded"].wait()  # every event emitted; the response is stuck writing
            session = t.sessions[sid]
            assert session._attached == 1
            if how == "half-close":
                await stream.send_eof()
            else:
                await stream.aclose()
            while session._attached:
                await trio.sleep(0.01)
            # the session goes on
            r = await c.post(
                t.urls[0], json=legacy_call(2, "echo", {}), headers=legacy_headers(sid)
            )
            assert r.json()["result"]["content"][0]["text"] == "still here"


async def test_several_silent_posts_each_begin_as_sse_after_the_hold(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(_http_sse, "JSON_HOLD", 0.05)
    server, seen = build()
    with trio.fail_after(10):
        async with serving(server) as t, httpx.AsyncClient() as c:
            url = t.urls[0]
            sid = await initialize(c, url)
            began: list[int] = []

            async def post(n: int) -> None:
                body = legacy_call(n, "slow", {"n": n})
                async with c.stream("POST", url, json=body, headers=legacy_headers(sid)) as r:
                    assert r.headers["content-type"] == "text/event-stream"
                    text = ""
                    async for chunk in r.aiter_text():
                        text += chunk
                        if len(sse_events(text)) == 1:
                            began.append(n)  # the priming event came first, alone
                            if len(began) == 3:
                                seen["gate"].set()
                    priming, answer = sse_events(text)
                    assert priming["data"] == "" and priming["id"]
                    assert json.loads(answer["data"])["result"]["content"][0]["text"] == f"slow {n}"

            async with trio.open_nursery() as nursery:
                for n in (1, 2, 3):
                    nursery.start_soon(post, n)
            assert sorted(began) == [1, 2, 3]
            assert not t._legacy.holds._held  # nothing left held


@pytest.mark.parametrize("http_server", ["native", "hypercorn"])
async def test_a_session_deleted_under_a_held_post_ends_its_response_cleanly(
    http_server: str,
) -> None:
    """DELETE while a POST waits for its answer: that POST gets an (empty) SSE response, not 500."""
    server, _ = build()
    with trio.fail_after(10):
        async with (
            serving(server, http_server=http_server) as t,
            httpx.AsyncClient() as c,
            trio.open_nursery() as nursery,
        ):
            url = t.urls[0]
            sid = await initialize(c, url)
            got: list[Any] = []

            async def post() -> None:
                r = await c.post(
                    url, json=legacy_call(1, "slow", {"n": 1}), headers=legacy_headers(sid)
                )
                got.append(r)

            nursery.start_soon(post)
            while not t.sessions[sid]._attached:
                await trio.sleep(0.01)
            assert (await c.delete(url, headers=legacy_headers(sid))).status_code == 200
            while not got:
                await trio.sleep(0.01)
            (r,) = got
            assert r.status_code == 200 and r.headers["content-type"] == "text/event-stream"
            assert sse_events(r.text) == []


class FailingStore(InMemoryEventStore):
    """Refuses to store any event that holds ``refuse`` (a store whose backend failed)."""

    refuse = b"store me not"

    async def store_event(self, session_id: str, stream_id: str, data: bytes) -> str:
        if self.refuse in data:
            raise RuntimeError("the event store's backend is down")
        return await InMemoryEventStore.store_event(self, session_id, stream_id, data)


@pytest.mark.parametrize("http_server", ["native", "hypercorn"])
async def test_an_event_store_that_fails_costs_the_event_s_id_not_the_answer_or_the_server(
    http_server: str,
) -> None:
    """The answer cannot be stored: it is still sent (without an id), and the server goes on."""
    server, _ = build()

    @server.tool()
    async def refused() -> str:
        return FailingStore.refuse.decode()

    options = {"http_server": http_server, "json_response": "never", "event_store": FailingStore()}
    with trio.fail_after(10):
        async with serving(server, **options) as t, httpx.AsyncClient() as c:
            url = t.urls[0]
            sid = await initialize(c, url)
            r = await c.post(url, json=legacy_call(1, "refused", {}), headers=legacy_headers(sid))
            assert r.status_code == 200
            priming, answer = sse_events(r.text)
            assert priming["id"] and "id" not in answer  # stored, then not
            assert json.loads(answer["data"])["result"]["content"][0]["text"] == "store me not"
            r = await c.post(url, json=legacy_call(2, "echo", {}), headers=legacy_headers(sid))
            (answer,) = [e for e in sse_events(r.text) if e.get("data")]
            assert json.loads(answer["data"])["result"]["content"][0]["text"] == "still here"
