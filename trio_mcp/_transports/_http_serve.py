"""Serving the HTTP transport on Hypercorn's Trio worker, with signals for :meth:`Server.run`."""

from __future__ import annotations

import logging
import signal
import threading
from functools import partial
from typing import Any

import trio

from ._http import HttpTransport

__all__ = ["run_http", "serve_http"]

log = logging.getLogger("trio_mcp")
_SIGHUP = getattr(signal, "SIGHUP", signal.SIGTERM)  # drains like SIGTERM (issue 13)


async def serve_http(
    transport: HttpTransport,
    host: str = "127.0.0.1",
    port: int = 8000,
    *,
    config: Any = None,
    task_status: trio.TaskStatus[HttpTransport] = trio.TASK_STATUS_IGNORED,
) -> None:
    """Serve ``transport`` with Hypercorn's Trio worker until :meth:`HttpTransport.stop`.

    Nursery start protocol: ``await nursery.start(serve_http, transport, ...)``
    returns once the socket listens; ``transport.urls`` then names it (with
    the real port when ``port=0``).

    Args:
        config: A ``hypercorn.config.Config`` to start from (``bind`` and
            ``graceful_timeout`` are set here).
    """
    try:
        from hypercorn.config import Config
        from hypercorn.trio import serve
    except ImportError as exc:  # pragma: no cover - depends on the install
        raise RuntimeError(
            "the HTTP transport needs Hypercorn: pip install 'trio_mcp[http]'"
        ) from exc
    cfg = config if config is not None else Config()
    cfg.bind = [f"[{host}]:{port}" if ":" in host else f"{host}:{port}"]
    cfg.graceful_timeout = transport.grace + 2.0
    if config is None:
        cfg.accesslog = None
        cfg.errorlog = logging.getLogger("hypercorn.error")
    if transport.options.auth is not None:
        transport.options.auth.serving([host])  # StaticTokens warns off loopback
    async with transport.running(), trio.open_nursery() as nursery:
        urls: list[str] = await nursery.start(
            partial(serve, transport, cfg, shutdown_trigger=transport.wait_stopped)  # type: ignore[arg-type]
        )
        transport.urls = [u + (transport.options.path or "") for u in urls]
        log.info("trio_mcp: serving MCP over HTTP at %s", ", ".join(transport.urls))
        task_status.started(transport)


async def run_http(transport: HttpTransport, host: str, port: int) -> None:
    """:func:`serve_http` with signals: SIGINT/SIGTERM/SIGHUP drain; a second one cancels."""
    async with trio.open_nursery() as nursery:
        if threading.current_thread() is threading.main_thread():
            nursery.start_soon(_watch_signals, transport, nursery.cancel_scope)
        await serve_http(transport, host, port)
        nursery.cancel_scope.cancel()


async def _watch_signals(transport: HttpTransport, scope: trio.CancelScope) -> None:
    with trio.open_signal_receiver(signal.SIGTERM, signal.SIGINT, _SIGHUP) as signals:
        async for signum in signals:
            if not transport._stop.is_set():
                log.info("trio_mcp: %s received; draining", signal.Signals(signum).name)
                transport.stop()
            else:
                log.warning("trio_mcp: second signal; cancelling now")
                scope.cancel()
