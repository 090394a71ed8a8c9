"""Streamable HTTP, both eras, as an ASGI app served by Hypercorn's Trio worker: the router.

:class:`HttpTransport` is an ASGI application. Mount it in any ASGI app, or let
:func:`serve_http` run it on Hypercorn. This module routes, guards, runs the
lifespan and drains; the eras are served by :mod:`._http_modern`
(:class:`ModernRequests`) and :mod:`._http_legacy` (:class:`LegacySessions`).
Per request, in order:

1. Each header read appears once (400), ``Host``/``Origin`` (DNS rebinding:
   421/403), then the bearer token (401/403), then the endpoint's limits (503)
   and the token subject's quotas (429, :mod:`._http_quota`).
2. POST: the body, bounded in size (413) and time (408), decoded (400, -32700).
3. The era, decided once (:func:`choose_era`). The body decides when it names
   one, by the session's own rule (:func:`~trio_mcp._protocol.era_of`): a
   ``params._meta`` naming a protocol version is **modern** (2026-07-28), and
   ``initialize`` is **legacy** (2025-03-26 .. 2025-11-25). A body that names
   none is legacy if it carries an ``Mcp-Session-Id``, modern if its
   ``MCP-Protocol-Version`` header names a version that is not legacy, else
   legacy. Modern: stateless, a fresh :class:`ServerSession` in this HTTP
   request's own task; the ``MCP-Protocol-Version``, ``Mcp-Method``,
   ``Mcp-Name`` and ``Mcp-Param-*`` headers must match a body that names the
   era (400, -32020). The answer is JSON, or an SSE stream as soon as the
   handler sends progress or a log record. The client closing the connection
   cancels the handler's scope. Legacy: see :mod:`._http_legacy`.
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
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager, nullcontext
from typing import Any

import orjson
import trio

from .._errors import ParseError
from .._protocol import LEGACY_VERSIONS, Era, era_of
from .._runtime import AccessToken, Application, HttpRequestInfo, Peer, Shutdown
from .._wire import decode
from ._asgi import (
    AsgiResponder,
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
from ._http_headers import check_headers, check_unique
from ._http_legacy import LegacySessions
from ._http_modern import ModernRequests
from ._http_options import HttpOptions
from ._http_quota import IdentityQuotas
from ._http_session import LegacySession
from ._security import check_host_and_origin

__all__ = ["STATUSES", "HttpOptions", "HttpTransport", "choose_era"]

log = logging.getLogger("trio_mcp")

#: Every HTTP status the transport answers with, and when. Nothing else is ever
#: sent (``tests/transports/test_http_fuzz.py`` holds it to this table); the
#: status of a modern JSON-RPC error answer comes from
#: :data:`~._http_modern.HTTP_STATUS`.
STATUSES: dict[int, str] = {
    200: "an answer: JSON, or an SSE stream; a JSON-RPC error a handler raised",
    202: "notifications and client responses, accepted",
    400: "a malformed request: a header read twice, a modern header that does not"
    " mirror the body (-32020, -32021, -32022), a body that is not JSON-RPC"
    " (-32700, -32600, -32602), no Mcp-Session-Id, an unknown Last-Event-ID",
    401: "no valid bearer token (with WWW-Authenticate)",
    403: "a refused Origin; a token without the required scope",
    404: "another path; an unknown session (-32001); an unknown method (-32601)",
    405: "a method other than POST, GET, DELETE (legacy) or POST (modern only)",
    406: "GET without Accept: text/event-stream",
    408: "the body did not arrive within body_timeout",
    413: "the body exceeds max_body_size",
    415: "a POST whose Content-Type is not application/json",
    421: "a refused Host (DNS rebinding)",
    429: "a session at its cap of requests in flight; a token subject at its quota"
    " of sessions or of requests in flight",
    503: "not running, draining, or at max_sessions / max_requests; a modern request"
    " cancelled with nothing to say",
}


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
        endpoint = options.path.rstrip("/") if options.path is not None else None
        for shadow in options.routes.by_path if options.routes else ():
            if shadow.rstrip("/") == endpoint:
                raise ValueError(
                    f"route {shadow!r} is the MCP endpoint's path {options.path!r}: it would"
                    " shadow the endpoint (and its bearer check); serve it at another path"
                )
        self.app = app
        self.options = options
        self.grace = grace
        self.max_in_flight = max_in_flight
        store = options.event_store
        self.store: EventStore = store if store is not None else InMemoryEventStore()
        self.urls: list[str] = []
        self._app_running = running or nullcontext
        self._tool_schema = tool_schema
        #: The handlers in flight and the shutdown phase, shared by both eras (reset each run).
        self._requests = Shutdown()
        #: Sessions and handlers per bearer-token subject (429 over its share).
        self._quotas = IdentityQuotas(
            options.max_sessions_per_identity, options.max_requests_per_identity
        )
        self._modern = ModernRequests(
            app,
            self._requests,
            options.keepalive,
            options.write_buffer_bytes,
            self._quotas,
            options.auth,
        )
        self._legacy = LegacySessions(
            app, options, self.store, self._requests, max_in_flight, self._quotas
        )
        self._nursery: trio.Nursery | None = None
        self._stop = trio.Event()
        self._shut_down = False
        self._prm_path = options.auth.metadata_path() if options.auth else None

    def fanout(self, method: str, params: dict[str, Any] | None, uri: str | None) -> bool:
        """With shared sessions: queue a notification for every worker's sessions.

        ``uri``: only the sessions subscribed to it. False without Redis (or not
        serving): the caller delivers to this worker's sessions itself.
        """
        shared = self._legacy.shared
        return shared is not None and shared.fanout(method, params, uri)

    @property
    def sessions(self) -> dict[str, LegacySession]:
        """The open legacy sessions, by ``Mcp-Session-Id``."""
        return self._legacy.sessions

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
            self._requests.reset()
            await nursery.start(self._legacy.serve)
            if self.options.redis_url is not None and self.options.legacy:
                from ._redis_sessions import SharedSessions

                legacy = self._legacy
                shared = SharedSessions(
                    self.options.redis_url,
                    self.options.session_idle_timeout,
                    legacy.sessions,
                    legacy.end,
                    lease=self.options.worker_lease,
                )
                await nursery.start(shared.serve)
                legacy.shared = shared
            try:
                yield
            finally:
                with trio.CancelScope(shield=True):
                    await self.shutdown()
                nursery.cancel_scope.cancel()
                self._nursery = None
                self._legacy.shared = None

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
        peers: list[Peer] = [*self._modern.peers, *self._legacy.sessions.values()]
        for peer in peers:
            self.app.draining(peer)
        await requests.wait_idle(self.grace)
        requests.closing = True
        self._modern.cancel_all()
        self._legacy.cancel_all()
        await requests.wait_idle(1.0)  # let the "shutting down" answers be written
        await self._legacy.close_all()

    # ----------------------------------------------------------------- ASGI

    async def __call__(self, scope: Scope, receive: Receive, send: AsgiSend) -> None:
        if scope["type"] == "lifespan":
            await self._lifespan(receive, send)
            return
        if scope["type"] != "http":
            return
        await self.handle(scope, receive, AsgiResponder(self.options.write_timeout, send))

    async def handle(
        self, scope: Scope, receive: Receive, responder: Responder, *, body: bytes | None = None
    ) -> None:
        """Serve one HTTP request, whatever server read it: the ASGI app and the native one.

        ``scope`` is the request head in the ASGI shape (``method``, ``path``,
        ``headers``...), ``receive`` yields its body then ``http.disconnect``;
        the answer goes through ``responder``. ``body`` is the whole body when
        the server already has it (``receive`` then only reports the
        disconnect). Never raises for what a client did.
        """
        try:
            try:
                await self._http(scope, receive, responder, body)
            except HttpError as exc:
                if not responder.started:
                    await responder.error(exc)
        except ClientGone:
            pass  # the client left (possibly while we answered its error): nobody to tell

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

    async def _http(
        self, scope: Scope, receive: Receive, responder: Responder, body: bytes | None
    ) -> None:
        opts = self.options
        path = scope.get("path", "")
        root = scope.get("root_path", "")
        if root and path.startswith(root):
            path = path[len(root) :] or "/"
        if self._prm_path is not None and path in (self._prm_path, self._prm_path + "/"):
            assert opts.auth is not None
            await responder.full(200, orjson.dumps(opts.auth.metadata()))
            return
        at_endpoint = opts.path is not None and path.rstrip("/") == opts.path.rstrip("/")
        if opts.routes and not at_endpoint and (route := opts.routes.get(path)) is not None:
            return await opts.routes.serve(route, scope, receive, responder, opts, body)
        if opts.path is not None and path.rstrip("/") != opts.path.rstrip("/"):
            raise HttpError(404, "Not Found")
        check_unique(scope)  # before anything reads one: no "first one wins"
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
            self._quotas.check_request(token.subject if token is not None else None)
            await self._post(scope, receive, responder, token, body)
        elif method == "GET" and opts.legacy:
            await self._legacy.get(scope, receive, responder, token)
        elif method == "DELETE" and opts.legacy:
            await self._legacy.delete(scope, responder, token)
        else:
            allow = b"POST, GET, DELETE" if opts.legacy else b"POST"
            raise HttpError(405, "Method Not Allowed", headers=[(b"allow", allow)])

    async def _post(
        self,
        scope: Scope,
        receive: Receive,
        responder: Responder,
        token: AccessToken | None,
        body: bytes | None,
    ) -> None:
        ctype = header(scope, b"content-type") or ""
        if ctype.split(";")[0].strip().lower() != "application/json":
            raise HttpError(415, "Unsupported Media Type: expected application/json")
        body = await read_body(
            receive, scope, self.options.max_body_size, self.options.body_timeout, body
        )
        try:
            msg = decode(body)
        except ParseError as exc:
            raise HttpError(400, "Parse error", exc.code, data=exc.data) from None
        named = era_of(msg)
        http = _http_info(scope, token)
        if not self.options.legacy or choose_era(scope, named) is Era.MODERN:
            if named is Era.MODERN:
                check_headers(scope, msg, self._tool_schema)  # they must mirror the body
            await self._modern.post(receive, responder, msg, token, http, self._nursery)
        elif named is Era.LEGACY and header(scope, b"mcp-session-id") is None:
            assert type(msg) is dict
            await self._legacy.initialize(responder, msg, token)
        else:
            await self._legacy.post(scope, receive, responder, msg, token, http)


def _http_info(scope: Scope, token: AccessToken | None) -> HttpRequestInfo:
    """The :class:`HttpRequestInfo` of one HTTP request (what ``ctx.http`` shows a handler)."""
    return HttpRequestInfo.of(
        scope.get("method", "POST"),
        scope.get("path", ""),
        scope.get("query_string", b""),
        scope.get("headers", ()),
        scope.get("client"),
        token,
    )


def choose_era(scope: Scope, named: Era | None) -> Era:
    """The era of one POST: ``named`` (what the body says, :func:`era_of`), else the headers'.

    The one place the headers decide: a body that names no era is legacy if
    it carries an ``Mcp-Session-Id``, modern if its ``MCP-Protocol-Version``
    names a version that is not legacy, and legacy otherwise (which then
    needs ``initialize`` or a session).
    """
    if named is not None:
        return named
    if header(scope, b"mcp-session-id") is not None:
        return Era.LEGACY
    version = header(scope, b"mcp-protocol-version")
    return Era.MODERN if version is not None and version not in LEGACY_VERSIONS else Era.LEGACY
