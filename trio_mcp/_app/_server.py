"""The user API: :class:`Server`, its decorators, and its ways to run."""

from __future__ import annotations

import base64
import logging
import signal
import sys
import threading
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import Any, TypeVar, overload

import trio

from .._errors import InvalidParams, McpError, MethodNotFound
from .._protocol import Era, IncomingRequest, ServerInfo, ServerSession
from .._runtime import Connection, Peer, serve_connection
from .._wire import DEFAULT_MAX_LINE
from ._cache import TTLCache
from ._context import Context
from ._tools import Tool, ToolArgumentsError, make_tool, to_call_result

__all__ = ["Server"]

log = logging.getLogger("trio_mcp")

F = TypeVar("F", bound=Callable[..., Any])
Lifespan = Callable[["Server"], AbstractAsyncContextManager[Any]]
Handler = Callable[[IncomingRequest, Peer], Awaitable[dict[str, Any]]]

# Versions whose tool results carry structuredContent; earlier ones do not.
_NO_STRUCTURED = frozenset({"2024-11-05", "2025-03-26"})
# Versions where invalid tool arguments are a protocol error (-32602); from
# 2025-11-25 they are a tool execution error (isError), SEP-1303.
_ARGS_AS_PROTOCOL_ERROR = frozenset({"2024-11-05", "2025-03-26", "2025-06-18"})


class Server:
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
    ) -> None:
        if max_in_flight < 1:
            raise ValueError("max_in_flight must be at least 1")
        self.name = name
        self.version = version
        self.timeout = timeout
        self.max_in_flight = max_in_flight
        self.grace = grace
        self.max_message_size = max_message_size
        self.page_size = page_size
        self.cache: TTLCache[Any, Any] = TTLCache()
        self.state: Any = None
        self._lifespan = lifespan
        self._background: list[Callable[..., Awaitable[Any]]] = []
        self._tools: dict[str, Tool] = {}
        self._handlers: dict[str, Handler] = {
            "tools/list": self._tools_list,
            "tools/call": self._tools_call,
        }
        self._info = ServerInfo(
            name,
            version,
            title=title,
            instructions=instructions,
            capabilities={"tools": {"listChanged": True}},
            methods=frozenset(self._handlers),
        )
        self._running = 0
        self._services_scope: trio.CancelScope | None = None

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
    ) -> F | Callable[[F], F]:
        """Register a function as a tool. Use as ``@server.tool()`` or ``@server.tool``.

        The input schema comes from the signature; the docstring is the
        description. ``async def`` tools run on the Trio loop; plain ``def``
        tools run in a worker thread so they never block it.

        Args:
            name: Tool name (default: the function's name).
            timeout: This tool's deadline in seconds (default: the server's).
            annotations: Tool annotations, e.g. ``{"readOnlyHint": True}``.

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
                )
            )
            return f

        return register(fn) if fn is not None else register

    def add_tool(self, tool: Tool) -> None:
        """Register a prepared :class:`Tool` (replacing one of the same name)."""
        self._tools[tool.name] = tool

    def remove_tool(self, name: str) -> None:
        """Unregister a tool. Raises ``KeyError`` if there is none by that name."""
        del self._tools[name]

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
        if request.method == "tools/call":
            tool = self._tools.get(request.params.get("name"))  # type: ignore[arg-type]
            if tool is not None and tool.timeout is not None:
                return tool.timeout
        return self.timeout

    def timeout_result(self, request: IncomingRequest, seconds: float) -> dict[str, Any] | None:
        if request.method == "tools/call":
            text = f"Tool {request.params.get('name')!s} timed out after {seconds:g}s"
            return {"content": [{"type": "text", "text": text}], "isError": True}
        return None

    async def handle(self, request: IncomingRequest, conn: Peer) -> dict[str, Any]:
        handler = self._handlers.get(request.method)
        if handler is None:
            raise MethodNotFound(f"Method not found: {request.method}")
        return await handler(request, conn)

    async def notified(self, method: str, params: dict[str, Any], conn: Peer) -> None:
        log.debug("trio_mcp: notification %s ignored", method)

    # ------------------------------------------------------------------ tools

    async def _tools_list(self, request: IncomingRequest, conn: Peer) -> dict[str, Any]:
        tools = [t.definition() for t in self._tools.values()]
        page, next_cursor = self._paginate(tools, request.params.get("cursor"))
        result: dict[str, Any] = {"tools": page}
        if next_cursor is not None:
            result["nextCursor"] = next_cursor
        return result

    async def _tools_call(self, request: IncomingRequest, conn: Peer) -> dict[str, Any]:
        params = request.params
        name = params.get("name")
        if type(name) is not str:
            raise InvalidParams('Invalid params: "name" must be a string')
        tool = self._tools.get(name)
        if tool is None:
            raise InvalidParams(f"Unknown tool: {name}")
        arguments = params.get("arguments")
        if arguments is None:
            arguments = {}
        elif type(arguments) is not dict:
            raise InvalidParams('Invalid params: "arguments" must be an object')
        ctx = Context(request, conn, self) if tool._context_param is not None else None
        try:
            kwargs = tool.bind(arguments, ctx)
        except ToolArgumentsError as exc:
            if request.era is Era.LEGACY and request.version in _ARGS_AS_PROTOCOL_ERROR:
                raise InvalidParams(str(exc), {"errors": exc.lines}) from None
            return _error_result(str(exc))
        try:
            value = await tool.invoke(kwargs)
        except McpError:
            raise
        except Exception as exc:
            log.exception("trio_mcp: tool %r raised", name)
            return _error_result(f"Error executing tool {name}: {exc}")
        finally:
            if ctx is not None:
                ctx._finish()
        structured_ok = request.era is Era.MODERN or request.version not in _NO_STRUCTURED
        return to_call_result(tool, value, structured_ok=structured_ok)

    def _paginate(self, items: list[Any], cursor: Any) -> tuple[list[Any], str | None]:
        start = 0
        if cursor is not None:
            start = _decode_cursor(cursor, len(items))
        size = self.page_size
        if size is None:
            return items[start:], None
        end = start + size
        return items[start:end], (_encode_cursor(end) if end < len(items) else None)

    # ---------------------------------------------------------------- running

    @asynccontextmanager
    async def running(self) -> AsyncIterator[None]:
        """Run the server's lifespan and background tasks for the duration of the block.

        ``serve`` enters it for you; enter it yourself to share one lifespan
        between several connections (e.g. a TCP listener). Re-entrant.
        """
        if self._running:
            self._running += 1
            try:
                yield
            finally:
                self._running -= 1
            return
        self._running = 1
        try:
            lifespan = self._lifespan(self) if self._lifespan is not None else _no_lifespan()
            async with lifespan as state:
                self.state = state
                async with trio.open_nursery() as nursery:
                    await nursery.start(self.cache.run)
                    for fn in self._background:
                        await nursery.start(_start_background, fn)
                    try:
                        yield
                    finally:
                        nursery.cancel_scope.cancel()
        finally:
            self._running = 0
            self.state = None

    async def serve(
        self,
        stream: trio.abc.Stream,
        *,
        task_status: trio.TaskStatus[Connection] = trio.TASK_STATUS_IGNORED,
    ) -> None:
        """Serve one MCP connection over ``stream`` until EOF or ``conn.stop()``.

        Follows the nursery start protocol: ``conn = await nursery.start(server.serve,
        stream)`` returns once the server is ready, with the :class:`Connection`.
        The stream belongs to ``serve`` from then on: it is closed on return.
        """
        try:
            async with self.running():
                await serve_connection(
                    self,
                    stream,
                    stream,
                    max_in_flight=self.max_in_flight,
                    grace=self.grace,
                    max_line=self.max_message_size,
                    task_status=task_status,
                )
        finally:
            with trio.CancelScope(shield=True):
                await stream.aclose()

    async def serve_streams(
        self,
        receive: trio.abc.ReceiveStream,
        send: trio.abc.SendStream,
        *,
        handle_signals: bool = False,
        task_status: trio.TaskStatus[Connection] = trio.TASK_STATUS_IGNORED,
    ) -> None:
        """Like :meth:`serve`, over separate receive and send streams.

        With ``handle_signals`` (main thread only), SIGTERM and SIGINT begin a
        graceful shutdown; a second signal cancels at once.
        """
        async with self.running(), trio.open_nursery() as nursery:
            conn: Connection = await nursery.start(
                _serve_then_cancel,
                self,
                receive,
                send,
                nursery.cancel_scope,
            )
            if handle_signals and threading.current_thread() is threading.main_thread():
                await nursery.start(_watch_signals, conn, nursery.cancel_scope)
            task_status.started(conn)

    async def serve_stdio(
        self,
        *,
        handle_signals: bool = True,
        task_status: trio.TaskStatus[Connection] = trio.TASK_STATUS_IGNORED,
    ) -> None:
        """Serve over this process's stdin and stdout until EOF or a signal.

        While serving, fd 1 belongs to the protocol: anything else written to
        stdout (a stray ``print``) goes to stderr.
        """
        from .._transports import stdio_streams

        async with stdio_streams() as (receive, send):
            await self.serve_streams(
                receive, send, handle_signals=handle_signals, task_status=task_status
            )

    def run(self, transport: str = "stdio") -> None:
        """Serve until stdin EOF, SIGTERM or Ctrl+C, then drain and return.

        Configures logging to stderr if the program has not configured logging.
        """
        if transport != "stdio":
            raise ValueError(f"unknown transport {transport!r}; expected 'stdio'")
        if not logging.getLogger().handlers:
            logging.basicConfig(
                stream=sys.stderr,
                level=logging.INFO,
                format="%(asctime)s %(levelname)s %(name)s: %(message)s",
            )
        trio.run(self.serve_stdio)


def _error_result(text: str) -> dict[str, Any]:
    return {"content": [{"type": "text", "text": text}], "isError": True}


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


@asynccontextmanager
async def _no_lifespan() -> AsyncIterator[None]:
    yield None


async def _start_background(
    fn: Callable[..., Awaitable[Any]],
    *,
    task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED,
) -> None:
    import inspect

    if "task_status" in inspect.signature(fn).parameters:
        async with trio.open_nursery() as nursery:
            await nursery.start(fn)
            task_status.started()
        return
    task_status.started()
    await fn()


async def _serve_then_cancel(
    server: Server,
    receive: trio.abc.ReceiveStream,
    send: trio.abc.SendStream,
    scope: trio.CancelScope,
    *,
    task_status: trio.TaskStatus[Connection] = trio.TASK_STATUS_IGNORED,
) -> None:
    try:
        await serve_connection(
            server,
            receive,
            send,
            max_in_flight=server.max_in_flight,
            grace=server.grace,
            max_line=server.max_message_size,
            task_status=task_status,
        )
    finally:
        scope.cancel()  # the connection is over: stop the signal watcher too


async def _watch_signals(
    conn: Connection,
    scope: trio.CancelScope,
    *,
    task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED,
) -> None:
    with trio.open_signal_receiver(signal.SIGTERM, signal.SIGINT) as signals:
        task_status.started()
        async for signum in signals:
            if signum == signal.SIGINT or signum == signal.SIGTERM:
                if not conn._stopping:
                    log.info("trio_mcp: %s received; draining", signal.Signals(signum).name)
                    conn.stop()
                else:
                    log.warning("trio_mcp: second signal; cancelling now")
                    scope.cancel()
