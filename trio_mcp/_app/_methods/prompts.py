"""``prompts/list``, ``prompts/get`` and ``completion/complete``."""

from __future__ import annotations

from typing import Any

from ..._errors import InvalidParams
from ..._protocol import IncomingRequest
from ..._runtime import Peer
from .._context import Context
from .._core import ServerCore
from .._messages import messages_of
from .._mrtr import InputRequired
from .._registry import Completion, CompletionRequest
from .._visibility import caller_scopes, check_scopes, may_list
from ._common import input_required, listed, resume

__all__ = ["MAX_COMPLETIONS", "completion_complete", "prompts_get", "prompts_list"]

MAX_COMPLETIONS = 100
"""The spec's limit on ``completion.values``."""


async def prompts_list(
    core: ServerCore, req: IncomingRequest, peer: Peer, ctx: Context
) -> dict[str, Any]:
    granted = caller_scopes(peer, req.id)
    items = [p.definition() for p in core.registry.prompts.values() if may_list(p, granted)]
    return await listed(core, req, peer, ctx, "prompts", items)


async def prompts_get(
    core: ServerCore, req: IncomingRequest, peer: Peer, ctx: Context
) -> dict[str, Any]:
    name: str = req.params["name"]
    prompt = core.registry.prompt(name)
    if prompt is None:
        provider = core.registry.provider_for("prompt", name)
        if provider is not None:  # a mounted or proxied server's prompt
            return await provider.forward(req, peer, ctx)
        raise InvalidParams(f"Invalid params: unknown prompt {name!r}")
    check_scopes(prompt, peer, req.id)
    arguments: dict[str, Any] = req.params.get("arguments") or {}
    bind = resume(core, req, ctx, name, arguments)
    kwargs = prompt.bind(arguments, ctx)
    try:
        value = await prompt.invoke(kwargs)
    except InputRequired as exc:
        return input_required(core, ctx, exc, bind)
    result: dict[str, Any] = {"messages": messages_of(value)}
    if prompt.description:
        result["description"] = prompt.description
    return result


async def completion_complete(
    core: ServerCore, req: IncomingRequest, peer: Peer, ctx: Context
) -> dict[str, Any]:
    params = req.params
    registry = core.registry
    ref: dict[str, Any] = params["ref"]  # types checked by the dispatcher (_params.PARAMS)
    argument: dict[str, Any] = params["argument"]
    ref_type = ref["type"]
    target = ref.get("name") if ref_type == "ref/prompt" else ref.get("uri")
    if ref_type == "ref/prompt":
        kind = "prompt"
        if registry.prompt(target) is None:
            provider = registry.provider_for("prompt", target)
            if provider is not None:  # the provider's completer answers
                return await provider.forward(req, peer, ctx)
            raise InvalidParams(f"Invalid params: unknown prompt {target!r}")
    elif ref_type == "ref/resource":
        kind = "resource"
        if target not in registry.templates and target not in registry.resources:
            provider = registry.provider_for("template", target)
            if provider is not None:
                return await provider.forward(req, peer, ctx)
            raise InvalidParams(f"Invalid params: unknown resource template {target!r}")
    else:
        raise InvalidParams('Invalid params: "ref.type" must be "ref/prompt" or "ref/resource"')
    name: str = argument["name"]
    value: str = argument.get("value") or ""
    context: dict[str, str] = (params.get("context") or {}).get("arguments") or {}
    values: list[str] = []
    total: int | None = None
    has_more: bool | None = None
    if registry.completer is not None:
        answer = await registry.completer(
            CompletionRequest(kind, str(target), name, value, dict(context))
        )
        if isinstance(answer, Completion):
            values, total, has_more = list(answer.values), answer.total, answer.has_more
        else:
            values = list(answer)
    total = len(values) if total is None else total
    if has_more is None:
        has_more = len(values) > MAX_COMPLETIONS or total > MAX_COMPLETIONS
    return {"completion": {"values": values[:MAX_COMPLETIONS], "total": total, "hasMore": has_more}}
