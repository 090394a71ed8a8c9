"""JSON-RPC 2.0 envelopes: classify what arrived, build what goes out.

:func:`classify` is the only place that decides whether a decoded JSON value is
a request, a notification or a response. It raises :class:`InvalidRequest`
(carrying the id when one could be recovered) for anything else, so callers
answer with the right code and the right id.
"""

from __future__ import annotations

from typing import Any, TypeAlias

import attrs

from .._errors import InvalidParams, InvalidRequest

__all__ = [
    "Id",
    "Notification",
    "Request",
    "Response",
    "classify",
    "error_response",
    "notification",
    "request",
    "result_response",
]

Id: TypeAlias = int | str
"""A request id. MCP forbids ``null``; JSON-RPC discourages fractions, MCP forbids them."""


@attrs.frozen(slots=True)
class Request:
    """A JSON-RPC request: it has an id and expects exactly one response."""

    id: Id
    method: str
    params: dict[str, Any]


@attrs.frozen(slots=True)
class Notification:
    """A JSON-RPC notification: no id, no response."""

    method: str
    params: dict[str, Any]


@attrs.frozen(slots=True)
class Response:
    """A JSON-RPC response to a request this side sent.

    Exactly one of ``result`` and ``error`` is set.
    """

    id: Id | None
    result: dict[str, Any] | None
    error: dict[str, Any] | None


def _valid_id(value: Any) -> bool:
    t = type(value)
    return t is str or t is int


def classify(msg: Any) -> Request | Notification | Response:
    """Classify one decoded JSON-RPC message (not a batch).

    Raises:
        InvalidRequest: the value is not a JSON-RPC 2.0 message. ``exc.request_id``
            holds the id when it was valid and can be echoed.
        InvalidParams: ``params`` is an array; MCP methods take objects only.
    """
    if type(msg) is not dict:
        raise InvalidRequest("Invalid Request: expected a JSON object")
    raw_id = msg.get("id", _MISSING)
    echo_id = raw_id if _valid_id(raw_id) else None
    if msg.get("jsonrpc") != "2.0":
        raise _invalid('Invalid Request: "jsonrpc" must be exactly "2.0"', echo_id)
    method = msg.get("method", _MISSING)
    if method is _MISSING:
        if "result" in msg or "error" in msg:
            return _classify_response(msg, raw_id)
        raise _invalid('Invalid Request: no "method"', echo_id)
    if type(method) is not str:
        raise _invalid('Invalid Request: "method" must be a string', echo_id)
    params = msg.get("params", _MISSING)
    if params is _MISSING or params is None:
        params = {}
    elif type(params) is not dict:
        if type(params) is list:
            raise InvalidParams('Invalid params: "params" must be an object', request_id=echo_id)
        raise _invalid('Invalid Request: "params" must be an object', echo_id)
    if raw_id is _MISSING:
        return Notification(method, params)
    if echo_id is None:
        raise _invalid('Invalid Request: "id" must be a string or an integer', None)
    return Request(echo_id, method, params)


def _classify_response(msg: dict[str, Any], raw_id: Any) -> Response:
    if raw_id is not None and not _valid_id(raw_id):
        raise _invalid("Invalid Request: response id must be a string or an integer", None)
    has_result = "result" in msg
    has_error = "error" in msg
    if has_result == has_error:
        raise _invalid('Invalid Request: response needs exactly one of "result" and "error"', None)
    if has_error:
        err = msg["error"]
        if type(err) is not dict or type(err.get("code")) is not int:
            raise _invalid("Invalid Request: malformed error object", None)
        return Response(raw_id, None, err)
    result = msg["result"]
    return Response(raw_id, result if type(result) is dict else {"value": result}, None)


class _Missing:
    def __repr__(self) -> str:
        return "<missing>"


_MISSING: Any = _Missing()


def _invalid(message: str, echo_id: Id | None) -> InvalidRequest:
    return InvalidRequest(message, request_id=echo_id)


def request(id: Id, method: str, params: dict[str, Any] | None = None) -> dict[str, Any]:
    """Build a request message."""
    msg: dict[str, Any] = {"jsonrpc": "2.0", "id": id, "method": method}
    if params is not None:
        msg["params"] = params
    return msg


def notification(method: str, params: dict[str, Any] | None = None) -> dict[str, Any]:
    """Build a notification message."""
    msg: dict[str, Any] = {"jsonrpc": "2.0", "method": method}
    if params is not None:
        msg["params"] = params
    return msg


def result_response(id: Id, result: dict[str, Any]) -> dict[str, Any]:
    """Build a success response."""
    return {"jsonrpc": "2.0", "id": id, "result": result}


def error_response(id: Id | None, error: dict[str, Any]) -> dict[str, Any]:
    """Build an error response. ``id`` is ``None`` only when it could not be read."""
    return {"jsonrpc": "2.0", "id": id, "error": error}
