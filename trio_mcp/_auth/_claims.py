"""Claims shared by every verifier: the subject, the scopes, the audience."""

from __future__ import annotations

from collections.abc import Collection, Mapping
from typing import Any

from .._runtime import AccessToken
from .._transports import InvalidToken

__all__ = ["audiences", "to_access_token"]


def audiences(audience: str | Collection[str]) -> frozenset[str]:
    """The accepted audiences, checked (at least one, each a non-empty string).

    Raises:
        ValueError: none given.
    """
    found = frozenset({audience} if isinstance(audience, str) else audience)
    if not found or not all(isinstance(a, str) and a for a in found):
        raise ValueError("audience must name this server's resource URL (RFC 8707)")
    return found


def scopes_of(claims: Mapping[str, Any], claim: str | None) -> frozenset[str]:
    """The scopes a token grants: ``scope`` (RFC 8693/9068: space-separated) or ``scp``.

    ``scp`` is what Entra ID and Okta use, as a list or a string. With
    ``claim`` given, only that claim is read.
    """
    names = (claim,) if claim is not None else ("scope", "scp")
    for name in names:
        value = claims.get(name)
        if isinstance(value, str):
            return frozenset(value.split())
        if isinstance(value, list):
            return frozenset(v for v in value if isinstance(v, str))
    return frozenset()


def to_access_token(
    claims: dict[str, Any], *, subject_claim: str, scope_claim: str | None
) -> AccessToken:
    """The :class:`AccessToken` handlers see: subject, scopes, and every claim.

    Raises:
        InvalidToken: the subject claim is missing or not a string.
    """
    subject = claims.get(subject_claim)
    if not isinstance(subject, str) or not subject:
        raise InvalidToken(f"the token names no subject ({subject_claim})")
    return AccessToken(subject, scopes_of(claims, scope_claim), claims)
