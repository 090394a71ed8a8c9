"""HTTP security: Host and Origin checks (DNS rebinding), bearer tokens, RFC 9728 metadata.

* **Host.** A browser tricked by DNS rebinding sends the attacker's host name in
  ``Host``. By default only ``localhost``, ``127.0.0.1`` and ``[::1]`` (any port)
  are accepted; a server bound to a public address names its hosts, or ``"*"``.
  A refused ``Host`` is ``421 Misdirected Request``.
* **Origin.** When present, it must be a loopback origin, the request's own
  origin (same host and port as ``Host``), or one of ``allowed_origins``;
  otherwise ``403 Forbidden`` (the spec's MUST).
* **Bearer tokens.** ``BearerAuth(verify=...)``: ``verify(token)`` returns an
  :class:`AccessToken`, or refuses it by returning ``None`` or raising
  :class:`InvalidToken`; it raises :class:`VerifierUnavailable` when it cannot
  tell now (its key set or introspection endpoint is unreachable). The
  verifiers of :mod:`trio_mcp.auth` do all three. The status table:

  ====================================  ======  ====================================
  the request                           status  ``WWW-Authenticate``
  ====================================  ======  ====================================
  no ``Authorization: Bearer``          401     ``Bearer scope=..., resource_metadata=...``
  refused token                         401     ``Bearer error="invalid_token", ...``
  token lacking ``required_scopes``     403     ``Bearer error="insufficient_scope", scope=...``
  verifier unreachable                  401     ``Bearer error="invalid_token", ...``
  ====================================  ======  ====================================

  ``scope=`` names every required scope (the spec's step-up: the client asks
  for them all again, keeping what it had); ``resource_metadata=`` names the
  protected resource metadata (RFC 9728) when ``resource`` is set, which is
  then served at ``/.well-known/oauth-protected-resource<path>``, listing
  ``scopes_supported`` (the required scopes unless told otherwise). Legacy
  sessions are bound to the token's ``subject``: another subject presenting
  the session id gets 404.

  A verifier that is unreachable (the issuer's key set cannot be fetched and
  no cached key fits, the introspection endpoint does not answer) is a 401
  with ``error_description`` saying so, plus ``Retry-After``: the answer
  comes at once rather than a hang past the deadline or a 500, and the
  outage is logged at ERROR on every request it refuses.
"""

from __future__ import annotations

import ipaddress
import logging
from collections.abc import Awaitable, Callable, Collection, Sequence
from typing import Any
from urllib.parse import urlsplit

import attrs

from .._runtime import AccessToken
from ._asgi import HttpError, Scope, header

__all__ = [
    "LOOPBACK_HOSTS",
    "BearerAuth",
    "InvalidToken",
    "VerifierUnavailable",
    "check_host_and_origin",
    "insufficient_scope_challenge",
    "is_loopback",
]

log = logging.getLogger("trio_mcp")

LOOPBACK_HOSTS: frozenset[str] = frozenset({"localhost", "127.0.0.1", "[::1]", "::1"})


class InvalidToken(Exception):
    """A verifier refuses the token: ``401`` with ``error="invalid_token"``.

    Args:
        description: Why, for the client (``error_description``): say what is
            wrong (``"the token has expired"``), never echo the token. Keep it
            to printable ASCII; quotes and backslashes are dropped.
    """

    def __init__(self, description: str = "invalid token") -> None:
        super().__init__(description)
        self.description = description


class VerifierUnavailable(Exception):
    """A verifier cannot decide now (its keys or its endpoint are unreachable): ``401``.

    The answer is ``401`` with ``error="invalid_token"`` and an
    ``error_description`` naming the outage, and a ``Retry-After`` header.

    Args:
        description: What failed, for the log, the response body and
            ``error_description`` (never a secret: it reaches the client).
        retry_after: Seconds after which a retry may succeed (``Retry-After``).
    """

    def __init__(self, description: str, *, retry_after: int = 5) -> None:
        super().__init__(description)
        self.description = description
        self.retry_after = retry_after


def is_loopback(host: str) -> bool:
    """Whether a bind address (``127.0.0.1``, ``::1``, ``localhost``) is loopback only."""
    name = host.strip("[]").lower()
    if name == "localhost":
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False


def _quoted(text: str) -> str:
    """``text`` as the inside of an RFC 9110 quoted-string we emit (no quotes, no escapes)."""
    return "".join(c for c in text if " " <= c <= "~" and c not in '"\\')


@attrs.frozen(kw_only=True)
class BearerAuth:
    """Bearer-token authentication for the HTTP endpoint (statuses: the module docstring).

    Args:
        verify: ``async verify(token) -> AccessToken | None``: ``None`` or
            :class:`InvalidToken` refuses it (401), and so does
            :class:`VerifierUnavailable` (401, saying the token could not be
            verified, with ``Retry-After``). Any other exception is an error of the server (500), not
            a refusal. It runs in the HTTP request's task, inside its cancel
            scope. A verifier with a ``serving(hosts)`` method is told the
            addresses :func:`~trio_mcp.lowlevel.serve_http` binds.
        resource: This server's canonical URL (e.g. ``https://mcp.example.com/mcp``);
            when set, RFC 9728 metadata is served and named in ``WWW-Authenticate``.
        authorization_servers: Issuers listed in the metadata.
        scopes_supported: Scopes listed in the metadata (default: ``required_scopes``).
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
        """The RFC 9728 protected resource metadata document."""
        doc: dict[str, Any] = {"resource": self.resource, "bearer_methods_supported": ["header"]}
        if self.authorization_servers:
            doc["authorization_servers"] = list(self.authorization_servers)
        scopes = self.scopes_supported or self.required_scopes
        if scopes:
            doc["scopes_supported"] = list(scopes)
        return doc

    def serving(self, hosts: Sequence[str]) -> None:
        """The server is about to listen on ``hosts``: tell the verifier, if it asks."""
        hook = getattr(self.verify, "serving", None)
        if callable(hook):
            hook(hosts)

    def _challenge(
        self, error: str | None, description: str, scopes: Collection[str] = ()
    ) -> bytes:
        parts = []
        if error is not None:
            parts.append(f'error="{error}"')
            parts.append(f'error_description="{_quoted(description)}"')
        wanted = [*self.required_scopes, *(s for s in scopes if s not in self.required_scopes)]
        if wanted:
            parts.append(f'scope="{" ".join(wanted)}"')
        if self.resource is not None:
            split = urlsplit(self.resource)
            url = f"{split.scheme}://{split.netloc}{self.metadata_path()}"
            parts.append(f'resource_metadata="{url}"')
        return ("Bearer " + ", ".join(parts)).rstrip(", ").encode()

    def _refused(self, description: str) -> HttpError:
        return HttpError(
            401,
            f"Unauthorized: {description}",
            headers=[(b"www-authenticate", self._challenge("invalid_token", description))],
        )

    async def authenticate(self, scope: Scope) -> AccessToken:
        """The request's token, verified.

        Raises:
            HttpError: 400 (more than one ``Authorization`` header), 401 (missing
                or refused token, or the verifier is unreachable), 403
                (insufficient scope).
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
        try:
            token = await self.verify(value[7:].strip())
        except InvalidToken as exc:
            raise self._refused(exc.description) from None
        except VerifierUnavailable as exc:
            log.error("trio_mcp: bearer token refused, the verifier is unavailable: %s", exc)
            description = f"the token could not be verified: {exc.description}"
            refused = self._refused(description)
            refused.headers.append((b"retry-after", str(exc.retry_after).encode()))
            raise refused from None
        if token is None:
            raise self._refused("invalid or expired token")
        missing = set(self.required_scopes) - set(token.scopes)
        if missing:
            raise HttpError(
                403,
                f"Forbidden: the token lacks scope(s) {', '.join(sorted(missing))}",
                headers=[
                    (
                        b"www-authenticate",
                        self._challenge(
                            "insufficient_scope",
                            f"the token lacks scope(s) {' '.join(sorted(missing))}",
                        ),
                    )
                ],
            )
        return token


def insufficient_scope_challenge(auth: BearerAuth | None, scopes: Collection[str]) -> bytes:
    """``WWW-Authenticate`` for a component that needs ``scopes`` (RFC 6750 section 3.1)."""
    return (auth or BearerAuth(verify=_refuse))._challenge(
        "insufficient_scope", "insufficient scope", sorted(scopes)
    )


async def _refuse(token: str) -> AccessToken | None:
    return None


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
