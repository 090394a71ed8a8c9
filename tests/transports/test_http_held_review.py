"""A held legacy POST (``json_response="auto"``): what running its handler in the POST's task broke.

Each test is a defect a review found when the handler of a held POST ran in
the POST's own task (reverted: the connection must go on once the response
ended, and the handler then still runs): a keep-alive connection whose
response ``close_sse_stream`` ended serves the client's resume at once; a
shared session's POST refused after dispatch leaves nothing counted in flight;
a client gone while held leaves nothing stored. Nothing asserts on time
(``fail_after`` and ``move_on_after`` only bound a hang).
"""

from __future__ import annotations

import json
from typing import Any

import pytest
import trio
from _support.http import initialize, legacy_call, legacy_headers, serving, sse_events

from trio_mcp import Context, Server
from trio_mcp.lowlevel import HttpTransport

httpx = pytest.importorskip("httpx2")


def build() -> tuple[Server, dict[str, Any]]:
    server = Server("held-review", "1.0")
    seen: dict[str, Any] = {"gate": trio.Event()}

    @server.tool()
    async def polling(ctx: Context) -> str:
        """SSE polling (SEP-1699): end the POST's connection, go on, answer later."""
        await ctx.report_progress(1, 2)
        seen["closed"] = ctx.close_sse_stream()
        await seen["gate"].wait()
        return "polled"

    return server, seen


def port_of(t: HttpTransport) -> int:
    return int(t.urls[0].rsplit(":", 1)[1].split("/")[0])


def raw(method: bytes, headers: dict[str, str], body: bytes = b"") -> bytes:
    lines = [method + b" /mcp HTTP/1.1", b"host: 127.0.0.1"]
    lines += [k.encode() + b": " + v.encode() for k, v in headers.items()]
    if body:
        lines += [b"content-type: application/json", b"content-length: %d" % len(body)]
    return b"\r\n".join(lines) + b"\r\n\r\n" + body


async def read_until(stream: trio.SocketStream, buf: bytearray, end: bytes) -> bytes:
    """Read until ``end`` is in ``buf``; return up to and including it (and keep the rest)."""
    while end not in buf:
        chunk = await stream.receive_some(65536)
        assert chunk, "the server closed the connection"
        buf += chunk
    at = buf.index(end) + len(end)
    out = bytes(buf[:at])
    del buf[:at]
    return out


@pytest.mark.parametrize("http_server", ["native", "hypercorn"])
async def test_a_resume_on_the_connection_close_sse_stream_ended_is_served_while_the_call_runs(
    http_server: str,
) -> None:
    """The POST's response ended (close_sse_stream): the next request on its connection is served.

    An HTTP/1.1 client pool reuses the connection of a complete response, so the
    GET that resumes the stream goes on it; it must not wait for the handler.
    """
    server, seen = build()
    with trio.fail_after(15):
        async with serving(server, http_server=http_server) as t, httpx.AsyncClient() as c:
            sid = await initialize(c, t.urls[0])
            stream = await trio.open_tcp_stream("127.0.0.1", port_of(t))
            async with stream:
                body = legacy_call(1, "polling", {})
                body["params"]["_meta"] = {"progressToken": 1}
                await stream.send_all(raw(b"POST", legacy_headers(sid), json.dumps(body).encode()))
                buf = bytearray()
                head = await read_until(stream, buf, b"\r\n\r\n")
                assert b" 200 " in head.split(b"\r\n")[0] and b"connection: close" not in head
                text = (await read_until(stream, buf, b"0\r\n\r\n")).decode()
                assert seen["closed"] is True
                last = [e for e in sse_events(text) if "id" in e][-1]["id"]
                # the POST's response is complete: resume on the same connection
                resume = {**legacy_headers(sid), "accept": "text/event-stream"}
                resume["last-event-id"] = last
                await stream.send_all(raw(b"GET", resume))
                head = b""
                with trio.move_on_after(5):
                    head = await read_until(stream, buf, b"\r\n\r\n")
                served = head.startswith(b"HTTP/1.1 200")
                seen["gate"].set()  # let the call end either way (no hang)
                assert served, "the GET waited for the handler of the POST before it"
                rest = (await read_until(stream, buf, b"0\r\n\r\n")).decode()
                answers = [json.loads(e["data"]) for e in sse_events(rest) if e.get("data")]
                assert answers[-1]["result"]["content"][0]["text"] == "polled"


async def test_a_shared_post_refused_after_dispatch_leaves_nothing_in_flight(
    redis_server: Any,
) -> None:
    """A held POST answered 503 by the write-through after dispatch holds no request open."""
    from _support.redis import redis_cli

    server = Server("held-review-shared", "1.0")
    server.configure(redis_url=redis_server.url)

    @server.tool()
    async def echo(text: str) -> str:
        return text

    with trio.fail_after(20):
        async with serving(server) as t, httpx.AsyncClient(timeout=20) as c:
            url = t.urls[0]
            sid = await initialize(c, url)
            level = {"jsonrpc": "2.0", "id": 1, "method": "logging/setLevel"}
            level["params"] = {"level": "info"}
            redis_cli(redis_server.port, "CONFIG", "SET", "maxmemory", "1")
            try:
                # not written through: the copy's level still differs from its record's
                r = await c.post(url, json=level, headers=legacy_headers(sid))
                assert r.status_code == 503, r.text
                r = await c.post(
                    url, json=legacy_call(2, "echo", {"text": "x"}), headers=legacy_headers(sid)
                )
                assert r.status_code == 503, r.text  # the write-through after its dispatch
            finally:
                redis_cli(redis_server.port, "CONFIG", "SET", "maxmemory", "0")
            session = t.sessions[sid]
            with trio.move_on_after(5):  # a handler that did start has all the time it needs
                while session.in_flight or t._requests.count:
                    await trio.sleep(0.01)
            assert (session.in_flight, t._requests.count) == (0, 0)


@pytest.mark.parametrize("http_server", ["native", "hypercorn"])
async def test_a_client_gone_while_held_past_the_hold_leaves_nothing_stored(
    http_server: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from trio_mcp._transports import _http_sse
    from trio_mcp.lowlevel import InMemoryEventStore

    monkeypatch.setattr(_http_sse, "JSON_HOLD", 0.05)
    server = Server("held-review-gone", "1.0")
    gate = trio.Event()

    @server.tool()
    async def late(ctx: Context) -> str:
        await gate.wait()
        await ctx.report_progress(1, 1)
        return "nobody listens"

    store = InMemoryEventStore()
    with trio.fail_after(15):
        async with (
            serving(server, event_store=store, http_server=http_server) as t,
            httpx.AsyncClient() as c,
        ):
            sid = await initialize(c, t.urls[0])
            session = t.sessions[sid]
            stream = await trio.open_tcp_stream("127.0.0.1", port_of(t))
            body = legacy_call(1, "late", {})
            body["params"]["_meta"] = {"progressToken": "p"}
            await stream.send_all(raw(b"POST", legacy_headers(sid), json.dumps(body).encode()))
            while not session.in_flight:
                await trio.sleep(0.01)
            (held,) = [s for sid_, s in session.streams.items() if sid_ != "g"]
            await stream.aclose()  # gone before anything was sent
            while held.live is not None:  # the server saw it leave
                await trio.sleep(0.01)
            while t._legacy.holds._held:  # the hold is over (or was dropped)
                await trio.sleep(0.01)
            gate.set()
            while session.in_flight:
                await trio.sleep(0.01)
            assert store.nbytes == 0  # no id was sent: nothing to resume, nothing kept
            assert list(session.streams) == ["g"]
