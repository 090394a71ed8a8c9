"""The application as the runtime sees it: one dispatcher over the method table.

:class:`Dispatcher` implements the runtime's :class:`~trio_mcp.lowlevel.Application`
protocol by composition over a :class:`ServerCore`: a fresh session per
connection, each request's deadline, the handler looked up in
:data:`._methods.METHODS` (with a ``Context`` when the handler or the
``logging`` bridge needs one), and the peers' comings and goings. It holds no
state of its own; ``Server`` builds one and the transports call it.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable
from typing import Any

from .._errors import MethodNotFound
from .._protocol import IncomingRequest, ServerSession
from .._runtime import Peer
from ._context import Context, current_context
from ._core import ServerCore
from ._methods import METHODS, NO_DEADLINE, call_tool
from ._methods._params import check_params
from ._middleware import Notification

__all__ = ["Dispatcher"]

log = logging.getLogger("trio_mcp")


class Dispatcher:
    """Routes each request to its method handler (see the module docstring)."""

    __slots__ = ("core",)

    def __init__(self, core: ServerCore) -> None:
        self.core = core

    def new_session(self) -> ServerSession:
        return ServerSession(self.core.info)

    def timeout_for(self, request: IncomingRequest) -> float | None:
        if request.method in NO_DEADLINE:
            return None
        if request.method == "tools/call":
            tool = self.core.registry.tool(request.params.get("name"))
            if tool is not None and tool.timeout is not None:
                return tool.timeout
        return self.core.timeout

    def timeout_result(self, request: IncomingRequest, seconds: float) -> dict[str, Any] | None:
        if request.method == "tools/call":
            text = f"Tool {request.params.get('name')!s} timed out after {seconds:g}s"
            return {"content": [{"type": "text", "text": text}], "isError": True}
        return None

    def handle(self, request: IncomingRequest, peer: Peer) -> Awaitable[dict[str, Any]]:
        core = self.core
        if core.tracing is not None:  # the request's span around everything, the check too
            return core.tracing.request(request, peer, self._checked)
        check_params(request.method, request.params)  # every method, once, before any handler
        if request.method == "tools/call" and not (core.bridged or core.middleware):
            # The hot path: no Context unless the tool asks, and no frame of our own
            # (each coroutine frame costs every in-flight request ~0.5 KB).
            return call_tool(core, request, peer, None)
        return self._handle(request, peer)

    def _checked(self, request: IncomingRequest, peer: Peer) -> Awaitable[dict[str, Any]]:
        """:meth:`handle` inside the request's span: the same paths."""
        check_params(request.method, request.params)
        core = self.core
        if request.method == "tools/call" and not (core.bridged or core.middleware):
            return call_tool(core, request, peer, None)
        return self._handle(request, peer)

    async def _handle(self, request: IncomingRequest, peer: Peer) -> dict[str, Any]:
        method = METHODS.get(request.method)
        if method is None:
            raise MethodNotFound(f"Method not found: {request.method}")
        core = self.core
        ctx = Context(request, peer, core)
        token = current_context.set(ctx)
        try:
            if core.middleware:
                return await core.chain(request.method, method)(ctx)
            return await method(core, request, peer, ctx)
        finally:
            ctx._finish()
            current_context.reset(token)

    async def notified(self, method: str, params: dict[str, Any], peer: Peer) -> None:
        if self.core.tracing is not None:
            await self.core.tracing.notification(method, params, peer, self._notified)
            return
        await self._notified(method, params, peer)

    async def _notified(self, method: str, params: dict[str, Any], peer: Peer) -> None:
        chain = self.core.notification_chain() if self.core.middleware else None
        if chain is not None:
            await chain(Notification(method, params))
            return
        log.debug("trio_mcp: notification %s ignored", method)

    def connected(self, peer: Peer) -> None:
        self.core.hub.peers.add(peer)

    def draining(self, peer: Peer) -> None:
        self.core.hub.close_listeners(peer)

    def disconnected(self, peer: Peer) -> None:
        hub = self.core.hub
        hub.peers.discard(peer)
        hub.close_listeners(peer)
        if peer.session.legacy_version is not None:
            self.core.tasks.drop_owner(peer.session)  # nobody can reach its tasks any more
