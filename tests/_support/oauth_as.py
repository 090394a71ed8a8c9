"""A small OAuth 2.1 authorization server for the client's OAuth tests, on a loopback port.

:class:`AuthServer` is a stdlib ``ThreadingHTTPServer`` in a thread its
``running()`` context starts and joins (like :class:`_support.auth.IdpServer`).
It serves RFC 8414 metadata, dynamic registration (RFC 7591), an authorization
endpoint that approves at once (a 302 to the redirect URI with ``code``,
``state`` and ``iss``), and a token endpoint for the ``authorization_code``
grant (PKCE S256 checked here with hashlib, independently of the client's
authlib) and the ``refresh_token`` grant. It records every request, and its
knobs make it misbehave the ways a client must notice. :meth:`verify` is a
``BearerAuth`` verifier for trio_mcp's server: the tokens it issued, with their scopes.
"""

from __future__ import annotations

import base64
import hashlib
import itertools
import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

from trio_mcp import AccessToken

from .jsonhttp import JsonHandler


class AuthServer:
    """One authorization server (see the module docstring).

    Attributes:
        issuer: Its issuer (``http://127.0.0.1:PORT`` plus ``path``).
        requests: ``(method, path, params)`` of every request, in order.
        expires_in: Lifetime of the access tokens issued.
        refresh: Issue refresh tokens.
        iss_mode: ``"correct"``, ``"wrong"`` or ``"omit"`` (the redirect's ``iss``).
        metadata_issuer: The ``issuer`` the metadata claims (default: the real one).
        pre_registered: ``client_id -> client_secret`` accepted without registration.
        auth_methods: ``token_endpoint_auth_methods_supported``.
        withhold: Scopes a token response names but :meth:`verify` does not honour
            (a resource server that wants more than it says).
        tokens: Issued access tokens and their scopes.
    """

    def __init__(self, path: str = "") -> None:
        self.requests: list[tuple[str, str, dict[str, Any]]] = []
        self.expires_in = 3600
        self.refresh = False
        self.iss_mode = "correct"
        self.metadata_issuer: str | None = None
        self.pre_registered: dict[str, str] = {}
        self.auth_methods = ["none", "client_secret_basic"]
        self.scopes_supported: list[str] | None = None
        self.withhold: set[str] = set()
        self.tokens: dict[str, frozenset[str]] = {}
        self.clients: dict[str, dict[str, Any]] = {}
        self._codes: dict[str, dict[str, Any]] = {}
        self._refresh: dict[str, dict[str, Any]] = {}
        self._ids = itertools.count(1)
        self._lock = threading.Lock()
        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._httpd.daemon_threads = True
        self.path = path
        self.origin = f"http://127.0.0.1:{self._httpd.server_address[1]}"
        self.issuer = self.origin + path

    def seen(self, path: str) -> list[dict[str, Any]]:
        """The params of every request to ``path``."""
        with self._lock:
            return [params for _, p, params in self.requests if p == path]

    async def verify(self, token: str) -> AccessToken | None:
        with self._lock:
            scopes = self.tokens.get(token)
        return None if scopes is None else AccessToken(subject="alice", scopes=scopes)

    def metadata(self) -> dict[str, Any]:
        doc: dict[str, Any] = {
            "issuer": self.metadata_issuer or self.issuer,
            "authorization_endpoint": self.issuer + "/authorize",
            "token_endpoint": self.issuer + "/token",
            "registration_endpoint": self.issuer + "/register",
            "response_types_supported": ["code"],
            "grant_types_supported": ["authorization_code", "refresh_token"],
            "code_challenge_methods_supported": ["S256"],
            "token_endpoint_auth_methods_supported": self.auth_methods,
            "authorization_response_iss_parameter_supported": True,
        }
        if self.scopes_supported is not None:
            doc["scopes_supported"] = self.scopes_supported
        return doc

    def _issue(self, client_id: str, scopes: list[str], resource: str | None) -> dict[str, Any]:
        n = next(self._ids)
        token = {
            "access_token": f"at-{n}",
            "token_type": "Bearer",
            "expires_in": self.expires_in,
            "scope": " ".join(scopes),
        }
        self.tokens[token["access_token"]] = frozenset(scopes) - self.withhold
        if self.refresh:
            token["refresh_token"] = f"rt-{n}"
            self._refresh[f"rt-{n}"] = {"client_id": client_id, "scopes": scopes}
        return token

    def _client_ok(self, form: dict[str, str], authorization: str | None) -> str | None:
        """The authenticated client's id, or ``None``."""
        if authorization and authorization.startswith("Basic "):
            cid, _, secret = base64.b64decode(authorization[6:]).decode().partition(":")
        else:
            cid, secret = form.get("client_id", ""), form.get("client_secret", "")
        known = self.clients.get(cid, {}).get("client_secret")
        if cid in self.pre_registered:
            known = self.pre_registered[cid]
        elif cid not in self.clients:
            return None
        return cid if (known or "") == (secret or "") else None

    def _token(self, form: dict[str, str], authorization: str | None) -> tuple[int, dict[str, Any]]:
        cid = self._client_ok(form, authorization)
        if cid is None:
            return 401, {"error": "invalid_client"}
        if form.get("grant_type") == "authorization_code":
            grant = self._codes.pop(form.get("code", ""), None)
            if grant is None or grant["client_id"] != cid:
                return 400, {"error": "invalid_grant"}
            verifier = form.get("code_verifier", "").encode()
            digest = base64.urlsafe_b64encode(hashlib.sha256(verifier).digest()).rstrip(b"=")
            if digest.decode() != grant["code_challenge"]:
                return 400, {"error": "invalid_grant", "error_description": "PKCE failed"}
            if form.get("redirect_uri") != grant["redirect_uri"]:
                return 400, {"error": "invalid_grant", "error_description": "redirect_uri"}
            return 200, self._issue(cid, grant["scopes"], form.get("resource"))
        if form.get("grant_type") == "refresh_token":
            grant = self._refresh.pop(form.get("refresh_token", ""), None)
            if grant is None or grant["client_id"] != cid:
                return 400, {"error": "invalid_grant"}
            return 200, self._issue(cid, grant["scopes"], form.get("resource"))
        return 400, {"error": "unsupported_grant_type"}

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        server = self

        class Handler(JsonHandler):
            def do_GET(self) -> None:
                parts = urlsplit(self.path)
                query = {k: v[0] for k, v in parse_qs(parts.query).items()}
                with server._lock:
                    server.requests.append(("GET", parts.path, query))
                wk = "/.well-known/oauth-authorization-server" + server.path
                if parts.path == wk:
                    self._send(200, server.metadata())
                elif parts.path == server.path + "/authorize":
                    with server._lock:
                        code = f"code-{next(server._ids)}"
                        server._codes[code] = {
                            "client_id": query.get("client_id"),
                            "code_challenge": query.get("code_challenge"),
                            "redirect_uri": query.get("redirect_uri"),
                            "scopes": (query.get("scope") or "").split(),
                        }
                    back = {"code": code, "state": query.get("state", "")}
                    if server.iss_mode == "correct":
                        back["iss"] = server.issuer
                    elif server.iss_mode == "wrong":
                        back["iss"] = "https://evil.example"
                    target = f"{query.get('redirect_uri')}?{urlencode(back)}"
                    self._send(302, {}, {"location": target})
                else:
                    self._send(404, {"error": "not_found"})

            def do_POST(self) -> None:
                parts = urlsplit(self.path)
                raw = self.rfile.read(int(self.headers.get("content-length", "0"))).decode()
                if parts.path == server.path + "/register":
                    doc = json.loads(raw)
                    with server._lock:
                        server.requests.append(("POST", parts.path, doc))
                        cid = f"client-{next(server._ids)}"
                        method = doc.get("token_endpoint_auth_method", "client_secret_basic")
                        secret = None if method == "none" else f"secret-{cid}"
                        server.clients[cid] = {"client_secret": secret, **doc}
                    reply = {"client_id": cid, "token_endpoint_auth_method": method, **doc}
                    if secret:
                        reply["client_secret"] = secret
                    self._send(201, reply)
                    return
                form = {k: v[0] for k, v in parse_qs(raw).items()}
                authorization = self.headers.get("authorization")
                with server._lock:
                    server.requests.append(
                        ("POST", parts.path, {**form, "authorization": authorization})
                    )
                    if parts.path == server.path + "/token":
                        self._send(*server._token(form, authorization))
                        return
                self._send(404, {"error": "not_found"})

        return Handler

    @contextmanager
    def running(self) -> Iterator[AuthServer]:
        thread = threading.Thread(target=self._httpd.serve_forever, name="oauth-as", daemon=True)
        thread.start()
        try:
            yield self
        finally:
            self._httpd.shutdown()
            self._httpd.server_close()
            thread.join(10)
