"""The modern era over HTTP: one POST, one fresh session, one request, one response.

:class:`ModernRequests` serves every modern POST. Each gets a fresh
:class:`ServerSession` (ids of different clients may collide; nothing is
shared), whose events :func:`~trio_mcp._runtime.dispatch` drives into the
POST's sink: a request runs in the POST's own task. A disconnect is fed to
the session as a cancellation and cancels the handler's scope, so nothing is
sent for it: the native server reports it (:meth:`Responder.on_disconnect`);
under ASGI a watcher task of ``http.disconnect`` runs beside the handler.

A :class:`~._http_modern_peer.RequestPeer` is what a modern handler sees as
its peer: everything it sends (progress, log records, listen notifications)
goes on the response of the POST it came in: plain JSON if the answer comes
alone, written by the handler's own task; an SSE stream from the first
notification on, written by :func:`~._http_modern_peer.write_modern`, a task
started then.

The HTTP status of an error answer comes from one table, :data:`HTTP_STATUS`.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from functools import partial
from typing import Any

import attrs
import trio

from .._errors import (
    CAPABILITY_NOT_SUPPORTED,
    HEADER_MISMATCH,
    INSUFFICIENT_SCOPE,
    INVALID_PARAMS,
    INVALID_REQUEST,
    METHOD_NOT_FOUND,
    PARSE_ERROR,
    RATE_LIMITED,
    UNSUPPORTED_PROTOCOL_VERSION,
    McpError,
    StoreUnavailable,
)
from .._protocol import (
    ClientResponse,
    IncomingRequest,
    Notified,
    Outgoing,
    ServerSession,
)
from .._runtime import (
    AccessToken,
    Application,
    HttpRequestInfo,
    Shutdown,
    dispatch,
    encode_outcome,
    run_handler,
)
from .._wire import Id, encode
from ._asgi import Receive, Responder
from ._http_modern_peer import RequestPeer, write_modern
from ._http_quota import IdentityQuotas
from ._security import BearerAuth, insufficient_scope_challenge

__all__ = [
    "HTTP_STATUS",
    "ModernRequests",
    "RequestPeer",
    "handler_headers",
    "http_status",
    "write_modern",
]

#: The HTTP status of a modern error answer, by JSON-RPC code. The first column
#: is for errors the session answers before any handler runs (the request itself
#: is wrong), the second for errors a handler raised. Unlisted codes are 200:
#: the JSON-RPC error is the answer.
HTTP_STATUS: dict[int, tuple[int, int]] = {
    #                              session  handler
    PARSE_ERROR: (400, 200),
    INVALID_REQUEST: (400, 200),
    INVALID_PARAMS: (400, 200),
    METHOD_NOT_FOUND: (404, 404),
    HEADER_MISMATCH: (400, 400),
    CAPABILITY_NOT_SUPPORTED: (400, 400),
    UNSUPPORTED_PROTOCOL_VERSION: (400, 400),
    RATE_LIMITED: (200, 429),  # with Retry-After (handler_headers)
    INSUFFICIENT_SCOPE: (200, 403),  # with WWW-Authenticate: Bearer error="insufficient_scope"
}


def http_status(code: Any, *, handler: bool) -> int:
    """The HTTP status of a modern error answer with JSON-RPC ``code`` (see :data:`HTTP_STATUS`)."""
    row = HTTP_STATUS.get(code)
    return 200 if row is None else row[handler]


def handler_status(error: McpError) -> int:
    """The HTTP status of a handler's error: a shared store that is away is 503."""
    if isinstance(error, StoreUnavailable):
        return 503  # with Retry-After (handler_headers)
    return http_status(error.code, handler=True)


def handler_headers(error: McpError, auth: BearerAuth | None) -> list[tuple[bytes, bytes]]:
    """The headers that go with a handler error's HTTP status (see :data:`HTTP_STATUS`)."""
    data = error.data if type(error.data) is dict else {}
    if isinstance(error, StoreUnavailable):
        return [(b"retry-after", str(max(1, math.ceil(error.retry_after))).encode())]
    if error.code == RATE_LIMITED and isinstance(data.get("retryAfter"), int | float):
        return [(b"retry-after", str(max(1, math.ceil(data["retryAfter"]))).encode())]
    if error.code == INSUFFICIENT_SCOPE:
        scopes = [s for s in data.get("requiredScopes") or () if type(s) is str]
        return [(b"www-authenticate", insufficient_scope_challenge(auth, scopes))]
    return []


@attrs.define(eq=False)
class ModernRequests:
    """Serves the modern era's POSTs (one per transport). :attr:`peers` are those running."""

    app: Application
    requests: Shutdown
    keepalive: float | None
    #: The bound, in bytes, on what waits for one response's writer.
    write_buffer_bytes: int
    quotas: IdentityQuotas
    #: The endpoint's bearer auth (for the ``insufficient_scope`` challenge).
    auth: BearerAuth | None = None
    peers: set[RequestPeer] = attrs.field(factory=set)

    async def post(
        self,
        receive: Receive,
        responder: Responder,
        msg: Any,
        token: AccessToken | None,
        http: HttpRequestInfo | None = None,
        nursery: trio.Nursery | None = None,
    ) -> None:
        """Serve one modern POST body: at most one request, run in this task.

        ``http`` is the POST, what the handler sees as ``ctx.http``;
        ``nursery`` (the transport's) hosts its SSE writer, if it needs one.
        """
        session = self.app.new_session()
        sink = _Post(self, receive, responder, session, token, http, nursery)
        await dispatch(session.receive_message(msg), sink)
        if not sink.answered:
            await responder.full(202)

    def cancel_all(self) -> None:
        """Cancel every running handler (shutdown: the grace is over)."""
        for peer in list(self.peers):
            peer.cancel_all()

    async def run(
        self,
        receive: Receive,
        responder: Responder,
        session: ServerSession,
        req: IncomingRequest,
        token: AccessToken | None,
        http: HttpRequestInfo | None = None,
        nursery: trio.Nursery | None = None,
    ) -> None:
        """Run ``req``'s handler in this task and write its response (JSON or SSE).

        A disconnect cancels the handler: reported by the server
        (:meth:`Responder.on_disconnect`), else watched for on ``receive`` by
        a task of this request's own.
        """
        peer = RequestPeer(
            session, nursery, responder, self.write_buffer_bytes, self.keepalive, token, http
        )
        requests = self.requests
        self.peers.add(peer)
        self.app.connected(peer)
        requests.begin()
        try:
            left = partial(peer.client_left, req.id)
            if responder.on_disconnect(left):
                await self._serve(peer, req)
            else:
                async with trio.open_nursery() as watching:
                    watching.start_soon(_on_disconnect, receive, left)
                    await self._serve(peer, req)
                    watching.cancel_scope.cancel()
        finally:
            await peer.stop()
            requests.end()
            self.peers.discard(peer)
            self.app.disconnected(peer)

    async def _serve(self, peer: RequestPeer, req: IncomingRequest) -> None:
        subject = peer.subject
        self.quotas.begin(subject)
        try:
            outcome = await run_handler(
                self.app, peer, req, peer._scopes, closing=self.requests.is_closing
            )
            data = encode_outcome(peer.session, req.id, outcome, encode)
            if data is not None:
                status = 200
                if isinstance(outcome, McpError):
                    status = handler_status(outcome)
                    peer.answer_headers = handler_headers(outcome, self.auth)
                peer.answer = (data, status)
        finally:
            # The handler is done: it no longer counts against its identity's
            # quota (before its answer is written, so a client that sends
            # its next request on the answer is never refused for it).
            self.quotas.end(subject)
            peer.handler_done()
        await peer.finish()


@attrs.define(eq=False)
class _Post:
    """The :class:`~trio_mcp._runtime.EventSink` of one modern POST (at most one event)."""

    driver: ModernRequests
    receive: Receive
    responder: Responder
    session: ServerSession
    token: AccessToken | None
    http: HttpRequestInfo | None = None
    nursery: trio.Nursery | None = None
    answered: bool = False

    async def on_request(self, request: IncomingRequest) -> None:
        self.answered = True
        await self.driver.run(
            self.receive,
            self.responder,
            self.session,
            request,
            self.token,
            self.http,
            self.nursery,
        )

    async def on_send(self, message: Outgoing) -> None:
        self.answered = True
        status = 200
        if type(message) is dict and "error" in message:
            status = http_status(message["error"].get("code"), handler=False)
        await self.responder.full(status, encode(message))

    def on_cancel(self, rid: Id) -> None:
        pass  # a fresh session has nothing in flight to cancel

    def on_response(self, response: ClientResponse) -> None:
        pass  # nor requests of its own awaiting an answer

    async def on_notified(self, note: Notified) -> None:
        peer = RequestPeer(self.session, None, token=self.token, http=self.http)
        await self.driver.app.notified(note.method, note.params, peer)


async def _on_disconnect(receive: Receive, callback: Callable[[], None]) -> None:
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            callback()
            return
