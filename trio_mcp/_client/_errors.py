"""What can go wrong on the client side, typed by who is at fault.

A JSON-RPC error the server answered with is an :class:`~trio_mcp.McpError`
(the server's code, message and data). Everything else a client can meet is a
:class:`ClientError`:

* :class:`ConnectionClosed`: the connection ended before an answer came (the
  server exited, closed its stdout, or the HTTP endpoint went away). For a
  subprocess it carries the exit code and the tail of its stderr.
* :class:`ServerMisbehaved`: the server sent something no MCP server may send
  (a banner on stdout, JSON that is not a JSON-RPC message, a version it was
  not offered). It quotes what was received.
* :class:`HttpError`: the HTTP endpoint answered with a status that carries no
  JSON-RPC message (401, 404, 500...).
* :class:`RequestTimeout`: no answer within the request's deadline; the
  request was cancelled on the server.
* :class:`InvalidAnswer`: one of this client's own handlers returned an answer
  the protocol forbids (an elicitation answer that does not match the
  requested schema). It is a bug here, never the server's.
* :class:`AuthorizationError`: OAuth authorization failed or was refused
  (:class:`~trio_mcp.client.OAuth`): metadata naming another resource or
  issuer, an authorization response from the wrong issuer, a token endpoint error.

Every message is one line that names the cause, so a command-line tool can
print ``str(exc)`` as it is.
"""

from __future__ import annotations

import trio

__all__ = [
    "AuthorizationError",
    "ClientError",
    "ConnectionClosed",
    "HttpError",
    "InvalidAnswer",
    "RequestTimeout",
    "ServerMisbehaved",
    "unwrap_group",
]


class ClientError(Exception):
    """Base class of the client's own errors (JSON-RPC errors are McpError)."""


class ConnectionClosed(ClientError):
    """The connection to the server ended; no further request can succeed.

    Attributes:
        exit_code: The subprocess's exit status, when the server is one (else ``None``).
        stderr_tail: The last lines the subprocess wrote on stderr (may be empty).
    """

    def __init__(
        self, message: str, *, exit_code: int | None = None, stderr_tail: str = ""
    ) -> None:
        super().__init__(message)
        self.exit_code = exit_code
        self.stderr_tail = stderr_tail


class ServerMisbehaved(ClientError):
    """The server broke the protocol; the connection is closed.

    Attributes:
        received: What was received (truncated), for the message and for debugging.
    """

    def __init__(self, message: str, received: str = "") -> None:
        super().__init__(message)
        self.received = received


class HttpError(ClientError):
    """An HTTP status without a JSON-RPC answer in its body.

    Attributes:
        status: The HTTP status code.
        body: The start of the response body.
    """

    def __init__(self, message: str, status: int, body: str = "") -> None:
        super().__init__(message)
        self.status = status
        self.body = body


class RequestTimeout(ClientError, TimeoutError):
    """No answer within the deadline; the request was cancelled.

    Attributes:
        method: The request's method.
        timeout: The deadline, in seconds.
    """

    def __init__(self, method: str, timeout: float) -> None:
        super().__init__(f"no answer to {method} within {timeout:g} s")
        self.method = method
        self.timeout = timeout


class InvalidAnswer(ClientError, ValueError):
    """A handler of this client returned an answer the protocol does not allow."""


class AuthorizationError(ClientError):
    """OAuth authorization failed, or this client refused to go on with it.

    Attributes:
        error: The OAuth ``error`` code, when the authorization server sent one.
    """

    def __init__(self, message: str, error: str | None = None) -> None:
        super().__init__(message)
        self.error = error


def unwrap_group(exc: BaseException) -> BaseException:
    """The single exception inside (nested) groups, else ``exc`` itself.

    A group of several ``Cancelled`` is one cancellation: its first is returned.
    """
    if not isinstance(exc, BaseExceptionGroup):
        return exc
    leaves: list[BaseException] = []

    def walk(e: BaseException) -> None:
        if isinstance(e, BaseExceptionGroup):
            for inner in e.exceptions:
                walk(inner)
        else:
            leaves.append(e)

    walk(exc)
    if len(leaves) == 1 or (leaves and all(isinstance(e, trio.Cancelled) for e in leaves)):
        return leaves[0]
    return exc
