"""``x-mcp-header``: tool arguments a Streamable HTTP client mirrors into ``Mcp-Param-*`` headers.

The rules (2026-07-28, streamable-http "Custom Headers from Tool Parameters"):
an annotation names a non-empty HTTP token, unique (case-insensitively) in
the schema, on a property of type integer, string or boolean, reached from
the root through ``properties`` keys only. A tool that breaks them is left
out of ``tools/list`` (:func:`header_problem` says why). Values are sent as
strings (``true``/``false`` for booleans); one that is not plain visible
ASCII, or that looks like the sentinel, is sent as ``=?base64?...?=``.
"""

from __future__ import annotations

import base64
from typing import Any

__all__ = ["encode_header_value", "header_problem", "param_headers"]

_TCHAR = frozenset("!#$%&'*+-.^_`|~0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ")
_PRIMITIVE = ("integer", "string", "boolean")


def _annotated(schema: Any) -> tuple[list[tuple[str, tuple[str, ...], dict[str, Any]]], bool]:
    """``(name, path, property)`` for each reachable annotation; and whether any is elsewhere."""
    reachable: list[tuple[str, tuple[str, ...], dict[str, Any]]] = []
    ids: set[int] = set()

    def walk(node: Any, path: tuple[str, ...]) -> None:
        props = node.get("properties") if isinstance(node, dict) else None
        if not isinstance(props, dict):
            return
        for key, sub in props.items():
            if isinstance(sub, dict):
                if "x-mcp-header" in sub:
                    reachable.append((sub["x-mcp-header"], (*path, key), sub))
                    ids.add(id(sub))
                walk(sub, (*path, key))

    walk(schema, ())
    elsewhere = False

    def anywhere(node: Any) -> None:
        nonlocal elsewhere
        if isinstance(node, dict):
            if "x-mcp-header" in node and id(node) not in ids:
                elsewhere = True
            for value in node.values():
                anywhere(value)
        elif isinstance(node, list):
            for value in node:
                anywhere(value)

    anywhere(schema)
    return reachable, elsewhere


def header_problem(schema: Any) -> str | None:
    """Why a tool's ``x-mcp-header`` annotations are invalid, or ``None`` if they are fine."""
    found, elsewhere = _annotated(schema)
    if elsewhere:
        return "an x-mcp-header that is not reachable through properties alone"
    seen: set[str] = set()
    for name, path, prop in found:
        where = ".".join(path)
        if not isinstance(name, str) or not name or not set(name) <= _TCHAR:
            return f"x-mcp-header {name!r} of {where} is not an HTTP token"
        if name.lower() in seen:
            return f"x-mcp-header {name!r} is used twice"
        seen.add(name.lower())
        if prop.get("type") not in _PRIMITIVE:
            return f"x-mcp-header {name!r} is on {where}, of type {prop.get('type')!r}"
    return None


def encode_header_value(value: Any) -> str:
    """A header value for a string, integer or boolean (base64 sentinel when needed)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    text = str(value)
    plain = all(" " <= c <= "~" or c == "\t" for c in text)
    if not plain or text != text.strip() or (text.startswith("=?base64?") and text.endswith("?=")):
        return "=?base64?" + base64.b64encode(text.encode("utf-8")).decode("ascii") + "?="
    return text


def param_headers(schema: Any, arguments: Any) -> dict[str, str]:
    """The ``Mcp-Param-*`` headers for a ``tools/call`` of a tool with this input schema."""
    headers: dict[str, str] = {}
    found, _ = _annotated(schema)
    for name, path, _prop in found:
        value: Any = arguments
        for key in path:
            value = value.get(key) if isinstance(value, dict) else None
        if value is not None and isinstance(value, str | int | bool):
            headers[f"Mcp-Param-{name}"] = encode_header_value(value)
    return headers
