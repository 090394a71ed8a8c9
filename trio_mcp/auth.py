"""Server-side authorization: verify bearer tokens the way an OAuth resource server must.

Each verifier is an ``async verify(token)`` for :class:`trio_mcp.BearerAuth`,
which turns its answer into HTTP (401 refused, 403 missing scope with the
step-up challenge, 503 verifier unreachable)::

    from trio_mcp import BearerAuth
    from trio_mcp.auth import JWTVerifier

    verify = JWTVerifier(
        jwks_url="https://idp.example.com/.well-known/jwks.json",
        issuer="https://idp.example.com/",
        audience="https://mcp.example.com/mcp",
        algorithms=["RS256"],
    )
    server.run(transport="http", host="0.0.0.0", allowed_hosts=["mcp.example.com"],
               auth=BearerAuth(verify=verify, resource="https://mcp.example.com/mcp",
                               authorization_servers=["https://idp.example.com/"],
                               required_scopes=["mcp:tools"]))

* :class:`JWTVerifier`: JWT access tokens, with keys from a JWKS URL (cached,
  refreshed on rotation, rate-limited) or a static key.
* :class:`IntrospectionVerifier`: opaque tokens, asked of the authorization
  server (RFC 7662), with a cache.
* :class:`StaticTokens`: fixed tokens for development.
* :class:`SubjectFilter`: the caller's subject on log records.

Needs the ``auth`` extra: PyJWT with ``cryptography``, and httpx
(``pip install 'pyjwt[crypto]' httpx``). ``import trio_mcp`` never imports this package.
"""

try:
    import httpx as _httpx  # noqa: F401
    import jwt as _jwt  # noqa: F401
except ImportError as exc:  # pragma: no cover - depends on the install
    raise ImportError(
        f"trio_mcp.auth needs the 'auth' extra: pip install 'pyjwt[crypto]' httpx ({exc})"
    ) from exc

from ._auth import IntrospectionVerifier as IntrospectionVerifier
from ._auth import JWTVerifier as JWTVerifier
from ._auth import KeySet as KeySet
from ._auth import StaticTokens as StaticTokens
from ._exports import fixup_module_metadata
from ._runtime import SubjectFilter as SubjectFilter
from ._transports import InvalidToken as InvalidToken
from ._transports import VerifierUnavailable as VerifierUnavailable

__all__ = [
    "IntrospectionVerifier",
    "InvalidToken",
    "JWTVerifier",
    "KeySet",
    "StaticTokens",
    "SubjectFilter",
    "VerifierUnavailable",
]

fixup_module_metadata(__name__, globals(), __all__)
del fixup_module_metadata
