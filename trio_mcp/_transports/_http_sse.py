"""One legacy stream's HTTP response: the SSE events, or a held stream's JSON answer.

A :class:`Stream` is one SSE stream of a :class:`~._http_session.LegacySession`
(see there for the rules). :func:`write_response` writes one HTTP response of
it: stored events to replay, then what arrives on its live queue, until the
stream's final event, a detach, or the client leaving.

A POST stream may be **held** (``HttpOptions.json_response="auto"``): its
response sends nothing until its request's first message. If that is the
answer, it goes as plain ``application/json`` (it was not stored: there is no
event to resume from); anything else (progress, a log record, a request to the
client, ``close_sse_stream``), or :data:`JSON_HOLD` seconds of silence, begins
the SSE stream as usual: the priming event first. The hold is timed by one task
per transport (:class:`Holds`), not by a cancel scope per POST.

The native server reports a client that leaves (:meth:`Responder.on_disconnect`):
the response's live queue is then detached, which ends the writer's wait, and a
write in progress fails at once. Under ASGI a task watches ``receive()`` for
``http.disconnect`` and cancels the writer.
"""

from __future__ import annotations

import contextlib
import math
from typing import TYPE_CHECKING

import attrs
import trio

from .._runtime import OutQueue
from ._asgi import SSE_HEADERS, ClientGone, Receive, Responder, sse_event

if TYPE_CHECKING:
    from ._http_session import LegacySession

__all__ = ["JSON_HOLD", "Holds", "Stream", "write_response"]

#: Seconds a held POST stream waits for its answer before it begins as SSE (with
#: its priming event): what a connection lost before the answer can lose.
JSON_HOLD = 1.0


@attrs.define(eq=False)
class Stream:
    """One SSE stream of a session: a POST's, or the standalone (GET) one.

    ``live`` holds the encoded SSE events on their way to the attached
    response, bounded in bytes (``write_buffer_bytes``).
    """

    sid: str
    buffer_bytes: int
    _lock: trio.Lock | None = attrs.field(default=None, init=False)
    live: OutQueue | None = None
    #: Requests of this stream not yet ended (a batch has several).
    pending: int = 0
    done: bool = False
    #: The live queue the final event was handed to (if it was handed to one).
    final_live: OutQueue | None = None
    #: Nothing sent yet: the first message decides, the answer as JSON or the SSE stream.
    held: bool = False
    #: The priming event is still to be stored (and sent) before any other.
    unprimed: bool = False
    #: The priming event's id, once stored.
    prime_id: str | None = None
    #: The answer went to ``final_live`` as plain JSON (not an SSE event).
    json: bool = False

    @property
    def lock(self) -> trio.Lock:
        """Held while an event is stored and handed on (made when first needed)."""
        if self._lock is None:
            self._lock = trio.Lock()
        return self._lock

    @property
    def locked(self) -> bool:
        return self._lock is not None and self._lock.locked()

    def detach(self) -> None:
        if self.live is not None:
            self.live.close()
            self.live = None

    def attach(self) -> OutQueue:
        self.detach()  # a newer connection replaces an older one
        self.live = OutQueue(self.buffer_bytes)
        return self.live


@attrs.define(eq=False)
class Holds:
    """The held POST streams of a transport, oldest first, and the task that ends their hold.

    A held stream that gets no message within :data:`JSON_HOLD` seconds
    begins as SSE: :meth:`run` primes it, and its writer, woken by the
    priming event, sends it. One task and a dict entry per POST, instead of
    a cancel scope with a deadline per POST (the hot path of a legacy POST).
    """

    _held: dict[Stream, tuple[float, LegacySession]] = attrs.field(factory=dict, init=False)
    _wake: trio.Event = attrs.field(factory=trio.Event, init=False)

    def add(self, session: LegacySession, stream: Stream) -> None:
        """``stream``'s writer waits for its first message from now on."""
        if not self._held:
            self._wake.set()
        self._held.setdefault(stream, (trio.current_time() + JSON_HOLD, session))

    def drop(self, stream: Stream) -> None:
        """``stream``'s writer stopped waiting (a message came, or it left)."""
        self._held.pop(stream, None)

    async def run(self) -> None:
        """Prime each stream still held :data:`JSON_HOLD` seconds after :meth:`add`, until cancelled."""
        while True:
            if not self._held:
                self._wake = trio.Event()
                await self._wake.wait()
                continue
            stream, (due, session) = next(iter(self._held.items()))
            if trio.current_time() < due:
                await trio.sleep_until(due)
                continue
            del self._held[stream]
            await session.prime(stream)  # its writer begins the SSE stream with it


async def write_response(
    session: LegacySession,
    responder: Responder,
    receive: Receive,
    stream: Stream | None,
    live: OutQueue | None,
    replay: list[tuple[str, bytes]],
    headers: list[tuple[bytes, bytes]],
) -> bool:
    """Write one SSE response: ``replay``, then whatever arrives ``live``, until done.

    Returns when the stream's final event was written, the live queue was
    closed (detached, session closed, shutdown, the client left), or a write
    failed: True if the client got the end of the stream here (the final
    event of a live ``stream``, whose stored events are then forgotten; or,
    with no ``stream``, the whole ``replay``).
    """
    session._attached += 1
    session.last_active = trio.current_time()
    complete = ended = False
    left = Leaving(stream, live)
    try:
        if responder.on_disconnect(left):
            ended, complete = await _write_all(
                session, responder, left, stream, live, replay, headers
            )
        else:
            gone = trio.CancelScope()
            async with trio.open_nursery() as nursery:
                nursery.start_soon(_watch_disconnect, receive, gone)
                with gone:
                    ended, complete = await _write_all(
                        session, responder, left, stream, live, replay, headers, end=False
                    )
                nursery.cancel_scope.cancel()
            if gone.cancelled_caught:
                left()
        if ended and not responder.finished:
            # Outside the watcher's scope: ending the response may run the
            # server's own close of the connection in this task (Hypercorn does,
            # for "Connection: close"), and the disconnect it reports must not
            # cancel that half-way (the connection then never closed).
            with contextlib.suppress(ClientGone):
                await responder.body(b"", more=False)
    finally:
        session._attached -= 1
        session.last_active = trio.current_time()
    if complete and stream is not None:
        with trio.CancelScope(shield=True):
            await session.store.forget_stream(session.id, stream.sid)
    return complete


@attrs.define(eq=False)
class Leaving:
    """Called when the client of one response leaves: detach its live queue (and remember)."""

    stream: Stream | None
    live: OutQueue | None
    happened: bool = False

    def __call__(self) -> None:
        self.happened = True
        if self.stream is not None and self.stream.live is self.live:
            self.stream.detach()  # it resumes from the store
        elif self.live is not None:
            self.live.close()


async def _write_all(
    session: LegacySession,
    responder: Responder,
    left: Leaving,
    stream: Stream | None,
    live: OutQueue | None,
    replay: list[tuple[str, bytes]],
    headers: list[tuple[bytes, bytes]],
    *,
    end: bool = True,
) -> tuple[bool, bool]:
    """:func:`write_response`'s response: ``(ended, complete)``."""
    try:
        if stream is not None and live is not None and stream.held:
            if await _begin(session, responder, left, stream, live, headers):
                return True, False  # answered with JSON: nothing stored, nothing to forget
        else:
            await responder.start(200, SSE_HEADERS + headers)
        for eid, data in replay:
            await responder.body(sse_event(data, eid), more=True)
        if live is not None:
            await _write_live(session, responder, live, end=end)
        # The last event was written: the client has it.
        return True, stream.final_live is live if stream is not None else True
    except ClientGone:
        left()
    return False, False


async def _begin(
    session: LegacySession,
    responder: Responder,
    left: Leaving,
    stream: Stream,
    live: OutQueue,
    headers: list[tuple[bytes, bytes]],
) -> bool:
    """A held stream's response: True when its answer went as JSON, else the SSE stream began.

    Waits for the first message: :class:`Holds` primes the stream after
    :data:`JSON_HOLD` seconds of silence, and the priming event is then the
    first message. A stream the handler closed first begins at once.

    Raises:
        ClientGone: the client left before anything was sent (nothing to resume).
    """
    batch: list[bytes] | None = None
    try:
        if not live.ready:
            session.holds.add(session, stream)
            try:
                await live.wait_ready()  # one wait, no further checkpoint: the answer goes at once
            finally:
                session.holds.drop(stream)
        with contextlib.suppress(trio.EndOfChannel):
            batch = live.take_nowait()
        if batch is None:  # closed with nothing in it
            if left.happened:
                raise ClientGone()  # on_disconnect detached it: nothing was sent
            # closed by the handler (the priming event to resume from), or ended
            # (cancelled by the client, session closed: an empty stream)
            await session.prime(stream)
    finally:
        if stream.held and stream.live is live:
            stream.detach()  # the client left first: nothing was sent, nothing to resume
    if stream.json:
        assert batch is not None
        try:
            await responder.full(200, batch[0])
        finally:
            live.written(len(batch[0]))
            live.close_writer()
        return True
    await responder.start(200, SSE_HEADERS + headers)
    if batch:
        try:
            await responder.body(b"".join(batch), more=True)
        finally:
            live.written(sum(map(len, batch)))
    elif stream.live is not live and stream.prime_id is not None and not session.closed:
        # Closed by the handler before anything was sent: the priming event is
        # all this response carries (the client resumes from it).
        await responder.body(sse_event(b"", stream.prime_id, session.retry_ms), more=True)
    return False


async def _write_live(
    session: LegacySession, responder: Responder, live: OutQueue, *, end: bool
) -> None:
    """Write what arrives on ``live`` until it ends; ``end``: the last batch ends the response."""
    keepalive = session.keepalive or math.inf
    try:
        while True:
            batch: list[bytes] | None = None
            if live.ready:  # no wait, so no keep-alive deadline
                try:
                    batch = await live.take()
                except trio.EndOfChannel:
                    return
            else:
                with trio.move_on_after(keepalive):
                    try:
                        batch = await live.take()
                    except trio.EndOfChannel:
                        return
            if batch is None:
                await responder.body(b":\n\n", more=True)  # keep-alive comment
                continue
            last = end and live.ended
            try:
                await responder.body(b"".join(batch), more=not last)
            finally:
                live.written(sum(map(len, batch)))
            if last:
                return
    finally:
        live.close_writer()


async def _watch_disconnect(receive: Receive, scope: trio.CancelScope) -> None:
    """Cancel ``scope`` when the client disconnects."""
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            scope.cancel()
            return
