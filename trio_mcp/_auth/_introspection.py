"""Opaque access tokens verified by the authorization server (RFC 7662 token introspection).

Each token unknown to the cache costs one ``POST`` to the introspection
endpoint, authenticated as this resource server (``client_secret_basic``: HTTP
Basic; ``client_secret_post``: ``client_id``/``client_secret`` in the form).

**Caching.** Answers are cached under a SHA-256 of the token (the token itself
is never kept):

* an active token for at most ``cache_ttl`` seconds, and never past its
  ``exp``: a revoked token stays usable here for up to ``cache_ttl``, which
  is the price of not asking every time (``cache_ttl=0`` asks every time);
* an inactive one for ``negative_ttl`` seconds, so that a client retrying a
  dead token does not make us ask again for each retry;
* at most ``max_entries`` entries (the oldest go first).

Concurrent requests with the same uncached token share one call.

**Failures.** No answer within ``timeout`` seconds, a transport error, or a
status other than 200 (our client credentials refused, the server failing)
is :class:`VerifierUnavailable`: a 401 saying the token could not be
verified (with ``Retry-After``), answered at once. It is not cached. An answer of ``{"active": false}``, or one whose ``aud``, ``iss``,
``exp`` or ``nbf`` do not fit, is :class:`InvalidToken`: a 401.
"""

from __future__ import annotations

import hashlib
import logging
import time
from collections.abc import Collection
from typing import Any, Literal

import attrs
import httpx
import orjson
import trio

from .._runtime import AccessToken
from .._transports import InvalidToken, VerifierUnavailable
from ._claims import audiences, to_access_token
from ._fetch import FetchFailed, fetch

__all__ = ["IntrospectionVerifier"]

log = logging.getLogger("trio_mcp.auth")


@attrs.frozen
class _Entry:
    until: float  # trio.current_time() after which it is stale
    token: AccessToken | None  # None: inactive
    why: str = ""


class IntrospectionVerifier:
    """Verifies opaque tokens by RFC 7662 introspection; pass it as ``BearerAuth(verify=...)``.

    Args:
        endpoint: The introspection endpoint (``introspection_endpoint`` of
            the authorization server's metadata).
        client_id: This resource server's client id at the authorization server.
        client_secret: Its secret.
        audience: The ``aud`` an active token must carry (this server's
            resource URL, RFC 8707), or ``None`` to trust the authorization
            server to have checked it. Required, so that the choice is yours.
        auth_method: ``client_secret_basic`` (default) or ``client_secret_post``.
        issuer: The ``iss`` an active token must carry, when the answer has one.
        leeway: Seconds of clock skew allowed for ``exp`` and ``nbf``.
        subject_claim: The answer's member that names the caller (``sub``).
        scope_claim: The member with the scopes; ``None``: ``scope``, then ``scp``.
        timeout: Seconds one introspection call may take.
        cache_ttl: The longest an active answer is kept (and never past ``exp``).
        negative_ttl: How long an inactive answer is kept.
        max_entries: The cache's bound.
        http_client: An ``httpx.AsyncClient`` to call with (you close it);
            ``None``: a client per call.

    Attributes:
        calls: Introspection calls made so far (for tests and metrics).
    """

    def __init__(
        self,
        *,
        endpoint: str,
        client_id: str,
        client_secret: str,
        audience: str | Collection[str] | None,
        auth_method: Literal["client_secret_basic", "client_secret_post"] = "client_secret_basic",
        issuer: str | None = None,
        leeway: float = 30.0,
        subject_claim: str = "sub",
        scope_claim: str | None = None,
        timeout: float = 5.0,
        cache_ttl: float = 60.0,
        negative_ttl: float = 10.0,
        max_entries: int = 10_000,
        http_client: httpx.AsyncClient | None = None,
    ) -> None:
        if auth_method not in ("client_secret_basic", "client_secret_post"):
            raise ValueError(f"unknown auth_method {auth_method!r}")
        self.endpoint = endpoint
        self.client_id = client_id
        self._secret = client_secret
        self.audience = audiences(audience) if audience is not None else None
        self.auth_method = auth_method
        self.issuer = issuer
        self.leeway = leeway
        self.subject_claim = subject_claim
        self.scope_claim = scope_claim
        self.timeout = timeout
        self.cache_ttl = cache_ttl
        self.negative_ttl = negative_ttl
        self.max_entries = max_entries
        self.client = http_client
        self.calls = 0
        self._cache: dict[bytes, _Entry] = {}
        self._running: dict[bytes, trio.Event] = {}

    async def __call__(self, token: str) -> AccessToken:
        """Verify ``token``: from the cache, or by asking the endpoint.

        Raises:
            InvalidToken: inactive, or it does not fit (401).
            VerifierUnavailable: the endpoint did not answer usably (401, ``Retry-After``).
        """
        digest = hashlib.sha256(token.encode()).digest()
        while True:
            entry = self._cache.get(digest)
            if entry is not None and trio.current_time() < entry.until:
                if entry.token is None:
                    raise InvalidToken(entry.why)
                return entry.token
            running = self._running.get(digest)
            if running is None:
                break
            # The same token is being asked about: share the answer (if that call
            # failed or was cancelled, nothing is cached and this task asks).
            await running.wait()
        return await self._ask(digest, token)

    async def _ask(self, digest: bytes, token: str) -> AccessToken:
        self._running[digest] = done = trio.Event()
        try:
            entry = await self._introspect(token)
        finally:
            del self._running[digest]
            done.set()
        self._remember(digest, entry)
        if entry.token is None:
            raise InvalidToken(entry.why)
        return entry.token

    def _remember(self, digest: bytes, entry: _Entry) -> None:
        now = trio.current_time()
        if entry.until <= now:
            self._cache.pop(digest, None)
            return
        cache = self._cache
        if len(cache) >= self.max_entries:
            for stale in [d for d, e in cache.items() if e.until <= now]:
                del cache[stale]
            while len(cache) >= self.max_entries:
                del cache[next(iter(cache))]  # the oldest
        cache[digest] = entry

    async def _introspect(self, token: str) -> _Entry:
        self.calls += 1
        form = {"token": token, "token_type_hint": "access_token"}
        auth: tuple[str, str] | None = (self.client_id, self._secret)
        if self.auth_method == "client_secret_post":
            form.update(client_id=self.client_id, client_secret=self._secret)
            auth = None
        try:
            response = await fetch(
                self.client,
                "POST",
                self.endpoint,
                seconds=self.timeout,
                data=form,
                auth=auth,
                headers={"accept": "application/json"},
            )
        except FetchFailed as exc:
            log.warning("trio_mcp.auth: introspection failed: %s", exc)
            raise VerifierUnavailable(str(exc)) from None
        if response.status_code != 200:
            log.warning(
                "trio_mcp.auth: introspection endpoint %s answered %d",
                self.endpoint,
                response.status_code,
            )
            raise VerifierUnavailable(f"the introspection endpoint answered {response.status_code}")
        try:
            answer: Any = orjson.loads(response.content)
        except orjson.JSONDecodeError:
            answer = None
        if not isinstance(answer, dict):
            raise VerifierUnavailable("the introspection endpoint did not answer a JSON object")
        return self._judge(answer)

    def _judge(self, answer: dict[str, Any]) -> _Entry:
        """The cache entry for one introspection answer (RFC 7662 section 2.2)."""
        now, wall = trio.current_time(), time.time()

        def inactive(why: str) -> _Entry:
            return _Entry(now + self.negative_ttl, None, why)

        if answer.get("active") is not True:
            return inactive("the token is not active")
        exp, nbf = answer.get("exp"), answer.get("nbf")
        if isinstance(exp, int | float) and exp <= wall - self.leeway:
            return inactive("the token has expired")
        if isinstance(nbf, int | float) and nbf > wall + self.leeway:
            return inactive("the token is not valid yet")
        if self.issuer is not None and answer.get("iss", self.issuer) != self.issuer:
            return inactive("the token's issuer is not trusted (iss)")
        if self.audience is not None:
            aud = answer.get("aud")
            named = {aud} if isinstance(aud, str) else set(aud) if isinstance(aud, list) else set()
            if not named & self.audience:
                return inactive("the token was not issued for this resource (aud)")
        try:
            access = to_access_token(
                answer, subject_claim=self.subject_claim, scope_claim=self.scope_claim
            )
        except InvalidToken as exc:
            return inactive(exc.description)
        ttl = self.cache_ttl
        if isinstance(exp, int | float):
            ttl = min(ttl, exp - wall)  # never cached past its expiry
        return _Entry(now + max(ttl, 0.0), access)
