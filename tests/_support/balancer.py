"""A load balancer without session affinity, for tests: a small Trio HTTP/1.1 reverse proxy.

:func:`balancer` listens on a free loopback port and sends **each request** (not
each connection) to the backend its chooser picks: by default the next one in
round-robin order (:class:`RoundRobin`), so the consecutive requests of one
keep-alive connection land on different backends, as behind a load balancer
without affinity. Every request is recorded in :attr:`Balancer.log` (a
:class:`Served`: method, path, ``Mcp-Session-Id``, backend index, status), so a
test can assert the spread.

What it does, and its limits (enough for MCP's Streamable HTTP):

* Client connections are HTTP/1.1 keep-alive (HTTP/1.0 and ``connection:
  close`` are honoured); pipelined requests are answered in order. Requests
  are parsed with httptools.
* A request's body (``content-length`` or ``chunked``) is read whole, then sent
  to the backend with ``content-length`` on a new backend connection of its own
  (``connection: close``), as a buffering proxy does. ``expect``, ``upgrade``
  and trailers are not supported.
* A response streams through as it arrives (SSE GET streams, SSE POST answers
  that stay open): each piece of body the backend sends is written to the
  client at once, re-chunked unless the backend gave a ``content-length``.
* A client that disconnects closes the backend connection serving it.
* A backend that dies mid-response (EOF or reset before the response's end)
  closes the client's connection without ending the response, so the client
  sees a broken response and can reconnect. A backend that refuses the
  connection, or dies before answering, is answered ``502``.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import AsyncIterator, Callable, Collection, Sequence
from contextlib import asynccontextmanager

import attrs
import httptools
import trio

__all__ = [
    "Balancer",
    "Chooser",
    "Request",
    "RoundRobin",
    "Served",
    "away_from_streams",
    "balancer",
    "session_streams",
]

#: Headers that belong to one connection, not to the message (RFC 9110 section 7.6.1),
#: plus the body framing, which the balancer sets itself.
_HOP = frozenset(
    b"connection keep-alive proxy-connection te trailer transfer-encoding upgrade "
    b"content-length expect".split()
)
_BAD_GATEWAY = b"bad gateway: the backend did not answer\n"


@attrs.define(eq=False)
class Request:
    """One request as the client sent it (its body read whole)."""

    method: str
    target: str  #: path and query, as sent
    headers: list[tuple[bytes, bytes]]  #: names in lower case, in order
    body: bytes
    keep_alive: bool  #: the client keeps the connection open after the response
    connection: int  #: which client connection it came on (0, 1, ...)

    def header(self, name: str) -> str | None:
        """The first value of header ``name`` (any case), or None."""
        key = name.lower().encode()
        for n, v in self.headers:
            if n == key:
                return v.decode("latin-1")
        return None

    @property
    def path(self) -> str:
        return self.target.split("?", 1)[0]

    @property
    def session(self) -> str | None:
        return self.header("mcp-session-id")


@attrs.define(eq=False)
class Served:
    """Which backend served a request, and how it went."""

    method: str
    path: str
    session: str | None  #: the request's ``Mcp-Session-Id``
    backend: int
    request: Request
    status: int | None = None  #: the response's status, once its head arrived (502: none)
    done: bool = False  #: the exchange ended: complete, broken, or the client left
    broken: bool = False  #: the backend died (or misbehaved) after the response began


#: Picks the backend for a request: ``choose(balancer, request) -> index``.
Chooser = Callable[["Balancer", Request], int]


class RoundRobin:
    """Each request to the next backend in turn, skipping the ones ``avoid`` names.

    Args:
        avoid: ``avoid(balancer, request)`` gives backend indexes this request must
            not go to (e.g. :func:`session_streams`); when it names them all, the
            plain next one is used.
    """

    def __init__(self, avoid: Callable[[Balancer, Request], Collection[int]] | None = None) -> None:
        self._turn = itertools.count()
        self._avoid = avoid

    def __call__(self, balancer: Balancer, request: Request) -> int:
        n = len(balancer.backends)
        avoid = self._avoid(balancer, request) if self._avoid is not None else ()
        first = next(self._turn) % n
        for i in range(n):
            candidate = (first + i) % n
            if candidate not in avoid:
                if i:  # keep the rotation going from the one picked
                    self._turn = itertools.count(first + i + 1)
                return candidate
        return first


def session_streams(balancer: Balancer, request: Request) -> set[int]:
    """The backends holding an open GET stream of the request's session (none without one)."""
    if request.session is None or request.method == "GET":
        return set()
    return {
        s.backend
        for s in balancer.log
        if s.method == "GET" and not s.done and s.session == request.session
    }


def away_from_streams() -> RoundRobin:
    """Round robin where a session's POSTs never go to the backend holding its GET stream."""
    return RoundRobin(avoid=session_streams)


@attrs.define(eq=False)
class Balancer:
    """The proxy's state: its backends, its chooser, and what it has served."""

    backends: list[tuple[str, int]]  #: ``(host, port)``; a test may change them
    choose: Chooser = attrs.field(factory=RoundRobin)
    log: list[Served] = attrs.field(factory=list)  #: every request, in arrival order
    port: int = 0
    _connections: itertools.count[int] = attrs.field(factory=itertools.count, init=False)
    _changed: trio.Event = attrs.field(factory=trio.Event, init=False)

    @property
    def url(self) -> str:
        """``http://127.0.0.1:<port>``: append the path (``/mcp``)."""
        return f"http://127.0.0.1:{self.port}"

    def spread(self) -> dict[int, int]:
        """How many requests each backend got (every index, zeros included)."""
        counts = dict.fromkeys(range(len(self.backends)), 0)
        for s in self.log:
            counts[s.backend] = counts.get(s.backend, 0) + 1
        return counts

    async def wait_until(self, predicate: Callable[[], bool]) -> None:
        """Return once ``predicate()`` holds; checked whenever the log changes."""
        while not predicate():
            await self._changed.wait()

    def _touch(self) -> None:
        self._changed.set()
        self._changed = trio.Event()

    async def handle(self, client: trio.SocketStream) -> None:
        """Serve one client connection until it closes (the listener's handler)."""
        number = next(self._connections)
        send, receive = trio.open_memory_channel[Request](math.inf)
        async with client, trio.open_nursery() as nursery:
            nursery.start_soon(_read_requests, client, send, number, nursery.cancel_scope)
            async for request in receive:
                if not await self._exchange(client, request):
                    break
            nursery.cancel_scope.cancel()

    async def _exchange(self, client: trio.SocketStream, request: Request) -> bool:
        """Forward one request; True when the client connection stays usable."""
        served = Served(
            request.method, request.path, request.session, self.choose(self, request), request
        )
        self.log.append(served)
        self._touch()
        try:
            return await self._forward(client, request, served)
        except (trio.BrokenResourceError, trio.ClosedResourceError):
            return False  # the client left mid-answer
        finally:
            served.done = True
            self._touch()

    async def _forward(self, client: trio.SocketStream, request: Request, served: Served) -> bool:
        host, port = self.backends[served.backend]
        try:
            backend = await trio.open_tcp_stream(host, port)
        except OSError:
            return await self._bad_gateway(client, request, served)
        async with backend:
            response = _Response(head_only=request.method == "HEAD")
            framing = b""
            try:
                await backend.send_all(_request_bytes(request))
            except (trio.BrokenResourceError, OSError):
                return await self._bad_gateway(client, request, served)
            while not response.complete:
                try:
                    data = await backend.receive_some(65536)
                except (trio.BrokenResourceError, OSError):
                    data = b""  # reset by the peer: died as surely as with EOF
                try:
                    pieces = response.feed(data) if data else None
                except httptools.HttpParserError:
                    pieces = None
                if pieces is None:  # the backend is gone (or spoke nonsense)
                    if response.status == 0:
                        return await self._bad_gateway(client, request, served)
                    if data == b"" and response.close_delimited:
                        await client.send_all(b"0\r\n\r\n")  # its end is the body's end
                        return request.keep_alive
                    served.broken = True
                    self._touch()
                    return False  # close the client's connection mid-response
                out: list[bytes] = []
                if response.status and not framing:
                    framing = response.framing()
                    out.append(response.head(keep_alive=request.keep_alive))
                    served.status = response.status
                    self._touch()
                for piece in pieces:
                    if framing == b"length":
                        out.append(piece)
                    elif framing == b"chunked" and piece:
                        out.append(b"%x\r\n%b\r\n" % (len(piece), piece))
                if response.complete and framing == b"chunked":
                    out.append(b"0\r\n\r\n")
                if out:
                    await client.send_all(b"".join(out))
            return request.keep_alive

    async def _bad_gateway(
        self, client: trio.SocketStream, request: Request, served: Served
    ) -> bool:
        served.status = 502
        self._touch()
        head = b"HTTP/1.1 502 Bad Gateway\r\ncontent-type: text/plain\r\n"
        head += b"content-length: %d\r\n" % len(_BAD_GATEWAY)
        if not request.keep_alive:
            head += b"connection: close\r\n"
        await client.send_all(head + b"\r\n" + _BAD_GATEWAY)
        return request.keep_alive


def _request_bytes(request: Request) -> bytes:
    parts = [f"{request.method} {request.target} HTTP/1.1\r\n".encode("latin-1")]
    for name, value in request.headers:
        if name not in _HOP:
            parts += (name, b": ", value, b"\r\n")
    if request.body or request.method in ("POST", "PUT", "PATCH"):
        parts.append(b"content-length: %d\r\n" % len(request.body))
    parts.append(b"connection: close\r\n\r\n")
    return b"".join(parts) + request.body


class _RequestParser:
    """httptools callbacks collecting complete requests."""

    def __init__(self, connection: int) -> None:
        self.parser = httptools.HttpRequestParser(self)
        self.connection = connection
        self.complete: list[Request] = []
        self.on_message_begin()

    def on_message_begin(self) -> None:
        self._url = b""
        self._headers: list[tuple[bytes, bytes]] = []
        self._body: list[bytes] = []

    def on_url(self, url: bytes) -> None:
        self._url += url

    def on_header(self, name: bytes, value: bytes) -> None:
        self._headers.append((name.lower(), value))

    def on_body(self, body: bytes) -> None:
        self._body.append(body)

    def on_message_complete(self) -> None:
        p = self.parser
        self.complete.append(
            Request(
                method=p.get_method().decode("latin-1"),
                target=self._url.decode("latin-1"),
                headers=self._headers,
                body=b"".join(self._body),
                keep_alive=p.should_keep_alive(),
                connection=self.connection,
            )
        )


async def _read_requests(
    client: trio.SocketStream,
    send: trio.MemorySendChannel[Request],
    connection: int,
    scope: trio.CancelScope,
) -> None:
    """Parse the client's requests into ``send``; when it leaves, cancel ``scope``.

    A client that closes (or resets, or sends what is not HTTP/1.1) ends its
    connection: the exchange in progress is cancelled, which closes its backend
    connection.
    """
    parser = _RequestParser(connection)
    try:
        while True:
            data = await client.receive_some(65536)
            if not data:
                break
            parser.parser.feed_data(data)
            for request in parser.complete:
                send.send_nowait(request)
            parser.complete.clear()
    except (trio.BrokenResourceError, trio.ClosedResourceError, OSError, httptools.HttpParserError):
        pass
    scope.cancel()


class _Response:
    """httptools callbacks for one backend response: its head, then its body pieces."""

    def __init__(self, *, head_only: bool) -> None:
        self.parser = httptools.HttpResponseParser(self)
        self.head_only = head_only
        self.status = 0  #: set when the head is complete
        self.complete = False
        self._reason = b""
        self._headers: list[tuple[bytes, bytes]] = []
        self._pieces: list[bytes] = []

    def on_status(self, reason: bytes) -> None:
        self._reason += reason

    def on_header(self, name: bytes, value: bytes) -> None:
        self._headers.append((name.lower(), value))

    def on_headers_complete(self) -> None:
        self.status = self.parser.get_status_code()
        if self.head_only:
            self.complete = True

    def on_body(self, body: bytes) -> None:
        self._pieces.append(body)

    def on_message_complete(self) -> None:
        self.complete = True

    def feed(self, data: bytes) -> list[bytes]:
        """Parse ``data``; the body pieces it completed (possibly none)."""
        if not self.complete:
            self.parser.feed_data(data)
        pieces, self._pieces = self._pieces, []
        return pieces

    def _value(self, name: bytes) -> bytes | None:
        return next((v for n, v in self._headers if n == name), None)

    @property
    def _has_body(self) -> bool:
        return not (self.head_only or self.status < 200 or self.status in (204, 304))

    @property
    def close_delimited(self) -> bool:
        """The body ends when the backend closes (neither length nor chunked)."""
        chunked = b"chunked" in (self._value(b"transfer-encoding") or b"").lower()
        return self._has_body and not chunked and self._value(b"content-length") is None

    def framing(self) -> bytes:
        """How the client's copy is delimited: ``length``, ``chunked`` or ``none``."""
        if not self._has_body:
            return b"none"
        return b"length" if self._value(b"content-length") is not None else b"chunked"

    def head(self, *, keep_alive: bool) -> bytes:
        """The status line and headers for the client."""
        parts = [b"HTTP/1.1 %d %b\r\n" % (self.status, self._reason)]
        for name, value in self._headers:
            if name not in _HOP or name == b"content-length":
                parts += (name, b": ", value, b"\r\n")
        if self.framing() == b"chunked":
            parts.append(b"transfer-encoding: chunked\r\n")
        if not keep_alive:
            parts.append(b"connection: close\r\n")
        parts.append(b"\r\n")
        return b"".join(parts)


@asynccontextmanager
async def balancer(
    backends: Sequence[tuple[str, int]], choose: Chooser | None = None
) -> AsyncIterator[Balancer]:
    """A :class:`Balancer` serving on ``127.0.0.1`` (a free port) for the block's duration.

    Args:
        backends: ``(host, port)`` of each backend, in index order.
        choose: picks each request's backend; default: a fresh :class:`RoundRobin`.
    """
    b = Balancer(list(backends)) if choose is None else Balancer(list(backends), choose)
    async with trio.open_nursery() as nursery:
        listeners = await trio.open_tcp_listeners(0, host="127.0.0.1")
        b.port = listeners[0].socket.getsockname()[1]
        nursery.start_soon(trio.serve_listeners, b.handle, listeners)
        try:
            yield b
        finally:
            nursery.cancel_scope.cancel()
