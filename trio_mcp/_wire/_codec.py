"""JSON encoding and decoding.

orjson is used because it earns its place: it is several times faster than the
standard library on MCP-sized messages (see ``benchmarks/README.md``), it
refuses invalid UTF-8 and NaN, it bounds nesting depth (so a 100,000-level
document is a parse error, not a ``RecursionError``), and its output never
contains a raw newline, which is what newline-delimited framing needs.
"""

from __future__ import annotations

from typing import Any

import orjson

from .._errors import ParseError

__all__ = ["decode", "encode", "encode_line"]

_dumps = orjson.dumps
_loads = orjson.loads
_OPT_NL = orjson.OPT_APPEND_NEWLINE | orjson.OPT_NON_STR_KEYS


def decode(data: bytes | bytearray | memoryview | str) -> Any:
    """Decode one JSON document.

    Raises:
        ParseError: the input is not UTF-8, not JSON, or nested too deeply.
    """
    try:
        return _loads(data)
    except orjson.JSONDecodeError as exc:
        raise ParseError("Parse error", {"detail": str(exc)}) from None


def encode(obj: Any) -> bytes:
    """Encode one JSON document as compact UTF-8 with no newline anywhere.

    Raises:
        TypeError: ``obj`` holds something JSON cannot represent.
    """
    return _dumps(obj, option=orjson.OPT_NON_STR_KEYS)


def encode_line(obj: Any) -> bytes:
    """Encode one message as a newline-terminated line (NDJSON framing)."""
    return _dumps(obj, option=_OPT_NL)
