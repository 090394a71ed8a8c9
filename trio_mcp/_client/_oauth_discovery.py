"""OAuth discovery for :class:`~trio_mcp.client.OAuth`: which authorization server, offering what.

The steps of the MCP authorization spec (2025-11-25 and 2026-07-28):

1. **The challenge** (:func:`parse_challenge`): a ``401`` or ``403`` carries
   ``WWW-Authenticate: Bearer resource_metadata="...", scope="...", error="..."``.
2. **Protected resource metadata** (RFC 9728, :func:`discover`): the
   ``resource_metadata`` URL of the challenge, else the well-known URLs of the
   MCP endpoint, path-based first (``/.well-known/oauth-protected-resource/mcp``),
   then at the root. Its ``resource`` must be this server (same origin, the
   endpoint's path at or under it): a server cannot send the client to get a
   token for another one. No metadata at all: the 2025-03-26 rule, the
   server's origin is the authorization server.
3. **Authorization server metadata** (RFC 8414 / OpenID Connect Discovery), for
   the first of the metadata's ``authorization_servers``: for an issuer with a
   path, ``/.well-known/oauth-authorization-server/<path>``,
   ``/.well-known/openid-configuration/<path>``, ``<path>/.well-known/openid-configuration``;
   for one without, the first two at the root. The metadata's ``issuer`` must be
   the issuer asked for, exactly (RFC 8414 section 3.3).

Every URL the flow sends a secret or follows (the ``resource_metadata`` URL,
the authorization, token and registration endpoints) must be HTTPS
(:func:`require_https`), except on a loopback host (``127.0.0.1``, ``::1``,
``localhost``: local development and tests).

Nothing here signs or hashes: it reads JSON documents. The well-known URL rule
is authlib's (``authlib.oauth2.rfc8414.get_well_known_url``).
"""

from __future__ import annotations

import logging
import re
from typing import Any
from urllib.parse import urlsplit

import attrs
import httpx
from authlib.oauth2.rfc8414 import get_well_known_url

from ._errors import AuthorizationError

__all__ = [
    "Challenge",
    "Discovery",
    "discover",
    "parse_challenge",
    "require_https",
    "resource_allowed",
]

log = logging.getLogger("trio_mcp.client")

_PARAM = re.compile(r'([A-Za-z0-9_.-]+)\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^\s,"]+))')


_LOOPBACK = ("127.0.0.1", "::1", "localhost")


def require_https(url: str, what: str) -> None:
    """Refuse ``url`` (the ``what`` of the flow) unless it is HTTPS or on a loopback host.

    Raises:
        AuthorizationError: a URL of another scheme, or plain HTTP to another host.
    """
    parts = urlsplit(url)
    scheme, host = parts.scheme.lower(), (parts.hostname or "").lower()
    if scheme == "https" or (scheme == "http" and host in _LOOPBACK):
        return
    raise AuthorizationError(
        f"the {what} {url!r} is not HTTPS: OAuth needs HTTPS (plain HTTP on a loopback host only)"
    )


@attrs.frozen
class Challenge:
    """What a ``WWW-Authenticate: Bearer ...`` header asks for."""

    resource_metadata: str | None = None
    scope: str | None = None
    error: str | None = None

    @property
    def scopes(self) -> list[str]:
        return self.scope.split() if self.scope else []


def parse_challenge(header: str | None) -> Challenge:
    """The Bearer challenge's parameters (RFC 6750 section 3); an empty one if there is none."""
    if not header:
        return Challenge()
    found = re.search(r"(?i)\bbearer\b", header)
    rest = header[found.end() :] if found else header
    other = re.search(r",\s*(?i:dpop|basic|digest|negotiate)\b(?!\s*=)", rest)
    if other:  # another scheme's challenge follows
        rest = rest[: other.start()]
    params: dict[str, str] = {}
    for match in _PARAM.finditer(rest):
        value = match.group(2)
        value = re.sub(r"\\(.)", r"\1", value) if value is not None else match.group(3)
        params.setdefault(match.group(1).lower(), value)
    return Challenge(params.get("resource_metadata"), params.get("scope"), params.get("error"))


def resource_allowed(server_url: str, resource: str) -> bool:
    """Whether a protected resource ``resource`` covers the MCP endpoint ``server_url``."""
    server, res = urlsplit(server_url), urlsplit(resource)
    if (server.scheme.lower(), server.netloc.lower()) != (res.scheme.lower(), res.netloc.lower()):
        return False
    base, path = res.path.rstrip("/"), server.path.rstrip("/")
    return path == base or path.startswith(base + "/")


@attrs.frozen
class Discovery:
    """Where to get a token for one MCP endpoint.

    Attributes:
        resource: The resource to ask a token for (RFC 8707 ``resource``).
        issuer: The authorization server's issuer identifier.
        metadata: Its metadata (``authorization_endpoint``, ``token_endpoint``...).
        scopes_supported: The protected resource metadata's ``scopes_supported``, if any.
    """

    resource: str
    issuer: str
    metadata: dict[str, Any]
    scopes_supported: list[str] | None = None


async def _get_json(http: httpx.AsyncClient, url: str) -> dict[str, Any] | None:
    try:
        response = await http.get(url, headers={"Accept": "application/json"})
    except httpx.HTTPError as exc:
        log.debug("trio_mcp.client: OAuth discovery: GET %s failed: %s", url, exc)
        return None
    if response.status_code != 200:
        return None
    try:
        value = response.json()
    except ValueError:
        return None
    return value if isinstance(value, dict) else None


def _prm_urls(server_url: str, hinted: str | None) -> list[str]:
    parts = urlsplit(server_url)
    origin = f"{parts.scheme}://{parts.netloc}"
    urls = [hinted] if hinted else []
    path = parts.path.rstrip("/")
    if path:
        urls.append(f"{origin}/.well-known/oauth-protected-resource{path}")
    urls.append(f"{origin}/.well-known/oauth-protected-resource")
    return urls


def _as_urls(issuer: str) -> list[str]:
    path = urlsplit(issuer).path.rstrip("/")
    urls = [
        get_well_known_url(issuer, external=True),
        get_well_known_url(issuer, external=True, suffix="openid-configuration"),
    ]
    if path:
        urls.append(issuer.rstrip("/") + "/.well-known/openid-configuration")
    return urls


async def discover(http: httpx.AsyncClient, server_url: str, challenge: Challenge) -> Discovery:
    """The authorization server for ``server_url`` (see the module docstring).

    Raises:
        AuthorizationError: no usable metadata, or metadata that breaks the rules.
    """
    if challenge.resource_metadata:
        require_https(challenge.resource_metadata, "protected resource metadata URL")
    prm: dict[str, Any] | None = None
    for url in _prm_urls(server_url, challenge.resource_metadata):
        prm = await _get_json(http, url)
        if prm is not None:
            break
    if prm is None:  # 2025-03-26: the MCP server's origin is the authorization server
        parts = urlsplit(server_url)
        resource, issuer = server_url, f"{parts.scheme}://{parts.netloc}"
        scopes = None
    else:
        resource = prm.get("resource", "")
        if not isinstance(resource, str) or not resource:  # RFC 9728 section 2: REQUIRED
            raise AuthorizationError(
                f"the protected resource metadata of {server_url} has no resource:"
                " refusing to authorize for it"
            )
        if not resource_allowed(server_url, resource):
            raise AuthorizationError(
                f"the protected resource metadata names resource {resource!r},"
                f" which is not {server_url}: refusing to authorize for it"
            )
        servers = prm.get("authorization_servers")
        if not isinstance(servers, list) or not servers or not isinstance(servers[0], str):
            raise AuthorizationError(
                f"the protected resource metadata of {server_url} names no authorization server"
            )
        issuer = servers[0]
        found = prm.get("scopes_supported")
        scopes = [s for s in found if isinstance(s, str)] if isinstance(found, list) else None
    for url in _as_urls(issuer):
        metadata = await _get_json(http, url)
        if metadata is None:
            continue
        if metadata.get("issuer") != issuer:
            raise AuthorizationError(
                f"the authorization server metadata at {url} names issuer"
                f" {metadata.get('issuer')!r}, not {issuer!r}"
            )
        for key in ("authorization_endpoint", "token_endpoint"):
            if not isinstance(metadata.get(key), str):
                raise AuthorizationError(f"the authorization server {issuer} has no {key}")
        for key in ("authorization_endpoint", "token_endpoint", "registration_endpoint"):
            if isinstance(metadata.get(key), str):
                require_https(metadata[key], f"{key} of {issuer}")
        return Discovery(resource, issuer, metadata, scopes)
    raise AuthorizationError(f"no authorization server metadata found for {issuer}")
