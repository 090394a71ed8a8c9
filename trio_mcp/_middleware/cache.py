"""Response caching for list and read results."""

from __future__ import annotations

from collections.abc import Collection
from typing import TYPE_CHECKING, Any

import orjson
import trio

from .._app._context import Context
from .._app._middleware import CallNext, Middleware

if TYPE_CHECKING:
    from .._app._server import Server

__all__ = ["ResponseCache"]

CACHEABLE = frozenset(
    {"tools/list", "resources/list", "resources/templates/list", "prompts/list", "resources/read"}
)
"""The methods :class:`ResponseCache` may keep answers of."""

# What each list change makes stale (a removed resource can no longer be read).
_STALE = {
    "tools": ("tools/list",),
    "prompts": ("prompts/list",),
    "resources": ("resources/list", "resources/templates/list", "resources/read"),
}


class ResponseCache(Middleware):
    """Keep list and ``resources/read`` answers for ``ttl`` seconds.

    The key is the method, the protocol version, the caller (token subject and
    scopes, HTTP or not: what a caller may see depends on them) and the params
    (``_meta`` left out). An entry is dropped when its TTL ends, when the
    server reports the list changed (a registration, ``enable``/``disable``),
    and, for a read, when ``server.notify_resource_updated(uri)`` names its
    URI. An answer asking for input (MRTR ``input_required``) is never kept.
    Each hit is a copy: what a later middleware does to it stays its own.

    Args:
        ttl: Seconds an answer is kept (Trio's clock).
        methods: Which of :data:`CACHEABLE` to cache (default: all).
        max_entries: Beyond this, the oldest entries go first.
    """

    def __init__(
        self, ttl: float = 60.0, *, methods: Collection[str] = CACHEABLE, max_entries: int = 1024
    ) -> None:
        unknown = set(methods) - CACHEABLE
        if unknown:
            raise ValueError(f"not cacheable: {sorted(unknown)}")
        self.ttl = ttl
        self.methods = frozenset(methods)
        self.max_entries = max_entries
        #: method -> key -> (expiry, uri, result)
        self._entries: dict[str, dict[Any, tuple[float, str | None, dict[str, Any]]]] = {
            m: {} for m in self.methods
        }
        self.hits = 0
        self.misses = 0

    def attach(self, server: Server) -> None:
        server._core.watchers.append(self._changed)

    def _changed(self, kind: str, uri: str | None) -> None:
        if kind == "resource":
            reads = self._entries.get("resources/read")
            if reads:
                for key in [k for k, entry in reads.items() if entry[1] == uri]:
                    del reads[key]
            return
        for method in _STALE.get(kind, ()):
            if method in self._entries:
                self._entries[method].clear()

    def clear(self) -> None:
        """Drop every entry."""
        for entries in self._entries.values():
            entries.clear()

    async def on_request(self, ctx: Context, call_next: CallNext) -> dict[str, Any]:
        entries = self._entries.get(ctx.method)
        if entries is None:
            return await call_next(ctx)
        key = _key(ctx)
        now = trio.current_time()
        entry = entries.get(key)
        if entry is not None and entry[0] > now:
            self.hits += 1
            return dict(entry[2])
        self.misses += 1
        result = await call_next(ctx)
        if result.get("resultType") != "input_required":
            if len(entries) >= self.max_entries:
                del entries[next(iter(entries))]
            uri = ctx.params.get("uri") if ctx.method == "resources/read" else None
            entries[key] = (now + self.ttl, uri, dict(result))
        return result


def _key(ctx: Context) -> Any:
    params = {k: v for k, v in ctx.params.items() if k != "_meta"}
    token = ctx.access_token
    caller = (
        ctx.http is not None,
        token.subject if token is not None else None,
        token.scopes if token is not None else None,
    )
    return (ctx.protocol_version, caller, orjson.dumps(params, option=orjson.OPT_SORT_KEYS))
