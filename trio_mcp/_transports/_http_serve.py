"""Serving the HTTP transport: the native server (default) or Hypercorn; signals for :meth:`Server.run`.

``http_server="native"`` is trio_mcp's own HTTP/1.1 server (:mod:`._native`:
Trio sockets and httptools, no ASGI in between, ``workers=N`` with
``SO_REUSEPORT``). ``http_server="hypercorn"`` runs the same transport as an
ASGI app on Hypercorn's Trio worker (HTTP/2, or a deployment that wants it).
"""

from __future__ import annotations

import logging
import signal
import threading
from functools import partial
from typing import Any

import trio

from ._http import HttpTransport

__all__ = ["HTTP_SERVERS", "run_http", "serve_http"]

log = logging.getLogger("trio_mcp")
_SIGHUP = getattr(signal, "SIGHUP", signal.SIGTERM)  # drains like SIGTERM (issue 13)


HTTP_SERVERS = ("native", "hypercorn")


async def serve_http(
    transport: HttpTransport,
    host: str = "127.0.0.1",
    port: int = 8000,
    *,
    http_server: str = "native",
    config: Any = None,
    limits: Any = None,
    ssl_context: Any = None,
    reuse_port: bool = False,
    task_status: trio.TaskStatus[HttpTransport] = trio.TASK_STATUS_IGNORED,
) -> None:
    """Serve ``transport`` until :meth:`HttpTransport.stop`, on ``http_server``.

    Nursery start protocol: ``await nursery.start(serve_http, transport, ...)``
    returns once the socket listens; ``transport.urls`` then names it (with
    the real port when ``port=0``).

    Args:
        http_server: ``"native"`` (trio_mcp's HTTP/1.1 server) or ``"hypercorn"``.
        config: Hypercorn only: a ``hypercorn.config.Config`` to start from
            (``bind`` and ``graceful_timeout`` are set here).
        limits: Native only: a :class:`~._native.ServerLimits`.
        ssl_context: Native only: serve HTTPS with this ``ssl.SSLContext``.
        reuse_port: Native only: ``SO_REUSEPORT`` (several workers on one port).
    """
    if transport.options.auth is not None:
        transport.options.auth.serving([host])  # StaticTokens warns off loopback
    if http_server == "native":
        try:
            from ._native import serve_native
        except ImportError as exc:  # pragma: no cover - depends on the install
            raise RuntimeError(
                "the native HTTP server needs httptools (the 'http' extra): pip install httptools"
                " (or http_server='hypercorn')"
            ) from exc
        await serve_native(
            transport,
            host,
            port,
            limits=limits,
            ssl_context=ssl_context,
            reuse_port=reuse_port,
            task_status=task_status,
        )
        return
    if http_server != "hypercorn":
        raise ValueError(f"unknown http_server {http_server!r}; expected 'native' or 'hypercorn'")
    if ssl_context is not None:
        raise ValueError(
            "ssl_context is for the native server; give Hypercorn a config with certfile/keyfile"
        )
    try:
        from hypercorn.config import Config
        from hypercorn.trio import serve
    except ImportError as exc:  # pragma: no cover - depends on the install
        raise RuntimeError(
            "http_server='hypercorn' needs Hypercorn (the 'hypercorn' extra): pip install hypercorn"
        ) from exc
    cfg = config if config is not None else Config()
    cfg.bind = [f"[{host}]:{port}" if ":" in host else f"{host}:{port}"]
    cfg.graceful_timeout = transport.grace + 2.0
    if config is None:
        cfg.accesslog = None
        cfg.errorlog = logging.getLogger("hypercorn.error")
    async with transport.running(), trio.open_nursery() as nursery:
        urls: list[str] = await nursery.start(
            partial(serve, transport, cfg, shutdown_trigger=transport.wait_stopped)  # type: ignore[arg-type]
        )
        transport.urls = [u + (transport.options.path or "") for u in urls]
        log.info("trio_mcp: serving MCP over HTTP at %s", ", ".join(transport.urls))
        task_status.started(transport)


async def run_http(
    transport: HttpTransport,
    host: str,
    port: int,
    *,
    http_server: str = "native",
    reuse_port: bool = False,
    ssl_context: Any = None,
    signals: tuple[int, ...] = (signal.SIGTERM, signal.SIGINT, _SIGHUP),
) -> None:
    """:func:`serve_http` with signals: the first of ``signals`` drains; a second one cancels."""
    async with trio.open_nursery() as nursery:
        if threading.current_thread() is threading.main_thread():
            nursery.start_soon(_watch_signals, transport, nursery.cancel_scope, signals)
        await serve_http(
            transport,
            host,
            port,
            http_server=http_server,
            reuse_port=reuse_port,
            ssl_context=ssl_context,
        )
        nursery.cancel_scope.cancel()


async def _watch_signals(
    transport: HttpTransport, scope: trio.CancelScope, signums: tuple[int, ...]
) -> None:
    with trio.open_signal_receiver(*signums) as signals:
        async for signum in signals:
            if not transport._stop.is_set():
                log.info("trio_mcp: %s received; draining", signal.Signals(signum).name)
                transport.stop()
            else:
                log.warning("trio_mcp: second signal; cancelling now")
                scope.cancel()
