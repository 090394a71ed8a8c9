"""Request headers: each read one appears once (400); modern ones mirror the body (``-32020``).

A header the transport reads may appear at most once (:func:`check_unique`):
with two ``Mcp-Name`` lines, a gateway reading the last one would route or
authorize another tool than the one this server validates and runs (and the
same for ``Host``, ``Origin``, ``Authorization``...). A duplicate is 400,
``-32020`` for the modern mirror headers, ``-32600`` for the others.


``MCP-Protocol-Version`` must equal ``_meta``'s protocol version; ``Mcp-Method``
the method; ``Mcp-Name`` the ``name``/``uri`` of ``tools/call``,
``prompts/get`` and ``resources/read`` (and the ``taskId`` of ``tasks/get``,
``tasks/update`` and ``tasks/cancel``); and ``Mcp-Param-{Name}`` every tool
argument whose schema carries ``x-mcp-header``. Values may be sent in the
``=?base64?...?=`` sentinel form and are decoded before comparing; numbers are
compared as numbers. An ``Mcp-Param-{Name}`` header whose argument is absent
from the body is a mismatch too.
"""

from __future__ import annotations

import base64
from collections.abc import Callable
from typing import Any

from .._errors import HEADER_MISMATCH, INVALID_REQUEST
from .._protocol._versions import MCP_NAME_PARAM as _NAMED
from .._protocol._versions import META_PROTOCOL_VERSION
from ._asgi import HttpError, Scope, header, headers_of

__all__ = ["MIRROR_HEADERS", "SINGLE_HEADERS", "check_headers", "check_unique"]

#: The modern headers that mirror the body (a duplicate is ``-32020``), besides ``mcp-param-*``.
MIRROR_HEADERS: frozenset[bytes] = frozenset({b"mcp-protocol-version", b"mcp-method", b"mcp-name"})
#: Every request header the transport reads, and which must therefore appear once.
#: (``Accept`` is a list: several lines are one list, RFC 9110 section 5.3.)
SINGLE_HEADERS: frozenset[bytes] = MIRROR_HEADERS | {
    b"host",
    b"origin",
    b"authorization",
    b"content-type",
    b"content-length",
    b"mcp-session-id",
    b"last-event-id",
}


def check_unique(scope: Scope) -> None:
    """Every header the transport reads appears at most once (else 400).

    Raises:
        HttpError: 400 naming the header; ``-32020`` for ``MCP-Protocol-Version``,
            ``Mcp-Method``, ``Mcp-Name`` and ``Mcp-Param-*``, else ``-32600``.
    """
    twice = headers_of(scope)[1]
    if not twice:
        return
    seen: set[bytes] = set()
    for key, _ in scope.get("headers", ()):
        name = bytes(key).lower()
        param = name.startswith(b"mcp-param-")
        if name not in twice or (name not in SINGLE_HEADERS and not param):
            continue
        if name in seen:
            code = HEADER_MISMATCH if param or name in MIRROR_HEADERS else INVALID_REQUEST
            text = name.decode("latin-1")
            raise HttpError(400, f"Bad Request: the {text} header appears more than once", code)
        seen.add(name)


def check_headers(
    scope: Scope,
    msg: dict[str, Any],
    tool_schema: Callable[[str], dict[str, Any] | None] | None,
) -> None:
    """The modern request headers must mirror the body (else 400, -32020).

    ``msg`` names the modern era itself (``params._meta`` names a protocol
    version: :func:`~trio_mcp._protocol.era_of`); a body that does not is
    answered by the session (-32602), with no headers to compare.
    """
    params = msg["params"]
    meta = params["_meta"]
    rid = msg.get("id")

    def mismatch(text: str) -> HttpError:
        return HttpError(400, f"Header mismatch: {text}", HEADER_MISMATCH, rid)

    def get(name: str) -> str | None:
        value = header(scope, name.lower().encode())
        if value is not None and not _header_safe(value):
            raise mismatch(f"{name} header has invalid characters")
        return value

    version = get("MCP-Protocol-Version")
    if version is None:
        raise mismatch("the MCP-Protocol-Version header is required")
    if version != meta[META_PROTOCOL_VERSION]:
        raise mismatch(
            f"MCP-Protocol-Version header {version!r} does not match"
            f" _meta protocolVersion {meta[META_PROTOCOL_VERSION]!r}"
        )
    if "id" not in msg:
        return  # a notification: no standard headers are defined for it
    method = msg.get("method")
    got = get("Mcp-Method")
    if got is None:
        raise mismatch("the Mcp-Method header is required")
    if got != method:
        raise mismatch(f"Mcp-Method header {got!r} does not match body method {method!r}")
    key = _NAMED.get(method) if type(method) is str else None
    if key is None:
        return
    expected = params.get(key)
    got = get("Mcp-Name")
    if got is None:
        raise mismatch(f"the Mcp-Name header is required for {method}")
    if _decode_header(got) != expected:
        raise mismatch(f"Mcp-Name header {got!r} does not match body {key} {expected!r}")
    if method == "tools/call" and tool_schema is not None and type(expected) is str:
        schema = tool_schema(expected)
        args = params.get("arguments")
        if schema is not None:
            for name, path in _header_params(schema):
                value = _at(args, path)
                got = get(f"Mcp-Param-{name}")
                if value is None:
                    if got is not None:
                        raise mismatch(f"Mcp-Param-{name} header given, but the argument is absent")
                    continue
                if got is None:
                    raise mismatch(f"the Mcp-Param-{name} header is required")
                if not _same_value(_decode_header(got), value):
                    raise mismatch(f"Mcp-Param-{name} header does not match the argument")


def _header_safe(value: str) -> bool:
    """Visible ASCII, spaces and tabs only."""
    return value.isascii() and (value.isprintable() or value.replace("\t", " ").isprintable())


def _decode_header(value: str) -> str:
    """Undo the ``=?base64?...?=`` sentinel encoding of ``Mcp-Name``/``Mcp-Param-*``."""
    if value.startswith("=?base64?") and value.endswith("?=") and len(value) >= 11:
        try:
            return base64.b64decode(value[9:-2], validate=True).decode("utf-8")
        except (ValueError, UnicodeDecodeError):
            return "\x00invalid"
    return value


#: :func:`_header_params` of the schemas seen, by ``id`` (with the schema, to check it).
_PARAMS: dict[int, tuple[dict[str, Any], list[tuple[str, tuple[str, ...]]]]] = {}


def _header_params(schema: dict[str, Any]) -> list[tuple[str, tuple[str, ...]]]:
    """``(header name, property path)`` for each ``x-mcp-header`` in a tool's input schema.

    Remembered per schema object (a tool's schema is made once, at
    registration); the memory is bounded (cleared beyond 1,024 schemas).
    """
    cached = _PARAMS.get(id(schema))
    if cached is not None and cached[0] is schema:
        return cached[1]
    if len(_PARAMS) >= 1024:
        _PARAMS.clear()
    out = _walk_params(schema)
    _PARAMS[id(schema)] = (schema, out)
    return out


def _walk_params(schema: dict[str, Any]) -> list[tuple[str, tuple[str, ...]]]:
    out: list[tuple[str, tuple[str, ...]]] = []

    def walk(node: Any, path: tuple[str, ...]) -> None:
        props = node.get("properties") if type(node) is dict else None
        if type(props) is not dict:
            return
        for key, sub in props.items():
            if type(sub) is dict:
                name = sub.get("x-mcp-header")
                if type(name) is str:
                    out.append((name, (*path, key)))
                walk(sub, (*path, key))

    walk(schema, ())
    return out


def _at(args: Any, path: tuple[str, ...]) -> Any:
    for key in path:
        if type(args) is not dict:
            return None
        args = args.get(key)
    return args


def _same_value(header_value: str, value: Any) -> bool:
    if type(value) is bool:
        return header_value == ("true" if value else "false")
    if type(value) in (int, float):
        try:
            return float(header_value) == float(value)
        except ValueError:
            return False
    return bool(header_value == value)
