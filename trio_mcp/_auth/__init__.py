"""Server-side token verification (the public names are in :mod:`trio_mcp.auth`).

Above the stack: it imports ``_runtime`` (``AccessToken``) and ``_transports``
(``InvalidToken``, ``VerifierUnavailable``), and nothing below imports it.
Needs PyJWT and httpx (the ``auth`` extra).
"""

from ._introspection import IntrospectionVerifier
from ._jwks import KeySet
from ._jwt import JWTVerifier
from ._static import StaticTokens

__all__ = ["IntrospectionVerifier", "JWTVerifier", "KeySet", "StaticTokens"]
