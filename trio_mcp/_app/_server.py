"""The user API: :class:`Server`, its decorators, and its ways to run."""

from __future__ import annotations

import base64
import contextvars
import logging
import os
from collections.abc import Awaitable, Callable
from contextlib import AbstractAsyncContextManager
from typing import TYPE_CHECKING, Any, Literal, TypeVar, overload

from .._errors import InvalidParams, MethodNotFound
from .._protocol import IncomingRequest, ServerInfo, ServerSession
from .._runtime import Peer
from .._wire import DEFAULT_MAX_LINE
from ._cache import TTLCache
from ._context import Context
from ._functions import docstring
from ._hub import Hub
from ._methods import LEGACY_ONLY, METHODS, MODERN_ONLY, Completion, CompletionRequest, call_tool
from ._mrtr import RequestState
from ._prompts import Prompt, make_prompt
from ._resources import Resource, ResourceTemplate, _Handler
from ._serving import Serving
from ._settings import Settings
from ._tasks import TASK_CAPABILITIES, TaskStore, TaskSupport
from ._tools import Tool, make_tool

if TYPE_CHECKING:
    pass

__all__ = ["Server"]

log = logging.getLogger("trio_mcp")

F = TypeVar("F", bound=Callable[..., Any])
Lifespan = Callable[["Server"], AbstractAsyncContextManager[Any]]
Completer = Callable[[CompletionRequest], Awaitable["list[str] | Completion"]]

#: The Context of the request the current task is handling (for the logging bridge).
current_context: contextvars.ContextVar[Context | None] = contextvars.ContextVar(
    "trio_mcp_context", default=None
)


class Server(Serving):
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
        self.page_size = page_size
        self.cache: TTLCache[Any, Any] = TTLCache()
        self.state: Any = None
        self._lifespan = lifespan
        self._background: list[Callable[..., Awaitable[Any]]] = []
        self._tools: dict[str, Tool] = {}
        self._resources: dict[str, Resource] = {}
        self._templates: dict[str, ResourceTemplate] = {}
        self._prompts: dict[str, Prompt] = {}
        self._completer: Completer | None = None
        self._hub = Hub()
        self._bridged = False
        self._request_state = RequestState(state_secret or os.urandom(32))
        self._info = ServerInfo(
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
        self._tasks = TaskStore(task_ttl, task_poll_interval)
        self._tasks.on_change = self._task_changed
        self._running = 0
        self._services = None

    def configure(self, source: str = "configure()", **changes: Any) -> Settings:
        """Override settings (``None`` values are ignored); returns the new :class:`Settings`.

        The CLI calls this with its flags, which therefore take precedence over
        ``TRIO_MCP_*`` variables and ``Server(...)`` arguments.

        Raises:
            SettingsError: an unknown name or a bad value, named in the message.
        """
        self.settings = self.settings.replace(source, **changes)
        self._apply_settings()
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

        Raises:
            TypeError: a parameter's annotation has no JSON Schema.
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
                )
            )
            return f

        return register(fn) if fn is not None else register

    def add_tool(self, tool: Tool) -> None:
        """Register a prepared :class:`Tool` (replacing one of the same name).

        While serving, clients hear ``notifications/tools/list_changed``.
        """
        self._tools[tool.name] = tool
        self._sync_task_capabilities()
        self._hub.list_changed("tools")

    def remove_tool(self, name: str) -> None:
        """Unregister a tool. Raises ``KeyError`` if there is none by that name."""
        del self._tools[name]
        self._sync_task_capabilities()
        self._hub.list_changed("tools")

    def _sync_task_capabilities(self) -> None:
        """Advertise tasks (per era) exactly while some tool supports them."""
        tasks = any(t.task_support != "forbidden" for t in self._tools.values())
        self._info.extra_capabilities = TASK_CAPABILITIES if tasks else {}

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
    ) -> Callable[[F], F]:
        """Register a resource handler for ``uri``: fixed, or an RFC 6570 template.

        ``@server.resource("config://settings")`` is a static resource;
        ``@server.resource("users://{user_id}/profile")`` is a template whose
        variables are passed to the handler by name, converted to its annotated
        types. The handler returns ``str`` (text), ``bytes`` (blob), any
        JSON-able value (JSON text) or :class:`ResourceContents`. Raise
        ``FileNotFoundError`` or :class:`~trio_mcp.ResourceNotFound` for a missing one.
        """

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
            }
            if "{" in uri:
                self._templates[uri] = ResourceTemplate(uri, **common)  # type: ignore[arg-type]
            else:
                self._resources[uri] = Resource(uri, size=size, **common)  # type: ignore[arg-type]
            self._hub.list_changed("resources")
            return fn

        return register

    def remove_resource(self, uri: str) -> None:
        """Unregister a resource or template by its URI (template). Raises ``KeyError``."""
        if self._resources.pop(uri, None) is None:
            del self._templates[uri]
        self._hub.list_changed("resources")

    def prompt(
        self,
        *,
        name: str | None = None,
        title: str | None = None,
        description: str | None = None,
        icons: list[dict[str, Any]] | None = None,
        meta: dict[str, Any] | None = None,
    ) -> Callable[[F], F]:
        """Register a prompt. Arguments come from the signature (strings on the
        wire, converted to the annotated types); the function returns a ``str``,
        a :class:`~trio_mcp.Message`, content, or a list of them."""

        def register(fn: F) -> F:
            prompt = make_prompt(
                fn, name=name, title=title, description=description, icons=icons, meta=meta
            )
            self._prompts[prompt.name] = prompt
            self._hub.list_changed("prompts")
            return fn

        return register

    def remove_prompt(self, name: str) -> None:
        """Unregister a prompt. Raises ``KeyError``."""
        del self._prompts[name]
        self._hub.list_changed("prompts")

    def completer(self, fn: Completer) -> Completer:
        """Register the completion handler for prompt arguments and template variables.

        ``fn(request: CompletionRequest)`` returns a list of strings or a
        :class:`Completion`; at most 100 values are sent, with ``total`` and
        ``hasMore`` filled in.
        """
        self._completer = fn
        return fn

    def notify_resource_updated(self, uri: str) -> int:
        """Tell every client subscribed to ``uri`` that it changed, in either era.

        Legacy sessions subscribed with ``resources/subscribe``; modern clients
        through ``subscriptions/listen``. Returns how many were notified.
        """
        return self._hub.resource_updated(uri)

    def forward_logging(
        self, logger: logging.Logger | str | None = None, level: int = logging.DEBUG
    ) -> logging.Handler:
        """Send records of the standard ``logging`` module to the client.

        Records emitted while a request is being handled go to that request's
        client as ``notifications/message`` (subject to the client's level).
        Returns the installed handler (remove it with ``logger.removeHandler``).
        """
        target = logger if isinstance(logger, logging.Logger) else logging.getLogger(logger)
        handler = _ClientLogHandler(level)
        target.addHandler(handler)
        self._bridged = True  # every request now carries a Context the bridge can find
        return handler

    @property
    def tools(self) -> dict[str, Tool]:
        """The registered tools by name (a copy)."""
        return dict(self._tools)

    def background(self, fn: Callable[..., Awaitable[Any]]) -> Callable[..., Awaitable[Any]]:
        """Run ``fn()`` in the server's nursery while it serves; cancelled at shutdown.

        Usable as a decorator. ``fn`` may accept ``task_status`` (nursery start
        protocol); serving begins once it called ``task_status.started()``.
        """
        self._background.append(fn)
        return fn

    # ------------------------------------------------ the Application protocol

    def new_session(self) -> ServerSession:
        return ServerSession(self._info)

    def timeout_for(self, request: IncomingRequest) -> float | None:
        if request.method in ("subscriptions/listen", "tasks/result"):
            return None  # long-lived: ended by the client, the task's end, or shutdown
        if request.method == "tools/call":
            name = request.params.get("name")
            # Any JSON value may arrive here (a list is unhashable): only a str names a tool.
            tool = self._tools.get(name) if type(name) is str else None
            if tool is not None and tool.timeout is not None:
                return tool.timeout
        return self.timeout

    def timeout_result(self, request: IncomingRequest, seconds: float) -> dict[str, Any] | None:
        if request.method == "tools/call":
            text = f"Tool {request.params.get('name')!s} timed out after {seconds:g}s"
            return {"content": [{"type": "text", "text": text}], "isError": True}
        return None

    def handle(self, request: IncomingRequest, conn: Peer) -> Awaitable[dict[str, Any]]:
        if request.method == "tools/call" and not self._bridged:
            # The hot path: no Context unless the tool asks, and no frame of our own
            # (each coroutine frame costs every in-flight request ~0.5 KB).
            return call_tool(self, request, conn, None)
        return self._handle(request, conn)

    async def _handle(self, request: IncomingRequest, conn: Peer) -> dict[str, Any]:
        method = METHODS.get(request.method)
        if method is None:
            raise MethodNotFound(f"Method not found: {request.method}")
        ctx = Context(request, conn, self)
        token = current_context.set(ctx)
        try:
            return await method(self, request, conn, ctx)
        finally:
            ctx._finish()
            current_context.reset(token)

    async def notified(self, method: str, params: dict[str, Any], conn: Peer) -> None:
        log.debug("trio_mcp: notification %s ignored", method)

    def _task_changed(self, task: Any) -> None:
        """A modern task changed status: listen streams that follow it hear it."""
        from ._tasks import modern_task

        self._hub.task_changed(task.id, modern_task(task, detailed=True))

    def connected(self, peer: Peer) -> None:
        self._hub.peers.add(peer)

    def draining(self, peer: Peer) -> None:
        self._hub.close_listeners(peer)

    def disconnected(self, peer: Peer) -> None:
        self._hub.peers.discard(peer)
        self._hub.close_listeners(peer)
        if peer.session.legacy_version is not None:
            self._tasks.drop_owner(peer.session)  # nobody can reach its tasks any more

    def _page(self, key: str, items: list[Any], request: IncomingRequest) -> dict[str, Any]:
        page, next_cursor = self._paginate(items, request.params.get("cursor"))
        result: dict[str, Any] = {key: page}
        if next_cursor is not None:
            result["nextCursor"] = next_cursor
        return result

    def _paginate(self, items: list[Any], cursor: Any) -> tuple[list[Any], str | None]:
        start = 0
        if cursor is not None:
            start = _decode_cursor(cursor, len(items))
        size = self.page_size
        if size is None:
            return items[start:], None
        end = start + size
        return items[start:end], (_encode_cursor(end) if end < len(items) else None)


_LEVELS = {
    logging.DEBUG: "debug",
    logging.INFO: "info",
    logging.WARNING: "warning",
    logging.ERROR: "error",
    logging.CRITICAL: "critical",
}


class _ClientLogHandler(logging.Handler):
    """Forwards records emitted during a request to that request's client."""

    def emit(self, record: logging.LogRecord) -> None:
        ctx = current_context.get()
        if ctx is None:
            return
        level = _LEVELS.get(record.levelno) or (
            "debug" if record.levelno < logging.INFO else "info"
        )
        try:
            ctx.log_nowait(level, self.format(record), logger=record.name)
        except Exception:
            self.handleError(record)


def _encode_cursor(offset: int) -> str:
    return base64.urlsafe_b64encode(f"o:{offset}".encode()).decode()


def _decode_cursor(cursor: Any, total: int) -> int:
    try:
        raw = base64.urlsafe_b64decode(cursor.encode()).decode()
        kind, _, value = raw.partition(":")
        offset = int(value)
        if kind != "o" or not 0 <= offset <= total:
            raise ValueError
    except (AttributeError, ValueError, UnicodeError):
        raise InvalidParams(f"Invalid params: invalid cursor {cursor!r}") from None
    return offset
