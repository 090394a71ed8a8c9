"""A JWKS URL's keys: fetched on demand, cached, refreshed on rotation, never stampeded.

The rules, in the order :meth:`KeySet.key_for` applies them:

1. **Cache.** A fetched set is fresh for the response's ``Cache-Control:
   max-age`` (``default_ttl`` without one), clamped to ``[min_refresh,
   max_ttl]``; ``no-store``/``no-cache`` count as ``max-age=0`` (so
   ``min_refresh``).
2. **Refresh.** A request whose set is stale, or whose ``kid`` is not in it
   (the issuer rotated its keys), refetches the set.
3. **Rate limit.** At most one fetch per ``min_refresh`` seconds, whatever
   the requests ask for: a flood of tokens with made-up ``kid`` values costs
   the issuer one request per ``min_refresh``.
4. **One fetch at a time.** Requests that need a fetch while one is running
   wait for it (one fetch, not one per request). If the task doing it is
   cancelled (its client left), a waiter takes over.
5. **Stale if error.** A failed fetch keeps the keys already known: a known
   ``kid`` still verifies while the JWKS server is down.
6. **The answer.** A key for the ``kid``; else :class:`InvalidToken` (the set
   was fetched and the ``kid`` is not in it); else, when the last fetch
   failed, :class:`VerifierUnavailable` (a 401 saying the keys could not be
   fetched: the key may exist, we cannot tell).

Times are ``trio.current_time()`` (a ``MockClock`` drives them in tests).
"""

from __future__ import annotations

import logging
import math
import re
from typing import Any

import attrs
import httpx
import orjson
import trio

from .._transports import InvalidToken, VerifierUnavailable
from ._fetch import FetchFailed, fetch
from ._keys import VerificationKey, from_jwk

__all__ = ["KeySet"]

log = logging.getLogger("trio_mcp.auth")

_MAX_AGE = re.compile(r"(?:^|[,\s])max-age\s*=\s*\"?(\d+)", re.I)


def cache_seconds(cache_control: str | None) -> float | None:
    """The ``max-age`` of a ``Cache-Control`` value (``0`` for no-store/no-cache), or ``None``."""
    if not cache_control:
        return None
    lowered = cache_control.lower()
    if "no-store" in lowered or "no-cache" in lowered:
        return 0.0
    match = _MAX_AGE.search(cache_control)
    return float(match.group(1)) if match else None


@attrs.define(eq=False)
class KeySet:
    """The keys of one JWKS URL (rules: the module docstring).

    Attributes:
        fetches: Fetches attempted so far (for tests and metrics).
    """

    url: str
    allowed: frozenset[str]
    timeout: float = 5.0
    min_refresh: float = 30.0
    default_ttl: float = 300.0
    max_ttl: float = 86_400.0
    client: httpx.AsyncClient | None = None
    fetches: int = attrs.field(default=0, init=False)
    _keys: dict[str | None, VerificationKey] | None = attrs.field(default=None, init=False)
    _expires: float = attrs.field(default=-math.inf, init=False)
    _last_attempt: float = attrs.field(default=-math.inf, init=False)
    _error: str | None = attrs.field(default=None, init=False)
    _generation: int = attrs.field(default=0, init=False)
    _running: trio.Event | None = attrs.field(default=None, init=False)

    async def key_for(self, kid: str | None) -> VerificationKey:
        """The key a token with this ``kid`` (``None``: no ``kid``) must verify with.

        Raises:
            InvalidToken: the issuer's current set has no such key.
            VerifierUnavailable: no such key is known and the set cannot be fetched.
        """
        stale = self._keys is None or trio.current_time() >= self._expires
        if stale or self._lookup(kid) is None:
            await self._refresh()
        key = self._lookup(kid)
        if key is not None:
            return key
        if self._error is not None or self._keys is None:
            raise VerifierUnavailable(f"the issuer's keys cannot be fetched: {self._error}")
        if kid is None:
            raise InvalidToken("the token names no key (kid) and the issuer has several")
        raise InvalidToken("the token's key (kid) is not one of the issuer's keys")

    def _lookup(self, kid: str | None) -> VerificationKey | None:
        keys = self._keys
        if keys is None:
            return None
        if kid is None and len(keys) == 1:
            return next(iter(keys.values()))  # one key: a token may omit its kid
        return keys.get(kid)

    async def _refresh(self) -> None:
        """Fetch the set unless rate-limited; join a fetch already running instead."""
        seen = self._generation
        while True:
            if self._generation != seen:
                return  # a fetch finished while we waited: its outcome is ours
            running = self._running
            if running is not None:
                await running.wait()
                continue  # finished, or its task was cancelled: look again
            if trio.current_time() - self._last_attempt < self.min_refresh:
                return  # rate limit: the set we have is the answer
            break
        self._running = done = trio.Event()
        try:
            await self._fetch()
        finally:
            self._running = None
            done.set()

    async def _fetch(self) -> None:
        self.fetches += 1
        error: str | None = None
        keys: dict[str | None, VerificationKey] = {}
        ttl = self.default_ttl
        try:
            response = await fetch(
                self.client, "GET", self.url, seconds=self.timeout, headers=_ACCEPT
            )
            if response.status_code != 200:
                raise FetchFailed(f"GET {self.url} answered {response.status_code}")
            keys = self._parse(response.content)
            max_age = cache_seconds(response.headers.get("cache-control"))
            if max_age is not None:
                ttl = max_age
        except FetchFailed as exc:
            error = str(exc)
        # Only a fetch that finished counts for the rate limit: one whose task was
        # cancelled (trio.Cancelled passes through) leaves the way open to a waiter.
        now = trio.current_time()
        self._last_attempt = now
        self._generation += 1
        if error is not None:
            self._error = error
            known = "keeping the keys already known" if self._keys else "no keys known"
            log.warning("trio_mcp.auth: JWKS fetch failed (%s): %s", known, error)
            return
        self._keys, self._error = keys, None
        self._expires = now + min(max(ttl, self.min_refresh), self.max_ttl)
        log.info("trio_mcp.auth: fetched %d key(s) from %s", len(keys), self.url)

    def _parse(self, body: bytes) -> dict[str | None, VerificationKey]:
        try:
            doc: Any = orjson.loads(body)
        except orjson.JSONDecodeError:
            raise FetchFailed(f"{self.url} did not answer JSON") from None
        if not isinstance(doc, dict) or not isinstance(doc.get("keys"), list):
            raise FetchFailed(f"{self.url} did not answer a JWK set (no 'keys' list)")
        keys: dict[str | None, VerificationKey] = {}
        for jwk in doc["keys"]:
            if not isinstance(jwk, dict):
                continue
            try:
                key = from_jwk(jwk, self.allowed)
            except ValueError as exc:
                log.warning("trio_mcp.auth: %s: key %r skipped: %s", self.url, jwk.get("kid"), exc)
                continue
            if key is not None:
                keys[key.kid] = key
        if not keys:
            raise FetchFailed(f"{self.url} has no key for the algorithms {sorted(self.allowed)}")
        return keys


_ACCEPT = {"accept": "application/jwk-set+json, application/json"}
