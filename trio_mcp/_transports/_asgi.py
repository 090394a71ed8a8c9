"""The little of ASGI the HTTP transport needs: headers, a bounded body, responses, SSE.

Nothing here knows MCP. Writes to a client go through :class:`Responder`, which
puts a deadline on each one (a client that stops reading is a slow client, and
is dropped) and turns a vanished client into ``ClientGone``.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable, MutableMapping
from typing import Any

import attrs
import orjson
import trio

__all__ = [
    "HEADERS_KEY",
    "AsgiResponder",
    "ClientGone",
    "HttpError",
    "Receive",
    "Responder",
    "Scope",
    "Send",
    "error_body",
    "header",
    "headers_of",
    "read_body",
    "sse_event",
]

Scope = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[MutableMapping[str, Any]]]
Send = Callable[[MutableMapping[str, Any]], Awaitable[None]]

SSE_HEADERS: list[tuple[bytes, bytes]] = [
    (b"content-type", b"text/event-stream"),
    (b"cache-control", b"no-cache, no-transform"),
    (b"x-accel-buffering", b"no"),
]


class ClientGone(Exception):
    """The client disconnected, or did not read within the write timeout."""


@attrs.define
class HttpError(Exception):
    """Answer with ``status`` and a JSON-RPC error body (``id`` as given, else null)."""

    status: int
    message: str
    code: int = -32600
    id: Any = None
    headers: list[tuple[bytes, bytes]] = attrs.field(factory=list)
    data: Any = None


def error_body(code: int, message: str, id: Any = None, data: Any = None) -> bytes:
    error: dict[str, Any] = {"code": code, "message": message}
    if data is not None:
        error["data"] = data
    return orjson.dumps({"jsonrpc": "2.0", "id": id, "error": error})


#: Where :func:`headers_of` keeps its map in a scope: ``(the header list it was made
#: from, the map, the repeated names)``. A server that parses the headers itself may
#: put it there (the native server does).
HEADERS_KEY = "trio_mcp.headers"


def headers_of(scope: Scope) -> tuple[dict[bytes, str], frozenset[bytes]]:
    """The request's headers as a map, and the names that appear more than once.

    The map holds each name (lowercase) with its first value, decoded
    (latin-1) and stripped of leading and trailing whitespace (RFC 9110
    section 5.5). It is made once per request and kept in the scope, for as
    long as ``scope["headers"]`` is the same list.
    """
    raw = scope.get("headers", ())
    cached = scope.get(HEADERS_KEY)
    if cached is not None and cached[0] is raw:
        return cached[1], cached[2]
    found: dict[bytes, str] = {}
    repeated: set[bytes] = set()
    for key, value in raw:
        name = bytes(key).lower()
        if name in found:
            repeated.add(name)
        else:
            found[name] = bytes(value).decode("latin-1").strip(" \t")
    twice = frozenset(repeated)
    scope[HEADERS_KEY] = (raw, found, twice)
    return found, twice


def header(scope: Scope, name: bytes) -> str | None:
    """The value of request header ``name`` (lowercase), or ``None``.

    The first one, if it appears more than once. Leading and trailing
    whitespace is removed (RFC 9110 section 5.5).
    """
    return headers_of(scope)[0].get(name)


async def read_body(
    receive: Receive, scope: Scope, limit: int, seconds: float, body: bytes | None = None
) -> bytes:
    """Read the whole request body: at most ``limit`` bytes within ``seconds``.

    ``body`` is the whole body when the server already has it: only the
    limit is checked then.

    Raises:
        HttpError: 413 (too large), 408 (too slow), 400 (client went away).
    """
    declared = header(scope, b"content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise HttpError(413, f"Request body exceeds the {limit}-byte limit")
    if body is not None:
        if len(body) > limit:
            raise HttpError(413, f"Request body exceeds the {limit}-byte limit")
        return body
    chunks: list[bytes] = []
    size = 0
    with trio.move_on_after(seconds) as cs:
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                raise HttpError(400, "Client disconnected while sending the body")
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > limit:
                raise HttpError(413, f"Request body exceeds the {limit}-byte limit")
            chunks.append(chunk)
            if not message.get("more_body", False):
                break
    if cs.cancelled_caught:
        raise HttpError(408, f"Request body not received within {seconds:g}s")
    return b"".join(chunks)


def sse_event(data: bytes, event_id: str | None = None, retry_ms: int | None = None) -> bytes:
    """One SSE event. ``data`` is one JSON message (no newlines: orjson never emits one)."""
    out = b""
    if event_id is not None:
        out += b"id: " + event_id.encode() + b"\n"
    if retry_ms is not None:
        out += b"retry: %d\n" % retry_ms
    return out + b"data: " + data + b"\n\n"


@attrs.define(eq=False)
class Responder:
    """Writes one HTTP response, each write under ``timeout`` seconds.

    What the transport core writes through, whatever serves it: the ASGI
    adapter (:class:`AsgiResponder`) or the native HTTP/1.1 server
    (:class:`~._native.NativeResponder`). Subclasses implement :meth:`start`
    and :meth:`body`; both raise :class:`ClientGone` when the client left or
    did not read within ``timeout``.
    """

    timeout: float
    started: bool = attrs.field(default=False, init=False)
    finished: bool = attrs.field(default=False, init=False)

    async def start(self, status: int, headers: Iterable[tuple[bytes, bytes]]) -> None:
        """Send the status line and headers (no ``content-length``: the body is streamed)."""
        raise NotImplementedError

    async def body(self, data: bytes, *, more: bool) -> None:
        """Send part of the body; ``more=False`` ends the response."""
        raise NotImplementedError

    async def full(
        self,
        status: int,
        data: bytes = b"",
        headers: Iterable[tuple[bytes, bytes]] = (),
        content_type: bytes | None = b"application/json",
    ) -> None:
        """A complete response at once."""
        all_headers = list(headers)
        if content_type is not None and data:
            all_headers.append((b"content-type", content_type))
        all_headers.append((b"content-length", str(len(data)).encode()))
        await self.start(status, all_headers)
        await self.body(data, more=False)

    def on_disconnect(self, callback: Callable[[], None]) -> bool:
        """Have ``callback`` called (once, from the server's reader) when the client leaves.

        Returns True if this responder's server does so (the native server: no
        task needs to watch ``receive`` for ``http.disconnect``); False if it
        cannot (ASGI), and the caller must watch ``receive`` itself. A client
        already gone gets ``callback`` called at once.
        """
        return False

    async def error(self, exc: HttpError) -> None:
        await self.full(
            exc.status, error_body(exc.code, exc.message, exc.id, exc.data), exc.headers
        )


@attrs.define(eq=False)
class AsgiResponder(Responder):
    """The :class:`Responder` of an ASGI server: ASGI ``send`` messages."""

    _send: Send

    async def _write(self, message: MutableMapping[str, Any]) -> None:
        with trio.move_on_after(self.timeout) as cs:
            try:
                await self._send(message)
            except OSError as exc:  # ASGI: a send after the client left
                raise ClientGone() from exc
            except (trio.BrokenResourceError, trio.ClosedResourceError) as exc:
                raise ClientGone() from exc
            except trio.BusyResourceError as exc:
                # Hypercorn closes a connection the client ended (send_eof) outside
                # its send lock, so our write can meet the close: the client is gone.
                # (Seen on the 408 path, when the client leaves mid-body; issue 13.)
                raise ClientGone() from exc
        if cs.cancelled_caught:
            raise ClientGone()

    async def start(self, status: int, headers: Iterable[tuple[bytes, bytes]]) -> None:
        self.started = True
        await self._write(
            {"type": "http.response.start", "status": status, "headers": list(headers)}
        )

    async def body(self, data: bytes, *, more: bool) -> None:
        if not more:
            self.finished = True
        await self._write({"type": "http.response.body", "body": data, "more_body": more})
