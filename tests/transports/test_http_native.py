"""The native HTTP/1.1 server on raw sockets: the edges of HTTP/1.1 that no client library shows.

Keep-alive, pipelining (answers in request order), chunked bodies, ``Expect:
100-continue``, the limits (414, 431, 413 at one byte over the body limit),
the slow-head and slow-body timeouts (408, on ``MockClock``), a client that
disconnects or half-closes (its modern handler is cancelled), SSE framing,
shutdown with requests in flight, HTTPS (``trustme``), and ``workers=2``.
Responses are parsed with httptools' response parser.
"""

from __future__ import annotations

import contextvars
import json
import os
import signal
import ssl
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import httptools
import pytest
import trio
import trio.testing
from _support.http import META, MODERN, serving

from trio_mcp import Context, Server
from trio_mcp.lowlevel import HttpTransport


def build(**kwargs: Any) -> tuple[Server, dict[str, Any]]:
    server = Server("native-test", "1.0", **kwargs)
    seen: dict[str, Any] = {"started": trio.Event(), "cancelled": trio.Event()}

    @server.tool()
    async def echo(text: str) -> str:
        return text

    @server.tool()
    async def count(n: int, ctx: Context) -> str:
        for i in range(1, n + 1):
            await ctx.report_progress(i, n)
        return f"counted {n}"

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


def port_of(t: HttpTransport) -> int:
    return int(t.urls[0].rsplit(":", 1)[1].split("/")[0])


def call_body(rid: int, tool: str, args: dict[str, Any], token: int | None = None) -> bytes:
    meta: dict[str, Any] = dict(META)
    if token is not None:
        meta["progressToken"] = token
    params = {"name": tool, "arguments": args, "_meta": meta}
    return json.dumps(
        {"jsonrpc": "2.0", "id": rid, "method": "tools/call", "params": params}
    ).encode()


def post(body: bytes, tool: str = "echo", *, extra: bytes = b"", length: bool = True) -> bytes:
    head = (
        b"POST /mcp HTTP/1.1\r\nhost: 127.0.0.1\r\ncontent-type: application/json\r\n"
        b"accept: application/json, text/event-stream\r\n"
        b"mcp-protocol-version: " + MODERN.encode() + b"\r\nmcp-method: tools/call\r\n"
        b"mcp-name: " + tool.encode() + b"\r\n" + extra
    )
    if length:
        head += b"content-length: %d\r\n" % len(body)
    return head + b"\r\n" + body


class Responses:
    """Parse HTTP/1.1 responses off a stream, in order (httptools' response parser)."""

    def __init__(self, stream: trio.abc.Stream) -> None:
        self.stream = stream
        self.parser = httptools.HttpResponseParser(self)
        self.done: list[dict[str, Any]] = []
        self._cur: dict[str, Any] = {}
        self.eof = False

    def on_message_begin(self) -> None:
        self._cur = {"headers": {}, "body": b""}

    def on_header(self, name: bytes, value: bytes) -> None:
        self._cur["headers"][name.decode().lower()] = value.decode()

    def on_headers_complete(self) -> None:
        self._cur["status"] = self.parser.get_status_code()

    def on_body(self, body: bytes) -> None:
        self._cur["body"] += body

    def on_message_complete(self) -> None:
        self.done.append(self._cur)

    async def next(self) -> dict[str, Any]:
        while not self.done:
            data = await self.stream.receive_some(65536)
            if not data:
                self.eof = True
                raise EOFError("the server closed the connection")
            self.parser.feed_data(data)
        return self.done.pop(0)

    async def closed(self) -> bool:
        """True once the server closed the connection (nothing more arrives)."""
        try:
            data = await self.stream.receive_some(65536)
        except trio.BrokenResourceError:
            return True
        return not data


def result_text(response: dict[str, Any]) -> str:
    body = response["body"].decode()
    if response["headers"].get("content-type") == "text/event-stream":
        body = [ln[6:] for ln in body.split("\n") if ln.startswith("data: ")][-1]
    return str(json.loads(body)["result"]["content"][0]["text"])


# ------------------------------------------------------------------ HTTP/1.1


async def test_keep_alive_serves_many_requests_on_one_connection() -> None:
    server, _ = build()
    with trio.fail_after(10):
        async with serving(server) as t:
            stream = await trio.open_tcp_stream("127.0.0.1", port_of(t))
            responses = Responses(stream)
            for i in range(5):
                await stream.send_all(post(call_body(i, "echo", {"text": f"n{i}"})))
                r = await responses.next()
                assert r["status"] == 200 and "connection" not in r["headers"]
                assert result_text(r) == f"n{i}"
            await stream.send_all(
                post(call_body(9, "echo", {"text": "last"}), extra=b"connection: close\r\n")
            )
            r = await responses.next()
            assert result_text(r) == "last" and r["headers"]["connection"] == "close"
            assert await responses.closed()


LEFT: contextvars.ContextVar[str] = contextvars.ContextVar("left", default="nothing")


async def test_a_handler_s_context_never_reaches_the_next_request_on_the_connection() -> None:
    """One task per request: a context variable a handler sets and never resets stays with
    that request, even on a keep-alive connection a proxy may share between users."""
    server, _ = build()

    @server.tool()
    async def mark(text: str) -> str:
        seen = LEFT.get()
        LEFT.set(text)  # never reset, on purpose
        return seen

    with trio.fail_after(10):
        async with serving(server) as t:
            stream = await trio.open_tcp_stream("127.0.0.1", port_of(t))
            responses = Responses(stream)
            for i in range(3):
                await stream.send_all(post(call_body(i, "mark", {"text": f"user{i}"}), "mark"))
                assert result_text(await responses.next()) == "nothing"


async def test_pipelined_requests_are_answered_in_order() -> None:
    server, _ = build()
    with trio.fail_after(10):
        async with serving(server) as t:
            stream = await trio.open_tcp_stream("127.0.0.1", port_of(t))
            # the first streams SSE (progress), the others are plain JSON; one write for all
            batch = post(call_body(1, "count", {"n": 3}, token=7), "count")
            batch += b"".join(post(call_body(i, "echo", {"text": f"e{i}"})) for i in range(2, 6))
            await stream.send_all(batch)
            responses = Responses(stream)
            got = [await responses.next() for _ in range(5)]
            assert got[0]["headers"]["content-type"] == "text/event-stream"
            assert got[0]["headers"]["transfer-encoding"] == "chunked"
            assert result_text(got[0]) == "counted 3"
            assert [result_text(r) for r in got[1:]] == ["e2", "e3", "e4", "e5"]


async def test_chunked_request_body_and_expect_continue() -> None:
    server, _ = build()
    with trio.fail_after(10):
        async with serving(server) as t:
            stream = await trio.open_tcp_stream("127.0.0.1", port_of(t))
            responses = Responses(stream)
            body = call_body(1, "echo", {"text": "chunky"})
            chunked = b"".join(b"%x\r\n%b\r\n" % (len(p), p) for p in (body[:10], body[10:]))
            await stream.send_all(
                post(b"", extra=b"transfer-encoding: chunked\r\n", length=False)
                + chunked
                + b"0\r\n\r\n"
            )
            assert result_text(await responses.next()) == "chunky"
            # Expect: 100-continue: the interim answer comes before the body is sent
            await stream.send_all(
                post(
                    b"",
                    extra=b"expect: 100-continue\r\n" + b"content-length: %d\r\n" % len(body),
                    length=False,
                )
            )
            interim = await stream.receive_some(65536)
            assert interim == b"HTTP/1.1 100 Continue\r\n\r\n"
            await stream.send_all(body)
            assert result_text(await responses.next()) == "chunky"


async def test_limits_414_431_and_body_exactly_at_the_limit() -> None:
    server, _ = build()
    with trio.fail_after(10):
        async with serving(server, max_body_size=1000) as t:
            port = port_of(t)

            async def one(raw: bytes) -> dict[str, Any]:
                stream = await trio.open_tcp_stream("127.0.0.1", port)
                await stream.send_all(raw)
                response = await Responses(stream).next()
                await stream.aclose()
                return response

            r = await one(b"GET /" + b"a" * 9000 + b" HTTP/1.1\r\nhost: 127.0.0.1\r\n\r\n")
            assert r["status"] == 414 and r["headers"]["connection"] == "close"
            r = await one(
                b"GET /mcp HTTP/1.1\r\nhost: 127.0.0.1\r\nx-big: " + b"b" * 17000 + b"\r\n\r\n"
            )
            assert r["status"] == 431
            many = b"".join(b"x-h%d: v\r\n" % i for i in range(101))
            r = await one(b"GET /mcp HTTP/1.1\r\nhost: 127.0.0.1\r\n" + many + b"\r\n")
            assert r["status"] == 431
            r = await one(b"NOT HTTP AT ALL\r\n\r\n")
            assert r["status"] == 400
            body = call_body(1, "echo", {"text": "x"})
            exact = body[:-1] + b" " * (1000 - len(body)) + b"}"
            assert len(exact) == 1000
            r = await one(post(exact))
            assert r["status"] == 200 and result_text(r) == "x"
            over = exact[:-1] + b" }"
            r = await one(post(over))
            assert r["status"] == 413 and json.loads(r["body"])["error"]["code"] == -32600
            # chunked, so no content-length to refuse early: 413 all the same
            chunked = b"%x\r\n%b\r\n0\r\n\r\n" % (len(over), over)
            r = await one(
                post(b"", extra=b"transfer-encoding: chunked\r\n", length=False) + chunked
            )
            assert r["status"] == 413


async def test_slow_head_and_slow_body_get_408(autojump_clock: trio.testing.MockClock) -> None:
    server, _ = build()
    with trio.fail_after(100):
        async with serving(server, body_timeout=5.0) as t:
            stream = await trio.open_tcp_stream("127.0.0.1", port_of(t))
            await stream.send_all(b"POST /mcp HTTP/1.1\r\nhost: 127.0.0.1\r\n")  # and no more
            r = await Responses(stream).next()
            assert r["status"] == 408 and r["headers"]["connection"] == "close"
            stream = await trio.open_tcp_stream("127.0.0.1", port_of(t))
            body = call_body(1, "echo", {"text": "x"})
            await stream.send_all(post(body)[:-10])  # the body stops short
            responses = Responses(stream)
            r = await responses.next()
            assert r["status"] == 408 and r["headers"]["connection"] == "close"
            assert await responses.closed()


@pytest.mark.parametrize(("keep_alive", "head"), [(60.0, 1.0), (1.0, 60.0)])
async def test_the_shorter_timeout_holds_after_a_request(
    autojump_clock: trio.testing.MockClock, keep_alive: float, head: float
) -> None:
    """The reader's deadline is not moved for every request (it may pass early, and the
    reader then goes on): after a request, an unfinished head still gets its 408 within
    header_timeout, and an idle connection still closes after keep_alive_timeout."""
    from trio_mcp._transports._native import ServerLimits, serve_native

    server, _ = build()
    limits = ServerLimits(keep_alive_timeout=keep_alive, header_timeout=head)
    with trio.fail_after(1000):
        async with trio.open_nursery() as nursery:
            t = await nursery.start(
                lambda task_status: serve_native(
                    server.asgi_app(), "127.0.0.1", 0, limits=limits, task_status=task_status
                )
            )
            stream = await trio.open_tcp_stream("127.0.0.1", port_of(t))
            responses = Responses(stream)
            await stream.send_all(post(call_body(1, "echo", {"text": "x"})))
            assert (await responses.next())["status"] == 200
            start = trio.current_time()
            if head < keep_alive:
                await stream.send_all(b"POST /mcp HTTP/1.1\r\nhost: 127.0.0.1\r\n")  # no more
                r = await responses.next()
                assert r["status"] == 408
                assert head <= trio.current_time() - start < keep_alive  # virtual time
            else:
                assert await responses.closed()
                assert keep_alive <= trio.current_time() - start < head  # virtual time
            t.stop()


@pytest.fixture
def autojump_clock() -> trio.testing.MockClock:
    return trio.testing.MockClock(autojump_threshold=0)


# ------------------------------------------------------------------ disconnects, SSE


@pytest.mark.parametrize("how", ["close", "half-close"])
async def test_client_leaving_cancels_a_modern_handler(how: str) -> None:
    server, seen = build()
    with trio.fail_after(10):
        async with serving(server) as t:
            stream = await trio.open_tcp_stream("127.0.0.1", port_of(t))
            await stream.send_all(post(call_body(1, "hang", {}), "hang"))
            await seen["started"].wait()
            if how == "close":
                await stream.aclose()
            else:
                await stream.send_eof()
            await seen["cancelled"].wait()
            if how == "half-close":
                assert await Responses(stream).closed()  # nothing is answered, the server closes
            # the server goes on serving
            stream = await trio.open_tcp_stream("127.0.0.1", port_of(t))
            await stream.send_all(post(call_body(2, "echo", {"text": "still"})))
            assert result_text(await Responses(stream).next()) == "still"


async def test_sse_answer_is_chunked_and_events_arrive_in_order() -> None:
    server, _ = build()
    with trio.fail_after(10):
        async with serving(server) as t:
            stream = await trio.open_tcp_stream("127.0.0.1", port_of(t))
            await stream.send_all(post(call_body(1, "count", {"n": 4}, token=3), "count"))
            r = await Responses(stream).next()
            assert r["status"] == 200 and r["headers"]["transfer-encoding"] == "chunked"
            events = [
                json.loads(ln[6:])
                for ln in r["body"].decode().split("\n")
                if ln.startswith("data: ")
            ]
            assert [e["params"]["progress"] for e in events[:-1]] == [1, 2, 3, 4]
            assert events[-1]["result"]["content"][0]["text"] == "counted 4"


async def test_shutdown_answers_requests_in_flight_then_stops_listening(
    autojump_clock: trio.testing.MockClock,
) -> None:
    server, seen = build(grace=3.0)
    with trio.fail_after(100):
        async with trio.open_nursery() as nursery:
            t = await nursery.start(
                lambda task_status: server.serve_http("127.0.0.1", 0, task_status=task_status)
            )
            port = port_of(t)
            busy = await trio.open_tcp_stream("127.0.0.1", port)
            idle = await trio.open_tcp_stream("127.0.0.1", port)
            await idle.send_all(post(call_body(1, "echo", {"text": "ok"})))
            idle_responses = Responses(idle)
            assert result_text(await idle_responses.next()) == "ok"
            await busy.send_all(post(call_body(2, "hang", {}), "hang"))
            await seen["started"].wait()
            t.stop()
            r = await Responses(busy).next()  # after the grace: answered, and closed
            assert r["headers"]["connection"] == "close"
            assert "shutting down" in json.loads(r["body"])["error"]["message"]
            assert await idle_responses.closed()  # the idle keep-alive connection was closed
        with pytest.raises(OSError):
            await trio.open_tcp_stream("127.0.0.1", port)


# ------------------------------------------------------------------ HTTPS, workers


async def test_https_with_a_trustme_certificate() -> None:
    trustme = pytest.importorskip("trustme")
    from trio_mcp._transports._native import serve_native

    ca = trustme.CA()
    server_ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("127.0.0.1").configure_cert(server_ctx)
    client_ctx = ssl.create_default_context()
    ca.configure_trust(client_ctx)
    server, _ = build()
    with trio.fail_after(10):
        async with trio.open_nursery() as nursery:
            t = await nursery.start(
                lambda task_status: serve_native(
                    server.asgi_app(),
                    "127.0.0.1",
                    0,
                    ssl_context=server_ctx,
                    task_status=task_status,
                )
            )
            assert t.urls[0].startswith("https://127.0.0.1:")
            tcp = await trio.open_tcp_stream("127.0.0.1", port_of(t))
            stream = trio.SSLStream(tcp, client_ctx, server_hostname="127.0.0.1")
            await stream.send_all(post(call_body(1, "echo", {"text": "secret"})))
            assert result_text(await Responses(stream).next()) == "secret"
            await stream.aclose()
            t.stop()


WORKERS_SERVER = textwrap.dedent(
    """
    import os, sys
    from trio_mcp import Server

    server = Server("workers", "1.0")

    @server.tool()
    async def pid() -> int:
        return os.getpid()

    server.run(transport="http", port=int(sys.argv[1]), workers=2)
    """
)


async def test_two_workers_both_answer_and_drain_on_sigterm(tmp_path: Path) -> None:
    import socket

    script = tmp_path / "workers_server.py"
    script.write_text(WORKERS_SERVER)
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    proc = subprocess.Popen(
        [sys.executable, str(script), str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        env={**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2])},
    )
    try:
        with trio.fail_after(60):
            pids: set[int] = set()
            for _ in range(400):  # fresh connections until both workers answered
                try:
                    stream = await trio.open_tcp_stream("127.0.0.1", port)
                except OSError:
                    await trio.sleep(0.05)
                    continue
                await stream.send_all(post(call_body(1, "pid", {}), "pid"))
                try:
                    pids.add(int(result_text(await Responses(stream).next())))
                except EOFError:  # a worker not yet listening on its own socket
                    pass
                await stream.aclose()
                if len(pids) == 2:
                    break
            assert len(pids) == 2 and proc.pid not in pids
            proc.send_signal(signal.SIGTERM)
            while proc.poll() is None:
                await trio.sleep(0.05)
        assert proc.returncode == 0, proc.stderr.read() if proc.stderr else ""
        for pid in pids:  # both workers are gone too
            with pytest.raises(ProcessLookupError):
                os.kill(pid, 0)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
