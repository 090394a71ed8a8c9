"""The JSON codec: one message per line, and every decode failure a parse error."""

from __future__ import annotations

import pytest

from trio_mcp._errors import ParseError
from trio_mcp._wire import (
    decode,
    encode,
    encode_line,
)


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
