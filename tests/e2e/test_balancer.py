"""The tests' load balancer without affinity (``tests/_support/balancer.py``) on its own.

Its backends here are small in-process HTTP/1.1 servers parsed with h11 (not the
balancer's httptools, so the two parsers check each other); the clients are
httpx and raw sockets. Every wait has a generous ``fail_after``, a hang guard
only: a balancer that buffered a stream instead of passing it on would hang.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from functools import partial
from typing import Any

import h11
import httpx
import pytest
import trio
from _support.balancer import Balancer, away_from_streams, balancer

LIMIT = 30


class Backend:
    """One backend: ``POST /echo`` answers what it got; ``GET /sse`` streams what the test sends.

    ``/echo`` answers JSON ``{"backend", "method", "body", "length", "chunked",
    "session"}`` with a ``content-length``. ``/sse`` answers ``text/event-stream``
    (chunked by h11) and then writes each ``bytes`` the test puts in
    :attr:`events`; ``None`` there kills the connection mid-stream (no final chunk).
    :attr:`left` is set when a streaming client's connection was closed from the far end.
    """

    def __init__(self, index: int) -> None:
        self.index = index
        self.port = 0
        self.events_in, self.events = trio.open_memory_channel[bytes | None](0)
        self.left = trio.Event()
        self.requests: list[h11.Request] = []

    async def handle(self, stream: trio.SocketStream) -> None:
        conn = h11.Connection(h11.SERVER)
        async with stream:
            while True:
                request, body = await self._request(conn, stream)
                if request is None:
                    return
                self.requests.append(request)
                if request.target == b"/sse":
                    await self._stream(conn, stream)
                    return
                headers = dict(request.headers)
                doc = {
                    "backend": self.index,
                    "method": request.method.decode(),
                    "body": body.decode(),
                    "length": headers.get(b"content-length", b"").decode() or None,
                    "chunked": b"transfer-encoding" in headers,
                    "session": headers.get(b"mcp-session-id", b"").decode() or None,
                }
                data = json.dumps(doc).encode()
                out = h11.Response(
                    status_code=200,
                    headers=[
                        ("content-type", "application/json"),
                        ("content-length", str(len(data))),
                    ],
                )
                await stream.send_all(conn.send(out) + conn.send(h11.Data(data=data)))
                await stream.send_all(conn.send(h11.EndOfMessage()))
                if conn.our_state is not h11.DONE:
                    return
                try:
                    conn.start_next_cycle()
                except h11.LocalProtocolError:
                    return  # connection: close

    async def _request(
        self, conn: h11.Connection, stream: trio.SocketStream
    ) -> tuple[h11.Request | None, bytes]:
        request, body = None, b""
        while True:
            event = conn.next_event()
            if event is h11.NEED_DATA:
                conn.receive_data(await stream.receive_some(65536))
            elif isinstance(event, h11.Request):
                request = event
            elif isinstance(event, h11.Data):
                body += event.data
            elif isinstance(event, h11.EndOfMessage):
                return request, body
            else:  # ConnectionClosed
                return None, b""

    async def _stream(self, conn: h11.Connection, stream: trio.SocketStream) -> None:
        head = h11.Response(status_code=200, headers=[("content-type", "text/event-stream")])
        await stream.send_all(conn.send(head))

        async with trio.open_nursery() as nursery:

            async def watch() -> None:  # a client that left: the balancer closed our side
                while await stream.receive_some(65536):
                    pass
                self.left.set()
                nursery.cancel_scope.cancel()

            nursery.start_soon(watch)
            async for event in self.events:
                if event is None:  # die mid-stream: close without the final chunk
                    break
                await stream.send_all(conn.send(h11.Data(data=event)))
            nursery.cancel_scope.cancel()


@asynccontextmanager
async def backends(n: int = 3) -> AsyncIterator[list[Backend]]:
    started = [Backend(i) for i in range(n)]
    async with trio.open_nursery() as nursery:
        for b in started:
            [listener] = await nursery.start(partial(trio.serve_tcp, b.handle, 0, host="127.0.0.1"))
            b.port = listener.socket.getsockname()[1]
        yield started
        nursery.cancel_scope.cancel()


@asynccontextmanager
async def deployment(n: int = 3, **kw: Any) -> AsyncIterator[tuple[list[Backend], Balancer]]:
    with trio.fail_after(LIMIT):
        async with backends(n) as bs, balancer([("127.0.0.1", b.port) for b in bs], **kw) as lb:
            yield bs, lb


def one_connection() -> httpx.AsyncClient:
    return httpx.AsyncClient(limits=httpx.Limits(max_connections=1))


async def test_each_request_of_one_keep_alive_connection_goes_to_the_next_backend() -> None:
    async with deployment() as (_bs, lb), one_connection() as http:
        got = []
        for i in range(7):
            r = await http.post(f"{lb.url}/echo", content=f"n{i}", headers={"mcp-session-id": "s"})
            assert r.status_code == 200
            got.append(r.json())
    assert [g["backend"] for g in got] == [0, 1, 2, 0, 1, 2, 0]
    assert [g["body"] for g in got] == [f"n{i}" for i in range(7)]
    assert {g["session"] for g in got} == {"s"}
    assert [(s.method, s.path, s.session, s.backend, s.status) for s in lb.log] == [
        ("POST", "/echo", "s", i % 3, 200) for i in range(7)
    ]
    assert {s.request.connection for s in lb.log} == {0}  # all on one client connection
    assert lb.spread() == {0: 3, 1: 2, 2: 2}


async def test_a_chunked_body_reaches_the_backend_whole() -> None:
    async def parts() -> AsyncIterator[bytes]:
        for part in (b'{"jsonrpc":', b' "2.0",', b' "id": 1}'):
            yield part

    async with deployment() as (_bs, lb), one_connection() as http:
        r = await http.post(f"{lb.url}/echo", content=parts())
        assert r.status_code == 200
        assert r.json()["body"] == '{"jsonrpc": "2.0", "id": 1}'
        assert r.json()["length"] == "27"  # read whole, forwarded with its length
        assert lb.log[0].request.header("transfer-encoding") == "chunked"


async def test_pipelined_requests_on_a_raw_socket_are_answered_in_order() -> None:
    chunked = b"POST /echo HTTP/1.1\r\nhost: x\r\ntransfer-encoding: chunked\r\n\r\n"
    chunked += b"5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n"
    sized = b"POST /echo HTTP/1.1\r\nhost: x\r\ncontent-length: 3\r\nconnection: close\r\n\r\nabc"
    async with deployment() as (_bs, lb):
        stream = await trio.open_tcp_stream("127.0.0.1", lb.port)
        async with stream:
            for i in range(0, len(chunked + sized), 7):  # in small pieces
                await stream.send_all((chunked + sized)[i : i + 7])
            client = h11.Connection(h11.CLIENT)  # reads the answers
            answers: list[tuple[h11.Response, bytes]] = []
            for _ in range(2):
                client.send(h11.Request(method="GET", target="/", headers=[("host", "x")]))
                client.send(h11.EndOfMessage())
                response, body = None, b""
                while (event := client.next_event()) is not h11.PAUSED:
                    if event is h11.NEED_DATA:
                        client.receive_data(await stream.receive_some(65536))
                    elif isinstance(event, h11.Response):
                        response = event
                    elif isinstance(event, h11.Data):
                        body += event.data
                    elif isinstance(event, h11.EndOfMessage):
                        break
                assert response is not None
                answers.append((response, body))
                if client.their_state is h11.DONE:
                    client.start_next_cycle()
    assert [json.loads(b)["body"] for _, b in answers] == ["hello world", "abc"]
    assert [json.loads(b)["backend"] for _, b in answers] == [0, 1]
    assert (b"connection", b"close") in answers[1][0].headers


async def test_an_sse_stream_passes_each_event_as_it_comes() -> None:
    async with deployment() as (bs, lb), one_connection() as http:
        async with http.stream("GET", f"{lb.url}/sse", headers={"mcp-session-id": "s"}) as r:
            assert r.status_code == 200
            assert r.headers["content-type"] == "text/event-stream"
            chunks = r.aiter_raw()
            for i in range(3):  # the next event is sent only once this one arrived
                await bs[0].events_in.send(f"data: {i}\n\n".encode())
                assert await chunks.__anext__() == f"data: {i}\n\n".encode()
            assert not lb.log[0].done  # still streaming
        await bs[0].left.wait()  # the client left: the balancer closed the backend's side
        await lb.wait_until(lambda: lb.log[0].done)
        r = await http.post(f"{lb.url}/echo", content=b"next")
        assert r.json()["backend"] == 1


async def test_a_backend_dying_mid_stream_breaks_the_response_and_the_client_reconnects() -> None:
    async with deployment() as (bs, lb), one_connection() as http:
        with pytest.raises(httpx.RemoteProtocolError):
            async with http.stream("GET", f"{lb.url}/sse") as r:
                assert r.status_code == 200
                await bs[0].events_in.send(b"data: 1\n\n")
                chunks = r.aiter_raw()
                assert await chunks.__anext__() == b"data: 1\n\n"
                await bs[0].events_in.send(None)  # the backend dies
                await chunks.__anext__()
        assert lb.log[0].broken and lb.log[0].done
        # The client reconnects: the next request goes to the next backend, on a new connection.
        async with http.stream("GET", f"{lb.url}/sse") as r:
            await bs[1].events_in.send(b"data: 2\n\n")
            assert await r.aiter_raw().__anext__() == b"data: 2\n\n"
        assert [s.request.connection for s in lb.log] == [0, 1]


async def test_a_backend_that_is_down_is_a_502_and_the_connection_stays() -> None:
    async with deployment() as (_bs, lb), one_connection() as http:
        lb.backends[1] = ("127.0.0.1", 1)  # nothing listens there
        statuses = [(await http.post(f"{lb.url}/echo", content=b"x")).status_code for _ in range(4)]
    assert statuses == [200, 502, 200, 200]
    assert {s.request.connection for s in lb.log} == {0}


async def test_away_from_streams_keeps_a_sessions_posts_off_its_get_stream() -> None:
    async with deployment(choose=away_from_streams()) as (bs, lb), one_connection() as http:
        async with (
            httpx.AsyncClient() as other,
            other.stream("GET", f"{lb.url}/sse", headers={"mcp-session-id": "s"}),
        ):
            await lb.wait_until(lambda: len(lb.log) == 1)
            holder = lb.log[0].backend
            mine = [
                (await http.post(f"{lb.url}/echo", headers={"mcp-session-id": "s"})).json()
                for _ in range(6)
            ]
            theirs = (await http.post(f"{lb.url}/echo", headers={"mcp-session-id": "t"})).json()
        assert holder not in {m["backend"] for m in mine}
        assert {m["backend"] for m in mine} == {0, 1, 2} - {holder}  # still spread over the rest
        assert theirs["backend"] in {0, 1, 2}
        await bs[holder].left.wait()
