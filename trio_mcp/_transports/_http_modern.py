"""The modern era over HTTP: one POST, one request, one response (JSON or SSE).

A :class:`RequestPeer` is what a modern handler sees as its peer: everything
it sends (progress, log records, listen notifications) goes on the response of
the POST it came in. :func:`write_modern` writes that response: plain JSON if
the answer comes alone, an SSE stream from the first notification on.
"""

from __future__ import annotations

import math
from typing import Any

import attrs
import trio

from .._errors import INSUFFICIENT_SCOPE, RATE_LIMITED, McpError
from .._protocol import CancelRequest, ServerSession
from .._runtime import HttpRequestInfo
from .._wire import Id, encode
from ._asgi import SSE_HEADERS, ClientGone, HttpError, Responder, sse_event
from ._security import AccessToken, BearerAuth, insufficient_scope_challenge

__all__ = [
    "HANDLER_STATUS",
    "PRE_HANDLER_STATUS",
    "RequestPeer",
    "handler_headers",
    "write_modern",
]

# Errors the session raises before any handler runs, and their HTTP status (modern era).
PRE_HANDLER_STATUS = {
    -32700: 400,
    -32600: 400,
    -32602: 400,
    -32601: 404,
    -32020: 400,
    -32021: 400,
    -32022: 400,
}
# Errors from handlers that the modern transport maps to an HTTP status.
HANDLER_STATUS = {
    -32601: 404,
    -32021: 400,
    -32020: 400,
    -32022: 400,
    RATE_LIMITED: 429,  # with Retry-After (handler_headers)
    INSUFFICIENT_SCOPE: 403,  # with WWW-Authenticate: Bearer error="insufficient_scope"
}


def handler_headers(error: McpError, auth: BearerAuth | None) -> list[tuple[bytes, bytes]]:
    """The headers that go with a handler error's HTTP status (see :data:`HANDLER_STATUS`)."""
    data = error.data if type(error.data) is dict else {}
    if error.code == RATE_LIMITED and isinstance(data.get("retryAfter"), int | float):
        return [(b"retry-after", str(max(1, math.ceil(data["retryAfter"]))).encode())]
    if error.code == INSUFFICIENT_SCOPE:
        scopes = [s for s in data.get("requiredScopes") or () if type(s) is str]
        return [(b"www-authenticate", insufficient_scope_challenge(auth, scopes))]
    return []


@attrs.define(eq=False)
class RequestPeer:
    """The :class:`Peer` of one modern POST: everything it sends goes on that POST's response."""

    session: ServerSession
    _out: trio.MemorySendChannel[tuple[bytes, int | None]]
    _scopes: dict[Id, trio.CancelScope] = attrs.field(factory=dict)
    gone: bool = False
    #: The verified bearer token of the request, if auth is configured.
    token: AccessToken | None = None
    #: The HTTP request this POST is (``ctx.http``).
    http: HttpRequestInfo | None = None
    #: Headers for the answer's HTTP status (``handler_headers``).
    answer_headers: list[tuple[bytes, bytes]] = attrs.field(factory=list)

    @property
    def subject(self) -> str | None:
        """The authenticated identity (tasks are bound to it), if any."""
        return self.token.subject if self.token is not None else None

    def scope_of(self, rid: Id) -> trio.CancelScope | None:
        return self._scopes.get(rid)

    def http_request(self, rid: Id) -> HttpRequestInfo | None:
        return self.http

    async def notify(
        self, method: str, params: dict[str, Any] | None = None, *, related: Id | None = None
    ) -> None:
        try:
            await self._out.send((encode(self.session.notification(method, params)), None))
        except (trio.BrokenResourceError, trio.ClosedResourceError):
            pass

    def notify_nowait(self, method: str, params: dict[str, Any] | None = None) -> bool:
        try:
            self._out.send_nowait((encode(self.session.notification(method, params)), None))
        except (trio.WouldBlock, trio.BrokenResourceError, trio.ClosedResourceError):
            return False
        return True

    async def request(
        self, method: str, params: dict[str, Any] | None = None, *, related: Id | None = None
    ) -> dict[str, Any]:
        self.session.send_request(method, params)  # raises: no legacy session here
        raise AssertionError("unreachable")

    def close_stream(self, rid: Id) -> bool:
        """Modern responses are not resumable: closing one would cancel the request."""
        return False

    def client_left(self, rid: Id) -> None:
        """The client closed the connection: that is cancellation (modern HTTP)."""
        self.gone = True
        cancel = {
            "jsonrpc": "2.0",
            "method": "notifications/cancelled",
            "params": {"requestId": rid},
        }
        for event in self.session.receive_message(cancel):
            if type(event) is CancelRequest:
                scope = self._scopes.get(event.id)
                if scope is not None:
                    scope.cancel()

    def cancel_all(self) -> None:
        for scope in list(self._scopes.values()):
            scope.cancel()


async def write_modern(
    recv: trio.MemoryReceiveChannel[tuple[bytes, int | None]],
    responder: Responder,
    peer: RequestPeer,
    keepalive_s: float | None,
) -> None:
    """JSON if the answer comes alone; else SSE from the first notification on."""
    sse = False
    keepalive = keepalive_s or math.inf
    async with recv:
        while True:
            item: tuple[bytes, int | None] | None = None
            with trio.move_on_after(keepalive if sse else math.inf):
                try:
                    item = await recv.receive()
                except trio.EndOfChannel:
                    break
            if peer.gone:
                continue
            try:
                if item is None:
                    await responder.body(b":\n\n", more=True)
                    continue
                data, status = item
                if status is not None and not sse:
                    await responder.full(status, data, peer.answer_headers)
                    continue
                if not sse:
                    sse = True
                    await responder.start(200, SSE_HEADERS)
                await responder.body(sse_event(data), more=status is None)
            except ClientGone:
                peer.gone = True
    if peer.gone or responder.finished:
        return
    try:
        if sse:
            await responder.body(b"", more=False)
        elif not responder.started:
            # cancelled with nothing to say (the client is gone, or shutdown)
            await responder.error(HttpError(503, "Request cancelled", -32603))
    except ClientGone:
        pass
