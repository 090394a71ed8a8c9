"""Who is calling and how: the verified bearer token, and the HTTP request a call came in.

Both are values a transport builds and a :class:`~trio_mcp._runtime.Peer`
hands to the application; nothing here does I/O. Over stdio neither exists.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import attrs

__all__ = ["AccessToken", "HttpRequestInfo"]


@attrs.frozen
class AccessToken:
    """Who a verified bearer token belongs to.

    Attributes:
        subject: The identity a legacy session is bound to.
        scopes: The scopes the token grants.
        claims: Anything else the verifier wants handlers to see.
    """

    subject: str
    scopes: frozenset[str] = frozenset()
    claims: dict[str, Any] = attrs.field(factory=dict)


@attrs.frozen
class HttpRequestInfo:
    """The HTTP request that carried an MCP request (``ctx.http``).

    Attributes:
        method: The HTTP method (``"POST"``).
        path: The request path, as the ASGI server gave it.
        query: The raw query string (``""`` without one).
        headers: Request headers, names lowercased; a repeated header's values
            are joined with ``", "`` (RFC 9110 section 5.3).
        client: The client's ``(host, port)``, when the server knows it.
        token: The verified bearer token (``None`` without ``auth=``).
    """

    method: str
    path: str
    query: str
    headers: Mapping[str, str]
    client: tuple[str, int] | None = None
    token: AccessToken | None = None

    @classmethod
    def of(
        cls,
        method: str,
        path: str,
        query: bytes,
        raw_headers: Iterable[tuple[bytes, bytes]],
        client: Any,
        token: AccessToken | None,
    ) -> HttpRequestInfo:
        """Build one from ASGI scope parts (``headers`` as ``(name, value)`` byte pairs)."""
        headers: dict[str, str] = {}
        for key, value in raw_headers:
            name = bytes(key).decode("latin-1").lower()
            text = bytes(value).decode("latin-1").strip(" \t")
            headers[name] = f"{headers[name]}, {text}" if name in headers else text
        peer = (str(client[0]), int(client[1])) if client else None
        return cls(method, path, bytes(query).decode("latin-1"), headers, peer, token)
