"""The parsing half of a native connection: :class:`Exchange` (one request) and the parser callbacks.

:class:`RequestParsing` is what httptools calls back as it parses a
connection's bytes (llhttp): it builds each request's head (an ASGI-shaped
scope, the header map the transport reads, the repeated names), enforces the
head's limits (414, 431) and hands each :class:`Exchange` to the connection
(:meth:`~._connection.Connection._enqueue`). :class:`~._connection.Connection`
is the rest: reading, running the requests, writing.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any, cast
from urllib.parse import unquote

import attrs
import httptools
import trio

from .._asgi import HEADERS_KEY, HttpError
from ._wire import CONTINUE

if TYPE_CHECKING:
    from ._connection import Connection
    from ._server import NativeServer

__all__ = ["Exchange", "Refuse", "RequestParsing", "StopReading"]

_DISCONNECT = {"type": "http.disconnect"}


class Refuse(Exception):
    """Raised from a parser callback: answer ``status`` and close."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


class StopReading(Exception):
    """Raised from a parser callback: parse no further (the connection will close)."""


@attrs.define(eq=False)
class Exchange:
    """One request on a connection: its head (an ASGI-shaped scope), its body, its responder."""

    conn: Connection
    scope: dict[str, Any]
    keep_alive: bool
    http11: bool
    is_head: bool = False
    expect_continue: bool = False
    #: An error the server answers itself (the transport is not asked).
    refusal: HttpError | None = None
    #: The response's head was written (no ``100 Continue`` any more).
    answered: bool = False
    chunks: list[bytes] = attrs.field(factory=list)
    size: int = 0
    #: The whole body was received.
    complete: bool = False
    delivered: bool = False
    close_after: bool = False
    _continued: bool = False
    _wake: trio.Event | None = None
    #: Called once if the client leaves while this request is the current one.
    on_gone: Callable[[], None] | None = None

    def wake(self) -> None:
        if self._wake is not None:
            self._wake.set()

    def take_body(self) -> bytes | None:
        """The whole body, if it has all arrived and nothing took it yet (else ``None``).

        What :meth:`receive` would have delivered; :meth:`receive` then only
        waits for ``http.disconnect``.
        """
        if not self.complete or self.delivered:
            return None
        chunks = self.chunks
        self.chunks = []
        self.delivered = True
        return chunks[0] if len(chunks) == 1 else b"".join(chunks)

    async def receive(self) -> dict[str, Any]:
        """ASGI ``receive``: the body (as it arrives), then ``http.disconnect`` once gone."""
        conn = self.conn
        while not self.delivered:
            if self.chunks or self.complete:
                chunks = self.chunks
                data = chunks[0] if len(chunks) == 1 else b"".join(chunks)
                self.chunks = []
                self.delivered = self.complete
                return {"type": "http.request", "body": data, "more_body": not self.complete}
            if conn.gone.is_set() or not conn.reading:
                return _DISCONNECT
            if self.expect_continue and not self._continued and not self.answered:
                self._continued = True
                await conn.send(CONTINUE, conn.server.write_timeout)
            self._wake = trio.Event()
            await self._wake.wait()
            self._wake = None
        await conn.gone.wait()
        return _DISCONNECT


class RequestParsing:
    """The httptools callbacks of a :class:`~._connection.Connection` (its parsing state)."""

    server: NativeServer
    parser: httptools.HttpRequestParser
    scheme: str
    client: tuple[str, int] | None
    local: tuple[str, int] | None
    _max_line: int
    _max_header_size: int
    _max_headers: int
    _max_body: int
    _parsing: Exchange | None
    _in_head: bool
    _head_started: float
    _head_fed: int
    _url: bytes
    _headers: list[tuple[bytes, bytes]]
    _header_map: dict[bytes, str]
    _repeated: set[bytes]
    _header_size: int

    def _arm(self, at: float) -> None:
        raise NotImplementedError

    def _enqueue(self, ex: Exchange) -> None:
        raise NotImplementedError

    def on_message_begin(self) -> None:
        self._in_head = True
        now = self._head_started = trio.current_time()
        self._arm(now + self.server.limits.header_timeout)
        self._head_fed = 0
        self._url = b""
        self._headers = []
        self._header_map = {}
        self._repeated = set()
        self._header_size = 0

    def on_url(self, url: bytes) -> None:
        self._url += url
        if len(self._url) > self._max_line:
            raise Refuse(414, "URI Too Long")

    def on_header(self, name: bytes, value: bytes) -> None:
        self._header_size += len(name) + len(value)
        if self._header_size > self._max_header_size:
            raise Refuse(431, "Request Header Fields Too Large")
        name = name.lower()
        self._headers.append((name, value))
        if len(self._headers) > self._max_headers:
            raise Refuse(431, "Request Header Fields Too Large: too many headers")
        # the map the transport reads (headers_of), made here in the same pass
        if name in self._header_map:
            self._repeated.add(name)
        else:
            self._header_map[name] = value.decode("latin-1").strip(" \t")

    def on_headers_complete(self) -> None:
        self._in_head = False
        parser = self.parser
        method = parser.get_method().decode("ascii", "replace")
        http11 = parser.get_http_version() == "1.1"
        raw = self._url
        if raw[:1] == b"/" and b"?" not in raw and b"#" not in raw:
            path_b, query = raw, b""  # origin-form, nothing to split
        else:
            try:
                url = httptools.parse_url(raw)
                path_b, query = url.path or b"/", url.query or b""
            except httptools.HttpParserInvalidURLError:
                path_b, query = raw, b""
        path = path_b.decode("latin-1")
        if "%" in path:
            path = unquote(path, "latin-1")
        headers = self._headers
        found = self._header_map
        scope = {
            "type": "http",
            "http_version": "1.1" if http11 else "1.0",
            "method": method,
            "scheme": self.scheme,
            "path": path,
            "raw_path": path_b,
            "query_string": query,
            "root_path": "",
            "headers": headers,
            "client": self.client,
            "server": self.local,
            HEADERS_KEY: (headers, found, frozenset(self._repeated)),
        }
        expect = found.get(b"expect")
        length = found.get(b"content-length")
        ex = Exchange(
            cast("Connection", self),
            scope,
            keep_alive=parser.should_keep_alive(),
            http11=http11,
            is_head=method == "HEAD",
            expect_continue=expect is not None and expect.lower() == "100-continue",
        )
        self._parsing = ex
        self._enqueue(ex)
        if length is not None and length.isdigit() and int(length) > self._max_body:
            raise StopReading()  # the transport answers 413 from the declared length

    def on_body(self, body: bytes) -> None:
        ex = self._parsing
        assert ex is not None
        ex.size += len(body)
        ex.chunks.append(body)
        ex.wake()
        if ex.size > self._max_body:
            raise StopReading()  # the transport answers 413; what is buffered is bounded

    def on_message_complete(self) -> None:
        ex = self._parsing
        assert ex is not None
        ex.complete = True
        ex.wake()
        self._parsing = None
