"""The wire: JSON codec, newline-delimited framing and JSON-RPC 2.0 envelopes.

No trio, no I/O. Everything here is a pure function of its input.
"""

from ._codec import decode, encode, encode_line
from ._framing import DEFAULT_MAX_LINE, LineBuffer, OversizedLine
from ._jsonrpc import (
    Id,
    Notification,
    Request,
    Response,
    classify,
    error_response,
    notification,
    request,
    result_response,
)

__all__ = [
    "DEFAULT_MAX_LINE",
    "Id",
    "LineBuffer",
    "Notification",
    "OversizedLine",
    "Request",
    "Response",
    "classify",
    "decode",
    "encode",
    "encode_line",
    "error_response",
    "notification",
    "request",
    "result_response",
]
