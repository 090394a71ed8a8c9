"""What a :class:`~trio_mcp.Server` wraps its requests in: middleware, tracing, visibility, the
log bridge, and the servers it mounts.

A mixin of :class:`~trio_mcp.Server`, as :mod:`._serving` is: the middleware
chain lives in the core, the enable/disable rules in the registry; these are
the user-facing methods over them, with :meth:`Policies.forward_logging`
(records logged during a request go to its client).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from ._client_log import ClientLogHandler
from ._core import ServerCore
from ._middleware import Middleware, MiddlewareFunction
from ._mount import Mount, check_prefix
from ._registry import Registry
from ._tracing import require_otel

if TYPE_CHECKING:
    from ._server import Server

__all__ = ["Policies"]


class Policies:
    """Middleware, visibility and the log bridge of :class:`~trio_mcp.Server` (a mixin)."""

    _core: ServerCore
    _registry: Registry
    _providers: Any
    _mounted_in: Any = None

    # ------------------------------------------------------------- composition

    def mount(self, server: Server, prefix: str | None = None) -> None:
        """Serve ``server``'s tools, resources, templates and prompts as part of this one.

        Live: nothing is copied, so what ``server`` registers or removes later
        shows at once, and its ``list_changed`` and ``resources/updated`` reach
        this server's clients. Names: tool and prompt ``forecast`` becomes
        ``weather_forecast`` (``prefix="weather"``), resource ``file:///a.csv``
        becomes ``weather+file:///a.csv``; ``prefix=None`` keeps the names
        (this server's own components win a clash). Requests for its
        components go through ``server``'s own middleware (inside this
        server's), visibility rules and scopes. Its lifespan and background
        tasks run while this server serves and end when it stops. Mounted
        while this server serves, ``server`` starts first (its lifespan, its
        background tasks); its components show, and clients hear
        ``list_changed``, once it has started. See docs/how-to/mount.md.

        Raises:
            ValueError: a prefix that would not make valid names and URIs, a
                server mounted in itself, or one already mounted somewhere.
        """
        check_prefix(prefix)
        above: Any = self
        while above is not None:
            if above is server:
                raise ValueError("a server cannot be mounted in itself (or in a server it mounts)")
            above = above._mounted_in
        if server._mounted_in is not None:
            raise ValueError(f"server {server.name!r} is already mounted")
        server._mounted_in = self
        mount = Mount(self._core, server, prefix)
        if self._providers is not None:  # serving: visible once its lifespan has started
            self._providers.add(mount)
        else:
            self._registry.add_provider(mount)

    # -------------------------------------------------------------- middleware

    def add_middleware(self, middleware: Middleware | MiddlewareFunction) -> None:
        """Add a middleware, inside those added before (the first added is outermost).

        ``middleware`` is an ``async def mw(ctx, call_next)`` around every
        request, or a :class:`~trio_mcp.middleware.Middleware` with hooks per
        family (``on_call_tool``, ``on_read_resource``, ``on_list_tools``...).
        It runs in the request's task and cancel scope; see
        docs/how-to/middleware.md.

        Raises:
            TypeError: ``middleware`` is neither a Middleware nor a callable.
        """
        if isinstance(middleware, Middleware):
            middleware.attach(self)  # type: ignore[arg-type]
        elif not callable(middleware):
            raise TypeError(f"middleware must be a Middleware or a callable, not {middleware!r}")
        self._core.add_middleware(middleware)

    @property
    def middleware(self) -> list[Middleware | MiddlewareFunction]:
        """The server's middleware, outermost first (a copy)."""
        return list(self._core.middleware)

    # ----------------------------------------------------------------- tracing

    def enable_tracing(self, tracer_provider: Any = None) -> None:
        """Trace every request with OpenTelemetry (the ``otel`` extra) from the next ``running()``.

        Spans go to ``tracer_provider``, or to the global one when it is
        ``None``. Without this call the ``tracing`` setting decides (``auto``:
        on when the application set a global tracer provider); the setting
        ``off`` (``TRIO_MCP_TRACING=off``) wins over this call. See
        docs/how-to/tracing.md.

        Raises:
            RuntimeError: OpenTelemetry is not installed.
        """
        require_otel()
        self._core.trace_with = tracer_provider if tracer_provider is not None else True

    # -------------------------------------------------------------- visibility

    def enable(self, *, names: Iterable[str] = (), tags: Iterable[str] = ()) -> None:
        """Enable tools, resources and prompts by name (or URI) and by tag.

        A name enabled here wins over a disabled tag. Clients hear
        ``list_changed`` for every list that changed.
        """
        self._registry.enable(names, tags)

    def disable(self, *, names: Iterable[str] = (), tags: Iterable[str] = ()) -> None:
        """Disable tools, resources and prompts by name (or URI) and by tag.

        A disabled component is not listed and is answered as unknown; the
        rules also apply to components registered later. Clients hear
        ``list_changed`` for every list that changed.
        """
        self._registry.disable(names, tags)

    # ----------------------------------------------------------- log bridge

    def forward_logging(
        self, logger: logging.Logger | str | None = None, level: int = logging.DEBUG
    ) -> logging.Handler:
        """Send records of the standard ``logging`` module to the client.

        Records emitted while a request is being handled go to that request's
        client as ``notifications/message`` (subject to the client's level).
        Returns the installed handler (remove it with ``logger.removeHandler``).
        """
        target = logger if isinstance(logger, logging.Logger) else logging.getLogger(logger)
        handler = ClientLogHandler(level)
        target.addHandler(handler)
        self._core.bridged = True  # every request now carries a Context the bridge can find
        return handler
