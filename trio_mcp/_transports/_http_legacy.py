"""The legacy era's sessions over HTTP: ``initialize``, POST, GET, DELETE, idle expiry.

:class:`LegacySessions` keeps one :class:`~._http_session.LegacySession` per
``Mcp-Session-Id`` (256 random bits from :mod:`secrets`), bound to the bearer
token's subject: another subject presenting the id gets the same 404 as an
unknown id. Handlers and each session's outbox pump run in the manager's own
nursery (:meth:`LegacySessions.serve`), not in the POST's task: in this era a
disconnect is not a cancellation.

* ``initialize`` (no session id) opens a session.
* A POST feeds the body to its session; :func:`~trio_mcp._runtime.dispatch`
  drives the events into the POST's sink: requests get this POST's SSE stream
  (primed with an event id to resume from), a message the session answered
  itself goes back as JSON, notifications and client responses as 202. With
  ``json_response="auto"`` (the default) a POST of one request, from a client
  that accepts JSON, holds its stream: an answer that comes first (no
  progress, log record or request to the client before it) goes back as
  plain JSON, with no priming event (see :mod:`._http_session`).
* A GET opens the standalone stream, or resumes one with ``Last-Event-ID``.
* DELETE, idle expiry and shutdown end a session: handlers cancelled, streams
  closed, the store told to forget, the application told.
"""

from __future__ import annotations

import logging
import secrets
from functools import partial
from typing import TYPE_CHECKING, Any

import attrs
import trio

from .._errors import StoreUnavailable
from .._protocol import (
    LEGACY_VERSIONS,
    ClientResponse,
    IncomingRequest,
    Notified,
    Outgoing,
    Send,
    ServerSession,
    SharedServerSession,
)
from .._runtime import AccessToken, Application, HttpRequestInfo, OutQueue, Shutdown, dispatch
from .._wire import Id, encode
from ._asgi import HttpError, Receive, Responder, Scope, header
from ._eventstore import EventStore
from ._http_options import HttpOptions
from ._http_quota import IdentityQuotas
from ._http_session import STANDALONE, LegacySession, Stream
from ._http_sse import Holds
from ._redis_session import SharedSession, WriteThrough, gone, store_errors

if TYPE_CHECKING:
    from ._redis_sessions import SharedSessions

__all__ = ["LegacySessions"]

log = logging.getLogger("trio_mcp")


@attrs.define(eq=False)
class LegacySessions:
    """Every legacy session of one transport, and the HTTP methods that reach them."""

    app: Application
    options: HttpOptions
    store: EventStore
    requests: Shutdown
    max_in_flight: int
    quotas: IdentityQuotas
    sessions: dict[str, LegacySession] = attrs.field(factory=dict)
    #: With ``TRIO_MCP_REDIS_URL``: the sessions' records in Redis, and these are copies.
    shared: SharedSessions | None = None
    #: The held POST streams (``json_response="auto"``), whose hold one task times.
    holds: Holds = attrs.field(factory=Holds, init=False)
    _nursery: trio.Nursery | None = attrs.field(default=None, init=False)

    # ----------------------------------------------------------- lifecycle

    async def serve(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        """Host the sessions' handlers and pumps, and expire idle sessions, until cancelled."""
        async with trio.open_nursery() as nursery:
            self._nursery = nursery
            nursery.start_soon(self.holds.run)
            task_status.started()
            try:
                await self._sweep()
            finally:
                self._nursery = None

    async def _sweep(self) -> None:
        """End sessions idle for longer than ``session_idle_timeout``."""
        idle = self.options.session_idle_timeout
        while True:
            await trio.sleep(min(max(idle / 4, 0.05), 30.0))
            now = trio.current_time()
            for session in list(self.sessions.values()):
                if not session.busy and now - session.last_active > idle:
                    if self.shared is None:  # shared: only this copy goes (Redis expires it)
                        log.info("trio_mcp: legacy session %s… expired", session.id[:8])
                    await self.end(session)
            if self.shared is not None:
                await self._keep_busy(self.shared)

    async def _keep_busy(self, shared: SharedSessions) -> None:
        """Refresh the records of the sessions busy here; end the copies whose record is gone."""
        busy = [s for s in self.sessions.values() if s.busy and not s.closed]
        try:
            alive = await shared.touch([s.id for s in busy])
        except StoreUnavailable:
            return  # logged by the link; the next sweep tries again
        for session, there in zip(busy, alive, strict=False):
            if not there:
                await self.end(session)

    async def end(self, session: LegacySession) -> None:
        """End one session (idempotent)."""
        if self.sessions.pop(session.id, None) is None:
            return
        self.quotas.closed(session.subject)
        await session.close()
        self.app.disconnected(session)

    def cancel_all(self) -> None:
        """Cancel every session's running handlers (shutdown: the grace is over)."""
        for session in list(self.sessions.values()):
            for rid in list(session._scopes):
                session.cancel(rid)

    async def close_all(self) -> None:
        """End every session (shutdown)."""
        for session in list(self.sessions.values()):
            await self.end(session)

    # ---------------------------------------------------------------- HTTP

    async def initialize(
        self, responder: Responder, msg: dict[str, Any], token: AccessToken | None
    ) -> None:
        """Open a session with ``initialize`` and answer it with the new ``Mcp-Session-Id``."""
        if len(self.sessions) >= self.options.max_sessions:
            raise HttpError(503, "Service Unavailable: too many sessions", -32603, msg.get("id"))
        subject = token.subject if token is not None else None
        self.quotas.check_session(subject, msg.get("id"))
        session = self.app.new_session()
        if self.shared is not None:
            session = SharedServerSession(session.info, self.shared.worker)
        events = session.receive_message(msg)
        assert len(events) == 1 and type(events[0]) is Send
        message = events[0].message
        if type(message) is not dict or "result" not in message:
            await responder.full(400, encode(message))
            return
        sid = secrets.token_urlsafe(32)
        if isinstance(session, SharedServerSession):
            session.sid = sid
        legacy = self._local(sid, session, token)
        if isinstance(legacy, SharedSession):
            assert self.shared is not None
            with store_errors(msg.get("id")):
                await self.shared.open(legacy)
        self._add(legacy)
        await responder.full(200, encode(message), [(b"mcp-session-id", sid.encode())])

    def _local(self, sid: str, session: ServerSession, token: AccessToken | None) -> LegacySession:
        """This worker's session ``sid`` (a :class:`SharedSession` when shared)."""
        opts = self.options
        args = (opts.sse_retry_ms, opts.write_timeout, opts.keepalive, opts.write_buffer_bytes)
        if self.shared is None:
            return LegacySession(
                sid, self.app, session, self.store, self.requests, token, *args, holds=self.holds
            )
        app, store, requests = WriteThrough(self.app), self.shared.spill, self.requests
        return SharedSession(
            sid, app, session, store, requests, token, *args, holds=self.holds, shared=self.shared
        )

    def _add(self, legacy: LegacySession) -> None:
        self.sessions[legacy.id] = legacy
        self.quotas.opened(legacy.subject)
        self.app.connected(legacy)
        assert self._nursery is not None
        self._nursery.start_soon(legacy.pump_outbox)

    async def session_of(
        self, scope: Scope, token: AccessToken | None, rid: Any = None
    ) -> LegacySession:
        """The session a request names, refreshed as active.

        Raises:
            HttpError: 400 (no ``Mcp-Session-Id``, or a version that is not
                legacy), 404 (unknown, ended, or another identity's session),
                503 (shared sessions: Redis is away).
        """
        sid = header(scope, b"mcp-session-id")
        if sid is None:
            raise HttpError(400, "Bad Request: Mcp-Session-Id header is required")
        session = self.sessions.get(sid)
        subject = token.subject if token is not None else None
        if self.shared is not None:
            session = await self._shared(self.shared, sid, session, subject, token, rid)
        elif session is None or session.closed or session.subject != subject:
            # Another identity's session looks exactly like an unknown one.
            raise gone()
        version = header(scope, b"mcp-protocol-version")
        if version is not None and version not in LEGACY_VERSIONS:
            raise HttpError(400, f"Bad Request: unsupported MCP-Protocol-Version {version!r}")
        session.last_active = trio.current_time()
        return session

    async def _shared(
        self,
        shared: SharedSessions,
        sid: str,
        session: LegacySession | None,
        subject: str | None,
        token: AccessToken | None,
        rid: Any,
    ) -> LegacySession:
        """The copy of shared session ``sid`` here: checked, or built from its record."""
        if session is not None and not session.closed:
            if session.subject != subject:
                raise gone()
            assert isinstance(session, SharedSession)
            if not session.stale and trio.current_time() < session.valid_until:
                return session  # the hot path: no round trip, nothing more
            with store_errors(rid):
                if await shared.check(session):
                    return session
            await self.end(session)  # deleted or expired elsewhere
            raise gone()
        with store_errors(rid):
            found = await shared.load(sid)
        if found is None or found[1] != subject:
            raise gone()
        session = self.sessions.get(sid)
        if session is not None and not session.closed:
            return session  # another request built it meanwhile
        if len(self.sessions) >= self.options.max_sessions:
            raise HttpError(503, "Service Unavailable: too many sessions", -32603, rid)
        try:
            protocol = SharedServerSession.restored(
                self.app.new_session().info, shared.worker, found[0], sid
            )
        except (KeyError, TypeError, ValueError):
            raise gone() from None
        legacy = self._local(sid, protocol, token)
        assert isinstance(legacy, SharedSession)
        shared.adopted(legacy)
        self._add(legacy)
        return legacy

    async def post(
        self,
        scope: Scope,
        receive: Receive,
        responder: Responder,
        msg: Any,
        token: AccessToken | None,
        http: HttpRequestInfo | None = None,
    ) -> None:
        """Feed one POST body to its session and answer (SSE, JSON or 202).

        ``http`` is the POST, what its requests' handlers see as ``ctx.http``.
        """
        session = await self.session_of(scope, token, _first_id(msg))
        if session.in_flight >= self.max_in_flight and _has_request(msg):
            raise HttpError(
                429, "Too Many Requests: this session has too many requests in flight", -32603
            )
        assert self._nursery is not None
        sink = _Post(self.app, session, self.requests, self.quotas, self._nursery, http)
        # One request, and a client that takes JSON: its answer may come as JSON.
        sink.hold = (
            self.options.json_response == "auto" and type(msg) is dict and _takes_json(scope)
        )
        await dispatch(session.session.receive_message(msg), sink)
        if isinstance(session, SharedSession) and (session.routes or session.changed()):
            assert self.shared is not None
            with store_errors(_first_id(msg)):
                await self.shared.flush(session)
                await session.sync()  # logging/setLevel: written before it is answered
        if sink.stream is not None:
            await session.write(responder, receive, sink.stream, sink.live, [], [])
        elif sink.answer is not None:
            answer = sink.answer
            status = (
                400
                if type(answer) is dict and answer.get("id") is None and "error" in answer
                else 200
            )
            await responder.full(status, encode(answer))
        else:
            await responder.full(202)

    async def get(
        self, scope: Scope, receive: Receive, responder: Responder, token: AccessToken | None
    ) -> None:
        """Open the standalone SSE stream, or resume a stream after ``Last-Event-ID``."""
        accept = header(scope, b"accept") or ""
        if "text/event-stream" not in accept and "*/*" not in accept:
            raise HttpError(406, "Not Acceptable: GET needs Accept: text/event-stream")
        session = await self.session_of(scope, token)
        last = header(scope, b"last-event-id")
        if isinstance(session, SharedSession) and session.remote(last):
            assert self.shared is not None
            await self.shared.get(session, receive, responder, last)
            return
        if last is None:
            stream = session.streams[STANDALONE]
            live = stream.attach()
            await session.emit(stream, b"")
            await session.write(responder, receive, stream, live, [], [])
            return
        found = await session.store.replay_events_after(session.id, last)
        if found is None:
            raise HttpError(400, "Bad Request: unknown Last-Event-ID")
        target = session.streams.get(found[0])
        if target is None:  # finished (or never live here): replay what is stored, and end
            if await session.write(responder, receive, None, None, found[1], []):
                await session.store.forget_stream(session.id, found[0])  # delivered: done with it
            return
        async with target.lock:  # no event can be stored between replay and attach
            found = await session.store.replay_events_after(session.id, last)
            live = target.attach()
        await session.write(responder, receive, target, live, found[1] if found else [], [])

    async def delete(self, scope: Scope, responder: Responder, token: AccessToken | None) -> None:
        """End the session the request names (shared: on every worker)."""
        session = await self.session_of(scope, token)
        if isinstance(session, SharedSession):
            assert self.shared is not None
            with store_errors():
                await self.shared.delete(session)
        await self.end(session)
        await responder.full(200)


@attrs.define(eq=False)
class _Post:
    """The :class:`~trio_mcp._runtime.EventSink` of one legacy POST."""

    app: Application
    session: LegacySession
    requests: Shutdown
    quotas: IdentityQuotas
    nursery: trio.Nursery
    http: HttpRequestInfo | None = None
    stream: Stream | None = None
    live: OutQueue | None = None
    answer: Outgoing | None = None
    #: Hold the stream: the answer goes as JSON if it comes first.
    hold: bool = False

    async def on_request(self, request: IncomingRequest) -> None:
        session = self.session
        if self.stream is None:
            stream = self.stream = session.new_stream(request.id)
            self.live = stream.attach()
            stream.unprimed = True  # its priming event: an id to resume from
            if self.hold:
                stream.held = True  # the first message primes it, unless it is the answer
            else:
                await session.prime(stream)
        self.requests.begin()
        self.quotas.begin(session.subject)
        session.in_flight += 1
        self.stream.pending += 1
        self.nursery.start_soon(
            partial(session.run_request, ended=partial(self.quotas.end, session.subject)),
            request,
            self.stream,
            self.http,
        )

    async def on_send(self, message: Outgoing) -> None:
        self.answer = message

    def on_cancel(self, rid: Id) -> None:
        self.session.cancel(rid)

    def on_response(self, response: ClientResponse) -> None:
        self.session.answer(response.id, response.result, response.error)

    async def on_notified(self, note: Notified) -> None:
        await self.app.notified(note.method, note.params, self.session)


def _first_id(msg: Any) -> Any:
    first = msg[0] if type(msg) is list and msg else msg
    return first.get("id") if type(first) is dict else None


def _takes_json(scope: Scope) -> bool:
    """The POST's ``Accept`` allows ``application/json`` (or says nothing)."""
    accept = header(scope, b"accept")
    return accept is None or "application/json" in accept or "*/*" in accept


def _has_request(msg: Any) -> bool:
    items = msg if type(msg) is list else [msg]
    return any(type(m) is dict and "method" in m and "id" in m for m in items)
