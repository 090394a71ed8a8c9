"""The user API: :class:`Server`, its decorators, and its ways to run."""

from __future__ import annotations

import logging
import os
from collections.abc import Awaitable, Callable, Iterable
from contextlib import AbstractAsyncContextManager
from typing import Any, Literal, TypeVar, overload

from .._protocol import ServerInfo
from .._wire import DEFAULT_MAX_LINE
from ._cache import TTLCache
from ._core import ServerCore
from ._dispatch import Dispatcher
from ._functions import docstring
from ._methods import LEGACY_ONLY, METHODS, MODERN_ONLY
from ._middleware import Middleware, MiddlewareFunction
from ._mrtr import RequestState
from ._policies import Policies
from ._prompts import make_prompt
from ._registry import Completer, Registry
from ._resources import Resource, ResourceTemplate, _Handler
from ._routing import Routing
from ._serving import Serving
from ._settings import Settings
from ._task_store import MemoryTaskStore
from ._tasks import TaskSupport
from ._tools import Tool, make_tool

__all__ = ["Server"]

log = logging.getLogger("trio_mcp")

F = TypeVar("F", bound=Callable[..., Any])
C = TypeVar("C", bound=Completer)
Lifespan = Callable[["Server"], AbstractAsyncContextManager[Any]]


class Server(Serving, Policies, Routing):
    """An MCP server: tools (and, as they are registered, more) served over any stream.

    Args:
        name: The server's name, sent as ``serverInfo.name``.
        version: The server's version.
        title: A human-readable display name.
        instructions: Guidance for the model, sent at ``initialize``/``server/discover``.
        timeout: Default per-request deadline in seconds (``None``: no deadline).
            Override per tool with ``@server.tool(timeout=...)``.
        max_in_flight: Requests handled at once per connection; beyond it, reading pauses.
        grace: Seconds in-flight requests get to finish at shutdown before being cancelled.
        max_message_size: Longest accepted message, in bytes.
        lifespan: ``lifespan(server)`` returning an async context manager, entered
            before serving; what it yields is ``server.state`` / ``ctx.state``.
        page_size: Items per page of list results (``None``: no pagination).
        state_secret: Key that signs modern-era ``requestState`` (MRTR). Default:
            random per process; set it when several workers serve one endpoint.
        cache_ttl_ms: ``ttlMs`` hint on modern discover and list results.
        task_ttl: Seconds a task (``@server.tool(task=...)``) and its result are
            kept from creation (``None``: until the server stops); a legacy
            client's requested ``ttl`` is honoured up to it. A task still
            running when it expires is cancelled.
        task_poll_interval: The poll interval suggested to task clients, in seconds.
        middleware: Middleware around every request, outermost first (see
            :meth:`add_middleware`).
    """

    def __init__(
        self,
        name: str,
        version: str = "0.1.0",
        *,
        title: str | None = None,
        instructions: str | None = None,
        timeout: float | None = 60.0,
        max_in_flight: int = 1024,
        grace: float = 2.0,
        max_message_size: int = DEFAULT_MAX_LINE,
        lifespan: Lifespan | None = None,
        page_size: int | None = None,
        state_secret: bytes | None = None,
        cache_ttl_ms: int = 0,
        task_ttl: float | None = 3600.0,
        task_poll_interval: float = 1.0,
        middleware: Iterable[Middleware | MiddlewareFunction] = (),
    ) -> None:
        self.name = name
        self.version = version
        self.settings = (
            Settings()
            .replace(
                "Server()",
                timeout=timeout,
                max_in_flight=max_in_flight,
                grace=grace,
                max_message_size=max_message_size,
            )
            .with_env()
        )
        self._apply_settings()
        self._lifespan = lifespan
        self._background: list[Callable[..., Awaitable[Any]]] = []
        self._running = 0
        self._registry = Registry(page_size)
        info = ServerInfo(
            name,
            version,
            title=title,
            instructions=instructions,
            capabilities={
                "tools": {"listChanged": True},
                "resources": {"subscribe": True, "listChanged": True},
                "prompts": {"listChanged": True},
                "logging": {},
                "completions": {},
            },
            methods=frozenset(METHODS),
            legacy_only=LEGACY_ONLY,
            modern_only=MODERN_ONLY,
            ttl_ms=cache_ttl_ms,
        )
        self._core = ServerCore(
            self,
            info,
            self._registry,
            MemoryTaskStore(task_ttl, task_poll_interval),
            RequestState(state_secret or os.urandom(32)),
            self.timeout,
        )
        self._dispatcher = Dispatcher(self._core)
        for mw in middleware:
            self.add_middleware(mw)

    @property
    def cache(self) -> TTLCache[Any, Any]:
        """The server's shared TTL cache (its sweeper runs while the server serves)."""
        return self._core.cache

    @property
    def state(self) -> Any:
        """What the lifespan yielded, while the server runs (``None`` otherwise)."""
        return self._core.state

    @property
    def page_size(self) -> int | None:
        """Items per page of list results (``None``: no pagination)."""
        return self._registry.page_size

    @page_size.setter
    def page_size(self, size: int | None) -> None:
        self._registry.page_size = size

    def configure(self, source: str = "configure()", **changes: Any) -> Settings:
        """Override settings (``None`` values are ignored); returns the new :class:`Settings`.

        The CLI calls this with its flags, which therefore take precedence over
        ``TRIO_MCP_*`` variables and ``Server(...)`` arguments.

        Raises:
            SettingsError: an unknown name or a bad value, named in the message.
        """
        self.settings = self.settings.replace(source, **changes)
        self._apply_settings()
        self._core.timeout = self.timeout
        return self.settings

    def _apply_settings(self) -> None:
        s = self.settings
        self.timeout: float | None = s.timeout
        self.max_in_flight: int = s.max_in_flight
        self.grace: float = s.grace
        self.max_message_size: int = s.max_message_size

    # ------------------------------------------------------------ registration

    @overload
    def tool(self, fn: F, /) -> F: ...

    @overload
    def tool(
        self,
        fn: None = None,
        /,
        *,
        name: str | None = None,
        title: str | None = None,
        description: str | None = None,
        timeout: float | None = None,
        annotations: dict[str, Any] | None = None,
        icons: list[dict[str, Any]] | None = None,
        meta: dict[str, Any] | None = None,
        asyncio: bool = False,
        task: TaskSupport = "forbidden",
        task_start: Literal["immediate", "explicit"] = "immediate",
        tags: Iterable[str] = (),
        scopes: Iterable[str] = (),
        replace: bool = False,
    ) -> Callable[[F], F]: ...

    def tool(
        self,
        fn: F | None = None,
        /,
        *,
        name: str | None = None,
        title: str | None = None,
        description: str | None = None,
        timeout: float | None = None,
        annotations: dict[str, Any] | None = None,
        icons: list[dict[str, Any]] | None = None,
        meta: dict[str, Any] | None = None,
        asyncio: bool = False,
        task: TaskSupport = "forbidden",
        task_start: Literal["immediate", "explicit"] = "immediate",
        tags: Iterable[str] = (),
        scopes: Iterable[str] = (),
        replace: bool = False,
    ) -> F | Callable[[F], F]:
        """Register a function as a tool. Use as ``@server.tool()`` or ``@server.tool``.

        The input schema comes from the signature; the docstring is the
        description. ``async def`` tools run on the Trio loop; plain ``def``
        tools run in a worker thread so they never block it.

        Args:
            name: Tool name (default: the function's name).
            timeout: This tool's deadline in seconds (default: the server's).
            annotations: Tool annotations, e.g. ``{"readOnlyHint": True}``.
            asyncio: The function is an asyncio coroutine function (aiohttp,
                asyncpg...): run it on an asyncio loop through trio-asyncio.
            task: May a call run as a task (``tools/call`` answered at once with a
                handle, the result fetched later)? ``"forbidden"`` (default),
                ``"optional"`` or ``"required"``. Legacy (2025-11-25): the client
                opts in with ``params.task``. Modern (the tasks extension): every
                call from a client declaring the extension becomes a task;
                ``"required"`` without it is ``-32021``. See docs/architecture.md.
            task_start: ``"immediate"`` (default): the task exists before the
                handler starts. ``"explicit"``: the handler runs on behalf of the
                request, resolving input synchronously, until it calls
                ``await ctx.start_task()``.
            tags: Labels for ``server.enable(tags=...)`` / ``server.disable(tags=...)``.
            scopes: Bearer-token scopes a caller over HTTP needs to see and call
                it (else not listed, and refused with ``InsufficientScope``).
            replace: Replace a tool already registered under this name.

        Raises:
            TypeError: a parameter's annotation has no JSON Schema.
            ValueError: a tool of this name is registered and ``replace`` is false.
        """

        def register(f: F) -> F:
            self.add_tool(
                make_tool(
                    f,
                    name=name,
                    title=title,
                    description=description,
                    timeout=timeout,
                    annotations=annotations,
                    icons=icons,
                    meta=meta,
                    asyncio=asyncio,
                    task=task,
                    task_start=task_start,
                    tags=tags,
                    scopes=scopes,
                ),
                replace=replace,
            )
            return f

        return register(fn) if fn is not None else register

    def add_tool(self, tool: Tool, *, replace: bool = False) -> None:
        """Register a prepared :class:`Tool`.

        While serving, clients hear ``notifications/tools/list_changed``.

        Raises:
            ValueError: a tool of that name is registered and ``replace`` is false.
        """
        self._registry.add_tool(tool, replace=replace)

    def remove_tool(self, name: str) -> None:
        """Unregister a tool. Raises ``KeyError`` if there is none by that name."""
        self._registry.remove_tool(name)

    def resource(
        self,
        uri: str,
        *,
        name: str | None = None,
        title: str | None = None,
        description: str | None = None,
        mime_type: str | None = None,
        size: int | None = None,
        annotations: dict[str, Any] | None = None,
        icons: list[dict[str, Any]] | None = None,
        meta: dict[str, Any] | None = None,
        tags: Iterable[str] = (),
        scopes: Iterable[str] = (),
        replace: bool = False,
    ) -> Callable[[F], F]:
        """Register a resource handler for ``uri``: fixed, or an RFC 6570 template.

        ``@server.resource("config://settings")`` is a static resource;
        ``@server.resource("users://{user_id}/profile")`` is a template whose
        variables are passed to the handler by name, converted to its annotated
        types. The handler returns ``str`` (text), ``bytes`` (blob), any
        JSON-able value (JSON text) or :class:`ResourceContents`. Raise
        ``FileNotFoundError`` or :class:`~trio_mcp.ResourceNotFound` for a missing one.

        Raises:
            TypeError: no URI was given (``@server.resource`` used bare).
            ValueError: a resource (template) is registered at ``uri`` and
                ``replace`` is false.
        """
        if not isinstance(uri, str):
            raise TypeError(
                "server.resource needs the resource's URI: @server.resource('scheme://...')"
            )

        def register(fn: F) -> F:
            handler = _Handler.of(fn)
            doc = description if description is not None else docstring(fn)
            common = {
                "name": name or fn.__name__,
                "handler": handler,
                "title": title,
                "description": doc,
                "mime_type": mime_type,
                "annotations": annotations,
                "icons": icons,
                "meta": meta,
                "tags": tags,
                "scopes": scopes,
            }
            if "{" in uri:
                item: Resource | ResourceTemplate = ResourceTemplate(uri, **common)  # type: ignore[arg-type]
            else:
                item = Resource(uri, size=size, **common)  # type: ignore[arg-type]
            self._registry.add_resource(item, replace=replace)
            return fn

        return register

    def remove_resource(self, uri: str) -> None:
        """Unregister a resource or template by its URI (template). Raises ``KeyError``."""
        self._registry.remove_resource(uri)

    @overload
    def prompt(self, fn: F, /) -> F: ...

    @overload
    def prompt(
        self,
        fn: None = None,
        /,
        *,
        name: str | None = None,
        title: str | None = None,
        description: str | None = None,
        icons: list[dict[str, Any]] | None = None,
        meta: dict[str, Any] | None = None,
        tags: Iterable[str] = (),
        scopes: Iterable[str] = (),
        replace: bool = False,
    ) -> Callable[[F], F]: ...

    def prompt(
        self,
        fn: F | None = None,
        /,
        *,
        name: str | None = None,
        title: str | None = None,
        description: str | None = None,
        icons: list[dict[str, Any]] | None = None,
        meta: dict[str, Any] | None = None,
        tags: Iterable[str] = (),
        scopes: Iterable[str] = (),
        replace: bool = False,
    ) -> F | Callable[[F], F]:
        """Register a prompt. Use as ``@server.prompt()`` or ``@server.prompt``.

        Arguments come from the signature (strings on the wire, converted to the
        annotated types); the function returns a ``str``, a
        :class:`~trio_mcp.Message`, content, or a list of them.

        Raises:
            ValueError: a prompt of this name is registered and ``replace`` is false.
        """

        def register(f: F) -> F:
            prompt = make_prompt(
                f,
                name=name,
                title=title,
                description=description,
                icons=icons,
                meta=meta,
                tags=tags,
                scopes=scopes,
            )
            self._registry.add_prompt(prompt, replace=replace)
            return f

        return register(fn) if fn is not None else register

    def remove_prompt(self, name: str) -> None:
        """Unregister a prompt. Raises ``KeyError``."""
        self._registry.remove_prompt(name)

    @overload
    def completer(self, fn: C, /) -> C: ...

    @overload
    def completer(self, fn: None = None, /) -> Callable[[C], C]: ...

    def completer(self, fn: C | None = None, /) -> C | Callable[[C], C]:
        """Register the completion handler for prompt arguments and template variables.

        Use as ``@server.completer`` or ``@server.completer()``.
        ``fn(request: CompletionRequest)`` returns a list of strings or a
        :class:`Completion`; at most 100 values are sent, with ``total`` and
        ``hasMore`` filled in. A later registration replaces the handler.
        """

        def register(f: C) -> C:
            self._registry.completer = f
            return f

        return register(fn) if fn is not None else register

    def notify_resource_updated(self, uri: str) -> int:
        """Tell every client subscribed to ``uri`` that it changed, in either era.

        Legacy sessions subscribed with ``resources/subscribe``; modern clients
        through ``subscriptions/listen``. Returns how many were notified.
        """
        return self._core.resource_updated(uri)

    @property
    def tools(self) -> dict[str, Tool]:
        """The registered tools by name (a copy)."""
        return dict(self._registry.tools)
