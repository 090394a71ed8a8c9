"""HTTP security: Host and Origin checks (DNS rebinding), bearer tokens, RFC 9728 metadata.

* **Host.** A browser tricked by DNS rebinding sends the attacker's host name in
  ``Host``. By default only ``localhost``, ``127.0.0.1`` and ``[::1]`` (any port)
  are accepted; a server bound to a public address names its hosts, or ``"*"``.
  A refused ``Host`` is ``421 Misdirected Request``.
* **Origin.** When present, it must be a loopback origin, the request's own
  origin (same host and port as ``Host``), or one of ``allowed_origins``;
  otherwise ``403 Forbidden`` (the spec's MUST).
* **Bearer tokens.** ``BearerAuth(verify=...)``: ``verify(token)`` returns an
  :class:`AccessToken` or ``None``. A missing or refused token is ``401`` with
  ``WWW-Authenticate: Bearer ...``, naming the protected resource metadata
  (RFC 9728) when ``resource`` is set; that metadata is then served at
  ``/.well-known/oauth-protected-resource<path>``. Legacy sessions are bound to
  the token's ``subject``: another subject presenting the session id gets 404.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Collection
from typing import Any
from urllib.parse import urlsplit

import attrs

from .._runtime import AccessToken
from ._asgi import HttpError, Scope, header

__all__ = ["LOOPBACK_HOSTS", "BearerAuth", "check_host_and_origin"]

LOOPBACK_HOSTS: frozenset[str] = frozenset({"localhost", "127.0.0.1", "[::1]", "::1"})


@attrs.frozen(kw_only=True)
class BearerAuth:
    """Bearer-token authentication for the HTTP endpoint.

    Args:
        verify: ``async verify(token) -> AccessToken | None``; ``None`` refuses it.
            Exceptions it raises are errors of the server (500), not refusals.
        resource: This server's canonical URL (e.g. ``https://mcp.example.com/mcp``);
            when set, RFC 9728 metadata is served and named in ``WWW-Authenticate``.
        authorization_servers: Issuers listed in the metadata.
        scopes_supported: Scopes listed in the metadata.
        required_scopes: Scopes every token must carry (else 403 ``insufficient_scope``).
    """

    verify: Callable[[str], Awaitable[AccessToken | None]]
    resource: str | None = None
    authorization_servers: Collection[str] = ()
    scopes_supported: Collection[str] = ()
    required_scopes: Collection[str] = ()

    def metadata_path(self) -> str | None:
        """Where the RFC 9728 document lives (``/.well-known/oauth-protected-resource/mcp``)."""
        if self.resource is None:
            return None
        path = urlsplit(self.resource).path.rstrip("/")
        return "/.well-known/oauth-protected-resource" + path

    def metadata(self) -> dict[str, Any]:
        doc: dict[str, Any] = {"resource": self.resource, "bearer_methods_supported": ["header"]}
        if self.authorization_servers:
            doc["authorization_servers"] = list(self.authorization_servers)
        if self.scopes_supported:
            doc["scopes_supported"] = list(self.scopes_supported)
        return doc

    def _challenge(self, error: str | None, description: str) -> bytes:
        parts = []
        if error is not None:
            parts.append(f'error="{error}"')
            parts.append(f'error_description="{description}"')
        if self.required_scopes:
            parts.append(f'scope="{" ".join(self.required_scopes)}"')
        if self.resource is not None:
            split = urlsplit(self.resource)
            url = f"{split.scheme}://{split.netloc}{self.metadata_path()}"
            parts.append(f'resource_metadata="{url}"')
        return ("Bearer " + ", ".join(parts)).rstrip(", ").encode()

    async def authenticate(self, scope: Scope) -> AccessToken:
        """The request's token, verified.

        Raises:
            HttpError: 400 (more than one ``Authorization`` header), 401
                (missing or invalid token) or 403 (insufficient scope).
        """
        if sum(bytes(k).lower() == b"authorization" for k, _ in scope.get("headers", ())) > 1:
            raise HttpError(400, "Bad Request: the authorization header appears more than once")
        value = header(scope, b"authorization")
        if value is None or not value[:7].lower() == "bearer " or not value[7:].strip():
            raise HttpError(
                401,
                "Unauthorized: a bearer token is required",
                headers=[(b"www-authenticate", self._challenge(None, ""))],
            )
        token = await self.verify(value[7:].strip())
        if token is None:
            raise HttpError(
                401,
                "Unauthorized: invalid or expired token",
                headers=[(b"www-authenticate", self._challenge("invalid_token", "invalid token"))],
            )
        missing = set(self.required_scopes) - set(token.scopes)
        if missing:
            raise HttpError(
                403,
                f"Forbidden: the token lacks scope(s) {', '.join(sorted(missing))}",
                headers=[
                    (
                        b"www-authenticate",
                        self._challenge("insufficient_scope", "insufficient scope"),
                    )
                ],
            )
        return token


def _host_name(netloc: str) -> str:
    """``host`` of ``host:port`` (``[::1]`` kept in brackets)."""
    if netloc.startswith("["):
        return netloc[: netloc.find("]") + 1].lower()
    return netloc.rsplit(":", 1)[0].lower() if netloc.count(":") == 1 else netloc.lower()


def check_host_and_origin(
    scope: Scope, allowed_hosts: Collection[str] | None, allowed_origins: Collection[str]
) -> None:
    """Refuse requests whose ``Host`` or ``Origin`` could come from DNS rebinding.

    Args:
        allowed_hosts: Host names (with or without ``:port``) accepted in
            ``Host``; ``None`` means loopback names only; ``"*"`` in it, any.
        allowed_origins: Extra origins (``https://app.example.com``) accepted.

    Raises:
        HttpError: 421 for a refused ``Host``, 403 for a refused ``Origin``.
    """
    host = header(scope, b"host") or ""
    if allowed_hosts is None or "*" not in allowed_hosts:
        names = LOOPBACK_HOSTS if allowed_hosts is None else allowed_hosts
        if host.lower() not in names and _host_name(host) not in names:
            raise HttpError(421, f"Misdirected Request: host {host!r} is not allowed")
    origin = header(scope, b"origin")
    if origin is None:
        return
    if origin in allowed_origins or "*" in allowed_origins:
        return
    try:
        split = urlsplit(origin)
    except ValueError:  # "http://[::1", "http://[evil.com]": not an origin at all
        raise HttpError(403, f"Forbidden: origin {origin!r} is not allowed") from None
    if split.scheme in ("http", "https") and split.netloc:
        if _host_name(split.netloc) in LOOPBACK_HOSTS:
            return
        if split.netloc.lower() == host.lower():
            return  # same origin: safe because Host itself was checked
    raise HttpError(403, f"Forbidden: origin {origin!r} is not allowed")
