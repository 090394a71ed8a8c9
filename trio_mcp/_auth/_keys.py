"""Verification keys and the algorithms each one may verify: the allow-list rules, no I/O.

A key verifies only the algorithms of its own type, whatever a token's header
asks for, so an RSA or EC public key can never be used as an HMAC secret (the
"HS256 signed with the public key" attack):

=================  ==========================================
key                algorithms it may verify
=================  ==========================================
RSA public key     RS256 RS384 RS512 PS256 PS384 PS512
EC P-256/384/521   ES256 / ES384 / ES512 (the curve decides)
EC secp256k1       ES256K
Ed25519 / Ed448    EdDSA
a shared secret    HS256 HS384 HS512 (never from a JWKS URL)
=================  ==========================================

A key's usable set is that row intersected with the verifier's allow-list
(and with the JWK's own ``alg``, when it names one). ``none`` is in no row and
is refused in an allow-list.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from typing import Any

import attrs
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec, ed448, ed25519, rsa
from cryptography.hazmat.primitives.serialization import load_pem_public_key
from jwt.algorithms import ECAlgorithm, OKPAlgorithm, RSAAlgorithm

__all__ = ["VerificationKey", "check_allow_list", "from_jwk", "from_public_key", "from_secret"]

RSA_ALGORITHMS = frozenset({"RS256", "RS384", "RS512", "PS256", "PS384", "PS512"})
HMAC_ALGORITHMS = frozenset({"HS256", "HS384", "HS512"})
EC_ALGORITHMS = {"P-256": "ES256", "P-384": "ES384", "P-521": "ES512", "secp256k1": "ES256K"}
_CURVES = {
    "secp256r1": "P-256",
    "secp384r1": "P-384",
    "secp521r1": "P-521",
    "secp256k1": "secp256k1",
}
OKP_ALGORITHMS = frozenset({"EdDSA"})
SUPPORTED = RSA_ALGORITHMS | HMAC_ALGORITHMS | frozenset(EC_ALGORITHMS.values()) | OKP_ALGORITHMS

PublicKey = (
    rsa.RSAPublicKey | ec.EllipticCurvePublicKey | ed25519.Ed25519PublicKey | ed448.Ed448PublicKey
)


@attrs.frozen
class VerificationKey:
    """One key and the algorithms it may verify (already within the allow-list)."""

    key: Any  # a cryptography public key, or the bytes of a shared secret
    algorithms: frozenset[str]
    kid: str | None = None


def check_allow_list(algorithms: Collection[str], *, symmetric: bool) -> frozenset[str]:
    """The allow-list, checked.

    Args:
        symmetric: Whether HS* may be in it (only with a shared ``secret``).

    Raises:
        ValueError: it is empty, names ``none`` or an unknown algorithm, or
            mixes HS* with public-key algorithms, or names HS* where only
            public keys can be had.
    """
    if isinstance(algorithms, str):
        raise ValueError(f"algorithms must be a list of names, not the string {algorithms!r}")
    allowed = frozenset(algorithms)
    if not allowed:
        raise ValueError("algorithms must name at least one algorithm (e.g. ['RS256'])")
    if any(a.lower() == "none" for a in allowed):
        raise ValueError("the 'none' algorithm can never be allowed: it means no signature")
    unknown = allowed - SUPPORTED
    if unknown:
        raise ValueError(f"unknown JWS algorithm(s) {sorted(unknown)}; known: {sorted(SUPPORTED)}")
    hmac = allowed & HMAC_ALGORITHMS
    if hmac and not symmetric:
        raise ValueError(
            f"{sorted(hmac)} need a shared secret: a JWKS URL or a public key "
            "can never verify an HMAC token"
        )
    if symmetric and allowed - HMAC_ALGORITHMS:
        raise ValueError(
            f"a shared secret verifies HS256/HS384/HS512 only, not {sorted(allowed - hmac)}"
        )
    return allowed


def _algorithms_of(key: Any) -> frozenset[str]:
    """The row of the module docstring's table for one public key."""
    if isinstance(key, rsa.RSAPublicKey):
        return RSA_ALGORITHMS
    if isinstance(key, ec.EllipticCurvePublicKey):
        alg = EC_ALGORITHMS.get(_CURVES.get(key.curve.name, ""))
        return frozenset({alg}) if alg else frozenset()
    if isinstance(key, ed25519.Ed25519PublicKey | ed448.Ed448PublicKey):
        return OKP_ALGORITHMS
    return frozenset()


def from_public_key(
    value: str | bytes | PublicKey | Mapping[str, Any], allowed: frozenset[str]
) -> VerificationKey:
    """A static key: a PEM public key or certificate, a ``cryptography`` key, or a JWK.

    Raises:
        ValueError: not a public key, or none of ``allowed`` fits it.
    """
    if isinstance(value, Mapping):
        found = from_jwk(value, allowed)
        if found is None:
            raise ValueError(
                f"the JWK (kty {value.get('kty')!r}) verifies none of {sorted(allowed)}"
            )
        return found
    if isinstance(value, str | bytes):
        data = value.encode() if isinstance(value, str) else value
        try:
            if b"-----BEGIN CERTIFICATE-----" in data:
                key: Any = x509.load_pem_x509_certificate(data).public_key()
            else:
                key = load_pem_public_key(data)
        except ValueError as exc:
            raise ValueError(f"public_key is not a PEM public key or certificate: {exc}") from None
    else:
        key = value
    usable = _algorithms_of(key) & allowed
    if not usable:
        raise ValueError(
            f"a {type(key).__name__} verifies none of {sorted(allowed)} "
            f"(it verifies {sorted(_algorithms_of(key))})"
        )
    return VerificationKey(key, usable)


def from_secret(secret: str | bytes, allowed: frozenset[str]) -> VerificationKey:
    """A shared HMAC secret (HS*), at least 32 bytes.

    Raises:
        ValueError: too short, or it looks like a PEM key (a public key is not a secret).
    """
    data = secret.encode() if isinstance(secret, str) else secret
    if b"-----BEGIN" in data or data.startswith(b"ssh-"):
        raise ValueError("secret looks like a PEM or SSH key: pass it as public_key instead")
    if len(data) < 32:
        raise ValueError("an HMAC secret must be at least 32 bytes (RFC 7518 section 3.2)")
    return VerificationKey(data, allowed & HMAC_ALGORITHMS)


def from_jwk(jwk: Mapping[str, Any], allowed: frozenset[str]) -> VerificationKey | None:
    """One key of a JWKS, or ``None`` when it cannot verify any allowed token.

    Skipped: keys for encryption (``use`` other than ``sig``), symmetric keys
    (``kty: oct``: a key set that is fetched is public), unknown key types,
    and keys whose ``alg`` is not allowed.

    Raises:
        ValueError: the JWK is malformed (bad or missing parameters).
    """
    if jwk.get("use", "sig") != "sig":
        return None
    kty = jwk.get("kty")
    if kty not in ("RSA", "EC", "OKP"):
        return None
    try:
        key: Any
        if kty == "RSA":
            key = RSAAlgorithm.from_jwk(dict(jwk))
        elif kty == "EC":
            key = ECAlgorithm.from_jwk(dict(jwk))
        else:
            key = OKPAlgorithm.from_jwk(dict(jwk))
    except Exception as exc:  # InvalidKeyError, or errors of the parameters' decoding
        raise ValueError(f"malformed {kty} JWK: {exc}") from None
    if not isinstance(key, PublicKey):
        return None  # a private key in a public key set: never use it
    usable = _algorithms_of(key) & allowed
    alg = jwk.get("alg")
    if alg is not None:
        usable &= {alg}
    kid = jwk.get("kid")
    if not usable:
        return None
    return VerificationKey(key, usable, kid if isinstance(kid, str) else None)
