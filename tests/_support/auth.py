"""Identity-provider stand-ins for the auth tests: a JWKS and an introspection endpoint.

:class:`IdpServer` is a stdlib ``ThreadingHTTPServer`` on a free loopback port,
in a thread the fixture starts and joins. It plays both endpoints of one
issuer, counts the hits of each, and can be told to misbehave (fail, hang).
:class:`Signer` holds keys generated in the test and mints real signed tokens.
Nothing here mocks a verifier: the verifiers under test fetch from this server
over real HTTP.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from jwt.algorithms import ECAlgorithm, RSAAlgorithm

from .jsonhttp import JsonHandler

ISSUER = "https://idp.test/"
RESOURCE = "http://127.0.0.1/mcp"
CLIENT_ID, CLIENT_SECRET = "mcp-server", "s3cret"


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


class Signer:
    """Keys made in the test (RSA and EC, each with a ``kid``) and tokens signed with them."""

    def __init__(self) -> None:
        self.keys: dict[str, Any] = {}  # kid -> private key
        self.add_rsa("rsa-1")
        self.add_ec("ec-1")

    def add_rsa(self, kid: str) -> None:
        self.keys[kid] = rsa.generate_private_key(public_exponent=65537, key_size=2048)

    def add_ec(self, kid: str) -> None:
        self.keys[kid] = ec.generate_private_key(ec.SECP256R1())

    def jwks(self, kids: list[str] | None = None) -> dict[str, Any]:
        out = []
        for kid in kids if kids is not None else list(self.keys):
            key = self.keys[kid].public_key()
            if isinstance(key, rsa.RSAPublicKey):
                jwk = RSAAlgorithm.to_jwk(key, as_dict=True)
                jwk["alg"] = "RS256"
            else:
                jwk = ECAlgorithm.to_jwk(key, as_dict=True)
                jwk["alg"] = "ES256"
            out.append({**jwk, "kid": kid, "use": "sig"})
        return {"keys": out}

    def public_pem(self, kid: str) -> bytes:
        return (
            self.keys[kid]
            .public_key()
            .public_bytes(
                serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
            )
        )

    def claims(self, **overrides: Any) -> dict[str, Any]:
        now = int(time.time())
        claims: dict[str, Any] = {
            "iss": ISSUER,
            "aud": RESOURCE,
            "sub": "alice",
            "scope": "mcp:tools mcp:read",
            "iat": now,
            "nbf": now,
            "exp": now + 600,
            "jti": uuid.uuid4().hex,
        }
        claims.update(overrides)
        return {k: v for k, v in claims.items() if v is not None}

    def token(
        self, kid: str = "rsa-1", *, alg: str | None = None, key: str | None = None, **claims: Any
    ) -> str:
        """A signed token naming ``kid``, signed with that key (or with ``key``'s)."""
        key = self.keys[key or kid]
        alg = alg or ("RS256" if isinstance(key, rsa.RSAPrivateKey) else "ES256")
        return jwt.encode(self.claims(**claims), key, algorithm=alg, headers={"kid": kid})

    def tampered(self, **claims: Any) -> str:
        """A valid token whose payload was then changed (the signature no longer fits)."""
        header, _, signature = self.token().split(".")
        body = b64(json.dumps(self.claims(sub="mallory", **claims)).encode())
        return f"{header}.{body}.{signature}"

    def unsigned(self, kid: str = "rsa-1", **claims: Any) -> str:
        """``alg: none``: header and payload, no signature."""
        header = b64(json.dumps({"alg": "none", "typ": "JWT", "kid": kid}).encode())
        return f"{header}.{b64(json.dumps(self.claims(**claims)).encode())}."

    def hs256_with_public_key(self, kid: str = "rsa-1", **claims: Any) -> str:
        """The algorithm-confusion forgery: HS256, with the RSA public key's PEM as the secret."""
        header = b64(json.dumps({"alg": "HS256", "typ": "JWT", "kid": kid}).encode())
        body = b64(json.dumps(self.claims(**claims)).encode())
        mac = hmac.new(self.public_pem(kid), f"{header}.{body}".encode(), hashlib.sha256)
        return f"{header}.{body}.{b64(mac.digest())}"


class IdpServer:
    """One issuer's endpoints: ``/jwks`` and ``/introspect`` (see the module docstring).

    Attributes:
        jwks: The document ``/jwks`` serves (replace it to rotate keys).
        cache_control: Its ``Cache-Control`` header, if any.
        mode: ``"ok"``, ``"fail"`` (500 for every request), ``"hang"``
            (accept, never answer) or ``"hold"`` (answer once ``release`` is set).
        active: Introspection answers, by token.
        hits: Requests per path.
        requested: Set as each request is counted (a test clears it to wait for the next).
    """

    def __init__(self, signer: Signer | None = None) -> None:
        self.jwks: dict[str, Any] = signer.jwks() if signer is not None else {"keys": []}
        self.cache_control: str | None = None
        self.mode = "ok"
        self.active: dict[str, dict[str, Any]] = {}
        self.hits: dict[str, int] = {"/jwks": 0, "/introspect": 0}
        self.auth_seen: list[str] = []
        self.release = threading.Event()
        self.requested = threading.Event()
        self._lock = threading.Lock()
        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._httpd.daemon_threads = True
        self.port = self._httpd.server_address[1]
        self.url = f"http://127.0.0.1:{self.port}"

    def count(self, path: str) -> int:
        with self._lock:
            return self.hits[path]

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        idp = self

        class Handler(JsonHandler):
            def _begin(self) -> bool:
                with idp._lock:
                    idp.hits[self.path] = idp.hits.get(self.path, 0) + 1
                idp.requested.set()
                if idp.mode == "hang":
                    idp.release.wait(30)
                    return False
                if idp.mode == "hold":
                    idp.release.wait(30)
                if idp.mode == "fail":
                    self._send(500, {"error": "down"})
                    return False
                return True

            def do_GET(self) -> None:
                if not self._begin():
                    return
                if self.path != "/jwks":
                    self._send(404, {})
                    return
                cc = idp.cache_control
                self._send(200, idp.jwks, {"cache-control": cc} if cc else None)

            def do_POST(self) -> None:
                length = int(self.headers.get("content-length", "0"))
                form = {k: v[0] for k, v in parse_qs(self.rfile.read(length).decode()).items()}
                if not self._begin():
                    return
                basic = (
                    "Basic " + base64.b64encode(f"{CLIENT_ID}:{CLIENT_SECRET}".encode()).decode()
                )
                by_basic = self.headers.get("authorization") == basic
                by_post = form.get("client_id") == CLIENT_ID and form.get("client_secret") == (
                    CLIENT_SECRET
                )
                idp.auth_seen.append("basic" if by_basic else "post" if by_post else "none")
                if not (by_basic or by_post):
                    self._send(401, {"error": "invalid_client"})
                    return
                self._send(200, idp.active.get(form.get("token", ""), {"active": False}))

        return Handler

    @contextmanager
    def running(self) -> Iterator[IdpServer]:
        thread = threading.Thread(target=self._httpd.serve_forever, name="idp", daemon=True)
        thread.start()
        try:
            yield self
        finally:
            self.release.set()
            self._httpd.shutdown()
            self._httpd.server_close()
            thread.join(10)
