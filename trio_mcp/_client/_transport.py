"""How the client reaches a server: the :class:`Transport` interface and the line transports.

A transport moves JSON-RPC messages; it knows nothing of MCP methods. The
session (``_session.py``) gives it a :class:`Sink` to deliver what arrives.

* :class:`ByteStream`: newline-delimited JSON over any ``trio.abc.Stream``;
* :class:`InMemory`: a :class:`~trio_mcp.Server` served in this process over
  memory streams (the server is only duck-typed: ``await nursery.start(server.serve, stream)``,
  so this module never imports the server);
* ``Subprocess`` (``_process.py``) and ``StreamableHttp`` (``_http.py``).

The contract of :meth:`Transport.run`: it is started in the client's nursery
(``await nursery.start(transport.run, sink)``), reports ``started`` once
messages can be sent, delivers every message it reads to ``sink.receive``, and
returns when the connection is over, having told the sink why with
``sink.fail(...)``. Only start-up failures are raised (before ``started``).
"""

from __future__ import annotations

import abc
from typing import Any, Protocol

import attrs
import trio

from .._errors import ParseError
from .._wire import Id, LineBuffer, OversizedLine, decode, encode_line
from ._errors import ClientError, ConnectionClosed, ServerMisbehaved

__all__ = ["ByteStream", "InMemory", "LineTransport", "Sink", "Transport", "read_lines", "snippet"]

#: The longest line accepted from a server (a 5 MB tool result must fit).
MAX_LINE = 256 * 1024 * 1024


class Sink(Protocol):
    """Where a transport delivers what it reads (implemented by the session)."""

    failure: ClientError | None

    async def receive(self, value: Any) -> None:
        """One decoded JSON document from the server (a message, or a batch)."""

    def fail(self, exc: ClientError) -> None:
        """The connection is over (or unusable) for the reason ``exc``."""

    def request_failed(self, rid: Id, exc: ClientError) -> None:
        """Request ``rid`` cannot be answered (HTTP: its POST failed), the rest go on."""


def snippet(data: bytes | str, limit: int = 200) -> str:
    """``data`` as a short printable quote for an error message."""
    text = data.decode("utf-8", "replace") if isinstance(data, bytes | bytearray) else data
    text = text.strip()
    return repr(text if len(text) <= limit else text[:limit] + "...")


class Transport(abc.ABC):
    """A connection to one server. Subclasses implement :meth:`run` and :meth:`send`."""

    #: "stdio", "http", "memory" or "stream": what this transport is (for messages and rules).
    kind: str = "stream"

    @abc.abstractmethod
    async def run(
        self, sink: Sink, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED
    ) -> None:
        """Connect, report started, read until the connection ends (see the module docstring)."""

    @abc.abstractmethod
    async def send(self, message: dict[str, Any]) -> None:
        """Send one message.

        Raises:
            ConnectionClosed: the connection is gone.
        """

    async def cancel(self, rid: Id, reason: str) -> None:
        """The caller gave up on request ``rid``: tell the server (``notifications/cancelled``)."""
        await self.send(
            {
                "jsonrpc": "2.0",
                "method": "notifications/cancelled",
                "params": {"requestId": rid, "reason": reason},
            }
        )

    def negotiated(self, version: str, modern: bool) -> None:  # noqa: B027 - optional hook
        """The handshake chose ``version`` (HTTP needs it for headers and the session)."""

    def unresponsive(self) -> None:  # noqa: B027 - optional hook
        """The server never answered the handshake: the close need not wait for it politely."""

    @abc.abstractmethod
    async def aclose(self) -> None:
        """Begin a graceful close (EOF, DELETE); :meth:`run` returns when it is done."""

    def describe(self) -> str:
        """Who the server is, for error messages."""
        return "the server"


async def read_lines(stream: trio.abc.ReceiveStream, sink: Sink, who: str) -> bool:
    """Deliver each newline-delimited JSON document read from ``stream`` to ``sink``.

    Blank lines are skipped. A line that is not JSON fails the sink with
    :class:`ServerMisbehaved` quoting it.

    Returns:
        True at end of stream; False when the sink failed (the caller stops reading).
    """
    buffer = LineBuffer(MAX_LINE)
    while True:
        try:
            data = await stream.receive_some(65536)
        except (trio.BrokenResourceError, trio.ClosedResourceError):
            return True
        if not data:
            return True
        for line in buffer.feed(bytes(data)):
            if isinstance(line, OversizedLine):
                sink.fail(ServerMisbehaved(f"{who} sent a line longer than {line.limit} bytes"))
                return False
            if not line.strip():
                continue
            try:
                value = decode(line)
            except ParseError:
                sink.fail(
                    ServerMisbehaved(
                        f"{who} printed something that is not JSON on stdout: {snippet(line)}"
                        " (an MCP server over stdio may write only JSON-RPC messages there;"
                        " logs go to stderr)",
                        snippet(line),
                    )
                )
                return False
            await sink.receive(value)
            if sink.failure is not None:
                return False


@attrs.define(eq=False)
class LineTransport(Transport):
    """Newline-delimited JSON over a send stream (the part every line transport shares)."""

    _send_stream: trio.abc.SendStream | None = attrs.field(default=None, init=False)
    _send_lock: trio.StrictFIFOLock = attrs.field(factory=trio.StrictFIFOLock, init=False)

    async def send(self, message: dict[str, Any]) -> None:
        await self.send_raw(encode_line(message))

    async def send_raw(self, data: bytes) -> None:
        """Write bytes as they are (tests use it to send malformed lines)."""
        if self._send_stream is None:
            raise ConnectionClosed(f"{self.describe()} is not connected")
        try:
            async with self._send_lock:
                await self._send_stream.send_all(data)
        except (trio.BrokenResourceError, trio.ClosedResourceError) as exc:
            raise ConnectionClosed(f"{self.describe()} closed the connection") from exc

    async def _send_eof(self) -> None:
        stream, self._send_stream = self._send_stream, None
        if stream is None:
            return
        async with self._send_lock:
            if isinstance(stream, trio.abc.HalfCloseableStream):
                await stream.send_eof()
            else:
                await stream.aclose()


@attrs.define(eq=False)
class ByteStream(LineTransport):
    """An MCP server at the other end of any ``trio.abc.Stream`` (NDJSON framing).

    The stream belongs to the client from then on: it is closed when the client closes.
    """

    stream: trio.abc.Stream = attrs.field(kw_only=False)
    kind = "stream"

    async def run(
        self, sink: Sink, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED
    ) -> None:
        self._send_stream = self.stream
        try:
            task_status.started()
            if await read_lines(self.stream, sink, self.describe()):
                sink.fail(ConnectionClosed(f"{self.describe()} closed the connection"))
        finally:
            with trio.CancelScope(shield=True):
                await self.stream.aclose()

    async def aclose(self) -> None:
        try:
            await self._send_eof()
        except (trio.BrokenResourceError, trio.ClosedResourceError):
            pass


@attrs.define(eq=False)
class InMemory(LineTransport):
    """A server in this process, over memory streams: no subprocess, no sockets.

    ``server`` is anything with ``serve(stream, *, task_status)`` (a
    :class:`~trio_mcp.Server`). Its :class:`~trio_mcp.Connection` is
    :attr:`connection` once connected. Works under ``trio.testing.MockClock``.
    """

    server: Any = attrs.field(kw_only=False)
    connection: Any = attrs.field(default=None, init=False)
    kind = "memory"

    async def run(
        self, sink: Sink, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED
    ) -> None:
        import trio.testing  # here: trio.testing imports pytest's helpers when present

        client_stream, server_stream = trio.testing.memory_stream_pair()
        async with trio.open_nursery() as nursery:
            self.connection = await nursery.start(self.server.serve, server_stream)
            self._send_stream = client_stream.send_stream
            task_status.started()
            if await read_lines(client_stream.receive_stream, sink, self.describe()):
                sink.fail(ConnectionClosed(f"{self.describe()} closed the connection"))
            else:
                await self._send_eof()  # the sink failed: let the server drain and return

    async def aclose(self) -> None:
        await self._send_eof()  # EOF: the server drains its handlers and returns

    def describe(self) -> str:
        return f"the in-memory server {getattr(self.server, 'name', '')!r}".replace(" ''", "")
