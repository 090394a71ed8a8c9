"""The trio part: one connection, driven by a sans-IO :class:`ServerSession`.

The shape, read top to bottom:

* :func:`serve_connection` opens one nursery for the connection. In it run one
  **writer** task (the only code that touches the send stream, so messages never
  interleave) and a **requests** nursery.
* The **reader** (the calling task) turns bytes into lines into session events.
  Each request gets its own task under its own :class:`trio.CancelScope`, whose
  deadline is the request's timeout. Before spawning, the reader takes one of
  ``max_in_flight`` slots, so when the cap is reached, reading pauses: nothing
  queues without bound.
* ``notifications/cancelled`` cancels that request's scope. The handler stops
  at its next checkpoint; the session drops its answer.
* :func:`_run_request` is the single place where a handler's outcome
  (result, :class:`McpError`, any other ``Exception``, deadline) becomes a wire
  message. ``Cancelled`` is never caught there except through the scope that
  owns it.

Shutdown (EOF, :meth:`Connection.stop`, a signal): stop reading; give in-flight
requests ``grace`` seconds; cancel what is left (each gets an error answer);
flush the writer; return. Nothing outlives :func:`serve_connection`.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Awaitable, Callable
from typing import Any, Protocol

import attrs
import trio

from .._errors import InternalError, McpError
from .._protocol import (
    CancelRequest,
    ClientResponse,
    IncomingRequest,
    Notified,
    Outgoing,
    Send,
    ServerSession,
)
from .._wire import DEFAULT_MAX_LINE, Id, LineBuffer, encode_line, error_response
from ._identity import HttpRequestInfo

__all__ = [
    "Application",
    "ClientRequests",
    "Connection",
    "Peer",
    "run_handler",
    "serve_connection",
]

log = logging.getLogger("trio_mcp")

_READ_SIZE = 65536


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


class Peer(Protocol):
    """The client side of one connection, as handlers see it (stdio, stream or HTTP)."""

    session: ServerSession

    def scope_of(self, rid: Id) -> trio.CancelScope | None:
        """The cancel scope of in-flight request ``rid``, if it is running."""
        ...

    async def notify(
        self, method: str, params: dict[str, Any] | None = None, *, related: Id | None = None
    ) -> None:
        """Send a notification; ``related`` names the request it belongs to, if any."""
        ...

    def notify_nowait(self, method: str, params: dict[str, Any] | None = None) -> bool:
        """Queue a notification without waiting; False if it could not be queued."""
        ...

    async def request(
        self, method: str, params: dict[str, Any] | None = None, *, related: Id | None = None
    ) -> dict[str, Any]:
        """Send a server-to-client request (legacy era) and wait for its result."""
        ...

    def http_request(self, rid: Id) -> HttpRequestInfo | None:
        """The HTTP request that carried request ``rid`` (``None`` off HTTP, or once it ended)."""
        ...


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
    for any other ``Exception`` (its detail only in the log, never on the wire), or the timeout
    answer. ``Cancelled`` from outside this request (the connection being torn
    down) propagates; only this request's own scope absorbs its cancellation.
    """
    rid = req.id
    timeout = app.timeout_for(req)
    deadline = trio.current_time() + timeout if timeout is not None else math.inf
    outcome: dict[str, Any] | McpError
    try:
        with trio.CancelScope(deadline=deadline) as scope:
            scopes[rid] = scope
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


@attrs.define(eq=False)
class Connection:
    """One client connection's runtime state. Built by :func:`serve_connection`.

    Application code reaches it through ``Context``; it may :meth:`notify`,
    :meth:`request` (legacy server-to-client requests) and :meth:`stop`.
    """

    app: Application
    session: ServerSession
    max_in_flight: int
    grace: float
    _send_chan: trio.MemorySendChannel[bytes]
    _slots: trio.Semaphore = attrs.field(init=False)
    _scopes: dict[Id, trio.CancelScope] = attrs.field(factory=dict, init=False)
    _client_requests: ClientRequests = attrs.field(init=False)
    _wait_scope: trio.CancelScope = attrs.field(factory=trio.CancelScope, init=False)
    _stopping: bool = attrs.field(default=False, init=False)
    _idle: trio.Event = attrs.field(factory=trio.Event, init=False)
    _draining: bool = attrs.field(default=False, init=False)
    _closing: bool = attrs.field(default=False, init=False)
    write_failed: bool = attrs.field(default=False, init=False)

    def __attrs_post_init__(self) -> None:
        self._slots = trio.Semaphore(self.max_in_flight)
        self._client_requests = ClientRequests(self.session)

    # -------------------------------------------------------------- public

    @property
    def in_flight(self) -> int:
        """Requests currently being handled."""
        return len(self._scopes)

    def stop(self) -> None:
        """Begin a graceful shutdown: stop reading, drain within the grace. Idempotent."""
        self._stopping = True
        self._wait_scope.cancel()

    async def send(self, message: Outgoing) -> None:
        """Queue one message for the writer. Waits when the writer is behind (backpressure)."""
        try:
            data = encode_line(message)
        except TypeError:
            log.exception("trio_mcp: a message could not be encoded as JSON; dropped")
            return
        try:
            await self._send_chan.send(data)
        except (trio.BrokenResourceError, trio.ClosedResourceError):
            pass  # the writer is gone: the peer stopped reading

    def scope_of(self, rid: Id) -> trio.CancelScope | None:
        """The cancel scope of in-flight request ``rid``, if it is running."""
        return self._scopes.get(rid)

    async def notify(
        self, method: str, params: dict[str, Any] | None = None, *, related: Id | None = None
    ) -> None:
        """Send a server notification (on stdio, ``related`` changes nothing)."""
        await self.send(self.session.notification(method, params))

    def notify_nowait(self, method: str, params: dict[str, Any] | None = None) -> bool:
        """Queue a notification without waiting; False if the outbox is full or closed."""
        try:
            self._send_chan.send_nowait(encode_line(self.session.notification(method, params)))
        except (trio.WouldBlock, trio.BrokenResourceError, trio.ClosedResourceError):
            return False
        return True

    async def request(
        self, method: str, params: dict[str, Any] | None = None, *, related: Id | None = None
    ) -> dict[str, Any]:
        """Send a server-to-client request and wait for its result (legacy era).

        Cancellation (the calling request's deadline or cancel) sends
        ``notifications/cancelled`` to the client and stops waiting.

        Raises:
            McpError: the client answered with an error.
            LocalProtocolError: no legacy session is initialized.
        """
        return await self._client_requests.call(method, params, self.send)

    def http_request(self, rid: Id) -> HttpRequestInfo | None:
        """A stream connection carries no HTTP request: ``None``."""
        return None

    # ------------------------------------------------------------- internals

    async def _read(
        self, stream: trio.abc.ReceiveStream, max_line: int, nursery: trio.Nursery
    ) -> None:
        buffer = LineBuffer(max_line)
        session = self.session
        while not self._stopping:
            with trio.CancelScope() as scope:
                self._wait_scope = scope
                try:
                    data = await stream.receive_some(_READ_SIZE)
                except (trio.BrokenResourceError, trio.ClosedResourceError):
                    data = b""
            if scope.cancelled_caught:
                return
            lines = buffer.feed(bytes(data)) if data else buffer.close()
            for line in lines:
                for event in session.receive_line(line):
                    if type(event) is IncomingRequest:
                        if await self._acquire_slot():
                            nursery.start_soon(self._run_request, event)
                        else:
                            await self._refuse(event)
                    elif type(event) is Send:
                        await self.send(event.message)
                    elif type(event) is CancelRequest:
                        target = self._scopes.get(event.id)
                        if target is not None:
                            target.cancel()
                    elif type(event) is ClientResponse:
                        self._client_requests.answer(event.id, event.result, event.error)
                    else:
                        assert type(event) is Notified
                        await self.app.notified(event.method, event.params, self)
            if not data:
                return

    async def _acquire_slot(self) -> bool:
        """Take an in-flight slot; wait (reading paused) when all are taken.

        Returns False if the connection began stopping meanwhile.
        """
        if self._stopping:
            return False
        try:
            self._slots.acquire_nowait()
            return True
        except trio.WouldBlock:
            pass
        with trio.CancelScope() as scope:
            self._wait_scope = scope
            await self._slots.acquire()
            return True
        return False

    async def _refuse(self, req: IncomingRequest) -> None:
        """Answer a request read after shutdown began."""
        err = InternalError(message="Server is shutting down; request not started")
        message = self.session.respond_error(req.id, err)
        if message is not None:
            await self.send(message)

    def _is_closing(self) -> bool:
        return self._closing

    async def _run_request(self, req: IncomingRequest) -> None:
        # The slot is held until the answer is queued for the writer, not just until
        # the handler returns: a finished request whose answer cannot be written yet
        # (the client stopped reading) still counts against max_in_flight, so reading
        # pauses instead of piling up finished tasks and their results without bound.
        try:
            try:
                outcome = await run_handler(
                    self.app, self, req, self._scopes, closing=self._is_closing
                )
            finally:
                if self._draining and not self._scopes:
                    self._idle.set()
            if type(outcome) is dict:
                message = self.session.respond(req.id, outcome)
            else:
                assert isinstance(outcome, McpError)
                message = self.session.respond_error(req.id, outcome)
            if message is not None:
                await self._send_checked(req.id, message)
        finally:
            self._slots.release()

    async def _send_checked(self, rid: Id, message: Outgoing) -> None:
        try:
            data = encode_line(message)
        except TypeError as exc:
            log.error("trio_mcp: result of request %r is not JSON-serialisable: %s", rid, exc)
            err = InternalError(message=f"Internal error: result is not JSON-serialisable ({exc})")
            data = encode_line(error_response(rid, err.to_error()))
        try:
            # The task ends right after this, so there is no need to yield here when the
            # writer has room: skipping that schedule point is worth ~5% of CPU per request.
            self._send_chan.send_nowait(data)
        except trio.WouldBlock:
            try:
                await self._send_chan.send(data)  # the writer is behind: wait (backpressure)
            except (trio.BrokenResourceError, trio.ClosedResourceError):
                pass
        except (trio.BrokenResourceError, trio.ClosedResourceError):
            pass

    async def _drain(self) -> None:
        """Give in-flight requests the grace, then cancel what is left."""
        self._draining = True
        self.app.draining(self)
        if self._scopes:
            with trio.move_on_after(self.grace):
                await self._idle.wait()
        self._closing = True
        for scope in list(self._scopes.values()):
            scope.cancel()


async def _write(
    receive: trio.MemoryReceiveChannel[bytes], stream: trio.abc.SendStream, conn: Connection
) -> None:
    """The single writer: coalesce queued messages into one ``send_all``."""
    async with receive:
        async for data in receive:
            if conn.write_failed:
                continue  # keep draining so senders never block on a dead peer
            chunks = [data]
            while True:
                try:
                    chunks.append(receive.receive_nowait())
                except (trio.WouldBlock, trio.EndOfChannel):
                    break
            try:
                await stream.send_all(chunks[0] if len(chunks) == 1 else b"".join(chunks))
            except (trio.BrokenResourceError, trio.ClosedResourceError):
                conn.write_failed = True
                conn.stop()  # the peer is gone: stop reading too


async def serve_connection(
    app: Application,
    receive: trio.abc.ReceiveStream,
    send: trio.abc.SendStream,
    *,
    max_in_flight: int = 1024,
    grace: float = 2.0,
    max_line: int = DEFAULT_MAX_LINE,
    write_buffer: int = 256,
    task_status: trio.TaskStatus[Connection] = trio.TASK_STATUS_IGNORED,
) -> None:
    """Serve one MCP connection until EOF or :meth:`Connection.stop`, then drain.

    Follows the nursery start protocol: ``task_status.started(conn)`` once the
    connection is ready to read.

    Cancellation: cancelling the caller cancels every request immediately
    (no grace); use :meth:`Connection.stop` for a graceful end.
    """
    send_chan, recv_chan = trio.open_memory_channel[bytes](write_buffer)
    conn = Connection(app, app.new_session(), max_in_flight, grace, send_chan)
    app.connected(conn)
    try:
        async with trio.open_nursery() as outer:
            outer.start_soon(_write, recv_chan, send, conn)
            async with send_chan, trio.open_nursery() as requests:
                task_status.started(conn)
                await conn._read(receive, max_line, requests)
                await conn._drain()
            # The writer now flushes what is queued and ends. A client that stopped
            # reading for good must not hold shutdown hostage: bound the flush too.
            outer.cancel_scope.deadline = trio.current_time() + max(grace, 1.0)
    finally:
        app.disconnected(conn)
