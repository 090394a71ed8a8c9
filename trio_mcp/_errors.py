"""Errors, typed by who is at fault, each carrying its JSON-RPC code.

The hierarchy follows h11's split between local misuse and remote misbehaviour:

* :class:`McpError` is any error that has a wire form: ``code``, ``message`` and
  optional ``data``. A handler may raise it (or a subclass) to send exactly that
  JSON-RPC error to the client.
* :class:`ProtocolError` and its subclasses mean *the peer* sent something wrong
  (bad JSON, bad envelope, unknown method, bad params). They are created by the
  sans-IO layer and answered automatically.
* :class:`LocalProtocolError` means *this program* misused the API (for example,
  answering a request twice). It is a bug in the caller, never sent to the peer.

Nothing in this module imports trio.
"""

from __future__ import annotations

from typing import Any, ClassVar, Final

__all__ = [
    "CAPABILITY_NOT_SUPPORTED",
    "HEADER_MISMATCH",
    "INSUFFICIENT_SCOPE",
    "INTERNAL_ERROR",
    "INVALID_PARAMS",
    "INVALID_REQUEST",
    "METHOD_NOT_FOUND",
    "PARSE_ERROR",
    "RATE_LIMITED",
    "RESOURCE_NOT_FOUND",
    "UNSUPPORTED_PROTOCOL_VERSION",
    "InsufficientScope",
    "InternalError",
    "InvalidParams",
    "InvalidRequest",
    "LocalProtocolError",
    "McpError",
    "MethodNotFound",
    "ParseError",
    "ProtocolError",
    "RateLimited",
    "ResourceNotFound",
    "StoreUnavailable",
    "UnsupportedProtocolVersion",
]

# JSON-RPC 2.0 codes (https://www.jsonrpc.org/specification#error_object).
PARSE_ERROR: Final = -32700
INVALID_REQUEST: Final = -32600
METHOD_NOT_FOUND: Final = -32601
INVALID_PARAMS: Final = -32602
INTERNAL_ERROR: Final = -32603
# MCP-defined codes.
RESOURCE_NOT_FOUND: Final = -32002
HEADER_MISMATCH: Final = -32020
CAPABILITY_NOT_SUPPORTED: Final = -32021
UNSUPPORTED_PROTOCOL_VERSION: Final = -32022
# trio_mcp-defined codes (the JSON-RPC server-error range, clear of the MCP-defined ones).
RATE_LIMITED: Final = -32050
INSUFFICIENT_SCOPE: Final = -32051


class McpError(Exception):
    """An error with a JSON-RPC wire form.

    Raise it from a handler to answer the request with exactly this error::

        raise McpError(-32001, "Quota exceeded", {"retryAfter": 30})

    Args:
        code: The JSON-RPC error code.
        message: A short, human-readable description, sent to the client.
        data: Optional JSON-serialisable detail, sent as ``error.data``.
    """

    default_code: ClassVar[int] = INTERNAL_ERROR

    def __init__(self, code: int | None = None, message: str = "", data: Any = None) -> None:
        self.code: int = self.default_code if code is None else code
        self.message: str = message
        self.data: Any = data
        super().__init__(message)

    def to_error(self) -> dict[str, Any]:
        """Return the JSON-RPC ``error`` object for this exception."""
        err: dict[str, Any] = {"code": self.code, "message": self.message}
        if self.data is not None:
            err["data"] = self.data
        return err

    def __repr__(self) -> str:
        return f"{type(self).__name__}(code={self.code}, message={self.message!r})"


class ProtocolError(McpError):
    """The remote peer broke the protocol. Answered automatically; never fatal."""

    def __init__(
        self,
        message: str = "",
        data: Any = None,
        *,
        code: int | None = None,
        request_id: int | str | None = None,
    ) -> None:
        super().__init__(code, message, data)
        #: The id of the offending request, when it could be read; else ``None``.
        self.request_id: int | str | None = request_id


class ParseError(ProtocolError):
    """The bytes received were not valid JSON (or not UTF-8)."""

    default_code = PARSE_ERROR


class InvalidRequest(ProtocolError):
    """The JSON was not a valid JSON-RPC request object for this session."""

    default_code = INVALID_REQUEST


class MethodNotFound(ProtocolError):
    """The method does not exist or is not offered by this server."""

    default_code = METHOD_NOT_FOUND


class InvalidParams(ProtocolError):
    """The method exists but its params are invalid."""

    default_code = INVALID_PARAMS


class InternalError(McpError):
    """The server failed while handling a valid request."""

    default_code = INTERNAL_ERROR


class ResourceNotFound(ProtocolError):
    """The requested resource does not exist (legacy era code ``-32002``)."""

    default_code = RESOURCE_NOT_FOUND


class UnsupportedProtocolVersion(ProtocolError):
    """The request names a protocol version this server does not speak (``-32022``)."""

    default_code = UNSUPPORTED_PROTOCOL_VERSION


class RateLimited(McpError):
    """The caller sent more requests than its rate limit allows (``-32050``).

    ``data.retryAfter`` is the number of seconds after which a retry can
    succeed. Over modern-era HTTP the answer is ``429 Too Many Requests`` with
    a ``Retry-After`` header.
    """

    default_code = RATE_LIMITED

    def __init__(self, retry_after: float, message: str = "Rate limit exceeded") -> None:
        self.retry_after: float = retry_after
        super().__init__(None, message, {"retryAfter": round(retry_after, 3)})


class InsufficientScope(McpError):
    """The caller's token lacks a scope the component requires (``-32051``).

    ``data.requiredScopes`` lists every scope the component needs,
    ``data.missingScopes`` those the token lacks. Over modern-era HTTP the
    answer is ``403 Forbidden`` with ``WWW-Authenticate: Bearer
    error="insufficient_scope", scope="..."``.
    """

    default_code = INSUFFICIENT_SCOPE

    def __init__(self, required: frozenset[str], granted: frozenset[str]) -> None:
        self.required: frozenset[str] = required
        missing = sorted(required - granted)
        super().__init__(
            None,
            f"Forbidden: the token lacks scope(s) {', '.join(missing)}",
            {"requiredScopes": sorted(required), "missingScopes": missing},
        )


class StoreUnavailable(InternalError):
    """A shared store (Redis, ``TRIO_MCP_REDIS_URL``) did not answer in time (``-32603``).

    The message names the store (``"task store unavailable"``); ``data.retryAfter``
    is the number of seconds after which a retry may succeed. Over modern-era HTTP
    the answer is ``503 Service Unavailable`` with a ``Retry-After`` header.
    """

    def __init__(self, store: str = "task", retry_after: float = 1.0) -> None:
        self.store: str = store
        self.retry_after: float = retry_after
        super().__init__(None, f"{store} store unavailable", {"retryAfter": retry_after})


class LocalProtocolError(Exception):
    """This program misused the protocol API (a bug here, not in the peer).

    For example, responding twice to one request, or sending a request the
    negotiated era cannot carry. It is never sent over the wire.
    """
