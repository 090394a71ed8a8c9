"""Rate limiting: a token bucket per caller."""

from __future__ import annotations

import weakref
from collections.abc import Callable, Collection, Hashable
from typing import Any, cast

import attrs
import trio

from .._app._context import Context
from .._app._middleware import CallNext, Middleware
from .._errors import RateLimited
from .._protocol import Era

__all__ = ["RateLimit", "caller_key"]


@attrs.define
class _Bucket:
    tokens: float
    last: float

    def take(self, now: float, rate: float, burst: float) -> float:
        """Take one token; return 0, or the seconds until one is there (nothing taken)."""
        self.tokens = min(burst, self.tokens + (now - self.last) * rate)
        self.last = now
        if self.tokens >= 1.0:
            self.tokens -= 1.0
            return 0.0
        return (1.0 - self.tokens) / rate

    def full(self, now: float, rate: float, burst: float) -> bool:
        return self.tokens + (now - self.last) * rate >= burst


def caller_key(ctx: Context) -> Hashable:
    """Who a request counts against: the bearer token's subject, else the client.

    The client is the connection (stdio, a stream) or the legacy HTTP session;
    a modern-era HTTP request has neither (each POST stands alone), so it is
    its client's address.
    """
    token = ctx.access_token
    if token is not None:
        return ("subject", token.subject)
    http = ctx.http
    if http is not None and ctx.era is Era.MODERN:
        return ("address", http.client[0] if http.client else None)
    return cast(Hashable, ctx._conn)  # the peer object itself (held weakly)


class RateLimit(Middleware):
    """A token bucket per caller: ``rate`` requests a second, bursts of up to ``burst``.

    A request over the limit is answered with :class:`~trio_mcp.RateLimited`
    (``-32050``, ``data.retryAfter`` in seconds), which modern-era HTTP sends
    as ``429 Too Many Requests`` with ``Retry-After``. The clock is Trio's.

    Args:
        rate: Tokens added per second.
        burst: The bucket's size (default: ``max(1, rate)``).
        key: ``key(ctx)`` names the bucket a request takes from (default:
            :func:`caller_key`: the token's subject, else the client).
        methods: Limit only these methods (default: every request).
        max_buckets: Beyond this many buckets, full ones (as good as new) are dropped.
    """

    def __init__(
        self,
        rate: float,
        burst: float | None = None,
        *,
        key: Callable[[Context], Hashable] = caller_key,
        methods: Collection[str] | None = None,
        max_buckets: int = 10_000,
    ) -> None:
        if rate <= 0:
            raise ValueError("rate must be positive")
        self.rate = rate
        self.burst = float(burst if burst is not None else max(1.0, rate))
        if self.burst < 1:
            raise ValueError("burst must be at least 1")
        self.key = key
        self.methods = frozenset(methods) if methods is not None else None
        self.max_buckets = max_buckets
        self._buckets: dict[Hashable, _Bucket] = {}
        self._peers: weakref.WeakKeyDictionary[Any, _Bucket] = weakref.WeakKeyDictionary()

    async def on_request(self, ctx: Context, call_next: CallNext) -> dict[str, Any]:
        if self.methods is None or ctx.method in self.methods:
            wait = self._bucket(ctx).take(trio.current_time(), self.rate, self.burst)
            if wait:
                raise RateLimited(wait)
        return await call_next(ctx)

    def _bucket(self, ctx: Context) -> _Bucket:
        key = self.key(ctx)
        now = trio.current_time()
        table: Any = self._buckets if isinstance(key, tuple | str | int) else self._peers
        bucket: _Bucket | None = table.get(key)
        if bucket is None:
            if table is self._buckets and len(table) >= self.max_buckets:
                self._prune(now)
            bucket = table[key] = _Bucket(self.burst, now)
        return bucket

    def _prune(self, now: float) -> None:
        for key in [k for k, b in self._buckets.items() if b.full(now, self.rate, self.burst)]:
            del self._buckets[key]
