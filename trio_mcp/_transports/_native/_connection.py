"""One HTTP/1.1 connection of the native server: parse with httptools, answer in order.

A :class:`Connection` runs in its own nursery: a reader task, and one task per
request (the parser callbacks and :class:`~._parsing.Exchange`, one request, are
in :mod:`._parsing`). The reader feeds whatever arrives to the parser (llhttp,
through httptools), so it sees pipelined requests, a client going away (end of
stream or reset: ``http.disconnect`` for the request running), and the limits:

* request line longer than ``max_request_line``: 414; headers larger than
  ``max_header_size`` in all, or more than ``max_headers``: 431; a head not
  received within ``header_timeout``: 408; not HTTP: 400. Each of these is
  answered (after the requests before it) and the connection closed.
* the body: ``HttpOptions.max_body_size`` and ``body_timeout`` hold, as under
  any server, in :func:`~.._asgi.read_body`; beyond the size the reader
  stops buffering and the connection closes after the 413.

Requests are served one at a time, in order (HTTP/1.1 answers in request
order): request *n + 1*'s task starts when response *n* is complete. Up to
``max_pipelined`` requests wait their turn; beyond that the reader stops
reading until one is served. A connection closes after a response that
cannot be followed: ``Connection: close``, HTTP/1.0 without keep-alive, a body
not read to its end, an unfinished response, or the server draining. It also
closes after ``keep_alive_timeout`` seconds idle.
"""

from __future__ import annotations

import logging
import math
import os
from collections import deque
from typing import TYPE_CHECKING, Any

import httptools
import trio

from .._asgi import ClientGone, HttpError
from ._parsing import Exchange, Refuse, RequestParsing, StopReading
from ._wire import NativeResponder

if TYPE_CHECKING:
    from ._server import NativeServer

__all__ = ["Connection"]

log = logging.getLogger("trio_mcp")

_READ_SIZE = 65536


class Connection(RequestParsing):
    """One client connection (see the module docstring). Built and run by :class:`NativeServer`."""

    def __init__(
        self,
        server: NativeServer,
        stream: trio.abc.Stream,
        scheme: str,
        client: tuple[str, int] | None,
        local: tuple[str, int] | None,
    ) -> None:
        self.server = server
        self.stream = stream
        self.scheme = scheme
        self.client = client
        self.local = local
        limits = server.limits
        self._max_line = limits.max_request_line
        self._max_header_size = limits.max_header_size
        self._max_headers = limits.max_headers
        self._max_body = server.max_body_size
        self.parser = httptools.HttpRequestParser(self)
        #: The client is gone (end of stream, reset, a failed write).
        self.gone = trio.Event()
        #: The reader still reads (else a body in progress never completes).
        self.reading = True
        self.closing = False
        self.current: Exchange | None = None
        self.queue: deque[Exchange] = deque()
        self._nursery: trio.Nursery | None = None
        #: The reader's scope: cancelled by :meth:`close`. Its deadline is a
        #: wake-up no later than the keep-alive or head timeout that applies
        #: (``inf`` while busy), moved only when it must come earlier: when it
        #: passes, :meth:`_read` checks what is really due and re-arms a new one.
        self._reader = trio.CancelScope()
        self._idle_since = 0.0
        # Writes try the socket directly first (no cancel scope for the common
        # case: all of it fits in the kernel's buffer). -1: TLS, or closed.
        self._fd = stream.socket.fileno() if type(stream) is trio.SocketStream else -1
        self._sending = False
        #: The scope of a write waiting for the socket: cancelled when the client is gone.
        self._send_scope: trio.CancelScope | None = None
        self._room: trio.Event | None = None
        self._unread = False  # stopped reading mid-request: linger before closing
        # the message being parsed
        self._parsing: Exchange | None = None
        self._in_head = False
        self._head_started = 0.0
        self._head_fed = 0
        self._url = b""
        self._headers: list[tuple[bytes, bytes]] = []
        self._header_map: dict[bytes, str] = {}
        self._repeated: set[bytes] = set()
        self._header_size = 0

    # ------------------------------------------------------------ running

    async def serve(self) -> None:
        """Serve requests until the connection closes. Never raises for what a client did."""
        try:
            async with trio.open_nursery() as nursery:
                self._nursery = nursery
                nursery.start_soon(self._read)
        finally:
            self._nursery = None
            with trio.CancelScope(shield=True):
                await self._close_stream()

    @property
    def idle(self) -> bool:
        """No request running or waiting, none half-received."""
        return self.current is None and not self.queue and not self._in_head

    def stopping(self) -> bool:
        """The response being written is the last one (server draining, or closing)."""
        return self.closing or self.server.draining

    def close(self) -> None:
        """Stop reading; the connection ends once the request running (if any) ends."""
        self.closing = True
        self.reading = False
        self._reader.cancel()
        self.queue.clear()
        self._wake_waiters()

    def _lost(self) -> None:
        self.gone.set()
        self.close()
        if self._send_scope is not None:
            self._send_scope.cancel()  # a write waiting for a client that left fails now
        ex = self.current
        if ex is not None and ex.on_gone is not None:
            callback, ex.on_gone = ex.on_gone, None
            callback()

    def _wake_waiters(self) -> None:
        for ex in (self.current, self._parsing):
            if ex is not None:
                ex.wake()

    async def send(self, data: bytes, within: float) -> None:
        """Write ``data`` within ``within`` seconds, else :class:`ClientGone` (and close).

        A checkpoint only when it has to wait: what the socket takes at once is
        written straight away (a plain socket; TLS always goes through the stream).
        """
        if self.gone.is_set():
            raise ClientGone()
        view: bytes | memoryview = data
        if self._fd >= 0 and not self._sending:
            try:
                sent = os.write(self._fd, data)
            except BlockingIOError:
                sent = 0
            except OSError as exc:
                self._lost()
                raise ClientGone() from exc
            if sent == len(data):
                return
            view = memoryview(data)[sent:]
        self._sending = True
        try:
            with trio.move_on_after(within) as cs:
                self._send_scope = cs
                try:
                    await self.stream.send_all(view)
                except (trio.BrokenResourceError, trio.ClosedResourceError, OSError) as exc:
                    self._lost()
                    raise ClientGone() from exc
        finally:
            self._sending = False
            self._send_scope = None
        if cs.cancelled_caught:
            self._lost()
            raise ClientGone()

    async def _close_stream(self) -> None:
        stream = self.stream
        self._fd = -1  # no direct write may reach the descriptor once it is closed (and reused)
        if self._unread and not self.gone.is_set():
            # The client may still be sending what we will not read: close our side and
            # read a little, so that an early answer (413, 431) is not lost to a reset.
            with trio.move_on_after(1.0):
                try:
                    if isinstance(stream, trio.SocketStream):
                        await stream.send_eof()
                    total = 0
                    while total < 1 << 20:
                        data = await stream.receive_some(_READ_SIZE)
                        if not data:
                            break
                        total += len(data)
                except (trio.BrokenResourceError, trio.ClosedResourceError, OSError):
                    pass
        await trio.aclose_forcefully(stream)

    # ------------------------------------------------------------ requests

    def _enqueue(self, ex: Exchange) -> None:
        if self.current is None and self._nursery is not None:
            self.current = ex
            self._nursery.start_soon(self._run, ex)
        else:
            self.queue.append(ex)

    async def _run(self, ex: Exchange) -> None:
        """Serve one request (its own task), then start the next one or close.

        A task per request, so nothing a handler leaves in its context (a
        ``contextvars`` value it set) reaches the next request on the connection,
        which may be another user's through a proxy. Nothing of the request
        outlives it in a reference cycle (the responder points to the exchange,
        not back; the disconnect callback is dropped at the end), so its objects
        are freed at once, not by the cyclic collector.
        """
        responder = NativeResponder(self.server.write_timeout, ex)
        try:
            if ex.refusal is not None:
                ex.close_after = True
                await responder.error(ex.refusal)
            else:
                await self.server.transport.handle(
                    ex.scope, ex.receive, responder, body=ex.take_body()
                )
        except ClientGone:
            pass
        except Exception:
            log.exception("trio_mcp: the HTTP request failed")
        if not responder.finished and not self.gone.is_set():
            if not responder.started:
                try:
                    await responder.error(
                        HttpError(500, "Internal Server Error: no response", -32603)
                    )
                except ClientGone:
                    pass
            else:
                self._unread = True  # the response is cut: the client sees the close
        self.current = None
        ex.on_gone = None  # the request is over: its peer must not be kept alive from here
        if not responder.finished or not ex.complete or ex.close_after or self.stopping():
            if not ex.complete:
                self._unread = True
            self.close()
            return
        if self._room is not None:
            self._room.set()
        if self.queue:
            nxt = self.current = self.queue.popleft()
            assert self._nursery is not None
            self._nursery.start_soon(self._run, nxt)
        elif self.idle and self.reading:
            now = self._idle_since = trio.current_time()
            self._arm(now + self.server.limits.keep_alive_timeout)

    def _arm(self, at: float) -> None:
        """The reader wakes no later than ``at`` (a deadline is only ever brought forward here)."""
        if at < self._reader.deadline:
            self._reader.deadline = at

    # ------------------------------------------------------------ reading

    async def _read(self) -> None:
        limits = self.server.limits
        self._idle_since = trio.current_time()
        try:
            while not self._timed_out(limits):
                self._reader = trio.CancelScope(deadline=self._due(limits))
                with self._reader:
                    await self._read_loop(limits)
                    return
        finally:
            self.reading = False
            self._wake_waiters()

    def _timed_out(self, limits: Any) -> bool:
        """Whether the reader is done: closing, or a timeout that passed was answered.

        The reader's wake-up passed (or it is starting): what it stood for may
        have moved since, as the deadline is only brought forward lazily.
        """
        if self.closing:
            return True
        now = trio.current_time()
        if self._in_head and now >= self._head_started + limits.header_timeout:
            self._refuse(408, f"Request Timeout: no request head within {limits.header_timeout:g}s")
            return True
        if self.idle and now >= self._idle_since + limits.keep_alive_timeout:
            self.close()
            return True
        return False

    def _due(self, limits: Any) -> float:
        """When the reader must next look at the clock: the timeout that applies now."""
        if self._in_head:
            return float(self._head_started + limits.header_timeout)
        if self.idle:
            return float(self._idle_since + limits.keep_alive_timeout)
        return math.inf

    async def _read_loop(self, limits: Any) -> None:
        stream = self.stream
        fd = self._fd  # a plain socket: read it directly (TLS: through the stream)
        # After a whole message the client is most likely waiting for its answer:
        # wait for the socket first (a read now would only fail with EAGAIN).
        wait_first = False
        while True:
            if len(self.queue) >= limits.max_pipelined:
                self._reader.deadline = math.inf  # no timeout while requests wait their turn
                while len(self.queue) >= limits.max_pipelined:
                    self._room = trio.Event()
                    await self._room.wait()
                    self._room = None
                self._arm(self._due(limits))
            try:
                if fd < 0:
                    data = await stream.receive_some(_READ_SIZE)
                else:
                    if wait_first:
                        await trio.lowlevel.wait_readable(fd)
                        waited = True
                    else:
                        waited = False
                    while True:
                        try:
                            data = os.read(fd, _READ_SIZE)
                            break
                        except BlockingIOError:
                            await trio.lowlevel.wait_readable(fd)
                            waited = True
                    if not waited:
                        await trio.lowlevel.checkpoint()
            except (trio.BrokenResourceError, trio.ClosedResourceError, OSError):
                data = b""
            if not data:
                self._lost()
                return
            if self._in_head:
                self._head_fed += len(data)
            try:
                self.parser.feed_data(data)
            except httptools.HttpParserCallbackError as exc:
                inner = exc.__context__
                if isinstance(inner, Refuse):
                    self._refuse(inner.status, inner.message)
                else:
                    if not isinstance(inner, StopReading):
                        log.error("trio_mcp: HTTP parser callback failed: %r", inner)
                    self._unread = True
                self.reading = False
                return
            except httptools.HttpParserUpgrade:
                self.reading = False  # served as a plain request, then closed
                self._unread = True
                if self._parsing is not None:
                    self._parsing.close_after = True
                return
            except httptools.HttpParserError:
                self._refuse(400, "Bad Request: malformed HTTP/1.1")
                return
            if self._in_head and self._head_fed > self._max_line + self._max_header_size:
                self._refuse(431, "Request Header Fields Too Large")
                return
            wait_first = not self._in_head and self._parsing is None

    def _refuse(self, status: int, message: str) -> None:
        """Answer ``status`` after the requests before it, then close."""
        self.reading = False
        self._unread = True
        self._in_head = False
        ex = Exchange(self, {}, keep_alive=False, http11=True)
        ex.refusal = HttpError(status, message)
        ex.complete = True
        self._enqueue(ex)
        self._wake_waiters()
