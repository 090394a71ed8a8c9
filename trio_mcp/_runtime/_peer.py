"""The client side of one connection, as handlers see it: :class:`Peer`, and its outbound half.

Every transport hands its handlers a :class:`Peer`: a stdio or stream
:class:`~trio_mcp._runtime.Connection`, a legacy HTTP session, one modern HTTP
POST, or a task's wrapper around one of those. The protocol declares all a
``Context`` may ask of it, so the application never probes a peer with
``getattr``:

* who is calling (:attr:`Peer.token`, :attr:`Peer.subject`; ``None`` without
  HTTP bearer auth) and the HTTP request a call came in
  (:meth:`Peer.http_request`, an :class:`HttpRequestInfo`; ``None`` off HTTP);
* the cancel scope of one of its requests (:meth:`Peer.scope_of`);
* notifications (:meth:`Peer.notify`, :meth:`Peer.notify_nowait`) and
  server-to-client requests (:meth:`Peer.request`, legacy era);
* ending a request's SSE connection early (:meth:`Peer.close_stream`; only a
  legacy HTTP stream has one, everywhere else it is a no-op that says False).

:class:`Outbound` writes the notification side once for every transport: build
the message with the session, encode it once, hand the bytes to the transport's
writer through a memory channel. :class:`ClientRequests` is the one round trip
of a server-to-client request.

Who is calling is also in :data:`current_subject` while a request's handler
runs (set by :func:`~trio_mcp._runtime.run_handler`, only when the peer has a
token), and :class:`SubjectFilter` puts it on log records.
"""

from __future__ import annotations

import contextvars
import logging
from collections.abc import Awaitable, Callable, Iterable, Iterator, Mapping
from typing import Any, Protocol

import attrs
import trio

from .._errors import McpError
from .._protocol import ServerSession
from .._wire import Id, encode
from ._outqueue import OutQueue

__all__ = [
    "AccessToken",
    "ClientRequests",
    "HttpRequestInfo",
    "Outbound",
    "Peer",
    "SubjectFilter",
    "current_subject",
]

_GONE = (trio.BrokenResourceError, trio.ClosedResourceError)


@attrs.frozen
class AccessToken:
    """Who a verified bearer token belongs to.

    Attributes:
        subject: The identity a legacy session (and a modern task) is bound to.
        scopes: The scopes the token grants.
        claims: Anything else the verifier wants handlers to see.
    """

    subject: str
    scopes: frozenset[str] = frozenset()
    claims: dict[str, Any] = attrs.field(factory=dict)


@attrs.frozen
class HttpRequestInfo:
    """The HTTP request that carried an MCP request (``ctx.http``).

    Attributes:
        method: The HTTP method (``"POST"``).
        path: The request path, as the ASGI server gave it.
        query: The raw query string (``""`` without one).
        headers: Request headers, names lowercased; a repeated header's values
            are joined with ``", "`` (RFC 9110 section 5.3).
        client: The client's ``(host, port)``, when the server knows it.
        token: The verified bearer token (``None`` without ``auth=``).
    """

    method: str
    path: str
    query: str
    headers: Mapping[str, str]
    client: tuple[str, int] | None = None
    token: AccessToken | None = None

    @classmethod
    def of(
        cls,
        method: str,
        path: str,
        query: bytes,
        raw_headers: Iterable[tuple[bytes, bytes]],
        client: Any,
        token: AccessToken | None,
    ) -> HttpRequestInfo:
        """Build one from ASGI scope parts (``headers`` as ``(name, value)`` byte pairs).

        The header map is made on first use (most handlers never look).
        """
        peer = (str(client[0]), int(client[1])) if client else None
        return cls(method, path, bytes(query).decode("latin-1"), _Headers(raw_headers), peer, token)


class _Headers(Mapping[str, str]):
    """:attr:`HttpRequestInfo.headers`: made from the raw pairs on first use."""

    __slots__ = ("_map", "_raw")

    def __init__(self, raw: Iterable[tuple[bytes, bytes]]) -> None:
        self._raw = raw
        self._map: dict[str, str] | None = None

    def _made(self) -> dict[str, str]:
        made = self._map
        if made is None:
            made = self._map = {}
            for key, value in self._raw:
                name = bytes(key).decode("latin-1").lower()
                text = bytes(value).decode("latin-1").strip(" \t")
                made[name] = f"{made[name]}, {text}" if name in made else text
            self._raw = ()
        return made

    def __getitem__(self, name: str) -> str:
        return self._made()[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self._made())

    def __len__(self) -> int:
        return len(self._made())

    def __eq__(self, other: object) -> bool:
        return self._made() == other if isinstance(other, Mapping) else NotImplemented

    def __hash__(self) -> int:
        return hash(frozenset(self._made().items()))

    def __repr__(self) -> str:
        return repr(self._made())


#: The token subject of the request the current task is handling, if it has one.
current_subject: contextvars.ContextVar[str | None] = contextvars.ContextVar(
    "trio_mcp_subject", default=None
)


class SubjectFilter(logging.Filter):
    """Puts the calling identity on every record: ``record.subject``.

    ``record.subject`` is the verified token's subject while a request's
    handler runs (and in what it starts), ``"-"`` otherwise. Add the filter to
    a handler and name the field in its format::

        handler.addFilter(SubjectFilter())
        handler.setFormatter(logging.Formatter("%(asctime)s %(subject)s %(message)s"))

    It never drops a record. On a handler (not a logger) it sees the records
    of every logger, the application's too.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        """Set ``record.subject``; keep the record."""
        record.subject = current_subject.get() or "-"
        return True


class Peer(Protocol):
    """The client side of one connection, as handlers see it (stdio, stream, HTTP or a task)."""

    session: ServerSession

    @property
    def token(self) -> AccessToken | None:
        """The client's verified bearer token (HTTP with ``auth=``), else ``None``."""
        ...

    @property
    def subject(self) -> str | None:
        """The token's subject, the identity tasks and legacy sessions are bound to."""
        ...

    def scope_of(self, rid: Id) -> trio.CancelScope | None:
        """The cancel scope of in-flight request ``rid``, if it is running."""
        ...

    def http_request(self, rid: Id) -> HttpRequestInfo | None:
        """The HTTP request that carried request ``rid``; ``None`` off HTTP or once it ended."""
        ...

    async def notify(
        self, method: str, params: dict[str, Any] | None = None, *, related: Id | None = None
    ) -> None:
        """Send a notification; ``related`` names the request it belongs to, if any.

        Raises:
            TypeError: ``params`` cannot be encoded as JSON.
        """
        ...

    def notify_nowait(self, method: str, params: dict[str, Any] | None = None) -> bool:
        """Queue a notification without waiting; False if it could not be queued."""
        ...

    async def request(
        self, method: str, params: dict[str, Any] | None = None, *, related: Id | None = None
    ) -> dict[str, Any]:
        """Send a server-to-client request (legacy era) and wait for its result."""
        ...

    def close_stream(self, rid: Id) -> bool:
        """End the live SSE connection of request ``rid`` (legacy HTTP); False if none."""
        ...


class Outbound:
    """The outbound half of a :class:`Peer`, written once for every transport.

    A transport's peer inherits it and provides ``session``, ``token`` and
    ``_out``, the :class:`OutQueue` its writer takes encoded messages from
    (bounded in bytes: :meth:`notify` waits for room, :meth:`notify_nowait`
    drops at the bound). It may
    override :meth:`_encode` (stdio frames a message as one line) and
    :meth:`_deliver` (legacy HTTP puts a message related to a request on that
    request's SSE stream).

    A writer that is gone (the client stopped reading, or left) is not an
    error: what is sent to it is dropped.
    """

    __slots__ = ()

    session: ServerSession
    token: AccessToken | None
    _out: OutQueue

    @property
    def subject(self) -> str | None:
        """The token's subject, if there is a token."""
        token = self.token
        return token.subject if token is not None else None

    def _encode(self, message: Any) -> bytes:
        """One message as this transport's bytes (one JSON text)."""
        return encode(message)

    async def _deliver(self, data: bytes, related: Id | None) -> None:
        """Hand one encoded message to the writer; wait while it is behind (backpressure)."""
        try:
            await self._out.send(data)
        except _GONE:
            pass

    async def notify(
        self, method: str, params: dict[str, Any] | None = None, *, related: Id | None = None
    ) -> None:
        """Build the notification with the session, encode it once, and deliver it.

        Raises:
            TypeError: ``params`` cannot be encoded as JSON.
        """
        await self._deliver(self._encode(self.session.notification(method, params)), related)

    def notify_nowait(self, method: str, params: dict[str, Any] | None = None) -> bool:
        """Queue a notification without waiting; False (dropped) if the queue is full or gone.

        Raises:
            TypeError: ``params`` cannot be encoded as JSON.
        """
        data = self._encode(self.session.notification(method, params))
        try:
            self._out.send_nowait(data)
        except (trio.WouldBlock, *_GONE):
            return False
        return True

    def close_stream(self, rid: Id) -> bool:
        """No SSE stream to end on this transport: False."""
        return False

    def http_request(self, rid: Id) -> HttpRequestInfo | None:
        """No HTTP request behind a request on this transport: ``None``."""
        return None


@attrs.define(eq=False)
class _Pending:
    event: trio.Event = attrs.field(factory=trio.Event)
    result: dict[str, Any] | None = None
    error: dict[str, Any] | None = None


@attrs.define(eq=False)
class ClientRequests:
    """Server-to-client requests awaiting their answer (legacy era), for any transport.

    :meth:`call` sends a request through ``send`` and waits; :meth:`answer`
    delivers the client's response; :meth:`fail_all` ends every wait (the
    session closed). Cancelling a call forgets it in the session and tells the
    client with ``notifications/cancelled``.
    """

    session: ServerSession
    _pending: dict[Id, _Pending] = attrs.field(factory=dict, init=False)

    async def call(
        self,
        method: str,
        params: dict[str, Any] | None,
        send: Callable[[dict[str, Any]], Awaitable[None]],
    ) -> dict[str, Any]:
        """Send one request via ``send`` and return the client's result.

        Raises:
            McpError: the client answered with an error.
            LocalProtocolError: no legacy session is initialized.
        """
        rid, msg = self.session.send_request(method, params)
        pending = self._pending[rid] = _Pending()
        try:
            await send(msg)
            await pending.event.wait()
        except trio.Cancelled:
            self.session.forget_request(rid)
            cancelled = {"requestId": rid, "reason": "cancelled by server"}
            with trio.CancelScope(shield=True), trio.move_on_after(1):
                await send(self.session.notification("notifications/cancelled", cancelled))
            raise
        finally:
            del self._pending[rid]
        if pending.error is not None:
            err = pending.error
            raise McpError(err.get("code"), str(err.get("message", "")), err.get("data"))
        return pending.result or {}

    def answer(self, rid: Id, result: dict[str, Any] | None, error: dict[str, Any] | None) -> None:
        """The client answered request ``rid`` (unknown ids are ignored)."""
        pending = self._pending.get(rid)
        if pending is not None:
            pending.result, pending.error = result, error
            pending.event.set()

    def fail_all(self, message: str) -> None:
        """End every wait with an internal error (the session is gone)."""
        for pending in self._pending.values():
            pending.error = {"code": -32603, "message": message}
            pending.event.set()
