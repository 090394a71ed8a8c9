"""Wire layer: framing, codec and envelopes. No event loop."""

from __future__ import annotations

from typing import Any

import pytest

from trio_mcp._errors import InvalidParams, InvalidRequest, ParseError
from trio_mcp._wire import (
    LineBuffer,
    Notification,
    OversizedLine,
    Request,
    Response,
    classify,
    decode,
    encode,
    encode_line,
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


def test_encode_never_embeds_newline() -> None:
    data = encode_line({"text": "a\nb\r\nc", "nested": ["\n"]})
    assert data.count(b"\n") == 1 and data.endswith(b"\n")
    assert decode(data) == {"text": "a\nb\r\nc", "nested": ["\n"]}
    assert b"\n" not in encode({"k": "\n"})


@pytest.mark.parametrize(
    "raw",
    [b"\xff\xfe{}", b"{not json", b"", b"[" * 100_000 + b"]" * 100_000, b"NaN"],
    ids=["invalid-utf8", "invalid-json", "empty", "deep-nesting", "nan"],
)
def test_decode_errors_are_parse_errors(raw: bytes) -> None:
    with pytest.raises(ParseError) as info:
        decode(raw)
    assert info.value.code == -32700


@pytest.mark.parametrize(
    ("msg", "kind"),
    [
        ({"jsonrpc": "2.0", "id": 1, "method": "ping"}, Request(1, "ping", {})),
        (
            {"jsonrpc": "2.0", "id": "a", "method": "x", "params": {"k": 1}},
            Request("a", "x", {"k": 1}),
        ),
        ({"jsonrpc": "2.0", "method": "n"}, Notification("n", {})),
        ({"jsonrpc": "2.0", "id": 3, "result": {"ok": True}}, Response(3, {"ok": True}, None)),
        (
            {"jsonrpc": "2.0", "id": 3, "error": {"code": 1, "message": "m"}},
            Response(3, None, {"code": 1, "message": "m"}),
        ),
    ],
)
def test_classify_valid(msg: dict[str, Any], kind: object) -> None:
    assert classify(msg) == kind


@pytest.mark.parametrize(
    ("msg", "echo_id"),
    [
        (1, None),
        ("str", None),
        ({"id": 1, "method": "ping"}, 1),
        ({"jsonrpc": "1.0", "id": 1, "method": "ping"}, 1),
        ({"jsonrpc": "2.0", "id": 1, "method": 5}, 1),
        ({"jsonrpc": "2.0", "id": {"a": 1}, "method": "ping"}, None),
        ({"jsonrpc": "2.0", "id": 1.5, "method": "ping"}, None),
        ({"jsonrpc": "2.0", "id": True, "method": "ping"}, None),
        ({"jsonrpc": "2.0", "id": None, "method": "ping"}, None),
        ({"jsonrpc": "2.0", "id": 2, "method": "ping", "params": "x"}, 2),
        ({"jsonrpc": "2.0", "id": 2}, 2),
        ({"jsonrpc": "2.0", "id": 2, "result": {}, "error": {"code": 1}}, None),
    ],
)
def test_classify_invalid_request(msg: Any, echo_id: Any) -> None:
    with pytest.raises(InvalidRequest) as info:
        classify(msg)
    assert info.value.code == -32600
    assert info.value.request_id == echo_id


def test_array_params_are_invalid_params() -> None:
    with pytest.raises(InvalidParams) as info:
        classify({"jsonrpc": "2.0", "id": 7, "method": "x", "params": [1]})
    assert info.value.code == -32602
    assert info.value.request_id == 7


def test_oversized_line_keeps_its_head_for_id_recovery() -> None:
    buf = LineBuffer(16)
    line = b'{"jsonrpc":"2.0","id":7,"method":"x","params":"' + b"a" * 100 + b'"}'
    [marker] = buf.feed(line[:20]) + buf.feed(line[20:] + b"\n")
    assert isinstance(marker, OversizedLine)
    assert marker.head.startswith(b'{"jsonrpc":"2.0","id":7')
