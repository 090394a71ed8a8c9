"""Legacy-era Streamable HTTP sessions: one :class:`ServerSession` per ``Mcp-Session-Id``.

A :class:`LegacySession` is the :class:`~trio_mcp._runtime.Peer` of one legacy
client. Its rules:

* Every server message goes on exactly one **stream**: the SSE stream of the
  POST whose request it relates to, or the session's **standalone** stream
  (the one a ``GET`` opens) for everything else (list changes, resource
  updates, log records from the ``logging`` bridge).
* Every message is first stored in the :class:`EventStore`, then written to the
  stream's live HTTP response if one is attached. A client that disconnects
  loses nothing: it resumes with ``GET`` + ``Last-Event-ID`` and the stored
  events are replayed on the stream they belong to. Storing and attaching
  both happen under the stream's lock, so a resume neither misses nor repeats
  an event.
* In this era a disconnect is **not** a cancellation: handlers run in the
  transport's nursery, not in the POST's task. ``notifications/cancelled``
  cancels them, and so do DELETE, idle expiry and shutdown.
* A live response that cannot keep up (its buffer, bounded in bytes, is full)
  is detached, and its client resumes later: slow clients never hold up a
  handler.
* A stream ends when its last request ends, however it ends: answered (the
  final event), or cancelled by the client (no answer: the response simply
  ends). The store then forgets the stream's events as soon as nothing can
  resume it any more: once its final event was written to a live response or
  replayed, or at once when it ended without an answer.
* A POST stream may be **held** (``json_response="auto"``): its answer, if it
  is the request's first message, goes as plain JSON, not stored; anything
  else begins the SSE stream (:mod:`._http_sse`, which writes the responses).
"""

from __future__ import annotations

import itertools
import logging
from collections.abc import Callable
from typing import Any

import attrs
import trio

from .._protocol import IncomingRequest, ServerSession
from .._runtime import (
    AccessToken,
    Application,
    ClientRequests,
    HttpRequestInfo,
    Outbound,
    OutQueue,
    Shutdown,
    encode_outcome,
    run_handler,
)
from .._wire import Id, encode
from ._asgi import Receive, Responder, sse_event
from ._eventstore import EventStore
from ._http_sse import Holds, Stream, write_response

__all__ = ["LegacySession", "Stream"]

log = logging.getLogger("trio_mcp")

STANDALONE = "g"


@attrs.define(eq=False)
class LegacySession(Outbound):
    """One legacy client session (the :class:`Peer` its handlers see).

    Unrelated notifications go through ``_out`` to :meth:`pump_outbox`, which
    puts them on the standalone stream; a notification related to a running
    request goes on that request's stream.
    """

    id: str
    app: Application
    session: ServerSession
    store: EventStore
    requests: Shutdown
    #: The verified bearer token the session was opened with, if auth is configured.
    token: AccessToken | None
    retry_ms: int
    write_timeout: float
    keepalive: float | None
    buffer_bytes: int
    #: The transport's timer of held POST streams (:class:`~._http_sse.Holds`).
    holds: Holds = attrs.field(kw_only=True)
    last_active: float = attrs.field(factory=trio.current_time)
    #: Requests started and not yet answered (the per-session cap counts these).
    in_flight: int = 0
    closed: bool = False
    streams: dict[str, Stream] = attrs.field(factory=dict)
    _scopes: dict[Id, trio.CancelScope] = attrs.field(factory=dict)
    _stream_of: dict[Id, Stream] = attrs.field(factory=dict)
    _http_of: dict[Id, HttpRequestInfo] = attrs.field(factory=dict)
    _client_requests: ClientRequests = attrs.field(init=False)
    _out: OutQueue = attrs.field(init=False)
    _attached: int = 0
    _counter: Callable[[], int] = attrs.field(factory=lambda: itertools.count(1).__next__)

    def __attrs_post_init__(self) -> None:
        self._out = OutQueue(self.buffer_bytes)
        self.streams[STANDALONE] = Stream(STANDALONE, self.buffer_bytes)
        self._client_requests = ClientRequests(self.session)

    # ------------------------------------------------------------ the Peer

    def scope_of(self, rid: Id) -> trio.CancelScope | None:
        return self._scopes.get(rid)

    def http_request(self, rid: Id) -> HttpRequestInfo | None:
        return self._http_of.get(rid)

    async def _deliver(self, data: bytes, related: Id | None) -> None:
        stream = self._stream_of.get(related) if related is not None else None
        if stream is not None:
            await self.emit(stream, data)
        else:
            await Outbound._deliver(self, data, related)  # the standalone stream, via the pump

    async def request(
        self, method: str, params: dict[str, Any] | None = None, *, related: Id | None = None
    ) -> dict[str, Any]:
        stream = self._stream_of.get(related) if related is not None else None
        target = stream or self.streams[STANDALONE]

        async def send(message: dict[str, Any]) -> None:
            await self.emit(target, encode(message))

        return await self._client_requests.call(method, params, send)

    def answer(self, rid: Id, result: dict[str, Any] | None, error: dict[str, Any] | None) -> None:
        """The client answered our request ``rid``."""
        self._client_requests.answer(rid, result, error)

    def cancel(self, rid: Id) -> None:
        scope = self._scopes.get(rid)
        if scope is not None:
            scope.cancel()

    def close_stream(self, rid: Id) -> bool:
        """End the live connection of request ``rid``'s SSE stream, keeping the stream.

        The client reconnects with ``GET`` + ``Last-Event-ID`` (after the
        priming event's ``retry``) and gets what it missed (SSE polling, SEP-1699).
        Returns False when no connection was attached. A held stream begins
        first: its response gets the priming event, then ends.
        """
        stream = self._stream_of.get(rid)
        if stream is None or stream.live is None:
            return False
        stream.held = False  # primed by the writer, or by the next event, whichever comes first
        stream.detach()
        return True

    # ------------------------------------------------------------ streams

    def new_stream(self, rid: Id | None = None) -> Stream:
        """A POST stream (``rid``: its first request, which a shared session's ids name)."""
        stream = Stream(f"p{self._counter()}", self.buffer_bytes)
        self.streams[stream.sid] = stream
        return stream

    async def emit(self, stream: Stream, data: bytes, *, final: bool = False) -> None:
        """Store one event on ``stream`` and hand it to the live response, if any.

        On a held stream the answer (``final``) goes to the live response as
        plain JSON, and is not stored; any other message begins the SSE stream.
        """
        if final and stream.held and not stream.locked and not self.closed:
            self._answer_held(stream, data)  # nothing awaited: no lock, no checkpoint needed
            return
        async with stream.lock:
            if self.closed:
                return
            if stream.held:
                if final:
                    self._answer_held(stream, data)
                    return
                if stream.live is None:
                    return  # the client left before anything was sent: nothing can resume it
                stream.held = False
            if stream.unprimed:
                await self._prime(stream)
            eid = await self._store(stream, data)
            self._send(stream, sse_event(data, eid, None if data else self.retry_ms), final)
            if final:
                self._finish(stream)

    async def prime(self, stream: Stream) -> None:
        """Begin ``stream`` now: store its priming event and send it (if not done yet)."""
        async with stream.lock:
            stream.held = False
            if stream.unprimed and not stream.done and not self.closed:
                await self._prime(stream)

    async def _prime(self, stream: Stream) -> None:
        """Under ``stream.lock``: store the priming event (an id to resume from) and send it."""
        stream.unprimed = False
        eid = stream.prime_id = await self._store(stream, b"")
        if eid is not None:
            self._send(stream, sse_event(b"", eid, self.retry_ms))

    async def _store(self, stream: Stream, data: bytes) -> str | None:
        """Store one event: its id, or ``None`` if the store failed (the event goes live only).

        A failing :class:`EventStore` (a backend that is down) costs the
        events it could not keep, never the server: they are still sent to a
        live response, without an id, so a client reading gets every answer.
        """
        try:
            return await self.store.store_event(self.id, stream.sid, data)
        except Exception:
            log.exception("trio_mcp: the event store failed: the event is sent without an id")
            return None

    def _send(self, stream: Stream, event: bytes, final: bool = False) -> None:
        live = stream.live
        if live is not None:
            try:
                live.send_nowait(event)
            except (trio.WouldBlock, trio.BrokenResourceError, trio.ClosedResourceError):
                stream.detach()  # too slow, or gone: it resumes from the store
            else:
                if final:
                    stream.final_live = live

    def _answer_held(self, stream: Stream, data: bytes) -> None:
        """Under ``stream.lock``: a held stream's answer, as JSON to its live response."""
        live = stream.live
        if live is not None:
            try:
                live.send_nowait(data)
            except (trio.WouldBlock, trio.BrokenResourceError, trio.ClosedResourceError):
                pass  # gone: nothing was sent, so nothing can resume it
            else:
                stream.json = True
                stream.final_live = live
        self._finish(stream)

    def _finish(self, stream: Stream) -> None:
        stream.done = True
        stream.detach()
        self.streams.pop(stream.sid, None)

    async def end_stream(self, stream: Stream) -> None:
        """End ``stream`` with no final event (its requests were cancelled): nothing to resume."""
        async with stream.lock:
            if stream.done:
                return
            self._finish(stream)
        with trio.CancelScope(shield=True):
            await self.store.forget_stream(self.id, stream.sid)

    async def run_request(
        self,
        req: IncomingRequest,
        stream: Stream,
        http: HttpRequestInfo | None = None,
        *,
        ended: Callable[[], None] | None = None,
    ) -> None:
        """Run one request's handler (in the transport's nursery) and emit its answer.

        ``ended`` is called once the handler is done, before its answer is emitted.

        The stream ends with its last request, however that ends: with the
        answer as its final event, or, when the client cancelled (no answer
        may be sent), with nothing: the response ends and the store forgets it.
        """
        self._stream_of[req.id] = stream
        if http is not None:
            self._http_of[req.id] = http
        try:
            outcome = await run_handler(
                self.app,
                self,
                req,
                self._scopes,
                closing=lambda: self.requests.closing or self.closed,
            )
        finally:
            self.requests.end()
            if ended is not None:
                ended()
            self.in_flight -= 1
            self._stream_of.pop(req.id, None)
            self._http_of.pop(req.id, None)
            stream.pending -= 1
        data = encode_outcome(self.session, req.id, outcome, encode)
        if data is not None:
            await self.emit(stream, data, final=stream.pending == 0)
        elif stream.pending == 0:
            await self.end_stream(stream)

    async def pump_outbox(self) -> None:
        """Move unrelated messages onto the standalone stream (one task per session)."""
        standalone = self.streams[STANDALONE]
        queue = self._out
        try:
            while True:
                try:
                    batch = await queue.take()
                except trio.EndOfChannel:
                    return
                try:
                    for data in batch:
                        await self.emit(standalone, data)
                finally:
                    queue.written(sum(map(len, batch)))
        finally:
            queue.close_writer()

    async def write(
        self,
        responder: Responder,
        receive: Receive,
        stream: Stream | None,
        live: OutQueue | None,
        replay: list[tuple[str, bytes]],
        headers: list[tuple[bytes, bytes]],
    ) -> bool:
        """Write one response of ``stream`` (see :func:`~._http_sse.write_response`)."""
        return await write_response(self, responder, receive, stream, live, replay, headers)

    @property
    def busy(self) -> bool:
        """Handlers running or a response attached: not idle."""
        return bool(self._scopes) or self._attached > 0

    async def close(self) -> None:
        """End the session: cancel handlers, end streams, forget stored events."""
        if self.closed:
            return
        self.closed = True
        self._out.close()
        for scope in list(self._scopes.values()):
            scope.cancel()
        for stream in list(self.streams.values()):
            stream.detach()
        self.streams.clear()
        self._client_requests.fail_all("session closed")
        with trio.CancelScope(shield=True):
            await self.store.forget_session(self.id)
