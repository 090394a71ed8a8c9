"""Streamable HTTP, both eras, as an ASGI app served by Hypercorn's Trio worker.

:class:`HttpTransport` is an ASGI application. Mount it in any ASGI app, or let
:func:`serve_http` run it on Hypercorn. Per request, in order:

1. ``Host``/``Origin`` (DNS rebinding: 421/403), then the bearer token (401/403).
2. POST: the body, bounded in size (413) and time (408), decoded (400, -32700).
3. The era. A body whose ``params._meta`` names a protocol version is
   **modern** (2026-07-28): stateless, served by a fresh :class:`ServerSession`
   in this HTTP request's own task; its ``MCP-Protocol-Version``, ``Mcp-Method``,
   ``Mcp-Name`` and ``Mcp-Param-*`` headers must match the body (400, -32020).
   The answer is JSON, or an SSE stream as soon as the handler sends progress or
   a log record. The client closing the connection cancels the handler's scope.
   Anything with an ``Mcp-Session-Id``, and ``initialize``, is **legacy**
   (2025-03-26 .. 2025-11-25): see :mod:`._http_session`.
4. Every handler runs through :func:`~trio_mcp._runtime.run_handler`, the single
   exception-to-wire boundary that stdio uses too.

Shutdown (:meth:`HttpTransport.stop`, a signal, the ASGI lifespan ending):
refuse new requests (503); give in-flight handlers ``grace`` seconds and end
listen streams; cancel what is left (each answered "shutting down"); end the
legacy sessions and their SSE streams. Hypercorn stops accepting meanwhile and
waits for the responses to finish.
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import AsyncIterator, Callable, Collection
from contextlib import AbstractAsyncContextManager, asynccontextmanager, nullcontext
from functools import partial
from typing import Any

import attrs
import orjson
import trio

from .._errors import McpError, ParseError
from .._protocol import (
    LEGACY_VERSIONS,
    CancelRequest,
    ClientResponse,
    IncomingRequest,
    Notified,
    Send,
    ServerSession,
)
from .._protocol._versions import META_PROTOCOL_VERSION
from .._runtime import Application, HttpRequestInfo, Peer, run_handler
from .._wire import DEFAULT_MAX_LINE, Id, decode, encode
from ._asgi import (
    ClientGone,
    HttpError,
    Receive,
    Responder,
    Scope,
    header,
    read_body,
)
from ._asgi import Send as AsgiSend
from ._eventstore import EventStore, InMemoryEventStore
from ._http_headers import check_headers
from ._http_modern import (
    HANDLER_STATUS,
    PRE_HANDLER_STATUS,
    RequestPeer,
    handler_headers,
    write_modern,
)
from ._http_session import STANDALONE, LegacySession, Requests, Stream
from ._security import AccessToken, BearerAuth, check_host_and_origin

__all__ = ["HttpOptions", "HttpTransport"]

log = logging.getLogger("trio_mcp")


@attrs.frozen(kw_only=True)
class HttpOptions:
    """Settings of the HTTP transport.

    Args:
        path: The MCP endpoint (``None``: any path, e.g. when mounted under a prefix).
        allowed_hosts: ``Host`` values accepted; ``None``: loopback names only;
            include ``"*"`` to accept any (a public server behind a proxy).
        allowed_origins: Origins accepted besides loopback and same-origin.
        auth: Bearer-token authentication (``None``: none).
        event_store: Where legacy SSE events are kept for resumption
            (default: an :class:`InMemoryEventStore`).
        legacy: Serve the legacy era (sessions, GET, DELETE). ``False``: modern only.
        max_body_size: Largest request body, in bytes (413 beyond).
        body_timeout: Seconds a client has to send its whole body (408 after).
        write_timeout: Seconds one write to a client may take; a slower client
            is dropped (legacy streams can be resumed).
        session_idle_timeout: Seconds after which an idle legacy session ends (404 after).
        max_sessions: Legacy sessions at once (503 beyond).
        max_requests: Handlers running at once over all clients (503 beyond).
        sse_retry_ms: The ``retry`` sent with each priming event.
        keepalive: Seconds between SSE keep-alive comments on quiet streams.
    """

    path: str | None = "/mcp"
    allowed_hosts: Collection[str] | None = None
    allowed_origins: Collection[str] = ()
    auth: BearerAuth | None = None
    event_store: EventStore | None = None
    legacy: bool = True
    max_body_size: int = DEFAULT_MAX_LINE
    body_timeout: float = 30.0
    write_timeout: float = 30.0
    session_idle_timeout: float = 1800.0
    max_sessions: int = 10_000
    max_requests: int = 10_000
    sse_retry_ms: int = 1000
    keepalive: float | None = 15.0


class HttpTransport:
    """The MCP endpoint as an ASGI application (see the module docstring).

    Build it with ``server.asgi_app(...)``. Before it serves requests, its
    lifespan must run: Hypercorn (and most ASGI servers) run it for you; when
    mounted in an app whose framework does not forward the lifespan, enter
    ``async with transport.running():`` yourself.
    """

    def __init__(
        self,
        app: Application,
        options: HttpOptions,
        *,
        running: Callable[[], AbstractAsyncContextManager[Any]] | None = None,
        grace: float = 2.0,
        max_in_flight: int = 1024,
        tool_schema: Callable[[str], dict[str, Any] | None] | None = None,
    ) -> None:
        self.app = app
        self.options = options
        self.grace = grace
        self.max_in_flight = max_in_flight
        store = options.event_store
        self.store: EventStore = store if store is not None else InMemoryEventStore()
        self.sessions: dict[str, LegacySession] = {}
        self.urls: list[str] = []
        self._app_running = running or nullcontext
        self._tool_schema = tool_schema
        self._requests = Requests()
        self._peers: set[RequestPeer] = set()
        self._nursery: trio.Nursery | None = None
        self._stop = trio.Event()
        self._shut_down = False
        self._prm_path = options.auth.metadata_path() if options.auth else None

    # ----------------------------------------------------------- lifecycle

    @asynccontextmanager
    async def running(self) -> AsyncIterator[None]:
        """Run the server (lifespan, background tasks) and this transport's tasks. Re-entrant."""
        if self._nursery is not None:
            yield
            return
        async with self._app_running(), trio.open_nursery() as nursery:
            self._nursery = nursery
            self._stop = trio.Event()
            self._shut_down = False
            self._requests = Requests()
            nursery.start_soon(self._sweep)
            try:
                yield
            finally:
                with trio.CancelScope(shield=True):
                    await self.shutdown()
                nursery.cancel_scope.cancel()
                self._nursery = None

    def stop(self) -> None:
        """Begin a graceful shutdown of :func:`serve_http`. Idempotent."""
        self._stop.set()

    async def wait_stopped(self) -> None:
        """Hypercorn's ``shutdown_trigger``: returns once :meth:`stop` was called."""
        await self._stop.wait()
        if self._nursery is not None:
            self._nursery.start_soon(self.shutdown)

    async def shutdown(self) -> None:
        """Drain: refuse new requests, give handlers the grace, cancel, end every session."""
        if self._shut_down:
            return
        self._shut_down = True
        requests = self._requests
        requests.draining = True
        peers: list[Peer] = [*self._peers, *self.sessions.values()]
        for peer in peers:
            self.app.draining(peer)
        if requests.count:
            with trio.move_on_after(self.grace):
                await requests.idle.wait()
        requests.closing = True
        for p in list(self._peers):
            p.cancel_all()
        for session in list(self.sessions.values()):
            for rid in list(session._scopes):
                session.cancel(rid)
        if requests.count:
            with trio.move_on_after(1.0):  # let the "shutting down" answers be written
                await requests.idle.wait()
        for session in list(self.sessions.values()):
            await self._end_session(session)

    async def _sweep(self) -> None:
        """End legacy sessions idle for longer than ``session_idle_timeout``."""
        idle = self.options.session_idle_timeout
        while True:
            await trio.sleep(min(max(idle / 4, 0.05), 30.0))
            now = trio.current_time()
            for session in list(self.sessions.values()):
                if not session.busy and now - session.last_active > idle:
                    log.info("trio_mcp: legacy session %s… expired", session.id[:8])
                    await self._end_session(session)

    async def _end_session(self, session: LegacySession) -> None:
        if self.sessions.pop(session.id, None) is None:
            return
        await session.close()
        self.app.disconnected(session)

    # ----------------------------------------------------------------- ASGI

    async def __call__(self, scope: Scope, receive: Receive, send: AsgiSend) -> None:
        if scope["type"] == "lifespan":
            await self._lifespan(receive, send)
            return
        if scope["type"] != "http":
            return
        responder = Responder(send, self.options.write_timeout)
        try:
            await self._http(scope, receive, responder)
        except HttpError as exc:
            if not responder.started:
                await responder.error(exc)
        except ClientGone:
            pass

    async def _lifespan(self, receive: Receive, send: AsgiSend) -> None:
        message = await receive()
        if message["type"] != "lifespan.startup":
            return
        try:
            async with self.running():
                await send({"type": "lifespan.startup.complete"})
                await receive()  # lifespan.shutdown
        except Exception as exc:
            log.exception("trio_mcp: the server's lifespan failed")
            await send({"type": "lifespan.startup.failed", "message": str(exc)})
            return
        await send({"type": "lifespan.shutdown.complete"})

    async def _http(self, scope: Scope, receive: Receive, responder: Responder) -> None:
        opts = self.options
        path = scope.get("path", "")
        root = scope.get("root_path", "")
        if root and path.startswith(root):
            path = path[len(root) :] or "/"
        if self._prm_path is not None and path in (self._prm_path, self._prm_path + "/"):
            assert opts.auth is not None
            await responder.full(200, orjson.dumps(opts.auth.metadata()))
            return
        if opts.path is not None and path.rstrip("/") != opts.path.rstrip("/"):
            raise HttpError(404, "Not Found")
        check_host_and_origin(scope, opts.allowed_hosts, opts.allowed_origins)
        if self._nursery is None:
            raise HttpError(
                503,
                "Service Unavailable: the server is not running (its ASGI lifespan did not run)",
                -32603,
            )
        if self._requests.draining:
            raise HttpError(503, "Service Unavailable: the server is shutting down", -32603)
        token = await opts.auth.authenticate(scope) if opts.auth is not None else None
        if self._requests.count >= opts.max_requests:
            raise HttpError(503, "Service Unavailable: too many requests in flight", -32603)
        method = scope.get("method", "GET")
        if method == "POST":
            await self._post(scope, receive, responder, token)
        elif method == "GET" and opts.legacy:
            await self._get(scope, receive, responder, token)
        elif method == "DELETE" and opts.legacy:
            session = self._session_of(scope, token)
            await self._end_session(session)
            await responder.full(200)
        else:
            allow = b"POST, GET, DELETE" if opts.legacy else b"POST"
            raise HttpError(405, "Method Not Allowed", headers=[(b"allow", allow)])

    async def _post(
        self, scope: Scope, receive: Receive, responder: Responder, token: AccessToken | None
    ) -> None:
        ctype = header(scope, b"content-type") or ""
        if ctype.split(";")[0].strip().lower() != "application/json":
            raise HttpError(415, "Unsupported Media Type: expected application/json")
        body = await read_body(
            receive, scope, self.options.max_body_size, self.options.body_timeout
        )
        try:
            msg = decode(body)
        except ParseError as exc:
            raise HttpError(400, "Parse error", exc.code, data=exc.data) from None
        if _is_modern(scope, msg) or not self.options.legacy:
            await self._modern(scope, receive, responder, msg, token)
        elif header(scope, b"mcp-session-id") is None:
            if type(msg) is not dict or msg.get("method") != "initialize":
                raise HttpError(400, "Bad Request: Mcp-Session-Id header is required")
            await self._initialize(responder, msg, token)
        else:
            await self._legacy_post(scope, receive, responder, msg, token)

    # --------------------------------------------------------------- modern

    async def _modern(
        self,
        scope: Scope,
        receive: Receive,
        responder: Responder,
        msg: Any,
        token: AccessToken | None = None,
    ) -> None:
        if type(msg) is dict:
            check_headers(scope, msg, self._tool_schema)
        session = self.app.new_session()
        events = session.receive_message(msg)
        for event in events:
            if type(event) is Send:
                message = event.message
                status = 200
                if type(message) is dict and "error" in message:
                    status = PRE_HANDLER_STATUS.get(message["error"].get("code"), 200)
                await responder.full(status, encode(message))
                return
            if type(event) is IncomingRequest:
                http = _http_info(scope, token)
                await self._modern_request(receive, responder, session, event, token, http)
                return
            if type(event) is Notified:
                await self.app.notified(
                    event.method, event.params, RequestPeer(session, _closed_channel())
                )
        await responder.full(202)

    async def _modern_request(
        self,
        receive: Receive,
        responder: Responder,
        session: ServerSession,
        req: IncomingRequest,
        token: AccessToken | None = None,
        http: HttpRequestInfo | None = None,
    ) -> None:
        send_ch, recv_ch = trio.open_memory_channel[tuple[bytes, int | None]](64)
        peer = RequestPeer(session, send_ch, token=token, http=http)
        self._peers.add(peer)
        self.app.connected(peer)
        self._requests.begin()
        try:
            async with trio.open_nursery() as nursery:
                nursery.start_soon(_on_disconnect, receive, partial(peer.client_left, req.id))
                async with trio.open_nursery() as inner:
                    inner.start_soon(write_modern, recv_ch, responder, peer, self.options.keepalive)
                    async with send_ch:
                        outcome = await run_handler(
                            self.app,
                            peer,
                            req,
                            peer._scopes,
                            closing=lambda: self._requests.closing,
                        )
                        if type(outcome) is dict:
                            message = session.respond(req.id, outcome)
                            status = 200
                        else:
                            assert isinstance(outcome, McpError)
                            message = session.respond_error(req.id, outcome)
                            status = HANDLER_STATUS.get(outcome.code, 200)
                            peer.answer_headers = handler_headers(outcome, self.options.auth)
                        if message is not None:
                            await send_ch.send((_encode_answer(req.id, message), status))
                nursery.cancel_scope.cancel()
        finally:
            self._requests.end()
            self._peers.discard(peer)
            self.app.disconnected(peer)

    # --------------------------------------------------------------- legacy

    async def _initialize(
        self, responder: Responder, msg: dict[str, Any], token: AccessToken | None
    ) -> None:
        if len(self.sessions) >= self.options.max_sessions:
            raise HttpError(503, "Service Unavailable: too many sessions", -32603, msg.get("id"))
        session = self.app.new_session()
        events = session.receive_message(msg)
        assert len(events) == 1 and type(events[0]) is Send
        message = events[0].message
        if type(message) is not dict or "result" not in message:
            await responder.full(400, encode(message))
            return
        sid = secrets.token_urlsafe(32)
        opts = self.options
        legacy = LegacySession(
            sid,
            self.app,
            session,
            self.store,
            self._requests,
            token,
            opts.sse_retry_ms,
            opts.write_timeout,
            opts.keepalive,
        )
        self.sessions[sid] = legacy
        self.app.connected(legacy)
        assert self._nursery is not None
        self._nursery.start_soon(legacy.pump_outbox)
        await responder.full(200, encode(message), [(b"mcp-session-id", sid.encode())])

    def _session_of(self, scope: Scope, token: AccessToken | None) -> LegacySession:
        sid = header(scope, b"mcp-session-id")
        if sid is None:
            raise HttpError(400, "Bad Request: Mcp-Session-Id header is required")
        session = self.sessions.get(sid)
        subject = token.subject if token is not None else None
        if session is None or session.closed or session.subject != subject:
            # Another identity's session looks exactly like an unknown one.
            raise HttpError(404, "Not Found: no such session (expired or terminated)", -32001)
        version = header(scope, b"mcp-protocol-version")
        if version is not None and version not in LEGACY_VERSIONS:
            raise HttpError(400, f"Bad Request: unsupported MCP-Protocol-Version {version!r}")
        session.last_active = trio.current_time()
        return session

    async def _legacy_post(
        self,
        scope: Scope,
        receive: Receive,
        responder: Responder,
        msg: Any,
        token: AccessToken | None,
    ) -> None:
        session = self._session_of(scope, token)
        if session.in_flight >= self.max_in_flight and _has_request(msg):
            raise HttpError(
                429, "Too Many Requests: this session has too many requests in flight", -32603
            )
        stream: Stream | None = None
        live = None
        answer: Any = None
        for event in session.session.receive_message(msg):
            if type(event) is IncomingRequest:
                if stream is None:
                    stream = session.new_stream()
                    live = stream.attach()
                    await session.emit(stream, b"")  # priming: an id to resume from
                self._requests.begin()
                session.in_flight += 1
                assert self._nursery is not None
                self._nursery.start_soon(
                    session.run_request, event, stream, _http_info(scope, token)
                )
            elif type(event) is Send:
                answer = event.message
            elif type(event) is CancelRequest:
                session.cancel(event.id)
            elif type(event) is ClientResponse:
                session.answer(event.id, event.result, event.error)
            else:
                assert type(event) is Notified
                await self.app.notified(event.method, event.params, session)
        if stream is not None:
            await session.write(responder, receive, stream, live, [], [])
        elif answer is not None:
            status = (
                400
                if type(answer) is dict and answer.get("id") is None and "error" in answer
                else 200
            )
            await responder.full(status, encode(answer))
        else:
            await responder.full(202)

    async def _get(
        self, scope: Scope, receive: Receive, responder: Responder, token: AccessToken | None
    ) -> None:
        accept = header(scope, b"accept") or ""
        if "text/event-stream" not in accept and "*/*" not in accept:
            raise HttpError(406, "Not Acceptable: GET needs Accept: text/event-stream")
        session = self._session_of(scope, token)
        last = header(scope, b"last-event-id")
        if last is None:
            stream = session.streams[STANDALONE]
            live = stream.attach()
            await session.emit(stream, b"")
            await session.write(responder, receive, stream, live, [], [])
            return
        found = await self.store.replay_events_after(session.id, last)
        if found is None:
            raise HttpError(400, "Bad Request: unknown Last-Event-ID")
        target = session.streams.get(found[0])
        if target is None:  # finished (or never live here): replay what is stored, and end
            await session.write(responder, receive, None, None, found[1], [])
            return
        async with target.lock:  # no event can be stored between replay and attach
            found = await self.store.replay_events_after(session.id, last)
            live = target.attach()
        await session.write(responder, receive, target, live, found[1] if found else [], [])


# --------------------------------------------------------------------- helpers


def _is_modern(scope: Scope, msg: Any) -> bool:
    if type(msg) is dict:
        params = msg.get("params")
        meta = params.get("_meta") if type(params) is dict else None
        if type(meta) is dict and META_PROTOCOL_VERSION in meta:
            return True
        if msg.get("method") == "initialize":
            return False
    if header(scope, b"mcp-session-id") is not None:
        return False
    version = header(scope, b"mcp-protocol-version")
    return version is not None and version not in LEGACY_VERSIONS


def _http_info(scope: Scope, token: AccessToken | None) -> HttpRequestInfo:
    return HttpRequestInfo.of(
        scope.get("method", "POST"),
        scope.get("path", ""),
        scope.get("query_string", b""),
        scope.get("headers", ()),
        scope.get("client"),
        token,
    )


def _has_request(msg: Any) -> bool:
    items = msg if type(msg) is list else [msg]
    return any(type(m) is dict and "method" in m and "id" in m for m in items)


def _closed_channel() -> trio.MemorySendChannel[tuple[bytes, int | None]]:
    send, receive = trio.open_memory_channel[tuple[bytes, int | None]](0)
    receive.close()
    return send


def _encode_answer(rid: Id, message: Any) -> bytes:
    try:
        return encode(message)
    except TypeError as exc:
        log.error("trio_mcp: result of request %r is not JSON-serialisable: %s", rid, exc)
        error = {
            "code": -32603,
            "message": f"Internal error: result is not JSON-serialisable ({exc})",
        }
        return encode({"jsonrpc": "2.0", "id": rid, "error": error})


async def _on_disconnect(receive: Receive, callback: Callable[[], None]) -> None:
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            callback()
            return
