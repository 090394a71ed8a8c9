"""``resources/*``: list, templates, read, and the legacy subscriptions."""

from __future__ import annotations

from typing import Any

from ..._errors import ResourceNotFound
from ..._protocol import IncomingRequest
from ..._runtime import Peer
from .._context import Context
from .._core import ServerCore
from .._mrtr import InputRequired
from .._resources import contents_of
from .._visibility import caller_scopes, check_scopes, may_list
from ._common import input_required, listed, resume

__all__ = [
    "resource_templates_list",
    "resources_list",
    "resources_read",
    "resources_subscribe",
    "resources_unsubscribe",
]


async def resources_list(
    core: ServerCore, req: IncomingRequest, peer: Peer, ctx: Context
) -> dict[str, Any]:
    granted = caller_scopes(peer, req.id)
    items = [r.definition() for r in core.registry.resources.values() if may_list(r, granted)]
    return await listed(core, req, peer, ctx, "resources", items)


async def resource_templates_list(
    core: ServerCore, req: IncomingRequest, peer: Peer, ctx: Context
) -> dict[str, Any]:
    granted = caller_scopes(peer, req.id)
    items = [t.definition() for t in core.registry.templates.values() if may_list(t, granted)]
    return await listed(core, req, peer, ctx, "resourceTemplates", items)


async def resources_read(
    core: ServerCore, req: IncomingRequest, peer: Peer, ctx: Context
) -> dict[str, Any]:
    uri: str = req.params["uri"]
    bind = resume(core, req, ctx, uri, None)
    found = core.registry.find_resource(uri)
    if found is None:
        provider = core.registry.provider_for("resource", uri)
        if provider is not None:  # a mounted or proxied server's resource
            return await provider.forward(req, peer, ctx)
        raise ResourceNotFound("Resource not found", {"uri": uri})
    handler, kwargs, mime, item = found
    check_scopes(item, peer, req.id)
    try:
        value = await handler.call(kwargs, ctx)
    except InputRequired as exc:
        return input_required(core, ctx, exc, bind)
    except FileNotFoundError:
        raise ResourceNotFound("Resource not found", {"uri": uri}) from None
    return {"contents": contents_of(uri, value, mime)}


async def resources_subscribe(
    core: ServerCore, req: IncomingRequest, peer: Peer, ctx: Context
) -> dict[str, Any]:
    peer.session.subscriptions.add(req.params["uri"])
    return await _tell_provider(core, req, peer, ctx)


async def resources_unsubscribe(
    core: ServerCore, req: IncomingRequest, peer: Peer, ctx: Context
) -> dict[str, Any]:
    peer.session.subscriptions.discard(req.params["uri"])
    return await _tell_provider(core, req, peer, ctx)


async def _tell_provider(
    core: ServerCore, req: IncomingRequest, peer: Peer, ctx: Context
) -> dict[str, Any]:
    """A provider's resource (a proxied server's) may need to hear of a (un)subscription."""
    uri = req.params["uri"]
    if core.registry.find_resource(uri) is None:
        provider = core.registry.provider_for("resource", uri)
        if provider is not None:
            await provider.forward(req, peer, ctx)
    return {}
