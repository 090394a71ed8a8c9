"""One worker's copy of a legacy session shared through Redis: :class:`SharedSession`.

A :class:`~._http_session.LegacySession` whose protocol state is a
:class:`~trio_mcp._protocol.SharedServerSession` and whose differences are all
here (the manager is :class:`~._redis_sessions.SharedSessions`):

* **The standalone stream lives in Redis.** Whatever this worker sends that is
  not related to one of its requests (list changes, resource updates, log
  records, server-to-client requests without a request) is appended to the
  session's Redis stream, in batches (:meth:`SharedSession.pump_outbox`: one
  round trip per batch); it is never written to a live response here
  directly. The worker whose client holds the GET reads the stream
  (:class:`~._redis_streams.StreamReader`) and writes it out, so each event
  reaches the client once, whichever worker sent it.
* **POST streams stay with their handlers**, in this worker's memory (only
  this worker writes them), and spill to Redis when their client leaves
  early (:class:`SpillingStream`, :mod:`._redis_resume`). A stream's id names
  the requests it must answer, so that another worker can answer them if this
  one dies (:meth:`SharedSession.new_stream`); what its id cannot name (a
  batch's sync answers and requests, a long id) is recorded in Redis before its
  response begins (:meth:`SharedSession.write`).
* **Answers and cancels go where they belong.** A client's answer to another
  worker's server-to-client request, and a ``notifications/cancelled`` for a
  request not running here, are queued in :attr:`SharedSession.routes` and
  published by the manager before the POST is answered.
* **State is written through.** A change of log level or subscriptions is
  written to the record (and the other copies told) before the request that
  made it is answered (:class:`WriteThrough` after ``resources/(un)subscribe``,
  the manager after a POST's dispatch for ``logging/setLevel``).
"""

from __future__ import annotations

import base64
import itertools
import logging
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from functools import partial
from typing import TYPE_CHECKING, Any

import attrs
import orjson
import trio

from .._errors import McpError, StoreUnavailable
from .._protocol import IncomingRequest, ServerSession, SharedServerSession
from .._runtime import Application, OutQueue, Peer
from .._wire import Id, encode, error_response
from ._asgi import HttpError, Receive, Responder
from ._http_session import STANDALONE, LegacySession, Stream

if TYPE_CHECKING:
    from ._redis_sessions import SharedSessions

__all__ = [
    "STOPPED",
    "SharedSession",
    "WriteThrough",
    "gone",
    "stopped_answer",
    "store_errors",
    "stream_request",
    "unavailable",
]

log = logging.getLogger("trio_mcp")
#: The longest encoded request id a POST stream's id carries (longer ones: not named).
MAX_NAMED = 96
#: POST stream numbers, shared by every copy in the process (a rebuilt copy reuses none).
_STREAM_IDS = itertools.count(1)


#: The answer, from the worker a client resumed on, to a request whose worker died.
STOPPED = "the worker serving this request stopped before answering"
_STOPPED_ERROR = {"code": -32603, "message": STOPPED, "data": {"retryable": True}}


def stream_request(stream_id: str) -> tuple[str, Id | list[Id] | None]:
    """The worker and the request(s) a POST stream id names.

    A request id: the stream of one request. A list: a batch's stream (the ids
    that fitted; its full answer is recorded in Redis). ``None``: none named.
    """
    worker, _, rest = stream_id[1:].partition("-")
    named = rest.partition("-")[2]
    if not named:
        return worker, None
    try:
        rid = orjson.loads(base64.urlsafe_b64decode(named + "=" * (-len(named) % 4)))
    except ValueError:
        return worker, None
    if type(rid) is list:
        return worker, [i for i in rid if type(i) in (int, str)]
    return worker, rid if type(rid) in (int, str) else None


def stopped_answer(
    named: Id | list[Id] | None, done: Sequence[dict[str, Any]] = ()
) -> bytes | None:
    """The answer of a stream whose worker died: ``-32603`` (:data:`STOPPED`) per request.

    ``named`` as :func:`stream_request` gives it (a list: a batch's one response,
    after the answers ``done`` it held already). ``None`` when nothing is owed.
    """
    if named is None:
        return None
    if not isinstance(named, list):
        return encode(error_response(named, dict(_STOPPED_ERROR)))
    answers = [*done, *(error_response(rid, dict(_STOPPED_ERROR)) for rid in named)]
    return encode(answers) if answers else None


def _name(value: Any) -> str | None:
    """``value`` as a stream id part (``None``: longer than :data:`MAX_NAMED`)."""
    named = base64.urlsafe_b64encode(orjson.dumps(value)).rstrip(b"=")
    return named.decode() if len(named) <= MAX_NAMED else None


def gone() -> HttpError:
    """The 404 of an unknown session: ended, expired, another identity's, or its record gone."""
    return HttpError(404, "Not Found: no such session (expired or terminated)", -32001)


def unavailable(rid: Any = None) -> HttpError:
    """The answer to an HTTP request that needed Redis while it was away (503)."""
    return HttpError(
        503,
        "session store unavailable",
        -32603,
        rid,
        headers=[(b"retry-after", b"1")],
        data={"retryAfter": 1},
    )


@contextmanager
def store_errors(rid: Any = None) -> Iterator[None]:
    """Turn :class:`StoreUnavailable` into the 503 of :func:`unavailable`."""
    try:
        yield
    except StoreUnavailable:
        raise unavailable(rid) from None


@attrs.define(eq=False)
class SpillingStream(Stream):
    """A POST stream of a shared session: ``spill()`` when its live response goes early."""

    spill: Callable[[], None] | None = None
    #: The answer another worker gives if this one dies, to record in Redis before the
    #: response begins (what the stream id cannot name); ``None``: nothing to record.
    stopped: bytes | None = None

    def detach(self) -> None:
        if self.live is not None and not self.done and not self.held and self.spill is not None:
            self.spill()
        Stream.detach(self)


@attrs.define(eq=False)
class SharedSession(LegacySession):
    """A legacy session any worker may serve: this worker's copy (see the module docstring)."""

    shared: SharedSessions | None = None
    #: Until when the copy may be used without asking Redis (pub/sub tells of changes).
    valid_until: float = 0.0
    #: Another worker changed the record: load it again before the next use.
    stale: bool = False
    #: ``(channel, payload)`` to publish before the POST that queued them is answered.
    routes: list[tuple[str, bytes]] = attrs.field(factory=list)
    #: The log level and subscriptions the record holds (as last read or written).
    saved: tuple[str | None, frozenset[str]] = (None, frozenset())
    #: URIs this copy's handlers (un)subscribed since its last write (True: subscribed),
    #: written even when the copy's view already agreed (another copy's change unseen).
    touched: dict[str, bool] = attrs.field(factory=dict)

    @property
    def protocol(self) -> SharedServerSession:
        session = self.session
        assert isinstance(session, SharedServerSession)
        return session

    @property
    def manager(self) -> SharedSessions:
        assert self.shared is not None
        return self.shared

    @property
    def busy(self) -> bool:
        """As :attr:`LegacySession.busy`; a task of the session running here counts too."""
        return bool(self._scopes) or self._attached > 0 or self.protocol.tasks_running > 0

    def new_stream(self, rid: Id | None = None) -> Stream:
        """A POST stream, its id unique over every worker's streams of this session.

        The id ``p<worker>-<n>-<named>`` also names the worker and what the stream
        must answer (:func:`stream_request`): a client that resumes it after this
        worker died gets an error answer for each of its requests, from any worker
        (:func:`stopped_answer`). ``named`` is the request ``rid`` (no cost while this
        worker lives); for a batch, a list: its ids when they fit, else ``[rid]`` or
        ``[]``, and the batch's full answer is recorded in Redis before the response
        begins (:attr:`SpillingStream.stopped`), as for a request whose id is too long
        to name. It spills to Redis if its live response goes before its end
        (:class:`SpillStore`).
        """
        sid = f"p{self.manager.worker}-{next(_STREAM_IDS)}"  # never reused by a rebuilt copy
        batch = self.protocol.batch_of(rid) if rid is not None else None
        stopped, named = None, None
        if batch is not None:
            done, ids = batch
            stopped = stopped_answer(ids, done)
            named = _name(ids) if not done else None
            if named is not None:
                stopped = None  # the id says it all
            else:
                named = _name([rid]) or _name([])
        elif rid is not None:
            named = _name(rid)
            if named is None:
                stopped = stopped_answer(rid)
        if named is not None:
            sid = f"{sid}-{named}"
        stream = SpillingStream(
            sid, self.buffer_bytes, spill=partial(self._spill, sid), stopped=stopped
        )
        self.streams[sid] = stream
        return stream

    def _spill(self, stream_id: str) -> None:
        if not self.closed:
            self.manager.spill.spill(self.id, stream_id)

    def remote(self, last: str | None) -> bool:
        """Is the stream a GET names served from Redis (not from this worker's memory)?"""
        if last is None or last.endswith(".g"):
            return True
        return last.startswith("p") and last.partition("-")[0][1:] != self.manager.worker

    async def write(
        self,
        responder: Responder,
        receive: Receive,
        stream: Stream | None,
        live: OutQueue | None,
        replay: list[tuple[str, bytes]],
        headers: list[tuple[bytes, bytes]],
    ) -> bool:
        """As :meth:`LegacySession.write`; a POST stream whose client left spills at once.

        Before a POST stream's response begins, the answer it owes if this worker
        dies is recorded in Redis, when its id could not name it (Redis away: it is
        not; the requests the id names are still answered).
        """
        if isinstance(stream, SpillingStream) and stream.stopped is not None:
            data, stream.stopped = stream.stopped, None
            try:
                await self.manager.spill.record(self.manager.link, self.id, stream.sid, data)
            except StoreUnavailable:
                log.warning("trio_mcp: a batch's answers were not recorded: Redis is away")
        complete = await LegacySession.write(
            self, responder, receive, stream, live, replay, headers
        )
        if stream is not None and live is not None and stream.live is live and not stream.done:
            stream.detach()  # gone without a word (the native server's disconnect)
        return complete

    def changed(self) -> bool:
        """True when the log level or subscriptions differ from the record's."""
        session = self.session
        state = (session.legacy_log_level, frozenset(session.subscriptions))
        return bool(self.touched) or state != self.saved

    # ------------------------------------------------------------ streams

    async def emit(self, stream: Stream, data: bytes, *, final: bool = False) -> None:
        """As :meth:`LegacySession.emit`; on the standalone stream: append it in Redis.

        Raises:
            StoreUnavailable: Redis did not take a standalone event.
        """
        if stream.sid != STANDALONE:
            if not final:
                await LegacySession.emit(self, stream, data)
                return
            # Marked whether or not the stream is still held: whether the answer is
            # stored (as the final event) or goes as plain JSON is decided under the
            # stream's lock, and a mark the JSON answer did not use is dropped after.
            spill = self.manager.spill
            spill.final_next(self.id, stream.sid)
            try:
                await LegacySession.emit(self, stream, data, final=True)
            finally:
                spill.final_done(self.id, stream.sid)
        elif not self.closed:
            await self.manager.events.store_events(self.id, STANDALONE, [data])

    async def pump_outbox(self) -> None:
        """Append unrelated messages to the Redis standalone stream, a batch per round trip."""
        queue = self._out
        try:
            while True:
                try:
                    batch = await queue.take()
                except trio.EndOfChannel:
                    return
                try:
                    if not self.closed:
                        await self.manager.events.store_events(self.id, STANDALONE, batch)
                except StoreUnavailable:
                    log.warning("trio_mcp: %d notification(s) dropped: Redis is away", len(batch))
                finally:
                    queue.written(sum(map(len, batch)))
        finally:
            queue.close_writer()

    async def close(self) -> None:
        """As :meth:`LegacySession.close`; the streams read from Redis for it end too."""
        reader = self.manager._reader
        if reader is not None:
            for reading in list(reader.readings.values()):
                if reading.session is self:
                    reading.live.close()
                    reader.remove(reading)
        await LegacySession.close(self)

    # ------------------------------------------------------------ routing

    def answer(self, rid: Id, result: dict[str, Any] | None, error: dict[str, Any] | None) -> None:
        """The client answered ``rid``: here, or on the worker whose id it carries."""
        owner = self.protocol.owner_of(rid)
        if owner is None or owner == self.manager.worker:
            self.session.forget_request(rid)
            LegacySession.answer(self, rid, result, error)
            return
        message = {"op": "answer", "s": self.id, "id": rid, "result": result, "error": error}
        self.routes.append((self.manager.channel(owner), orjson.dumps(message)))

    def cancel(self, rid: Id) -> None:
        """Cancel ``rid`` here if it runs here; else tell every worker."""
        if rid in self._scopes or self.session.is_cancelled(rid):
            LegacySession.cancel(self, rid)  # here (its task may not have started: it checks)
            return
        message = orjson.dumps({"op": "cancel", "s": self.id, "id": rid})
        self.routes.append((self.manager.everyone, message))

    def cancel_routed(self, rid: Id) -> None:
        """A cancel another worker routed here: cancel ``rid`` if it runs here."""
        if self.protocol.cancel_in_flight(rid):
            LegacySession.cancel(self, rid)

    # ------------------------------------------------------------ state

    async def sync(self) -> None:
        """Write a changed log level or subscriptions through to the record.

        Raises:
            StoreUnavailable: Redis did not answer.
            HttpError: 404 (``-32001``, :func:`gone`): the record is gone (deleted or
                expired while this copy had not heard of it yet); the copy is
                checked again at its next use (and ends there).
        """
        if self.changed() and not self.closed and not await self.manager.save(self):
            self.valid_until = 0.0
            raise gone()


#: The methods whose handlers change what the record keeps.
WRITES = frozenset({"resources/subscribe", "resources/unsubscribe"})


@attrs.define(eq=False)
class WriteThrough:
    """The application as a shared session's handlers run it: state written before the answer.

    After ``resources/subscribe`` or ``resources/unsubscribe`` the session's record
    is written (a :class:`StoreUnavailable` then answers the request: ``-32603``; a
    record gone meanwhile: ``-32001``, as an unknown session).
    """

    inner: Application

    def new_session(self) -> ServerSession:
        return self.inner.new_session()

    def timeout_for(self, request: IncomingRequest) -> float | None:
        return self.inner.timeout_for(request)

    async def handle(self, request: IncomingRequest, peer: Peer) -> dict[str, Any]:
        result = await self.inner.handle(request, peer)
        if request.method in WRITES and isinstance(peer, SharedSession):
            uri = request.params.get("uri")
            if isinstance(uri, str):
                peer.touched[uri] = request.method == "resources/subscribe"
            try:
                await peer.sync()
            except HttpError as exc:  # the session is gone
                raise McpError(exc.code, exc.message) from None
        return result

    def timeout_result(self, request: IncomingRequest, seconds: float) -> dict[str, Any] | None:
        return self.inner.timeout_result(request, seconds)

    async def notified(self, method: str, params: dict[str, Any], peer: Peer) -> None:
        await self.inner.notified(method, params, peer)

    def connected(self, peer: Peer) -> None:
        self.inner.connected(peer)

    def draining(self, peer: Peer) -> None:
        self.inner.draining(peer)

    def disconnected(self, peer: Peer) -> None:
        self.inner.disconnected(peer)
