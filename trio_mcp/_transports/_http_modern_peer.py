"""The peer of one modern POST, and the SSE stream it writes once it has something to say.

:class:`RequestPeer` is what a modern handler sees as its peer. A POST whose
handler sends nothing is answered with plain JSON from the handler's own task
(no other task, no queue). The first notification starts the SSE writer,
:func:`write_modern`: a task in the transport's nursery, which the request
waits for and cancels if it is itself cancelled; the answer is then the
stream's last event.
"""

from __future__ import annotations

import logging
import math
from typing import Any

import attrs
import trio

from .._protocol import CancelRequest, ServerSession
from .._runtime import DEFAULT_WRITE_BYTES, AccessToken, HttpRequestInfo, Outbound, OutQueue
from .._wire import Id
from ._asgi import SSE_HEADERS, ClientGone, HttpError, Responder, sse_event

__all__ = ["RequestPeer", "write_modern"]

log = logging.getLogger("trio_mcp")


@attrs.define(eq=False)
class RequestPeer(Outbound):
    """The :class:`Peer` of one modern POST: everything it sends goes on that POST's response.

    A handler that sends nothing is answered with plain JSON, from its own
    task (:meth:`finish`): no other task, no queue. The first notification
    starts the SSE writer (:func:`write_modern`, a task in ``nursery`` that
    :meth:`finish` waits for and :meth:`stop` cancels) and its queue, bounded
    by ``buffer_bytes``; the answer, left in :attr:`answer`, is then that
    stream's last event. Without a ``nursery`` (the peer of a client
    notification's handler) or once the handler is done, notifications are
    dropped: no response carries them.
    """

    session: ServerSession
    nursery: trio.Nursery | None
    responder: Responder | None = None
    buffer_bytes: int = DEFAULT_WRITE_BYTES
    keepalive: float | None = None
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
    _sse: OutQueue | None = None
    _done: bool = False
    _writer: trio.CancelScope | None = None
    _written: trio.Event | None = None

    def scope_of(self, rid: Id) -> trio.CancelScope | None:
        return self._scopes.get(rid)

    def http_request(self, rid: Id) -> HttpRequestInfo | None:
        return self.http

    async def request(
        self, method: str, params: dict[str, Any] | None = None, *, related: Id | None = None
    ) -> dict[str, Any]:
        self.session.send_request(method, params)  # raises: no legacy session here
        raise AssertionError("unreachable")

    # ------------------------------------------------------------ notifications

    def _queue(self) -> OutQueue | None:
        """The SSE writer's queue, the writer started on first use; ``None``: drop."""
        queue = self._sse
        if queue is not None:
            return queue
        nursery, responder = self.nursery, self.responder
        if nursery is None or responder is None or self._done:
            return None
        queue = OutQueue(self.buffer_bytes)
        self._writer, self._written = trio.CancelScope(), trio.Event()
        try:
            nursery.start_soon(self._write, queue, responder)
        except RuntimeError:  # the transport's nursery closed (shutting down): drop
            self.nursery = None
            return None
        self._sse = queue
        return queue

    async def _deliver(self, data: bytes, related: Id | None) -> None:
        queue = self._queue()
        if queue is None:
            await trio.lowlevel.checkpoint()
            return
        try:
            await queue.send(data)
        except (trio.BrokenResourceError, trio.ClosedResourceError):
            pass

    def notify_nowait(self, method: str, params: dict[str, Any] | None = None) -> bool:
        data = self._encode(self.session.notification(method, params))
        queue = self._queue()
        if queue is None:
            return False
        try:
            queue.send_nowait(data)
        except (trio.WouldBlock, trio.BrokenResourceError, trio.ClosedResourceError):
            return False
        return True

    async def _write(self, queue: OutQueue, responder: Responder) -> None:
        assert self._writer is not None and self._written is not None
        try:
            with self._writer:
                await write_modern(queue, responder, self, self.keepalive)
        except Exception:
            log.exception("trio_mcp: the SSE stream of a modern request failed")
        finally:
            self._written.set()

    # ------------------------------------------------------------ ending

    def handler_done(self) -> None:
        """The handler returned (or failed): nothing more goes on this response but the answer."""
        self._done = True
        if self._sse is not None:
            self._sse.close()

    async def finish(self) -> None:
        """Write the answer: JSON from this task, or (SSE) wait for the writer to end the stream."""
        if self._written is not None:
            await self._written.wait()
            return
        responder = self.responder
        if self.gone or responder is None:
            return
        try:
            if self.answer is not None:
                data, status = self.answer
                await responder.full(status, data, self.answer_headers)
            elif not responder.started:
                # cancelled with nothing to say (shutdown)
                await responder.error(HttpError(503, "Request cancelled", -32603))
        except ClientGone:
            pass

    async def stop(self) -> None:
        """Cancel the SSE writer if it still runs, and wait for it (the request is over)."""
        written = self._written
        if written is not None and not written.is_set():
            assert self._writer is not None
            self._writer.cancel()
            with trio.CancelScope(shield=True):
                await written.wait()

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
