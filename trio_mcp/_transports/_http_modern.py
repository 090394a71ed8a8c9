"""The modern era over HTTP: one POST, one fresh session, one request, one response.

:class:`ModernRequests` serves every modern POST. Each gets a fresh
:class:`ServerSession` (ids of different clients may collide; nothing is
shared), whose events :func:`~trio_mcp._runtime.dispatch` drives into the
POST's sink: a request runs in the POST's own task, next to a watcher of
``http.disconnect`` (a disconnect is fed to the session as a cancellation and
cancels the handler's scope, so nothing is sent for it).

A :class:`RequestPeer` is what a modern handler sees as its peer: everything
it sends (progress, log records, listen notifications) goes on the response of
the POST it came in. :func:`write_modern` writes that response: plain JSON if
the answer comes alone, an SSE stream from the first notification on.

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
    CancelRequest,
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
    Outbound,
    OutQueue,
    Shutdown,
    dispatch,
    encode_outcome,
    run_handler,
)
from .._wire import Id, encode
from ._asgi import SSE_HEADERS, ClientGone, HttpError, Receive, Responder, sse_event
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
class RequestPeer(Outbound):
    """The :class:`Peer` of one modern POST: everything it sends goes on that POST's response.

    Notifications go through ``_out`` to :func:`write_modern`; the request's
    own answer is left in :attr:`answer` before ``_out`` closes.
    """

    session: ServerSession
    _out: OutQueue
    #: The verified bearer token of the request, if auth is configured.
    token: AccessToken | None = None
    #: The HTTP request this POST is (``ctx.http``).
    http: HttpRequestInfo | None = None
    _scopes: dict[Id, trio.CancelScope] = attrs.field(factory=dict)
    gone: bool = False
    #: The encoded answer and its HTTP status, once there is one.
    answer: tuple[bytes, int] | None = None
    #: Headers for the answer's HTTP status (:func:`handler_headers`).
    answer_headers: list[tuple[bytes, bytes]] = attrs.field(factory=list)

    def scope_of(self, rid: Id) -> trio.CancelScope | None:
        return self._scopes.get(rid)

    def http_request(self, rid: Id) -> HttpRequestInfo | None:
        return self.http

    async def request(
        self, method: str, params: dict[str, Any] | None = None, *, related: Id | None = None
    ) -> dict[str, Any]:
        self.session.send_request(method, params)  # raises: no legacy session here
        raise AssertionError("unreachable")

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
    ) -> None:
        """Serve one modern POST body: at most one request, run in this task.

        ``http`` is the POST, what the handler sees as ``ctx.http``.
        """
        session = self.app.new_session()
        sink = _Post(self, receive, responder, session, token, http)
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
    ) -> None:
        """Run ``req``'s handler in this task and write its response (JSON or SSE)."""
        queue = OutQueue(self.write_buffer_bytes)
        peer = RequestPeer(session, queue, token, http)
        requests = self.requests
        self.peers.add(peer)
        self.app.connected(peer)
        requests.begin()
        subject = peer.subject
        self.quotas.begin(subject)
        counted = True
        try:
            async with trio.open_nursery() as nursery:
                nursery.start_soon(_on_disconnect, receive, partial(peer.client_left, req.id))
                async with trio.open_nursery() as inner:
                    inner.start_soon(write_modern, queue, responder, peer, self.keepalive)
                    try:
                        outcome = await run_handler(
                            self.app, peer, req, peer._scopes, closing=requests.is_closing
                        )
                        data = encode_outcome(session, req.id, outcome, encode)
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
                        counted = False
                        queue.close()
                nursery.cancel_scope.cancel()
        finally:
            requests.end()
            if counted:
                self.quotas.end(subject)
            self.peers.discard(peer)
            self.app.disconnected(peer)


@attrs.define(eq=False)
class _Post:
    """The :class:`~trio_mcp._runtime.EventSink` of one modern POST (at most one event)."""

    driver: ModernRequests
    receive: Receive
    responder: Responder
    session: ServerSession
    token: AccessToken | None
    http: HttpRequestInfo | None = None
    answered: bool = False

    async def on_request(self, request: IncomingRequest) -> None:
        self.answered = True
        await self.driver.run(
            self.receive, self.responder, self.session, request, self.token, self.http
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
        peer = RequestPeer(self.session, _closed_queue(), self.token, self.http)
        await self.driver.app.notified(note.method, note.params, peer)


async def write_modern(
    queue: OutQueue,
    responder: Responder,
    peer: RequestPeer,
    keepalive_s: float | None,
) -> None:
    """JSON if the answer comes alone; else SSE from the first notification on."""
    sse = False
    keepalive = keepalive_s or math.inf
    try:
        while True:
            batch: list[bytes] | None = None
            with trio.move_on_after(keepalive if sse else math.inf):
                try:
                    batch = await queue.take()
                except trio.EndOfChannel:
                    break
            if peer.gone:
                if batch is not None:
                    queue.written(sum(map(len, batch)))
                continue
            try:
                if batch is None:
                    await responder.body(b":\n\n", more=True)
                    continue
                if not sse:
                    sse = True
                    await responder.start(200, SSE_HEADERS)
                for data in batch:
                    await responder.body(sse_event(data), more=True)
            except ClientGone:
                peer.gone = True
            finally:
                if batch is not None:
                    queue.written(sum(map(len, batch)))
    finally:
        queue.close_writer()
    if peer.gone:
        return
    try:
        if peer.answer is not None:
            data, status = peer.answer
            if sse:
                await responder.body(sse_event(data), more=False)
            else:
                await responder.full(status, data, peer.answer_headers)
        elif sse:
            await responder.body(b"", more=False)
        elif not responder.started:
            # cancelled with nothing to say (the client is gone, or shutdown)
            await responder.error(HttpError(503, "Request cancelled", -32603))
    except ClientGone:
        pass


def _closed_queue() -> OutQueue:
    queue = OutQueue()
    queue.close()
    return queue


async def _on_disconnect(receive: Receive, callback: Callable[[], None]) -> None:
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            callback()
            return
