"""Who hears about changes: legacy sessions and modern ``subscriptions/listen`` streams.

Changes (a tool added, a resource updated) can happen anywhere, including in
synchronous code such as ``server.add_tool``. Delivery therefore never awaits:
each message is queued without blocking on the peer's bounded outbox, and one
that does not fit is dropped with a warning rather than queued without bound.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import attrs
import trio

from .._protocol import SharedServerSession
from .._protocol._versions import META_SUBSCRIPTION_ID
from .._wire import Id

if TYPE_CHECKING:
    from .._runtime import Peer

__all__ = ["Hub", "Listener"]

log = logging.getLogger("trio_mcp")

LIST_KINDS = {
    "tools": "toolsListChanged",
    "prompts": "promptsListChanged",
    "resources": "resourcesListChanged",
}


@attrs.define(eq=False)
class Listener:
    """One modern ``subscriptions/listen`` request and what it asked to hear."""

    peer: Peer
    rid: Id
    lists: frozenset[str]
    uris: frozenset[str]
    send: trio.MemorySendChannel[tuple[str, dict[str, Any]]]
    task_ids: frozenset[str] = frozenset()


#: With Redis: hands a notification to every worker's legacy sessions (``uri``: the
#: subscribers of that resource only); False when it could not (then delivered here).
Fanout = Callable[[str, dict[str, Any] | None, str | None], bool]


@attrs.define(eq=False)
class Hub:
    peers: set[Peer] = attrs.field(factory=set)
    listeners: set[Listener] = attrs.field(factory=set)
    #: Set when legacy sessions are shared through Redis (``TRIO_MCP_REDIS_URL``).
    fanout: Fanout | None = None

    def list_changed(self, kind: str) -> int:
        """Tell everyone who cares that the ``kind`` list changed. Returns deliveries.

        With shared sessions, each one's delivery is written to Redis for every
        worker's sessions; those held here are counted.
        """
        method = f"notifications/{kind}/list_changed"
        shared = self.fanout is not None and self.fanout(method, None, None)
        n = 0
        for peer in list(self.peers):
            if peer.session.legacy_version is not None:
                if shared and isinstance(peer.session, SharedServerSession):
                    n += 1
                    continue
                n += _deliver(peer, method, None)
        flag = LIST_KINDS[kind]
        for listener in list(self.listeners):
            if flag in listener.lists:
                n += _enqueue(listener, method, {})
        return n

    def resource_updated(self, uri: str) -> int:
        """Tell subscribers of ``uri`` that it changed. Returns deliveries."""
        method, params = "notifications/resources/updated", {"uri": uri}
        shared = self.fanout is not None and self.fanout(method, params, uri)
        n = 0
        for peer in list(self.peers):
            if uri in peer.session.subscriptions:
                if shared and isinstance(peer.session, SharedServerSession):
                    n += 1
                    continue
                n += _deliver(peer, method, params)
        for listener in list(self.listeners):
            if uri in listener.uris:
                n += _enqueue(listener, "notifications/resources/updated", {"uri": uri})
        return n

    def task_changed(self, task_id: str, detailed_task: dict[str, Any]) -> int:
        """Send ``notifications/tasks`` (the whole task) to streams watching ``task_id``."""
        n = 0
        for listener in list(self.listeners):
            if task_id in listener.task_ids:
                n += _enqueue(listener, "notifications/tasks", detailed_task)
        return n

    def close_listeners(self, peer: Peer) -> None:
        """End every listen stream of ``peer`` (it is draining)."""
        for listener in list(self.listeners):
            if listener.peer is peer:
                listener.send.close()


def _deliver(peer: Peer, method: str, params: dict[str, Any] | None) -> int:
    if peer.notify_nowait(method, params):
        return 1
    log.warning("trio_mcp: %s dropped: the client is not reading", method)
    return 0


def _enqueue(listener: Listener, method: str, params: dict[str, Any]) -> int:
    params = dict(params, _meta={META_SUBSCRIPTION_ID: listener.rid})
    try:
        listener.send.send_nowait((method, params))
    except trio.WouldBlock:
        log.warning("trio_mcp: %s dropped: listen stream %r is full", method, listener.rid)
        return 0
    except (trio.ClosedResourceError, trio.BrokenResourceError):
        return 0
    return 1
