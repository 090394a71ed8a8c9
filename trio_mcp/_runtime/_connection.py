"""The trio part: one connection, driven by a sans-IO :class:`ServerSession`.

The shape, read top to bottom:

* :func:`serve_connection` opens one nursery for the connection. In it run one
  **writer** task (the only code that touches the send stream, so messages never
  interleave) and a **requests** nursery.
* The **reader** (the calling task) turns bytes into lines into session events,
  and :func:`~trio_mcp._runtime.dispatch` drives them into the connection (its
  ``on_*`` methods). Each request gets its own task under its own
  :class:`trio.CancelScope`, whose deadline is the request's timeout. Before
  spawning, the reader takes one of ``max_in_flight`` slots, so when the cap is
  reached, reading pauses: nothing queues without bound.
* The writer's queue (:class:`~trio_mcp._runtime.OutQueue`) is bounded in
  bytes (``write_buffer_bytes``, 256 KiB by default). At the bound, answers and
  :meth:`notify` wait for room, :meth:`notify_nowait` drops, and the reader
  pauses before its next read: a client that stops reading its answers stops
  being read, so a stall costs the bound, not what the client keeps sending.
* ``notifications/cancelled`` cancels that request's scope. The handler stops
  at its next checkpoint; the session drops its answer.
* :func:`~trio_mcp._runtime.run_handler` is the single place where a handler's
  outcome (result, :class:`McpError`, any other ``Exception``, deadline)
  becomes a wire message. ``Cancelled`` is never caught there except through
  the scope that owns it.

Shutdown (EOF, :meth:`Connection.stop`, a signal): stop reading; give in-flight
requests ``grace`` seconds; cancel what is left (each gets an error answer);
flush the writer; return. Nothing outlives :func:`serve_connection`.
"""

from __future__ import annotations

import logging
from typing import Any

import attrs
import trio

from .._errors import InternalError
from .._protocol import ClientResponse, IncomingRequest, Notified, Outgoing, ServerSession
from .._wire import DEFAULT_MAX_LINE, Id, LineBuffer, encode_line
from ._dispatch import Application, dispatch, encode_outcome, run_handler
from ._outqueue import DEFAULT_WRITE_BYTES, OutQueue
from ._peer import AccessToken, ClientRequests, Outbound
from ._shutdown import Shutdown

__all__ = ["Connection", "serve_connection"]

log = logging.getLogger("trio_mcp")

_READ_SIZE = 65536
_GONE = (trio.BrokenResourceError, trio.ClosedResourceError)


@attrs.define(eq=False)
class Connection(Outbound):
    """One client connection's runtime state: the :class:`Peer` of stdio and stream clients.

    Built by :func:`serve_connection`. Application code reaches it through
    ``Context``; it may :meth:`notify`, :meth:`request` (legacy
    server-to-client requests) and :meth:`stop`. It is also the
    :class:`~trio_mcp._runtime.EventSink` its reader dispatches session events to.
    """

    app: Application
    session: ServerSession
    max_in_flight: int
    grace: float
    _out: OutQueue
    #: No bearer token on a stream: who is calling is not known here.
    token: AccessToken | None = attrs.field(default=None, init=False)
    _slots: trio.Semaphore = attrs.field(init=False)
    _scopes: dict[Id, trio.CancelScope] = attrs.field(factory=dict, init=False)
    _client_requests: ClientRequests = attrs.field(init=False)
    _requests: trio.Nursery = attrs.field(init=False)  # set by _read
    _wait_scope: trio.CancelScope = attrs.field(factory=trio.CancelScope, init=False)
    #: Stop reading (``stop()``, a failed write); the drain follows.
    _stopping: bool = attrs.field(default=False, init=False)
    _shutdown: Shutdown = attrs.field(factory=Shutdown, init=False)
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
        await self._deliver(data, None)

    def scope_of(self, rid: Id) -> trio.CancelScope | None:
        """The cancel scope of in-flight request ``rid``, if it is running."""
        return self._scopes.get(rid)

    def _encode(self, message: Any) -> bytes:
        return encode_line(message)  # NDJSON: one message, one line

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

    # ---------------------------------------------------- the event sink

    async def on_request(self, request: IncomingRequest) -> None:
        """Take an in-flight slot and spawn the handler; refuse once stopping."""
        if self._stopping:
            await self._refuse(request)
            return
        try:
            self._slots.acquire_nowait()
        except trio.WouldBlock:
            await self._wait_for_slot(request)
            return
        self._requests.start_soon(self._run_request, request)

    async def on_send(self, message: Outgoing) -> None:
        await self.send(message)

    def on_cancel(self, rid: Id) -> None:
        target = self._scopes.get(rid)
        if target is not None:
            target.cancel()

    def on_response(self, response: ClientResponse) -> None:
        self._client_requests.answer(response.id, response.result, response.error)

    async def on_notified(self, note: Notified) -> None:
        await self.app.notified(note.method, note.params, self)

    # ------------------------------------------------------------- internals

    async def _read(
        self, stream: trio.abc.ReceiveStream, max_line: int, nursery: trio.Nursery
    ) -> None:
        buffer = LineBuffer(max_line)
        session = self.session
        self._requests = nursery
        out = self._out
        while not self._stopping:
            with trio.CancelScope() as scope:
                self._wait_scope = scope
                if out.full:  # the client is not reading its answers: stop reading too
                    await out.wait_not_full()
                try:
                    data = await stream.receive_some(_READ_SIZE)
                except _GONE:
                    data = b""
            if scope.cancelled_caught:
                return
            lines = buffer.feed(bytes(data)) if data else buffer.close()
            # One dispatch per read, not per line: the events keep the lines' order.
            if len(lines) == 1:
                await dispatch(session.receive_line(lines[0]), self)
            elif lines:
                await dispatch([ev for line in lines for ev in session.receive_line(line)], self)
            if not data:
                return

    async def _wait_for_slot(self, request: IncomingRequest) -> None:
        """All slots are taken: wait, reading paused; refuse if stopping began meanwhile."""
        with trio.CancelScope() as scope:
            self._wait_scope = scope
            await self._slots.acquire()
            self._requests.start_soon(self._run_request, request)
            return
        await self._refuse(request)

    async def _refuse(self, req: IncomingRequest) -> None:
        """Answer a request read after shutdown began."""
        err = InternalError(message="Server is shutting down; request not started")
        message = self.session.respond_error(req.id, err)
        if message is not None:
            await self.send(message)

    async def _run_request(self, req: IncomingRequest) -> None:
        # The slot is held until the answer is queued for the writer, not just until
        # the handler returns: a finished request whose answer cannot be written yet
        # (the client stopped reading) still counts against max_in_flight, so reading
        # pauses instead of piling up finished tasks and their results without bound.
        shutdown = self._shutdown
        try:
            shutdown.begin()
            try:
                outcome = await run_handler(
                    self.app, self, req, self._scopes, closing=shutdown.is_closing
                )
            finally:
                shutdown.end()
            data = encode_outcome(self.session, req.id, outcome, encode_line)
            if data is not None:
                try:
                    # The task ends right after this, so there is no need to yield when the
                    # writer has room: skipping that schedule point is worth ~5% of CPU per
                    # request.
                    self._out.send_nowait(data)
                except trio.WouldBlock:
                    await self._deliver(data, None)  # the writer is behind: wait (backpressure)
                except _GONE:
                    pass
        finally:
            self._slots.release()

    async def _drain(self) -> None:
        """Give in-flight requests the grace, then cancel what is left."""
        shutdown = self._shutdown
        shutdown.draining = True
        self.app.draining(self)
        await shutdown.wait_idle(self.grace)
        shutdown.closing = True
        for scope in list(self._scopes.values()):
            scope.cancel()


async def _write(queue: OutQueue, stream: trio.abc.SendStream, conn: Connection) -> None:
    """The single writer: everything queued goes out in one ``send_all``."""
    try:
        while True:
            try:
                chunks = await queue.take()
            except trio.EndOfChannel:
                return
            data = chunks[0] if len(chunks) == 1 else b"".join(chunks)
            try:
                await stream.send_all(data)
            except _GONE:
                conn.write_failed = True
                conn.stop()  # the peer is gone: stop reading too
                return
            finally:
                queue.written(len(data))
    finally:
        queue.close_writer()  # senders never block on a dead peer: what they send is dropped


async def serve_connection(
    app: Application,
    receive: trio.abc.ReceiveStream,
    send: trio.abc.SendStream,
    *,
    max_in_flight: int = 1024,
    grace: float = 2.0,
    max_line: int = DEFAULT_MAX_LINE,
    write_buffer_bytes: int = DEFAULT_WRITE_BYTES,
    task_status: trio.TaskStatus[Connection] = trio.TASK_STATUS_IGNORED,
) -> None:
    """Serve one MCP connection until EOF or :meth:`Connection.stop`, then drain.

    Follows the nursery start protocol: ``task_status.started(conn)`` once the
    connection is ready to read.

    Args:
        write_buffer_bytes: The bound on the encoded messages waiting for the
            writer (see the module docstring for what happens at the bound).

    Cancellation: cancelling the caller cancels every request immediately
    (no grace); use :meth:`Connection.stop` for a graceful end.
    """
    queue = OutQueue(write_buffer_bytes)
    conn = Connection(app, app.new_session(), max_in_flight, grace, queue)
    app.connected(conn)
    try:
        async with trio.open_nursery() as outer:
            outer.start_soon(_write, queue, send, conn)
            async with trio.open_nursery() as requests:
                task_status.started(conn)
                await conn._read(receive, max_line, requests)
                await conn._drain()
            queue.close()
            # The writer now flushes what is queued and ends. A client that stopped
            # reading for good must not hold shutdown hostage: bound the flush too.
            outer.cancel_scope.deadline = trio.current_time() + max(grace, 1.0)
    finally:
        app.disconnected(conn)
