"""Custom HTTP routes beside the MCP endpoint (``@server.route("/healthz")``).

Small on purpose: a route is an exact path, the methods it answers and one
``async def handler(request) -> HttpResponse``. The :class:`HttpRequest` is what a
handler of a health check, a webhook or a metrics page needs (method, path,
query, headers, body, the client, the verified token) and the
:class:`HttpResponse` what it answers (status, headers, body; ``HttpResponse.json``).
No path parameters, no streaming, no framework: an application that needs
those mounts :meth:`~trio_mcp.Server.asgi_app` in its ASGI framework of choice.

A route is served by both HTTP servers (the native one and the ASGI app),
before the MCP endpoint's own checks and after the ones that protect every
request: a header read twice is refused (400), ``Host``/``Origin`` are
checked (DNS rebinding, 421/403); the bearer token only for a route
registered with ``auth=True`` (401/403, fail-closed when the app has no
``auth``); the body is bounded like the endpoint's (413/408). A method the
route does not list is 405 with ``Allow``. A handler that raises is logged
and answered 500, and so is one whose response would break the framing (a
header value with CR or LF, its own ``Content-Length``, ``Transfer-Encoding``
or ``Connection``, a status outside 200..599). A handler runs in the HTTP
request's task, so the client leaving does not cancel it (it is short, or
bounds itself).
"""

from __future__ import annotations

import logging
import re
from collections.abc import Awaitable, Callable, Collection, Mapping
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl

import attrs
import orjson

from .._runtime import AccessToken
from ._asgi import HttpError, Receive, Responder, Scope, read_body
from ._http_headers import check_unique
from ._security import check_host_and_origin

if TYPE_CHECKING:
    from ._http_options import HttpOptions

__all__ = ["HttpRequest", "HttpResponse", "Route", "Routes"]

log = logging.getLogger("trio_mcp")


@attrs.frozen
class HttpRequest:
    """One HTTP request to a custom route (``@server.route``).

    Not :class:`~trio_mcp.HttpRequestInfo`, which is what an MCP handler sees of
    the HTTP request its message came in (``ctx.http``): this one has the body.

    Attributes:
        method: ``"GET"``, ``"POST"``...
        path: The path (without the ASGI ``root_path``).
        query: The query's parameters (the first value of a repeated one;
            ``query_string`` has them all).
        headers: Lowercase names; a repeated header's values joined with ``", "``.
        body: The whole body (bounded by the app's ``max_body_size``).
        client: ``(host, port)`` of the peer, when the server says.
        token: The verified bearer token (routes registered with ``auth=True``).
    """

    method: str
    path: str
    query: Mapping[str, str]
    headers: Mapping[str, str]
    body: bytes = b""
    query_string: str = ""
    client: tuple[str, int] | None = None
    token: AccessToken | None = None

    def json(self) -> Any:
        """The body as JSON.

        Raises:
            ValueError: the body is not JSON (``orjson.JSONDecodeError``).
        """
        return orjson.loads(self.body)


@attrs.frozen
class HttpResponse:
    """What a route handler answers. ``body`` as ``str`` is sent UTF-8 encoded."""

    status: int = 200
    body: bytes | str = b""
    headers: Mapping[str, str] = attrs.field(factory=dict)
    content_type: str | None = "text/plain; charset=utf-8"

    @classmethod
    def json(
        cls, value: Any, status: int = 200, headers: Mapping[str, str] | None = None
    ) -> HttpResponse:
        """``value`` serialized as JSON (``application/json``)."""
        return cls(status, orjson.dumps(value), dict(headers or {}), "application/json")


Handler = Callable[[HttpRequest], Awaitable[HttpResponse]]


@attrs.frozen
class Route:
    """``handler`` answers ``methods`` at ``path``; ``auth``: behind the bearer token."""

    path: str
    methods: frozenset[str]
    handler: Handler
    auth: bool = False


@attrs.define(eq=False)
class Routes:
    """A server's custom routes, by path (live: routes added later are served at once)."""

    by_path: dict[str, Route] = attrs.field(factory=dict)

    def add(
        self, path: str, handler: Handler, methods: Collection[str] = ("GET",), auth: bool = False
    ) -> Route:
        """Add a route.

        Raises:
            ValueError: ``path`` does not start with ``/``, names no method, or has a route.
        """
        if not isinstance(path, str) or not path.startswith("/"):
            raise ValueError(f"route path {path!r}: it must start with '/'")
        upper = frozenset(m.upper() for m in methods)
        if not upper:
            raise ValueError(f"route {path!r}: no methods")
        if path in self.by_path:
            raise ValueError(f"route {path!r} is already registered")
        route = self.by_path[path] = Route(path, upper, handler, auth)
        return route

    def __bool__(self) -> bool:
        return bool(self.by_path)

    def get(self, path: str) -> Route | None:
        return self.by_path.get(path)

    async def serve(
        self,
        route: Route,
        scope: Scope,
        receive: Receive,
        responder: Responder,
        opts: HttpOptions,
        body: bytes | None = None,
    ) -> None:
        """Answer one request to ``route`` (see the module docstring for the checks).

        ``body`` is the whole body when the server already read it (the native
        server does); otherwise it is read from ``receive``, within the limits.

        Raises:
            HttpError: a check refused it (the transport answers the error).
        """
        check_unique(scope)
        check_host_and_origin(scope, opts.allowed_hosts, opts.allowed_origins)
        method = str(scope.get("method", "GET")).upper()
        if method not in route.methods:
            allow = ", ".join(sorted(route.methods)).encode()
            raise HttpError(405, "Method Not Allowed", headers=[(b"allow", allow)])
        token: AccessToken | None = None
        if route.auth:
            if opts.auth is None:  # fail closed: asked for auth, and nothing to check with
                raise HttpError(401, "Unauthorized: this route needs auth and the app has none")
            token = await opts.auth.authenticate(scope)
        if body is None:
            body = await read_body(receive, scope, opts.max_body_size, opts.body_timeout)
        request = _request(scope, method, route.path, body, token)
        try:
            response = await route.handler(request)
            if not isinstance(response, HttpResponse):
                raise TypeError(f"expected a HttpResponse, got {type(response).__name__}")
            data = response.body.encode() if isinstance(response.body, str) else response.body
            headers = [_header(k, v) for k, v in response.headers.items()]
            ctype = (
                _header("content-type", response.content_type)[1] if response.content_type else None
            )
            if type(response.status) is not int or not 200 <= response.status <= 599:
                raise ValueError(f"status {response.status!r}: expected 200..599")
        except HttpError:
            raise
        except Exception:
            log.exception("trio_mcp: route %s %s raised", method, route.path)
            await responder.full(500, b"Internal Server Error", content_type=b"text/plain")
            return
        await responder.full(response.status, data, headers, ctype)


#: A header name (RFC 9110 ``token``), and a value with no CR, LF or NUL.
_NAME = re.compile(rb"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")
_VALUE = re.compile(rb"[^\r\n\x00]*")
#: The framing the server writes itself: a handler's own would contradict it.
_FRAMING = frozenset({b"content-length", b"transfer-encoding", b"connection"})


def _header(name: str, value: str) -> tuple[bytes, bytes]:
    """A handler's header as it goes on the wire.

    Raises:
        ValueError: a name that is not a token or is framing, a value with CR, LF
            or NUL (it would write a header line of its own), not Latin-1.
    """
    raw_name, raw_value = name.lower().encode("latin-1"), value.encode("latin-1")
    if not _NAME.fullmatch(raw_name) or raw_name in _FRAMING:
        raise ValueError(f"response header name {name!r} is not allowed")
    if not _VALUE.fullmatch(raw_value):
        raise ValueError(f"response header {name!r}: CR, LF or NUL in its value")
    return raw_name, raw_value


def _request(
    scope: Scope, method: str, path: str, body: bytes, token: AccessToken | None
) -> HttpRequest:
    headers: dict[str, str] = {}
    for name, value in scope.get("headers", ()):
        key = bytes(name).decode("latin-1").lower()
        text = bytes(value).decode("latin-1")
        headers[key] = f"{headers[key]}, {text}" if key in headers else text
    query_string = bytes(scope.get("query_string", b"")).decode("latin-1")
    query: dict[str, str] = {}
    for key, value in parse_qsl(query_string, keep_blank_values=True):
        query.setdefault(key, value)
    client = scope.get("client")
    peer = (str(client[0]), int(client[1])) if client else None
    return HttpRequest(method, path, query, headers, body, query_string, peer, token)
