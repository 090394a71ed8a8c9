"""``subscriptions/listen`` (modern era): one long-lived request that carries notifications."""

from __future__ import annotations

from typing import Any

import trio

from ..._errors import McpError
from ..._protocol import IncomingRequest
from ..._protocol._versions import META_SUBSCRIPTION_ID
from ..._runtime import Peer
from .._context import Context
from .._core import ServerCore
from .._hub import LIST_KINDS, Listener
from .._tasks import declares_extension, missing_extension, owner_of

__all__ = ["subscriptions_listen"]


async def subscriptions_listen(
    core: ServerCore, req: IncomingRequest, peer: Peer, ctx: Context
) -> dict[str, Any]:
    wanted: dict[str, Any] = req.params["notifications"]  # types checked by the dispatcher
    honored: dict[str, Any] = {}
    lists = set()
    for flag in LIST_KINDS.values():
        if wanted.get(flag) is True:
            honored[flag] = True
            lists.add(flag)
    uris: list[str] = wanted.get("resourceSubscriptions") or []
    if wanted.get("resourceSubscriptions") is not None:
        honored["resourceSubscriptions"] = uris
    task_ids = await _listen_task_ids(core, req, peer, wanted.get("taskIds"))
    if task_ids is not None:
        honored["taskIds"] = task_ids
    send, receive = trio.open_memory_channel[tuple[str, dict[str, Any]]](256)
    listener = Listener(
        peer, req.id, frozenset(lists), frozenset(uris), send, frozenset(task_ids or ())
    )
    core.hub.listeners.add(listener)
    tag = {META_SUBSCRIPTION_ID: req.id}
    try:
        await peer.notify(
            "notifications/subscriptions/acknowledged",
            {"_meta": tag, "notifications": honored},
            related=req.id,
        )
        async with receive:
            async for method, params in receive:
                await peer.notify(method, params, related=req.id)
    finally:
        core.hub.listeners.discard(listener)
        send.close()
    return {"_meta": dict(tag)}  # the stream ended gracefully (the server is draining)


async def _listen_task_ids(
    core: ServerCore, req: IncomingRequest, peer: Peer, wanted: Any
) -> list[str] | None:
    """The ``taskIds`` a listen stream may follow: the caller's own, existing tasks.

    Asking for task notifications needs the tasks extension (``-32021`` otherwise).
    """
    if wanted is None:
        return None
    if not declares_extension(req.client_capabilities):
        raise missing_extension()
    owner = owner_of(req, peer)
    accepted = []
    for task_id in wanted:
        try:
            await core.tasks.get(task_id, owner, req.era)
        except McpError:
            continue  # unknown, expired or someone else's: not followed
        accepted.append(task_id)
    return accepted
