"""Newline-delimited framing (``LineBuffer``): lines out of chunks, bounded memory. No event loop."""

from __future__ import annotations

from trio_mcp._wire import (
    LineBuffer,
    OversizedLine,
)


def test_lines_split_across_chunks() -> None:
    buf = LineBuffer(100)
    assert buf.feed(b'{"a":') == []
    assert buf.feed(b'1}\n{"b"') == [b'{"a":1}']
    assert buf.feed(b":2}\r\n\n") == [b'{"b":2}', b""]
    assert buf.pending == 0


def test_oversized_line_is_reported_once_and_stream_resyncs() -> None:
    buf = LineBuffer(10)
    out = buf.feed(b"x" * 8)
    out += buf.feed(b"y" * 8)  # now over the limit: discarding starts
    assert out == []
    assert buf.pending == 16
    out = buf.feed(b"z" * 1000 + b"\nok\n")
    assert out == [OversizedLine(1016, 10, b"x" * 8 + b"y" * 8 + b"z" * 240), b"ok"]
    assert buf.pending == 0


def test_oversized_line_within_one_chunk() -> None:
    buf = LineBuffer(4)
    assert buf.feed(b"12345678\nabc\n") == [OversizedLine(8, 4, b"12345678"), b"abc"]


def test_memory_held_is_bounded_by_limit() -> None:
    buf = LineBuffer(1024)
    for _ in range(1000):
        buf.feed(b"a" * 4096)
    assert len(buf._buf) == 0  # discarding, not accumulating


def test_close_returns_final_unterminated_line() -> None:
    buf = LineBuffer(100)
    buf.feed(b'{"x":1}')
    assert buf.close() == [b'{"x":1}']


def test_oversized_line_keeps_its_head_for_id_recovery() -> None:
    buf = LineBuffer(16)
    line = b'{"jsonrpc":"2.0","id":7,"method":"x","params":"' + b"a" * 100 + b'"}'
    [marker] = buf.feed(line[:20]) + buf.feed(line[20:] + b"\n")
    assert isinstance(marker, OversizedLine)
    assert marker.head.startswith(b'{"jsonrpc":"2.0","id":7')
