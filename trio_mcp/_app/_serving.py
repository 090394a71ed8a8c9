"""How a :class:`~trio_mcp.Server` runs: its services, and every way to serve it.

``Server`` inherits these methods; they are apart so that the path from
``server.run()`` to a served connection reads in one place:

* :meth:`Serving.running` — the server's own nursery: lifespan, background
  tasks, the TTL cache sweeper, the asyncio loop when a tool needs one;
* :meth:`Serving.serve` / :meth:`Serving.serve_streams` / :meth:`Serving.serve_stdio`
  — one connection, nursery start protocol;
* :meth:`Serving.asgi_app` / :meth:`Serving.serve_http` — Streamable HTTP;
* :meth:`Serving.run` — the blocking entry point of a server process.
"""

from __future__ import annotations

import logging
import signal
import ssl
import threading
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from functools import partial
from typing import TYPE_CHECKING, Any, TypeVar, overload

import trio

from .._runtime import Connection, serve_connection
from ._asyncio import asyncio_loop
from ._core import ServerCore
from ._dispatch import Dispatcher
from ._logsink import divert_stdout, start_sinks, stderr_logging
from ._process import report_abandoned_threads, tune_gc
from ._providers import Providers, running_providers
from ._settings import Settings, unknown_env
from ._tracing import start_tracing

if TYPE_CHECKING:
    from .._transports import HttpTransport

__all__ = ["Serving"]

log = logging.getLogger("trio_mcp")

B = TypeVar("B", bound=Callable[..., Awaitable[Any]])

#: Each begins a graceful shutdown; a second one cancels at once. SIGHUP (the
#: terminal or the parent went away) drains like SIGTERM instead of killing.
DRAIN_SIGNALS: tuple[int, ...] = (signal.SIGTERM, signal.SIGINT) + (
    (signal.SIGHUP,) if hasattr(signal, "SIGHUP") else ()
)


class Serving:
    """The running half of :class:`~trio_mcp.Server` (a mixin; see the module docstring)."""

    settings: Settings
    max_in_flight: int
    grace: float
    max_message_size: int
    _core: ServerCore
    _dispatcher: Dispatcher
    _lifespan: Callable[[Any], AbstractAsyncContextManager[Any]] | None
    _background: list[Callable[..., Awaitable[Any]]]
    _running: int
    _providers: Providers | None = None

    @overload
    def background(self, fn: B, /) -> B: ...

    @overload
    def background(self, fn: None = None, /) -> Callable[[B], B]: ...

    def background(self, fn: B | None = None, /) -> B | Callable[[B], B]:
        """Run ``fn()`` in the server's nursery while it serves; cancelled at shutdown.

        Usable as a decorator, ``@server.background`` or ``@server.background()``.
        ``fn`` may accept ``task_status`` (nursery start protocol); serving
        begins once it called ``task_status.started()``.
        """

        def register(f: B) -> B:
            self._background.append(f)
            return f

        return register(fn) if fn is not None else register

    async def _connection(
        self,
        receive: trio.abc.ReceiveStream,
        send: trio.abc.SendStream,
        *,
        task_status: trio.TaskStatus[Connection] = trio.TASK_STATUS_IGNORED,
    ) -> None:
        """One connection with this server's settings (the caller is inside ``running()``)."""
        await serve_connection(
            self._dispatcher,
            receive,
            send,
            max_in_flight=self.max_in_flight,
            grace=self.grace,
            max_line=self.max_message_size,
            task_status=task_status,
        )

    @asynccontextmanager
    async def running(self) -> AsyncIterator[None]:
        """Run the server's lifespan and background tasks for the duration of the block.

        Its nursery also supervises task runs (``@server.tool(task=...)``) and
        the writer of stderr logging set up by :meth:`run`; leaving the block
        cancels them.

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
        core = self._core
        core.set_tracing(start_tracing(self.settings.tracing, core.trace_with))
        memory = core.tasks
        if self.settings.redis_url is not None:
            from ._redis_tasks import RedisTaskStore

            core.use_tasks(
                RedisTaskStore(
                    self.settings.redis_url,
                    memory.ttl,
                    memory.poll_interval,
                    lease=self.settings.task_lease,
                )
            )
        try:
            lifespan = self._lifespan(self) if self._lifespan is not None else _no_lifespan()
            async with asyncio_loop(core.registry.needs_asyncio), lifespan as state:
                core.state = state
                # Mounted, proxied servers: started first, stopped after our own tasks.
                async with running_providers(core.registry) as providers:
                    self._providers = providers
                    try:
                        async with trio.open_nursery() as nursery:
                            await start_sinks(nursery)  # stderr logging: queued, by a task
                            await nursery.start(core.cache.run)
                            await nursery.start(core.tasks.serve)
                            for fn in self._background:
                                await nursery.start(_start_background, fn)
                            core.services = nursery
                            try:
                                yield
                            finally:
                                core.services = None
                                nursery.cancel_scope.cancel()  # task runs too: none outlives us
                    finally:
                        self._providers = None
        finally:
            self._running = 0
            core.state = None
            core.set_tracing(None)
            core.use_tasks(memory)

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
                await self._connection(stream, stream, task_status=task_status)
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

        With ``handle_signals`` (main thread only), SIGTERM, SIGINT and SIGHUP
        begin a graceful shutdown; a second signal cancels at once.
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
        stdout (a stray ``print``) goes to stderr (through the logging queue
        when :meth:`run` set it up, so that it cannot block the server either).
        """
        from .._transports import stdio_streams

        async with stdio_streams() as (receive, send), divert_stdout():
            await self.serve_streams(
                receive, send, handle_signals=handle_signals, task_status=task_status
            )

    def asgi_app(self, **options: Any) -> HttpTransport:
        """This server's Streamable HTTP endpoint as an ASGI application (both eras).

        Keyword arguments are :class:`~trio_mcp.HttpOptions` fields (``path``,
        ``allowed_hosts``, ``allowed_origins``, ``auth``, ``event_store``,
        ``max_body_size``, ``session_idle_timeout``...). Mount it in any ASGI
        app; its lifespan (or ``async with app.running():``) runs the server's.
        """
        from .._transports import HttpOptions, HttpTransport

        options.setdefault("max_body_size", self.max_message_size)
        options.setdefault("allowed_origins", self.settings.http_allowed_origins)
        options.setdefault("path", self.settings.http_path)
        options.setdefault("routes", self.routes)  # type: ignore[attr-defined]  # Routing
        options.setdefault("redis_url", self.settings.redis_url)
        options.setdefault("worker_lease", self.settings.task_lease)
        options.setdefault("json_response", self.settings.http_json_response)

        def tool_schema(name: str) -> dict[str, Any] | None:
            tool = self._core.registry.tool(name)
            return tool.input_schema if tool is not None else None

        transport = HttpTransport(
            self._dispatcher,
            HttpOptions(**options),
            running=self.running,
            grace=self.grace,
            max_in_flight=self.max_in_flight,
            tool_schema=tool_schema,
        )
        if transport.options.redis_url is not None:
            self._core.hub.fanout = transport.fanout  # every worker's sessions hear of changes
        return transport

    async def serve_http(
        self,
        host: str | None = None,
        port: int | None = None,
        *,
        path: str | None = None,
        http_server: str | None = None,
        ssl_context: ssl.SSLContext | None = None,
        task_status: trio.TaskStatus[HttpTransport] = trio.TASK_STATUS_IGNORED,
        **options: Any,
    ) -> None:
        """Serve Streamable HTTP on ``host:port`` until ``transport.stop()``.

        Nursery start protocol: ``transport = await nursery.start(server.serve_http,
        "127.0.0.1", 0)``; ``transport.urls`` then names the endpoint. Other
        keyword arguments are as for :meth:`asgi_app`. ``None`` takes the setting
        (``http_host``, ``http_port``, ``http_path``, ``http_server``: 127.0.0.1,
        8000, ``/mcp``, ``"native"``). ``http_server="native"`` is trio_mcp's own
        HTTP/1.1 server (httptools, no ASGI in between); ``"hypercorn"`` serves
        :meth:`asgi_app` on Hypercorn (HTTP/2, or a deployment that wants it).
        ``ssl_context`` (native server) serves HTTPS.
        """
        from .._transports import serve_http

        s = self.settings
        host = s.http_host if host is None else host
        app = self.asgi_app(path=path or s.http_path, **_http_host_defaults(host, options))
        port = s.http_port if port is None else port
        await serve_http(
            app,
            host,
            port,
            http_server=http_server or s.http_server,
            ssl_context=ssl_context,
            task_status=task_status,
        )

    def run(
        self,
        transport: str = "stdio",
        *,
        host: str | None = None,
        port: int | None = None,
        path: str | None = None,
        workers: int | None = None,
        http_server: str | None = None,
        ssl_context: ssl.SSLContext | None = None,
        **options: Any,
    ) -> None:
        """Serve until stdin EOF (stdio), SIGTERM, SIGHUP or Ctrl+C, then drain and return.

        ``transport="http"`` serves Streamable HTTP on ``host:port`` at ``path``
        (bound to 127.0.0.1 unless told otherwise); ``options`` are as for
        :meth:`asgi_app`. ``http_server`` is ``"native"`` (the default) or
        ``"hypercorn"`` (see :meth:`serve_http`); ``ssl_context`` serves HTTPS
        (native server). ``workers=N`` (native only)
        forks N processes sharing the port (``SO_REUSEPORT``), supervised by
        this one, which forwards SIGTERM / Ctrl+C to them and waits within the
        grace; a worker that dies is restarted. Modern-era requests are
        stateless and scale across workers; a legacy session lives in one
        worker, so legacy clients need affinity (route by ``Mcp-Session-Id``),
        unless ``redis_url`` (``TRIO_MCP_REDIS_URL``) shares the sessions.

        Configures logging to stderr if the program has not; either way,
        stderr logging goes through a bounded queue while serving, so that a
        parent that does not read stderr cannot block the server (records that
        do not fit are dropped and counted).
        """
        if transport not in ("stdio", "http"):
            raise ValueError(f"unknown transport {transport!r}; expected 'stdio' or 'http'")
        subject = options.get("auth") is not None  # name the caller on each line
        with stderr_logging(logging.INFO, subject=subject):  # never blocking the Trio thread
            for message in unknown_env():
                log.warning(message)
            if transport == "http":
                self._run_http(host, port, path, workers, http_server, ssl_context, options)
                return
            tune_gc()
            trio.run(self.serve_stdio)
            report_abandoned_threads()

    def _run_http(
        self,
        host: str | None,
        port: int | None,
        path: str | None,
        workers: int | None,
        http_server: str | None,
        ssl_context: ssl.SSLContext | None,
        options: dict[str, Any],
    ) -> None:
        from .._transports import run_http

        s = self.settings
        host = s.http_host if host is None else host
        port = s.http_port if port is None else port
        kind = http_server or s.http_server
        n = s.http_workers if workers is None else workers
        app = self.asgi_app(path=path or s.http_path, **_http_host_defaults(host, options))
        tune_gc()
        if n <= 1:
            trio.run(partial(run_http, app, host, port, http_server=kind, ssl_context=ssl_context))
            return
        if kind != "native":
            raise ValueError("workers > 1 needs the native HTTP server (http_server='native')")
        from .._transports._native import run_workers

        def worker(real_port: int) -> int:
            run = partial(run_http, reuse_port=True, ssl_context=ssl_context)
            trio.run(partial(run, app, host, real_port, signals=_WORKER_SIGNALS))
            return 0

        code = run_workers(n, host, port, worker, grace=self.grace)
        if code:
            raise SystemExit(code)


#: A worker drains on the SIGTERM its supervisor forwards (it ignores SIGINT and SIGHUP,
#: which reach the whole process group: the supervisor forwards those too).
_WORKER_SIGNALS: tuple[int, ...] = (signal.SIGTERM,)


def _http_host_defaults(host: str, options: dict[str, Any]) -> dict[str, Any]:
    """Bound to a non-loopback address, accept any ``Host`` unless told otherwise."""
    if host not in ("127.0.0.1", "localhost", "::1") and "allowed_hosts" not in options:
        options = dict(options, allowed_hosts=("*",))
    return options


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
    server: Serving,
    receive: trio.abc.ReceiveStream,
    send: trio.abc.SendStream,
    scope: trio.CancelScope,
    *,
    task_status: trio.TaskStatus[Connection] = trio.TASK_STATUS_IGNORED,
) -> None:
    try:
        await server._connection(receive, send, task_status=task_status)
    finally:
        scope.cancel()  # the connection is over: stop the signal watcher too


async def _watch_signals(
    conn: Connection,
    scope: trio.CancelScope,
    *,
    task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED,
) -> None:
    with trio.open_signal_receiver(*DRAIN_SIGNALS) as signals:
        task_status.started()
        async for signum in signals:
            if signum in DRAIN_SIGNALS:
                if not conn._stopping:
                    log.info("trio_mcp: %s received; draining", signal.Signals(signum).name)
                    conn.stop()
                else:
                    log.warning("trio_mcp: second signal; cancelling now")
                    scope.cancel()
