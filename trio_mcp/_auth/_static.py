"""Fixed tokens for development and tests: never for a server others can reach."""

from __future__ import annotations

import hmac
import logging
from collections.abc import Mapping, Sequence

from .._runtime import AccessToken
from .._transports import InvalidToken, is_loopback

__all__ = ["StaticTokens"]

log = logging.getLogger("trio_mcp.auth")


class StaticTokens:
    """A fixed table of tokens, for development; pass it as ``BearerAuth(verify=...)``.

    Each token maps to the :class:`~trio_mcp.AccessToken` it stands for, or
    to just a subject (no scopes). Tokens are compared in constant time.

    Served by ``serve_http``/``run`` on an address that is not loopback, it
    logs a WARNING at startup (``trio_mcp.auth``): fixed tokens in a config
    file are not authentication.

    Args:
        tokens: ``{"dev-token": AccessToken("alice", frozenset({"mcp"}))}`` or
            ``{"dev-token": "alice"}``.
    """

    def __init__(self, tokens: Mapping[str, AccessToken | str]) -> None:
        self._tokens = [
            (t.encode(), v if isinstance(v, AccessToken) else AccessToken(v))
            for t, v in tokens.items()
        ]
        if not self._tokens:
            raise ValueError("StaticTokens needs at least one token")

    def serving(self, hosts: Sequence[str]) -> None:
        """Called by the HTTP server before it binds ``hosts``: warn off loopback."""
        public = [h for h in hosts if not is_loopback(h)]
        if public:
            log.warning(
                "trio_mcp.auth: StaticTokens (fixed development tokens) is serving on %s, "
                "which is not loopback: anyone who learns a token is in. "
                "Use JWTVerifier or IntrospectionVerifier for a reachable server.",
                ", ".join(public),
            )

    async def __call__(self, token: str) -> AccessToken:
        """The token's :class:`AccessToken`.

        Raises:
            InvalidToken: not one of the table's tokens.
        """
        given = token.encode()
        found: AccessToken | None = None
        for known, access in self._tokens:
            if hmac.compare_digest(known, given) and found is None:
                found = access
        if found is None:
            raise InvalidToken("unknown token")
        return found
