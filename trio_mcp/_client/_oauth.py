"""OAuth 2.1 for ``trio_mcp.Client`` over HTTP: ``Client(url, auth=OAuth(authorize=...))``.

:class:`OAuth` is an ``httpx.Auth``: every request to the MCP server carries the
stored access token, and the answers that ask for authorization are handled
before the request is sent again:

* **401**: discovery (:mod:`._oauth_discovery`: RFC 9728 protected resource
  metadata, RFC 8414 / OpenID Connect authorization server metadata), then a
  refresh (``refresh_token`` grant) when the stored token has a refresh token
  from that same issuer, else the authorization code flow with PKCE (S256).
* **403** ``insufficient_scope``: step-up, the authorization code flow again
  for the union of the scopes held and the scopes challenged (SEP-2350); not
  when every challenged scope is held already (re-asking cannot help), and at
  most ``max_step_ups`` times for one request.

The authorization code flow:

1. The scopes: the challenge's ``scope``, else the protected resource's
   ``scopes_supported``, else none (the parameter is left out); plus
   ``offline_access`` when the authorization server lists it and
   ``offline_access=True`` (SEP-2207: a client that wants a refresh token).
2. The client: ``client_id`` given (pre-registered), else a client ID metadata
   document (``client_metadata_url``) when the server supports them, else the
   client registered for this issuer before, else dynamic client registration
   (RFC 7591). Registrations are kept per issuer: a client registered with one
   authorization server is never shown to another (SEP-2352).
3. ``authorize(url)`` is awaited with the authorization URL (``state``, PKCE
   challenge, ``resource`` (RFC 8707), ``scope``): open it for the user, and
   return the URL the authorization server redirected to. Its ``state`` must
   match; its ``iss`` (RFC 9207) must be the issuer exactly, and must be there
   when the server advertises ``authorization_response_iss_parameter_supported``.
4. The code is exchanged at the token endpoint with the PKCE verifier and the
   ``resource``, the client authenticating as registered or as the server
   supports (``client_secret_basic``, ``client_secret_post`` or ``none``).

Tokens and registrations live in a :class:`TokenStorage` (default
:class:`MemoryStorage`): keep them across runs by passing your own. An expired
access token is refreshed before it is sent. A failure is an
:class:`~trio_mcp.client.AuthorizationError`, which fails the request.

The OAuth protocol pieces are authlib's (``authlib.oauth2``: the authorization
URL and token request encodings, PKCE challenge, client authentication, token
expiry, random state and verifier). Its HTTP clients are not used: requests go
through httpx, the client's HTTP stack (authlib 1.9 moves its own httpx
integration to httpx2). Needs ``pip install 'trio_mcp[oauth]'``.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncGenerator, Awaitable, Callable
from typing import Any, Protocol
from urllib.parse import parse_qsl, urlsplit

import httpx
import trio
from authlib.common.security import generate_token
from authlib.oauth2.auth import ClientAuth
from authlib.oauth2.rfc6749 import OAuth2Token
from authlib.oauth2.rfc6749.parameters import prepare_grant_uri, prepare_token_request
from authlib.oauth2.rfc7636 import create_s256_code_challenge

from ._errors import AuthorizationError
from ._oauth_discovery import Challenge, Discovery, discover, parse_challenge

__all__ = ["AuthorizeHandler", "MemoryStorage", "OAuth", "TokenStorage"]

log = logging.getLogger("trio_mcp.client")

#: ``async (authorization_url) -> redirected_url``: the user's part of the flow.
AuthorizeHandler = Callable[[str], Awaitable[str]]


class TokenStorage(Protocol):
    """Where :class:`OAuth` keeps tokens and client registrations (JSON-able dicts).

    Keys: ``"tokens <MCP endpoint URL>"`` (the token, with the ``issuer`` it came
    from) and ``"client <issuer>"`` (a registration). ``None`` deletes.
    """

    async def get(self, key: str) -> dict[str, Any] | None:
        """The value stored under ``key``, ``None`` if there is none."""
        ...

    async def set(self, key: str, value: dict[str, Any] | None) -> None:
        """Store ``value`` under ``key`` (``None``: delete it; no error if absent)."""
        ...


class MemoryStorage:
    """A :class:`TokenStorage` in memory: it lasts as long as the object."""

    def __init__(self) -> None:
        self.data: dict[str, dict[str, Any]] = {}

    async def get(self, key: str) -> dict[str, Any] | None:
        """The value stored under ``key``, ``None`` if there is none."""
        return self.data.get(key)

    async def set(self, key: str, value: dict[str, Any] | None) -> None:
        """Store ``value`` under ``key`` (``None``: delete it)."""
        if value is None:
            self.data.pop(key, None)
        else:
            self.data[key] = value


def _endpoint(url: httpx.URL | str) -> str:
    parts = urlsplit(str(url))
    return f"{parts.scheme}://{parts.netloc}{parts.path}"


def _union(*scope_lists: list[str]) -> list[str]:
    out: list[str] = []
    for scopes in scope_lists:
        out += [s for s in scopes if s not in out]
    return out


class OAuth(httpx.Auth):
    """OAuth 2.1 authorization for ``Client(url, auth=OAuth(...))`` (see the module docstring).

    Args:
        authorize: ``async (authorization_url) -> redirected_url``. Required for
            the authorization code flow (a token in ``storage`` may make it unneeded).
        redirect_uri: Where the authorization server sends the user back.
        client_name: The name registered (dynamic registration).
        client_metadata_url: This client's metadata document URL, used as its
            ``client_id`` where the authorization server supports them.
        client_id, client_secret: A pre-registered client (no registration).
        token_endpoint_auth_method: How a pre-registered client authenticates
            (default: chosen from what the server supports and the secret).
        scope: Scopes to ask for on top of the discovered ones.
        offline_access: Ask for ``offline_access`` where the server offers it.
        application_type: Registered ``application_type`` (SEP-837): ``"native"`` or ``"web"``.
        storage: Tokens and registrations (default: in memory).
        max_step_ups: Scope step-ups allowed for one request.
        timeout: Seconds for each request to the authorization server.
        authorize_timeout: Seconds ``authorize(url)`` may take (the user's browser
            step); beyond, an :class:`AuthorizationError` (other requests of the
            client wait for it meanwhile).
    """

    def __init__(
        self,
        authorize: AuthorizeHandler | None = None,
        *,
        redirect_uri: str = "http://localhost:33418/callback",
        client_name: str = "trio_mcp",
        client_metadata_url: str | None = None,
        client_id: str | None = None,
        client_secret: str | None = None,
        token_endpoint_auth_method: str | None = None,
        scope: str | None = None,
        offline_access: bool = True,
        application_type: str = "native",
        storage: TokenStorage | None = None,
        max_step_ups: int = 2,
        timeout: float = 30.0,
        authorize_timeout: float = 300.0,
    ) -> None:
        self.authorize = authorize
        self.redirect_uri = redirect_uri
        self.client_name = client_name
        self.client_metadata_url = client_metadata_url
        self.client_id, self.client_secret = client_id, client_secret
        self.token_endpoint_auth_method = token_endpoint_auth_method
        self.scope = scope.split() if scope else []
        self.offline_access = offline_access
        self.application_type = application_type
        self.storage: TokenStorage = storage if storage is not None else MemoryStorage()
        self.max_step_ups = max_step_ups
        self.timeout, self.authorize_timeout = timeout, authorize_timeout
        self._lock = trio.Lock()

    # ------------------------------------------------------------ the httpx flow

    async def async_auth_flow(
        self, request: httpx.Request
    ) -> AsyncGenerator[httpx.Request, httpx.Response]:
        key = "tokens " + _endpoint(request.url)
        token = await self._fresh_token(key)
        self._bearer(request, token)
        response = yield request
        authorized = False
        step_ups = 0
        while True:
            challenge = parse_challenge(response.headers.get("www-authenticate"))
            if response.status_code == 401 and not authorized:
                authorized = True
                token = await self._recover(key, str(request.url), challenge, token)
            elif response.status_code == 403 and challenge.error == "insufficient_scope":
                held = (token or {}).get("scope", "").split()
                if not set(challenge.scopes) - set(held) or step_ups >= self.max_step_ups:
                    return  # asking again cannot help: the 403 is the answer
                step_ups += 1
                async with self._lock:
                    token = await self._authorize(key, str(request.url), challenge, held)
            else:
                return
            self._bearer(request, token)
            response = yield request

    def sync_auth_flow(self, request: httpx.Request) -> Any:
        raise RuntimeError("trio_mcp.client.OAuth works with httpx.AsyncClient only")

    @staticmethod
    def _bearer(request: httpx.Request, token: dict[str, Any] | None) -> None:
        if token is not None:
            request.headers["Authorization"] = f"Bearer {token['access_token']}"

    async def _fresh_token(self, key: str) -> dict[str, Any] | None:
        """The stored token, refreshed first if it has expired and can be."""
        token = await self.storage.get(key)
        if token is None or not OAuth2Token.from_dict(dict(token)).is_expired(leeway=30):
            return token
        async with self._lock:
            token = await self.storage.get(key)
            if token is None or not OAuth2Token.from_dict(dict(token)).is_expired(leeway=30):
                return token
            async with self._http() as http:
                refreshed = await self._refresh(http, key, token, token.get("metadata") or {})
            return refreshed or token

    async def _recover(
        self, key: str, url: str, challenge: Challenge, sent: dict[str, Any] | None
    ) -> dict[str, Any]:
        """A token after a 401: another task's, a refreshed one, or a new authorization."""
        async with self._lock:
            stored = await self.storage.get(key)
            if stored is not None and stored != sent:
                return stored  # renewed while this request was on its way
            async with self._http() as http:
                found = await discover(http, url, challenge)
                if sent is not None and sent.get("issuer") == found.issuer:
                    refreshed = await self._refresh(http, key, sent, found.metadata)
                    if refreshed is not None:
                        return refreshed
            held = (sent or {}).get("scope", "").split()
            return await self._authorize(key, url, challenge, held, found)

    def _http(self) -> httpx.AsyncClient:
        return httpx.AsyncClient(timeout=self.timeout, follow_redirects=False)

    # ------------------------------------------------------------ the code flow

    async def _authorize(
        self,
        key: str,
        url: str,
        challenge: Challenge,
        held: list[str],
        found: Discovery | None = None,
    ) -> dict[str, Any]:
        """The authorization code flow with PKCE (steps 1-4 of the module docstring)."""
        async with self._http() as http:
            if found is None:
                found = await discover(http, url, challenge)
            meta = found.metadata
            methods = meta.get("code_challenge_methods_supported")
            if not isinstance(methods, list) or "S256" not in methods:
                raise AuthorizationError(
                    f"the authorization server {found.issuer} does not support PKCE with S256"
                )
            scopes = challenge.scopes or found.scopes_supported or []
            scopes = _union(held, scopes, self.scope)
            offered = meta.get("scopes_supported")
            if self.offline_access and isinstance(offered, list) and "offline_access" in offered:
                scopes = _union(scopes, ["offline_access"])
            client = await self._client(http, found)
            if self.authorize is None:
                raise AuthorizationError(
                    f"{url} needs OAuth authorization: give OAuth(authorize=...) to open"
                    " the authorization URL"
                )
            state, verifier = generate_token(32), generate_token(64)
            auth_url = prepare_grant_uri(
                meta["authorization_endpoint"],
                client["client_id"],
                "code",
                redirect_uri=self.redirect_uri,
                scope=" ".join(scopes) or None,
                state=state,
                code_challenge=create_s256_code_challenge(verifier),
                code_challenge_method="S256",
                resource=found.resource,
            )
            with trio.move_on_after(self.authorize_timeout) as waited:
                redirected = await self.authorize(auth_url)
            if waited.cancelled_caught:
                raise AuthorizationError(
                    f"the authorization step (authorize(url)) did not finish within"
                    f" {self.authorize_timeout:g} s"
                )
            code = self._code(redirected, state, found)
            body = prepare_token_request(
                "authorization_code",
                redirect_uri=self.redirect_uri,
                code=code,
                code_verifier=verifier,
                resource=found.resource,
            )
            token = await self._token_request(http, meta, client, body)
        token.setdefault("scope", " ".join(scopes))
        token.update(issuer=found.issuer, resource=found.resource, metadata=meta)
        await self.storage.set(key, token)
        return token

    @staticmethod
    def _code(redirected: str, state: str, found: Discovery) -> str:
        """The code of an authorization response, once its state and issuer are checked."""
        params = dict(parse_qsl(urlsplit(redirected).query))
        if params.get("state") != state:
            raise AuthorizationError("the authorization response's state does not match")
        iss = params.get("iss")
        if iss is not None and iss != found.issuer:
            raise AuthorizationError(
                f"the authorization response comes from issuer {iss!r}, not {found.issuer!r}"
            )
        if iss is None and found.metadata.get("authorization_response_iss_parameter_supported"):
            raise AuthorizationError(
                f"the authorization response has no iss, which {found.issuer} promises"
            )
        if "error" in params:
            why = params.get("error_description") or params["error"]
            raise AuthorizationError(f"authorization refused: {why}", params["error"])
        if not params.get("code"):
            raise AuthorizationError("the authorization response has no code")
        return params["code"]

    async def _refresh(
        self, http: httpx.AsyncClient, key: str, token: dict[str, Any], meta: dict[str, Any]
    ) -> dict[str, Any] | None:
        """The ``refresh_token`` grant; ``None`` if there is no refresh token or it failed."""
        refresh = token.get("refresh_token")
        client = await self._known_client(str(token.get("issuer")))
        if not refresh or not meta.get("token_endpoint") or client is None:
            return None
        body = prepare_token_request(
            "refresh_token", refresh_token=refresh, resource=token.get("resource")
        )
        try:
            new = await self._token_request(http, meta, client, body)
        except AuthorizationError as exc:
            log.debug("trio_mcp.client: token refresh failed: %s", exc)
            return None
        new.setdefault("refresh_token", refresh)
        new.setdefault("scope", token.get("scope", ""))
        for field in ("issuer", "resource", "metadata"):
            new[field] = token.get(field)
        await self.storage.set(key, new)
        return new

    async def _token_request(
        self, http: httpx.AsyncClient, meta: dict[str, Any], client: dict[str, Any], body: str
    ) -> dict[str, Any]:
        headers = {
            "Content-Type": "application/x-www-form-urlencoded",
            "Accept": "application/json",
        }
        auth = ClientAuth(
            client["client_id"], client.get("client_secret"), self._auth_method(client, meta)
        )
        uri, headers, body = auth.prepare("POST", meta["token_endpoint"], headers, body)
        try:
            response = await http.post(uri, content=body, headers=headers)
            data = response.json()
        except (httpx.HTTPError, ValueError) as exc:
            raise AuthorizationError(f"the token endpoint {uri} failed: {exc}") from None
        if response.status_code >= 400 or not isinstance(data, dict) or "access_token" not in data:
            error = data.get("error") if isinstance(data, dict) else None
            why = (data.get("error_description") if isinstance(data, dict) else None) or error
            raise AuthorizationError(
                f"the token endpoint {uri} refused: {why or response.status_code}", error
            )
        return dict(OAuth2Token.from_dict(data))

    # ------------------------------------------------------------ the client

    def _auth_method(self, client: dict[str, Any], meta: dict[str, Any]) -> str:
        method = client.get("token_endpoint_auth_method")
        if isinstance(method, str):
            return method
        if not client.get("client_secret"):
            return "none"
        supported = meta.get("token_endpoint_auth_methods_supported") or ["client_secret_basic"]
        if "client_secret_basic" not in supported and "client_secret_post" in supported:
            return "client_secret_post"
        return "client_secret_basic"

    async def _known_client(self, issuer: str) -> dict[str, Any] | None:
        if self.client_id is not None:
            return {
                "client_id": self.client_id,
                "client_secret": self.client_secret,
                "token_endpoint_auth_method": self.token_endpoint_auth_method,
            }
        return await self.storage.get("client " + issuer)

    async def _client(self, http: httpx.AsyncClient, found: Discovery) -> dict[str, Any]:
        """This client at ``found.issuer`` (step 2 of the module docstring)."""
        meta = found.metadata
        if self.client_id is None and (
            self.client_metadata_url and meta.get("client_id_metadata_document_supported")
        ):
            cimd = {"client_id": self.client_metadata_url, "token_endpoint_auth_method": "none"}
            await self.storage.set("client " + found.issuer, cimd)
            return cimd
        known = await self._known_client(found.issuer)
        if known is not None:
            return known
        endpoint = meta.get("registration_endpoint")
        if not isinstance(endpoint, str):
            raise AuthorizationError(
                f"the authorization server {found.issuer} offers no registration:"
                " give OAuth(client_id=...) of a client registered there"
            )
        supported = meta.get("token_endpoint_auth_methods_supported") or ["client_secret_basic"]
        method = next(
            (m for m in ("none", "client_secret_basic", "client_secret_post") if m in supported),
            "none",
        )
        request = {
            "client_name": self.client_name,
            "redirect_uris": [self.redirect_uri],
            "grant_types": ["authorization_code", "refresh_token"],
            "response_types": ["code"],
            "token_endpoint_auth_method": method,
            "application_type": self.application_type,
        }
        try:
            response = await http.post(endpoint, json=request)
            data = response.json()
        except (httpx.HTTPError, ValueError) as exc:
            raise AuthorizationError(f"client registration at {endpoint} failed: {exc}") from None
        if response.status_code >= 400 or not isinstance(data, dict) or "client_id" not in data:
            why = ""
            if isinstance(data, dict):
                why = data.get("error_description") or data.get("error") or ""
            raise AuthorizationError(
                f"client registration at {endpoint} refused: {why or response.status_code}"
            )
        client: dict[str, Any] = {
            "client_id": data["client_id"],
            "client_secret": data.get("client_secret"),
            "token_endpoint_auth_method": data.get("token_endpoint_auth_method", method),
        }
        await self.storage.set("client " + found.issuer, client)
        return client
