"""The per-request context a handler receives by annotating a parameter ``Context``."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

import attrs
import trio

from .._protocol import Era, IncomingRequest, log_enabled
from .._wire import Id

if TYPE_CHECKING:
    from .._runtime import Peer
    from ._cache import TTLCache
    from ._server import Server

__all__ = ["Context"]

log = logging.getLogger("trio_mcp")


@attrs.define(eq=False)
class Context:
    """What a handler knows about its request and can do with it.

    Declare it by annotation and the runtime injects it::

        @server.tool()
        async def slow(n: int, ctx: Context) -> str:
            for i in range(n):
                await ctx.report_progress(i, n)
                await trio.sleep(1)
            return "done"

    A context is valid only while its request is being handled; after the
    response, progress and log calls are ignored.
    """

    request: IncomingRequest
    _conn: Peer
    server: Server
    _last_progress: float | None = attrs.field(default=None, init=False)
    _done: bool = attrs.field(default=False, init=False)

    @property
    def request_id(self) -> Id:
        """The JSON-RPC id of this request."""
        return self.request.id

    @property
    def era(self) -> Era:
        """The protocol era this request was made in."""
        return self.request.era

    @property
    def protocol_version(self) -> str:
        return self.request.version

    @property
    def client_info(self) -> dict[str, Any] | None:
        """The client's ``Implementation`` (name, version...), if it sent one."""
        return self.request.client_info

    @property
    def client_capabilities(self) -> dict[str, Any]:
        return self.request.client_capabilities

    @property
    def cancel_scope(self) -> trio.CancelScope:
        """This request's cancel scope (its deadline is the request's timeout)."""
        scope = self._conn.scope_of(self.request.id)
        if scope is None:
            raise RuntimeError("this request is no longer running")
        return scope

    @property
    def cancel_requested(self) -> bool:
        """True once the client cancelled, the deadline passed or shutdown began."""
        scope = self._conn.scope_of(self.request.id)
        return scope is None or scope.cancel_called

    @property
    def cache(self) -> TTLCache[Any, Any]:
        """The server's shared TTL cache."""
        return self.server.cache

    @property
    def state(self) -> Any:
        """What the server's lifespan yielded (``None`` without a lifespan)."""
        return self.server.state

    async def report_progress(
        self, progress: float, total: float | None = None, message: str | None = None
    ) -> None:
        """Send ``notifications/progress`` if the client asked for it (a progressToken).

        ``progress`` must increase with each call; a value that does not is
        dropped (and logged), as the spec requires progress to increase.
        """
        token = self.request.progress_token
        if token is None or self._done:
            return
        if self._last_progress is not None and progress <= self._last_progress:
            log.warning(
                "trio_mcp: progress must increase (%s after %s); dropped",
                progress,
                self._last_progress,
            )
            return
        self._last_progress = progress
        params: dict[str, Any] = {"progressToken": token, "progress": progress}
        if total is not None:
            params["total"] = total
        if message is not None:
            params["message"] = message
        await self._conn.notify("notifications/progress", params, related=self.request.id)

    async def log(self, level: str, data: Any, *, logger: str | None = None) -> None:
        """Send a ``notifications/message`` log entry, if the client's level lets it through.

        Legacy: the threshold is what ``logging/setLevel`` chose (nothing is sent
        before it). Modern: the request's ``_meta`` logLevel (nothing without it).
        """
        if self._done:
            return
        threshold = self.request.log_level
        if self.request.era is Era.LEGACY:
            threshold = self._conn.session.legacy_log_level
        if not log_enabled(threshold, level):
            return
        params: dict[str, Any] = {"level": level, "data": data}
        if logger is not None:
            params["logger"] = logger
        await self._conn.notify("notifications/message", params, related=self.request.id)

    async def debug(self, data: Any, **kw: Any) -> None:
        await self.log("debug", data, **kw)

    async def info(self, data: Any, **kw: Any) -> None:
        await self.log("info", data, **kw)

    async def warning(self, data: Any, **kw: Any) -> None:
        await self.log("warning", data, **kw)

    async def error(self, data: Any, **kw: Any) -> None:
        await self.log("error", data, **kw)

    def _finish(self) -> None:
        self._done = True
