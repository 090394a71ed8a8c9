"""From a session's events to handlers, and from a handler's outcome back to bytes.

Three functions every transport's loop shares (stdio, a legacy HTTP POST, a
modern HTTP POST):

* :func:`dispatch` drives the events a :class:`ServerSession` returned into an
  :class:`EventSink`, the transport's half: how it starts a request, writes a
  message, cancels, delivers a client's answer, passes on a notification.
* :func:`run_handler` is the single place where a handler's outcome (result,
  :class:`McpError`, any other ``Exception``, deadline) becomes what goes on
  the wire. ``Cancelled`` is never caught there except through the scope that
  owns it.
* :func:`encode_outcome` answers the request in the session and encodes the
  answer once, with the one fallback for a result that is not JSON.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Awaitable, Callable
from typing import Any, Protocol

import trio

from .._errors import InternalError, McpError
from .._protocol import (
    CancelRequest,
    ClientResponse,
    Event,
    IncomingRequest,
    Notified,
    Outgoing,
    Send,
    ServerSession,
)
from .._wire import Id, error_response
from ._peer import Peer

__all__ = ["Application", "EventSink", "dispatch", "encode_outcome", "run_handler"]

log = logging.getLogger("trio_mcp")


class Application(Protocol):
    """What the runtime needs from the application layer."""

    def new_session(self) -> ServerSession:
        """A fresh protocol session for one connection."""
        ...

    def timeout_for(self, request: IncomingRequest) -> float | None:
        """Seconds this request may run, or ``None`` for no deadline."""
        ...

    def handle(self, request: IncomingRequest, peer: Peer) -> Awaitable[dict[str, Any]]:
        """Answer one request (awaitable). Raise :class:`McpError` for a JSON-RPC error."""
        ...

    def timeout_result(self, request: IncomingRequest, seconds: float) -> dict[str, Any] | None:
        """The result to send when the deadline fired, or ``None`` for a JSON-RPC error."""
        ...

    async def notified(self, method: str, params: dict[str, Any], peer: Peer) -> None:
        """A client notification the session did not handle itself."""
        ...

    def connected(self, peer: Peer) -> None:
        """A connection opened (before it reads anything)."""
        ...

    def draining(self, peer: Peer) -> None:
        """A connection stopped reading and is draining: end long-lived requests."""
        ...

    def disconnected(self, peer: Peer) -> None:
        """A connection is finished."""
        ...


class EventSink(Protocol):
    """A transport's answer to each kind of session event (see :func:`dispatch`)."""

    async def on_request(self, request: IncomingRequest) -> None:
        """Start handling ``request`` (it must be answered exactly once)."""
        ...

    async def on_send(self, message: Outgoing) -> None:
        """Write ``message`` now (an answer the session made itself, or an error)."""
        ...

    def on_cancel(self, rid: Id) -> None:
        """The client cancelled request ``rid``: cancel its scope if it is running."""
        ...

    def on_response(self, response: ClientResponse) -> None:
        """The client answered a server-to-client request."""
        ...

    async def on_notified(self, note: Notified) -> None:
        """A client notification the session did not handle itself."""
        ...


async def dispatch(events: list[Event], sink: EventSink) -> None:
    """Drive ``events``, in order, into ``sink``: the one loop over session events."""
    for event in events:
        if type(event) is IncomingRequest:
            await sink.on_request(event)
        elif type(event) is Send:
            await sink.on_send(event.message)
        elif type(event) is CancelRequest:
            sink.on_cancel(event.id)
        elif type(event) is ClientResponse:
            sink.on_response(event)
        else:
            assert type(event) is Notified
            await sink.on_notified(event)


async def run_handler(
    app: Application,
    peer: Peer,
    req: IncomingRequest,
    scopes: dict[Id, trio.CancelScope],
    *,
    closing: Callable[[], bool],
) -> dict[str, Any] | McpError:
    """Run one request's handler in its own cancel scope, with its deadline.

    This is the single place where a handler's outcome becomes what goes on the
    wire: a result, an :class:`McpError` from the handler, a generic ``InternalError``
    for any other ``Exception`` (its detail only in the log, never on the wire), or the
    timeout answer. ``Cancelled`` from outside this request (the connection being torn
    down) propagates; only this request's own scope absorbs its cancellation.
    """
    rid = req.id
    timeout = app.timeout_for(req)
    deadline = trio.current_time() + timeout if timeout is not None else math.inf
    outcome: dict[str, Any] | McpError
    try:
        with trio.CancelScope(deadline=deadline) as scope:
            scopes[rid] = scope
            if peer.session.is_cancelled(rid):
                scope.cancel()  # cancelled before its task started (same read as the request)
            try:
                outcome = await app.handle(req, peer)
            except McpError as exc:
                outcome = exc
            except Exception:
                log.exception("trio_mcp: handler for %s (id %r) failed", req.method, rid)
                outcome = InternalError(message="Internal error")  # details: the log only
    finally:
        del scopes[rid]
    if scope.cancelled_caught:
        if peer.session.is_cancelled(rid):
            return InternalError(message="cancelled")  # dropped by the session
        if closing():
            return InternalError(message="Server is shutting down; request cancelled")
        assert timeout is not None
        timed_out = app.timeout_result(req, timeout)
        if timed_out is not None:
            return timed_out
        return InternalError(message=f"Request timed out after {timeout:g}s")
    return outcome


def encode_outcome(
    session: ServerSession,
    rid: Id,
    outcome: dict[str, Any] | McpError,
    encode: Callable[[Any], bytes],
) -> bytes | None:
    """Answer request ``rid`` in ``session`` with ``outcome``, encoded by ``encode``.

    Returns ``None`` when nothing must be sent (the request was cancelled, or
    its batch is not complete). A result that cannot be encoded as JSON is
    logged and answered with an internal error instead: the request is still
    answered exactly once.
    """
    if type(outcome) is dict:
        message = session.respond(rid, outcome)
    else:
        assert isinstance(outcome, McpError)
        message = session.respond_error(rid, outcome)
    if message is None:
        return None
    try:
        return encode(message)
    except TypeError as exc:
        log.error("trio_mcp: result of request %r is not JSON-serialisable: %s", rid, exc)
        err = InternalError(message=f"Internal error: result is not JSON-serialisable ({exc})")
        return encode(error_response(rid, err.to_error()))
