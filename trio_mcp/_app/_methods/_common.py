"""What every method handler shares: param checks and the MRTR round trip."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from ..._errors import InvalidParams
from ..._protocol import IncomingRequest
from ..._runtime import Peer
from .._context import Context
from .._core import ServerCore
from .._mrtr import InputRequired, binding

__all__ = ["Method", "error_result", "input_required", "listed", "resume"]

Method = Callable[[ServerCore, IncomingRequest, Peer, Context], Awaitable[dict[str, Any]]]
"""A method handler: ``(core, request, peer, ctx)`` -> result, or raises :class:`McpError`."""

Target = tuple[str, Any]
"""What a ``requestState`` is bound to: the method's target and its arguments."""


def error_result(text: str) -> dict[str, Any]:
    """A tool result reporting an execution error (``isError``)."""
    return {"content": [{"type": "text", "text": text}], "isError": True}


async def listed(
    core: ServerCore,
    req: IncomingRequest,
    peer: Peer,
    ctx: Context,
    key: str,
    items: list[dict[str, Any]],
) -> dict[str, Any]:
    """One page of the ``key`` list: ``items`` (the registry's own), then each provider's."""
    for provider in core.registry.providers:
        items.extend(await provider.items(req, peer, ctx))
    return core.registry.page(key, items, req.params.get("cursor"))


def resume(core: ServerCore, req: IncomingRequest, ctx: Context, target: str, args: Any) -> Target:
    """Load earlier answers into ``ctx`` (modern era); return what a state binds to.

    The binding digest is computed only when a ``requestState`` must be
    checked or issued, never on the common path.
    """
    if req.features.input_required:  # multi round-trip requests (2026-07-28)
        state = req.params.get("requestState")
        if state is not None:
            bind = binding(req.method, target, args, _subject(ctx))
            ctx.input_responses.update(core.request_state.verify(state, bind))
        if "inputResponses" in req.params:  # present: an object (null is a protocol error)
            responses = req.params["inputResponses"]
            if type(responses) is not dict:
                raise InvalidParams('Invalid params: "inputResponses" must be an object')
            ctx.input_responses.update(responses)
    return (target, args)


def input_required(
    core: ServerCore, ctx: Context, exc: InputRequired, target: Target
) -> dict[str, Any]:
    """The modern ``input_required`` result for the input ``exc`` asks for."""
    bind = binding(ctx.request.method, *target, _subject(ctx))
    return {
        "resultType": "input_required",
        "inputRequests": exc.requests,
        "requestState": core.request_state.sign(bind, ctx.input_responses),
    }


def _subject(ctx: Context) -> str | None:
    """Who the request came from (its bearer token's subject), if anyone says."""
    token = ctx.access_token
    return token.subject if token is not None else None
