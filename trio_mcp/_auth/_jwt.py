"""JWT access tokens (RFC 9068) verified locally: signature, algorithm, issuer, audience, time.

**Why PyJWT.** JOSE is done by PyJWT with ``cryptography`` (the ``[crypto]``
extra), not by joserfc:

* it is the library the official MCP SDK already depends on (``pyjwt[crypto]``),
  so a server using both installs one JOSE stack, not two;
* it is small (JWS and JWT only, no JWE we would never use), maintained for a
  decade, and its security fixes get CVEs and releases (the algorithm
  confusion of 2017 and 2022 was fixed there, in public);
* since 2.0 ``decode`` requires the algorithm list, and it checks ``exp``,
  ``nbf``, ``iat``, ``iss``, ``aud`` with a leeway: we use those checks rather
  than writing our own.

joserfc (also well kept, typed, with stricter key/algorithm binding built in)
would do as well; it loses on the shared dependency. The one thing we do not
leave to the library is the binding of each algorithm to a key type
(:mod:`._keys`): a key verifies only its own family, checked before PyJWT
sees the token.

**The order of checks** (each failure is :class:`InvalidToken`, a 401):

1. the header parses, and its ``alg`` is in the allow-list (never ``none``);
2. the key: the static one, or the JWKS key named by ``kid`` (rules in
   :mod:`._jwks`; an unreachable key set is :class:`VerifierUnavailable`,
   a 401 saying the keys could not be fetched), and ``alg`` is one that key may verify;
3. the signature, then ``exp``, ``nbf``, ``iat`` (``leeway`` seconds of clock
   skew either way), ``iss`` (exactly), ``aud`` (contains one of ``audience``),
   and the ``required_claims``;
4. a subject (``sub``), and the scopes (``scope`` or ``scp``).

Scopes are checked by :class:`~trio_mcp.BearerAuth` (``required_scopes=``),
which answers a missing one with 403 and the step-up challenge, not 401.
"""

from __future__ import annotations

import logging
from collections.abc import Collection, Mapping, Sequence
from typing import Any

import httpx
import jwt

from .._runtime import AccessToken
from .._transports import InvalidToken
from ._claims import audiences, to_access_token
from ._jwks import KeySet
from ._keys import PublicKey, VerificationKey, check_allow_list, from_public_key, from_secret

__all__ = ["JWTVerifier"]

log = logging.getLogger("trio_mcp.auth")

_REFUSALS: list[tuple[type[Exception], str]] = [
    (jwt.ExpiredSignatureError, "the token has expired"),
    (jwt.ImmatureSignatureError, "the token is not valid yet (nbf or iat in the future)"),
    (jwt.InvalidAudienceError, "the token was not issued for this resource (aud)"),
    (jwt.InvalidIssuerError, "the token's issuer is not trusted (iss)"),
    (jwt.InvalidSignatureError, "the token's signature is invalid"),
    (jwt.InvalidAlgorithmError, "the token's algorithm is not accepted"),
]


class JWTVerifier:
    """Verifies JWT access tokens with an issuer's keys; pass it as ``BearerAuth(verify=...)``.

    Exactly one of ``jwks_url``, ``public_key`` and ``secret`` gives the keys.
    The verifier keeps the JWKS cache: make one per issuer and keep it for the
    server's life.

    Args:
        issuer: The ``iss`` a token must carry, exactly (or any of several).
        audience: This server's resource URL (RFC 8707), or the audience
            string your identity provider puts in ``aud`` for it; a token must
            name one of them.
        algorithms: The allow-list, e.g. ``["RS256"]``. ``none`` is refused;
            HS* only with ``secret`` (and then nothing else).
        jwks_url: The issuer's JWK Set (``jwks_uri`` of its metadata).
        public_key: A PEM public key or certificate, a ``cryptography``
            public key, or one JWK as a dict.
        secret: A shared HMAC secret (at least 32 bytes), for HS*.
        leeway: Seconds of clock skew allowed for ``exp``, ``nbf``, ``iat``.
        required_claims: Claims a token must have (``exp`` by default;
            ``iss`` and ``aud`` are always required).
        subject_claim: The claim that names the caller (``sub``).
        scope_claim: The claim with the scopes; ``None``: ``scope``, then ``scp``.
        fetch_timeout: Seconds one JWKS fetch may take.
        min_refresh: At most one JWKS fetch per this many seconds.
        cache_ttl: How long a fetched set is fresh when its response has no
            ``Cache-Control: max-age``.
        max_cache_ttl: The longest a set is kept fresh, whatever ``max-age`` says.
        http_client: An ``httpx.AsyncClient`` to fetch with (its pool is then
            shared; you close it); ``None``: a client per fetch.

    Raises:
        ValueError: at construction, for a configuration that could accept
            forged tokens (``none``, HS* with public keys, no audience...).
    """

    def __init__(
        self,
        *,
        issuer: str | Sequence[str],
        audience: str | Collection[str],
        algorithms: Collection[str],
        jwks_url: str | None = None,
        public_key: str | bytes | PublicKey | Mapping[str, Any] | None = None,
        secret: str | bytes | None = None,
        leeway: float = 30.0,
        required_claims: Collection[str] = ("exp",),
        subject_claim: str = "sub",
        scope_claim: str | None = None,
        fetch_timeout: float = 5.0,
        min_refresh: float = 30.0,
        cache_ttl: float = 300.0,
        max_cache_ttl: float = 86_400.0,
        http_client: httpx.AsyncClient | None = None,
    ) -> None:
        if sum(x is not None for x in (jwks_url, public_key, secret)) != 1:
            raise ValueError("give exactly one of jwks_url, public_key and secret")
        if not issuer:
            raise ValueError("issuer must name the token issuer (iss)")
        self.issuer: str | list[str] = issuer if isinstance(issuer, str) else list(issuer)
        self.audience = audiences(audience)
        self.algorithms = check_allow_list(algorithms, symmetric=secret is not None)
        self.leeway = leeway
        self.required_claims = sorted({*required_claims, "iss", "aud"})
        self.subject_claim = subject_claim
        self.scope_claim = scope_claim
        self._static: VerificationKey | None = None
        self._keys: KeySet | None = None
        if jwks_url is not None:
            self._keys = KeySet(
                jwks_url,
                self.algorithms,
                timeout=fetch_timeout,
                min_refresh=min_refresh,
                default_ttl=cache_ttl,
                max_ttl=max_cache_ttl,
                client=http_client,
            )
        elif public_key is not None:
            self._static = from_public_key(public_key, self.algorithms)
        else:
            assert secret is not None
            self._static = from_secret(secret, self.algorithms)

    @property
    def jwks(self) -> KeySet | None:
        """The JWKS cache (``None`` with a static key)."""
        return self._keys

    async def __call__(self, token: str) -> AccessToken:
        """Verify ``token`` (the module docstring lists the checks).

        Returns:
            Its subject, scopes, and all its claims (``ctx.access_token.claims``).

        Raises:
            InvalidToken: refused (401); the description says which check failed.
            VerifierUnavailable: the JWKS cannot be fetched and has no key for it (401).
        """
        try:
            header = jwt.get_unverified_header(token)
        except jwt.InvalidTokenError:
            raise InvalidToken("the token is not a JWT") from None
        alg = header.get("alg")
        if not isinstance(alg, str) or alg not in self.algorithms:
            raise InvalidToken("the token's algorithm is not accepted")
        kid = header.get("kid")
        if kid is not None and not isinstance(kid, str):
            raise InvalidToken("the token's key id (kid) is not a string")
        key = self._static
        if key is None:
            assert self._keys is not None
            key = await self._keys.key_for(kid)
        if alg not in key.algorithms:
            raise InvalidToken("the token's algorithm does not fit its key")
        claims = self._decode(token, key, alg)
        return to_access_token(
            claims, subject_claim=self.subject_claim, scope_claim=self.scope_claim
        )

    def _decode(self, token: str, key: VerificationKey, alg: str) -> dict[str, Any]:
        try:
            return jwt.decode(
                token,
                key.key,
                algorithms=[alg],
                audience=sorted(self.audience),
                issuer=self.issuer,
                leeway=self.leeway,
                options={"require": self.required_claims, "verify_sub": False},
            )
        except jwt.MissingRequiredClaimError as exc:
            raise InvalidToken(f"the token lacks the {exc.claim} claim") from None
        except jwt.InvalidTokenError as exc:
            for kind, description in _REFUSALS:
                if isinstance(exc, kind):
                    raise InvalidToken(description) from None
            log.debug("trio_mcp.auth: token refused: %s", exc)
            raise InvalidToken("the token is malformed") from None
