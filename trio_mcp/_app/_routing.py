"""``@server.route("/healthz")``: custom HTTP routes beside the MCP endpoint (a mixin of Server).

The routes themselves (matching, the guards, the request and response types)
live in the transport, :mod:`trio_mcp._transports._routes`; this is the
decorator over them. See docs/how-to/http.md, "Custom routes".
"""

from __future__ import annotations

from collections.abc import Callable, Collection
from typing import TypeVar

from .._transports._routes import Handler, Routes

__all__ = ["Routing"]

H = TypeVar("H", bound=Handler)


class Routing:
    """The custom HTTP routes of :class:`~trio_mcp.Server` (a mixin)."""

    _http_routes: Routes | None = None

    @property
    def routes(self) -> Routes:
        """This server's custom routes (what :meth:`asgi_app` and ``serve_http`` serve)."""
        if self._http_routes is None:
            self._http_routes = Routes()
        return self._http_routes

    def route(
        self, path: str, *, methods: Collection[str] = ("GET",), auth: bool = False
    ) -> Callable[[H], H]:
        """Serve ``async def handler(request: HttpRequest) -> HttpResponse`` at ``path``.

        Over HTTP only (both servers: the native one and :meth:`asgi_app`), at
        exactly ``path``, beside the MCP endpoint. The ``Host``/``Origin``
        guards apply as to the endpoint; the bearer token only with
        ``auth=True`` (then ``request.token`` is the verified token). A
        request with another method is answered 405 with ``Allow``.

        Raises:
            ValueError: ``path`` does not start with ``/``, or has a route already.
        """

        def register(handler: H) -> H:
            self.routes.add(path, handler, methods, auth)
            return handler

        return register
