"""HTTP/1.1 responses on the wire: status lines, framing, ``Date``, :class:`NativeResponder`.

A response's body is framed by ``content-length`` when the transport gives one
(every complete answer does), by ``transfer-encoding: chunked`` when it
streams (SSE) to an HTTP/1.1 client, and by closing the connection for an
HTTP/1.0 client. A response to ``HEAD`` keeps its headers and drops its body.
"""

from __future__ import annotations

import enum
import time
from collections.abc import Callable, Iterable
from email.utils import formatdate
from http import HTTPStatus
from typing import TYPE_CHECKING

import attrs

from .._asgi import Responder

if TYPE_CHECKING:
    from ._parsing import Exchange

__all__ = ["CONTINUE", "Framing", "NativeResponder", "status_line"]

CONTINUE = b"HTTP/1.1 100 Continue\r\n\r\n"
_REASONS = {s.value: s.phrase for s in HTTPStatus}
_LINES: dict[int, bytes] = {}
_date: list[object] = [0, b""]


def status_line(status: int) -> bytes:
    """``HTTP/1.1 <status> <reason>\\r\\n``, cached."""
    line = _LINES.get(status)
    if line is None:
        line = _LINES[status] = f"HTTP/1.1 {status} {_REASONS.get(status, '')}\r\n".encode()
    return line


def _date_header() -> bytes:
    """``date: <IMF-fixdate>\\r\\n`` (RFC 9110 section 6.6.1), recomputed once a second."""
    now = int(time.time())
    if _date[0] != now:
        _date[0] = now
        _date[1] = b"date: " + formatdate(now, usegmt=True).encode() + b"\r\n"
    return _date[1]  # type: ignore[return-value]


class Framing(enum.Enum):
    """How a response's body is delimited."""

    LENGTH = "content-length"
    CHUNKED = "chunked"
    CLOSE = "close"  # HTTP/1.0 streaming: the end of the connection ends the body
    NONE = "none"  # HEAD, 1xx, 204, 304: no body at all


@attrs.define(eq=False)
class NativeResponder(Responder):
    """The :class:`Responder` of the native server: bytes straight onto the connection.

    Every write goes through the connection's :meth:`~.Connection.send`, under
    ``timeout``; a client that left or does not read raises :class:`ClientGone`.
    """

    _ex: Exchange
    _framing: Framing = attrs.field(default=Framing.LENGTH, init=False)

    def _head(
        self, status: int, headers: Iterable[tuple[bytes, bytes]], length: int | None
    ) -> bytes:
        ex = self._ex
        ex.answered = True
        parts = [status_line(status)]
        for name, value in headers:
            parts += (name, b": ", value, b"\r\n")
            if length is None and name == b"content-length":
                self._framing = Framing.LENGTH
                length = -1
        if length is None:
            if status < 200 or status in (204, 304):
                self._framing = Framing.NONE
            elif ex.http11:
                self._framing = Framing.CHUNKED
                parts.append(b"transfer-encoding: chunked\r\n")
            else:
                self._framing = Framing.CLOSE
                ex.close_after = True
        elif length >= 0:
            parts += (b"content-length: ", str(length).encode(), b"\r\n")
        if ex.is_head:
            self._framing = Framing.NONE
        parts.append(_date_header())
        if ex.close_after or not ex.keep_alive or not ex.complete or ex.conn.stopping():
            ex.close_after = True
            parts.append(b"connection: close\r\n\r\n")
        elif not ex.http11:
            parts.append(b"connection: keep-alive\r\n\r\n")
        else:
            parts.append(b"\r\n")
        return b"".join(parts)

    def on_disconnect(self, callback: Callable[[], None]) -> bool:
        """The connection's reader calls ``callback`` when the client leaves (see the base)."""
        ex = self._ex
        if ex.conn.gone.is_set():
            callback()
        else:
            ex.on_gone = callback
        return True

    async def start(self, status: int, headers: Iterable[tuple[bytes, bytes]]) -> None:
        self.started = True
        await self._ex.conn.send(self._head(status, headers, None), self.timeout)

    async def body(self, data: bytes, *, more: bool) -> None:
        if not more:
            self.finished = True
        framing = self._framing
        if framing is Framing.CHUNKED:
            out = b"%x\r\n%b\r\n" % (len(data), data) if data else b""
            if not more:
                out += b"0\r\n\r\n"
        elif framing is Framing.NONE:
            return
        else:
            out = data
        if out:
            await self._ex.conn.send(out, self.timeout)

    async def full(
        self,
        status: int,
        data: bytes = b"",
        headers: Iterable[tuple[bytes, bytes]] = (),
        content_type: bytes | None = b"application/json",
    ) -> None:
        """A complete response in one write."""
        self.started = self.finished = True
        all_headers = list(headers)
        if content_type is not None and data:
            all_headers.append((b"content-type", content_type))
        head = self._head(status, all_headers, len(data))
        out = head if self._framing is Framing.NONE else head + data
        await self._ex.conn.send(out, self.timeout)
