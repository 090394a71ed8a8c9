"""The native HTTP/1.1 server: listeners, connections, graceful shutdown.

:func:`serve_native` serves an :class:`~.._http.HttpTransport` straight from
Trio sockets: one task per listening socket accepts (all the connections
waiting, each time it wakes: :func:`accept_all`), each connection gets a
:class:`~._connection.Connection` (its own nursery) and each request its own
task, which calls :meth:`HttpTransport.handle` with the request head, its
body and a :class:`~._wire.NativeResponder`. No ASGI server is in between, so
everything the transport does (guards, eras, sessions, the status table) is
the same as under Hypercorn.

Shutdown (:meth:`HttpTransport.stop`): stop accepting (the listeners close);
close idle keep-alive connections, and every other one after its current
response (``connection: close``); drain the transport (new requests 503,
handlers get the grace, the rest cancelled, legacy streams ended); give the
connections 2 more seconds to finish writing; cancel what is left.
"""

from __future__ import annotations

import errno
import logging
import socket
import ssl
from typing import Any

import attrs
import trio

from .._http import HttpTransport
from ._connection import Connection

__all__ = ["NativeServer", "ServerLimits", "bind_sockets", "serve_native"]

log = logging.getLogger("trio_mcp")


@attrs.frozen(kw_only=True)
class ServerLimits:
    """Limits of the native HTTP/1.1 server (the body's are :class:`HttpOptions`').

    Args:
        max_request_line: Longest request target, in bytes (414 beyond).
        max_header_size: All header names and values of a request, in bytes (431 beyond).
        max_headers: Header fields of a request (431 beyond).
        header_timeout: Seconds a client has to send a request head once begun (408 after).
        keep_alive_timeout: Seconds an idle keep-alive connection is kept open.
        max_pipelined: Requests read ahead of the one being answered; beyond
            that the server stops reading the connection until one is answered.
        backlog: The listening sockets' accept queue.
    """

    max_request_line: int = 8192
    max_header_size: int = 16384
    max_headers: int = 100
    header_timeout: float = 10.0
    keep_alive_timeout: float = 5.0
    max_pipelined: int = 16
    backlog: int = 1024


class NativeServer:
    """The connections of one :func:`serve_native` (see the module docstring)."""

    def __init__(
        self, transport: HttpTransport, limits: ServerLimits, scheme: str = "http"
    ) -> None:
        self.transport = transport
        self.limits = limits
        self.scheme = scheme
        self.max_body_size = transport.options.max_body_size
        self.write_timeout = transport.options.write_timeout
        self.draining = False
        self.connections: set[Connection] = set()
        self._none_left = trio.Event()

    async def connection(self, stream: trio.abc.Stream) -> None:
        """Serve one accepted connection (:func:`accept_all` starts it)."""
        sock = stream.transport_stream.socket if isinstance(stream, trio.SSLStream) else None
        sock = sock or getattr(stream, "socket", None)
        client = local = None
        if sock is not None:
            if sock.family in (socket.AF_INET, socket.AF_INET6):
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            client, local = _address(sock.getpeername), _address(sock.getsockname)
        conn = Connection(self, stream, self.scheme, client, local)
        if self.draining:
            await trio.aclose_forcefully(stream)
            return
        self.connections.add(conn)
        try:
            await conn.serve()
        except Exception:
            log.exception("trio_mcp: an HTTP connection failed")
        finally:
            self.connections.discard(conn)
            self._check_none_left()

    def drain(self) -> None:
        """No more keep-alive: close idle connections now, the others after their response."""
        self.draining = True
        for conn in list(self.connections):
            if conn.idle:
                conn.close()
        self._check_none_left()

    def _check_none_left(self) -> None:
        if self.draining and not self.connections:
            self._none_left.set()

    async def wait_closed(self, seconds: float) -> None:
        """Wait up to ``seconds`` for every connection to end (once draining)."""
        with trio.move_on_after(seconds):
            await self._none_left.wait()


def _address(get: Any) -> tuple[str, int] | None:
    try:
        addr = get()
    except OSError:
        return None
    return (str(addr[0]), int(addr[1])) if isinstance(addr, tuple) else None


def bind_sockets(
    host: str, port: int, *, reuse_port: bool = False, backlog: int | None = 1024
) -> list[socket.socket]:
    """Bound sockets for ``host:port`` (every address it names); listening unless ``backlog=None``.

    ``port=0`` picks a free port (the same for every address). ``reuse_port``
    sets ``SO_REUSEPORT``: several processes then listen on the same port and
    the kernel spreads connections among them (``workers=N``).

    Raises:
        OSError: the address is in use, not available, or not allowed.
    """
    infos = socket.getaddrinfo(host or None, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    socks: list[socket.socket] = []
    seen: set[Any] = set()
    try:
        for family, kind, proto, _, addr in infos:
            if addr in seen:
                continue
            seen.add(addr)
            sock = socket.socket(family, kind, proto)
            socks.append(sock)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            if reuse_port:
                if not hasattr(socket, "SO_REUSEPORT"):  # pragma: no cover - not Linux/BSD
                    raise OSError(errno.ENOPROTOOPT, "SO_REUSEPORT is not available")
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
            if family == socket.AF_INET6:
                sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
            if port == 0 and len(socks) > 1:
                addr = (addr[0], socks[0].getsockname()[1], *addr[2:])
            sock.bind(addr)
            if backlog is not None:
                sock.listen(backlog)
    except BaseException:
        for sock in socks:
            sock.close()
        raise
    return socks


async def serve_native(
    transport: HttpTransport,
    host: str = "127.0.0.1",
    port: int = 8000,
    *,
    limits: ServerLimits | None = None,
    ssl_context: ssl.SSLContext | None = None,
    reuse_port: bool = False,
    task_status: trio.TaskStatus[HttpTransport] = trio.TASK_STATUS_IGNORED,
) -> None:
    """Serve ``transport`` on the native HTTP/1.1 server until :meth:`HttpTransport.stop`.

    Nursery start protocol: ``await nursery.start(serve_native, transport,
    ...)`` returns once the sockets listen; ``transport.urls`` then names them
    (with the real port when ``port=0``). See the module docstring for the
    shutdown. Cancelling the call stops at once (connections dropped).

    Args:
        limits: The server's own limits (default :class:`ServerLimits`).
        ssl_context: Serve HTTPS (``trio.SSLStream``) with this server context.
        reuse_port: ``SO_REUSEPORT`` (several worker processes on one port).
    """
    limits = limits or ServerLimits()
    socks = bind_sockets(host, port, reuse_port=reuse_port, backlog=limits.backlog)
    scheme = "https" if ssl_context is not None else "http"
    server = NativeServer(transport, limits, scheme)
    try:
        async with transport.running(), trio.open_nursery() as connections:
            async with trio.open_nursery() as accepting:
                for sock in socks:
                    accepting.start_soon(accept_all, sock, server, connections, ssl_context)
                transport.urls = [_url(scheme, s) + (transport.options.path or "") for s in socks]
                log.info("trio_mcp: serving MCP over HTTP at %s", ", ".join(transport.urls))
                task_status.started(transport)
                await transport._stop.wait()
                accepting.cancel_scope.cancel()
            for sock in socks:  # no task waits on them any more
                trio.lowlevel.notify_closing(sock)
                sock.close()
            # not shielded: a second signal (run_http cancels) ends the drain at once
            server.drain()
            await transport.shutdown()
            server.drain()  # those that became idle meanwhile
            await server.wait_closed(2.0)
            connections.cancel_scope.cancel()
    finally:
        for sock in socks:
            sock.close()


#: ``accept()`` errors that mean the process is out of a resource: wait, then go on
#: (as ``trio.serve_listeners`` does); any other error is one connection's (gone).
_CAPACITY = frozenset({errno.EMFILE, errno.ENFILE, errno.ENOMEM, errno.ENOBUFS})
#: Connections accepted in one go before the other tasks get a turn.
_BURST = 128


async def accept_all(
    sock: socket.socket,
    server: NativeServer,
    nursery: trio.Nursery,
    ssl_context: ssl.SSLContext | None = None,
) -> None:
    """Accept the connections of listening ``sock`` into ``nursery``, until cancelled.

    Each wake-up takes every connection waiting (up to :data:`_BURST`), not
    one per scheduling round as ``trio.serve_listeners`` does: under load a
    round is long, and a burst of new connections (a load balancer's pool
    opening, a client reconnecting) would wait one round each, their first
    requests with them.
    """
    sock.setblocking(False)
    while True:
        await trio.lowlevel.wait_readable(sock)
        for _ in range(_BURST):
            try:
                raw, _ = sock.accept()
            except BlockingIOError:
                break
            except OSError as exc:
                if exc.errno in _CAPACITY:
                    log.error("trio_mcp: cannot accept a connection (%s): retrying in 0.1 s", exc)
                    await trio.sleep(0.1)
                break
            stream: trio.abc.Stream = trio.SocketStream(trio.socket.from_stdlib_socket(raw))
            if ssl_context is not None:
                stream = trio.SSLStream(
                    stream, ssl_context, server_side=True, https_compatible=True
                )
            nursery.start_soon(server.connection, stream)
        await trio.lowlevel.checkpoint()


def _url(scheme: str, sock: socket.socket) -> str:
    host, port = sock.getsockname()[:2]
    if ":" in host:
        host = f"[{host}]"
    return f"{scheme}://{host}:{port}"
