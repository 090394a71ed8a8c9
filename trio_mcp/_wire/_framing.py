"""Newline-delimited JSON framing with a maximum line size.

:class:`LineBuffer` turns arbitrary chunks of bytes into complete lines.
A line longer than the limit is never buffered whole: once it passes the limit
its bytes are counted and dropped until the next newline, and a single
:class:`OversizedLine` marker takes its place. The stream then resynchronises
on the next line, so one bad line costs one error reply, not the connection.
"""

from __future__ import annotations

from typing import Final

import attrs

__all__ = ["DEFAULT_MAX_LINE", "LineBuffer", "OversizedLine"]

DEFAULT_MAX_LINE: Final = 4 * 1024 * 1024
_HEAD: Final = 256


@attrs.frozen
class OversizedLine:
    """Stands in for a line that exceeded the limit and was discarded.

    Attributes:
        size: How many bytes the line had (excluding the newline), at least.
        limit: The configured maximum.
    """

    size: int
    limit: int
    head: bytes = b""
    """The line's first bytes (up to 256), kept so the request id can be recovered."""


@attrs.define(eq=False)
class LineBuffer:
    """Split a byte stream into lines, bounded by ``max_line`` bytes each.

    ``feed`` returns the complete lines found so far, without their ``\\n``
    (a trailing ``\\r`` is stripped too). Memory held between calls is at most
    ``max_line`` bytes.
    """

    max_line: int = DEFAULT_MAX_LINE
    _buf: bytearray = attrs.field(factory=bytearray, init=False)
    _discarding: bool = attrs.field(default=False, init=False)
    _discarded: int = attrs.field(default=0, init=False)
    _head: bytes = attrs.field(default=b"", init=False)

    @property
    def pending(self) -> int:
        """Bytes of an incomplete line held (or being discarded)."""
        return self._discarded if self._discarding else len(self._buf)

    def feed(self, data: bytes) -> list[bytes | OversizedLine]:
        """Consume ``data`` and return the lines it completes, in order."""
        out: list[bytes | OversizedLine] = []
        limit = self.max_line
        start = 0
        if self._discarding:
            nl = data.find(b"\n")
            if len(self._head) < _HEAD:
                end = len(data) if nl < 0 else nl
                self._head += data[: min(end, _HEAD - len(self._head))]
            if nl < 0:
                self._discarded += len(data)
                return out
            out.append(OversizedLine(self._discarded + nl, limit, self._head))
            self._discarding = False
            self._discarded = 0
            self._head = b""
            start = nl + 1
        buf = self._buf
        if buf:
            nl = data.find(b"\n", start)
            if nl < 0:
                self._append_partial(data[start:])
                return out
            if len(buf) + nl - start > limit:
                out.append(OversizedLine(len(buf) + nl - start, limit, bytes(buf[:_HEAD])))
            else:
                buf += data[start:nl]
                out.append(_strip_cr(bytes(buf)))
            buf.clear()
            start = nl + 1
        find = data.find
        while True:
            nl = find(b"\n", start)
            if nl < 0:
                break
            if nl - start > limit:
                out.append(OversizedLine(nl - start, limit, data[start : min(nl, start + _HEAD)]))
            else:
                line = data[start:nl]
                out.append(line[:-1] if line.endswith(b"\r") else line)
            start = nl + 1
        if start < len(data):
            self._append_partial(data[start:])
        return out

    def _append_partial(self, chunk: bytes) -> None:
        if len(self._buf) + len(chunk) > self.max_line:
            self._discarding = True
            self._discarded = len(self._buf) + len(chunk)
            self._head = bytes((self._buf + chunk[:_HEAD])[:_HEAD])
            self._buf.clear()
        else:
            self._buf += chunk

    def close(self) -> list[bytes | OversizedLine]:
        """End of stream: return the final line if it lacked a newline."""
        out: list[bytes | OversizedLine] = []
        if self._discarding:
            out.append(OversizedLine(self._discarded, self.max_line, self._head))
        elif self._buf.strip():
            out.append(_strip_cr(bytes(self._buf)))
        self._buf.clear()
        self._discarding = False
        self._discarded = 0
        return out


def _strip_cr(line: bytes) -> bytes:
    return line[:-1] if line.endswith(b"\r") else line
