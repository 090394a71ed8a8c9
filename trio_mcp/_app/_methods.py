"""One function per MCP method the application answers.

Each takes ``(server, request, peer, ctx)`` and returns the result object, or
raises :class:`McpError`. Era differences live here only where a method's
*semantics* differ; envelope differences (``resultType``, caching hints,
retired error codes) are the session's job.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

import attrs
import trio

from .._errors import InternalError, InvalidParams, McpError, MethodNotFound, ResourceNotFound
from .._protocol import Era, IncomingRequest
from .._runtime import Peer
from ._context import Context
from ._hub import LIST_KINDS, Listener
from ._mrtr import InputRequired, binding
from ._prompts import messages_of
from ._resources import contents_of
from ._tasks import (
    TaskRun,
    declares_extension,
    missing_extension,
    owner_of,
    tasks_cancel,
    tasks_get,
    tasks_list,
    tasks_result,
    tasks_update,
)
from ._tools import Tool, ToolArgumentsError, to_call_result

if TYPE_CHECKING:
    from ._server import Server

__all__ = ["METHODS", "Completion", "CompletionRequest", "call_tool"]

log = logging.getLogger("trio_mcp")

Method = Callable[["Server", IncomingRequest, Peer, Context], Awaitable[dict[str, Any]]]

MAX_COMPLETIONS = 100


def error_result(text: str) -> dict[str, Any]:
    return {"content": [{"type": "text", "text": text}], "isError": True}


def _string(params: dict[str, Any], key: str) -> str:
    value = params.get(key)
    if type(value) is not str:
        raise InvalidParams(f'Invalid params: "{key}" must be a string')
    return value


def _object(params: dict[str, Any], key: str) -> dict[str, Any]:
    value = params.get(key)
    if value is None:
        return {}
    if type(value) is not dict:
        raise InvalidParams(f'Invalid params: "{key}" must be an object')
    return value


# ------------------------------------------------------------------ MRTR


_Target = tuple[str, Any]


def _resume(server: Server, req: IncomingRequest, ctx: Context, target: str, args: Any) -> _Target:
    """Load earlier answers into ``ctx`` (modern era); return what a state binds to.

    The binding digest is computed only when a ``requestState`` must be
    checked or issued, never on the common path.
    """
    if req.era is Era.MODERN:
        state = req.params.get("requestState")
        if state is not None:
            bind = binding(req.method, target, args)
            ctx.input_responses.update(server._request_state.verify(state, bind))
        if "inputResponses" in req.params:  # present: an object (null is a protocol error)
            responses = req.params["inputResponses"]
            if type(responses) is not dict:
                raise InvalidParams('Invalid params: "inputResponses" must be an object')
            ctx.input_responses.update(responses)
    return (target, args)


def _input_required(
    server: Server, ctx: Context, exc: InputRequired, target: _Target
) -> dict[str, Any]:
    bind = binding(ctx.request.method, *target)
    return {
        "resultType": "input_required",
        "inputRequests": exc.requests,
        "requestState": server._request_state.sign(bind, ctx.input_responses),
    }


# ------------------------------------------------------------------ tools


async def tools_list(
    server: Server, req: IncomingRequest, peer: Peer, ctx: Context
) -> dict[str, Any]:
    tasks = req.features.task_support
    items = [t.definition(task_support=tasks) for t in server._tools.values()]
    return server._page("tools", items, req)


async def tools_call(
    server: Server, req: IncomingRequest, peer: Peer, ctx: Context
) -> dict[str, Any]:
    return await call_tool(server, req, peer, ctx)


async def call_tool(
    server: Server, req: IncomingRequest, peer: Peer, ctx: Context | None
) -> dict[str, Any]:
    """``tools/call``. With ``ctx=None`` (the fast path), a Context is made only
    if the tool declares one: most tools never pay for it."""
    params = req.params
    name = _string(params, "name")
    tool = server._tools.get(name)
    if tool is None:
        raise InvalidParams(f"Unknown tool: {name}")
    arguments = _object(params, "arguments")
    if (tool.task_support != "forbidden" or "task" in params) and _as_task(tool, req):
        return await _call_as_task(server, req, peer, tool, arguments)
    if ctx is None and tool._context_param is not None:
        ctx = Context(req, peer, server)
        try:
            return await call_tool(server, req, peer, ctx)
        finally:
            ctx._finish()
    target = _resume(server, req, ctx, name, arguments) if ctx is not None else (name, arguments)
    try:
        kwargs = tool.bind(arguments, ctx)
    except ToolArgumentsError as exc:
        if req.features.invalid_arguments_protocol_error:  # before 2025-11-25 (SEP-1303)
            raise InvalidParams(str(exc), {"errors": exc.lines}) from None
        return error_result(str(exc))
    try:
        value = await tool.invoke(kwargs)
    except InputRequired as exc:
        assert ctx is not None
        return _input_required(server, ctx, exc, target)
    except McpError:
        raise
    except Exception as exc:
        if ctx is not None and ctx.pending_input is not None:  # the tool swallowed it; still ask
            return _input_required(server, ctx, ctx.pending_input, target)
        log.exception("trio_mcp: tool %r raised", name)
        return error_result(f"Error executing tool {name}: {exc}")
    if ctx is not None and ctx.pending_input is not None:
        return _input_required(server, ctx, ctx.pending_input, target)
    return to_call_result(tool, value, structured_ok=True)  # the session drops it where undefined


def _as_task(tool: Tool, req: IncomingRequest) -> bool:
    """Whether this call runs as a task (the rule of each era), or its error.

    Modern: the server decides. A task-capable tool becomes a task whenever the
    request declares the extension; ``required`` without it is ``-32021``;
    ``params.task`` is ignored. Legacy (2025-11-25): the client opts in with
    ``params.task``; ``required`` without it, or ``forbidden`` with it, is ``-32601``.
    """
    mode = tool.task_support
    if req.era is Era.MODERN:
        if mode == "forbidden":
            return False
        if declares_extension(req.client_capabilities):
            return True
        if mode == "required":
            raise missing_extension()
        return False
    meta = req.params.get("task") if req.features.tasks == "core" else None
    if meta is None:
        if mode == "required":
            raise MethodNotFound(f"Tool {tool.name} must be called as a task (params.task)")
        return False
    if type(meta) is not dict:
        raise InvalidParams('Invalid params: "task" must be an object')
    if mode == "forbidden":
        raise MethodNotFound(f"Tool {tool.name} does not support task-augmented calls")
    return True


async def _call_as_task(
    server: Server, req: IncomingRequest, peer: Peer, tool: Tool, arguments: dict[str, Any]
) -> dict[str, Any]:
    """Run the call in the services nursery; answer with its ``CreateTaskResult``.

    ``task_start="explicit"``: wait until the handler calls ``ctx.start_task()``
    (then the task's handle), or ends first (then its own answer: a result, an
    error, or an MRTR ``input_required`` round).
    """
    ctx = Context(req, peer, server)
    target = _resume(server, req, ctx, tool.name, arguments)
    task_meta = req.params.get("task") if req.era is Era.LEGACY else None
    run = TaskRun(
        server._tasks,
        tool,
        ctx,
        owner_of(req, peer),
        peer,
        task_meta.get("ttl") if isinstance(task_meta, dict) else None,
        structured_ok=True,
    )
    try:
        run.kwargs = tool.bind(arguments, ctx)
    except ToolArgumentsError as exc:
        if req.era is Era.MODERN:
            return error_result(str(exc))  # the server decides: no task for a call that cannot run
        run.start().finish(error_result(str(exc)))  # created "working", failed at once
        return run.created
    services = server._services
    if services is None:
        raise InternalError(message="Internal error: the server is not running")
    if tool.task_start == "immediate":
        run.start()
    services.start_soon(run.main)
    if run.task is not None:
        return run.created
    try:
        await run.decided.wait()
    finally:
        if not run.started:
            run.scope.cancel()  # the request ended (cancelled) before the task began
    if run.started:  # the handler called ctx.start_task()
        return run.created
    outcome = run.outcome
    if isinstance(outcome, InputRequired):
        return _input_required(server, ctx, outcome, target)
    if isinstance(outcome, McpError):
        raise outcome
    if outcome is None:
        raise InternalError(message="Internal error: the call was cancelled")
    return outcome


# -------------------------------------------------------------- resources


async def resources_list(
    server: Server, req: IncomingRequest, peer: Peer, ctx: Context
) -> dict[str, Any]:
    return server._page("resources", [r.definition() for r in server._resources.values()], req)


async def resource_templates_list(
    server: Server, req: IncomingRequest, peer: Peer, ctx: Context
) -> dict[str, Any]:
    items = [t.definition() for t in server._templates.values()]
    return server._page("resourceTemplates", items, req)


async def resources_read(
    server: Server, req: IncomingRequest, peer: Peer, ctx: Context
) -> dict[str, Any]:
    uri = _string(req.params, "uri")
    bind = _resume(server, req, ctx, uri, None)
    resource = server._resources.get(uri)
    if resource is not None:
        handler, kwargs, mime = resource.handler, {}, resource.mime_type
    else:
        for template in server._templates.values():
            matched = template.match(uri)
            if matched is not None:
                handler, kwargs, mime = template.handler, matched, template.mime_type
                break
        else:
            raise ResourceNotFound("Resource not found", {"uri": uri})
    try:
        value = await handler.call(kwargs, ctx)
    except InputRequired as exc:
        return _input_required(server, ctx, exc, bind)
    except FileNotFoundError:
        raise ResourceNotFound("Resource not found", {"uri": uri}) from None
    return {"contents": contents_of(uri, value, mime)}


async def resources_subscribe(
    server: Server, req: IncomingRequest, peer: Peer, ctx: Context
) -> dict[str, Any]:
    peer.session.subscriptions.add(_string(req.params, "uri"))
    return {}


async def resources_unsubscribe(
    server: Server, req: IncomingRequest, peer: Peer, ctx: Context
) -> dict[str, Any]:
    peer.session.subscriptions.discard(_string(req.params, "uri"))
    return {}


# ---------------------------------------------------------------- prompts


async def prompts_list(
    server: Server, req: IncomingRequest, peer: Peer, ctx: Context
) -> dict[str, Any]:
    return server._page("prompts", [p.definition() for p in server._prompts.values()], req)


async def prompts_get(
    server: Server, req: IncomingRequest, peer: Peer, ctx: Context
) -> dict[str, Any]:
    name = _string(req.params, "name")
    prompt = server._prompts.get(name)
    if prompt is None:
        raise InvalidParams(f"Invalid params: unknown prompt {name!r}")
    arguments = _object(req.params, "arguments")
    bind = _resume(server, req, ctx, name, arguments)
    kwargs = prompt.bind(arguments, ctx)
    try:
        value = await prompt.invoke(kwargs)
    except InputRequired as exc:
        return _input_required(server, ctx, exc, bind)
    result: dict[str, Any] = {"messages": messages_of(value)}
    if prompt.description:
        result["description"] = prompt.description
    return result


# ------------------------------------------------------------- completion


@attrs.frozen
class CompletionRequest:
    """What ``completion/complete`` asks: complete ``argument`` of ``ref``, typed so far ``value``.

    Attributes:
        ref_type: ``"prompt"`` or ``"resource"`` (a resource template).
        ref: The prompt name, or the resource template's URI template.
        argument: The argument (or template variable) being completed.
        value: What the user typed so far.
        context: Values of the other arguments already chosen (``context.arguments``).
    """

    ref_type: str
    ref: str
    argument: str
    value: str
    context: dict[str, str]


@attrs.frozen
class Completion:
    """A completer's answer. ``total``/``has_more`` default to what ``values`` implies."""

    values: list[str]
    total: int | None = None
    has_more: bool | None = None


async def completion_complete(
    server: Server, req: IncomingRequest, peer: Peer, ctx: Context
) -> dict[str, Any]:
    params = req.params
    ref = _object(params, "ref")
    argument = _object(params, "argument")
    ref_type = ref.get("type")
    if ref_type == "ref/prompt":
        kind, target = "prompt", ref.get("name")
        if target not in server._prompts:
            raise InvalidParams(f"Invalid params: unknown prompt {target!r}")
    elif ref_type == "ref/resource":
        kind, target = "resource", ref.get("uri")
        if target not in server._templates and target not in server._resources:
            raise InvalidParams(f"Invalid params: unknown resource template {target!r}")
    else:
        raise InvalidParams('Invalid params: "ref.type" must be "ref/prompt" or "ref/resource"')
    name, value = argument.get("name"), argument.get("value", "")
    if type(name) is not str or type(value) is not str:
        raise InvalidParams('Invalid params: "argument" needs string "name" and "value"')
    context = _object(params, "context").get("arguments") or {}
    values: list[str] = []
    total: int | None = None
    has_more: bool | None = None
    if server._completer is not None:
        answer = await server._completer(
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


# ---------------------------------------------------------- subscriptions


async def subscriptions_listen(
    server: Server, req: IncomingRequest, peer: Peer, ctx: Context
) -> dict[str, Any]:
    from .._protocol._versions import META_SUBSCRIPTION_ID

    wanted = req.params.get("notifications")
    if type(wanted) is not dict:
        raise InvalidParams('Invalid params: "notifications" must be an object')
    honored: dict[str, Any] = {}
    lists = set()
    for flag in LIST_KINDS.values():
        if wanted.get(flag) is True:
            honored[flag] = True
            lists.add(flag)
    uris = wanted.get("resourceSubscriptions")
    if isinstance(uris, list) and all(type(u) is str for u in uris):
        honored["resourceSubscriptions"] = uris
    else:
        uris = []
    task_ids = _listen_task_ids(server, req, peer, wanted.get("taskIds"))
    if task_ids is not None:
        honored["taskIds"] = task_ids
    send, receive = trio.open_memory_channel[tuple[str, dict[str, Any]]](256)
    listener = Listener(
        peer, req.id, frozenset(lists), frozenset(uris), send, frozenset(task_ids or ())
    )
    server._hub.listeners.add(listener)
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
        server._hub.listeners.discard(listener)
        send.close()
    return {"_meta": dict(tag)}  # the stream ended gracefully (the server is draining)


def _listen_task_ids(
    server: Server, req: IncomingRequest, peer: Peer, wanted: Any
) -> list[str] | None:
    """The ``taskIds`` a listen stream may follow: the caller's own, existing tasks.

    Asking for task notifications needs the tasks extension (``-32021`` otherwise).
    """
    if wanted is None:
        return None
    from ._tasks import declares_extension, missing_extension, owner_of

    if not declares_extension(req.client_capabilities):
        raise missing_extension()
    if not isinstance(wanted, list) or not all(type(t) is str for t in wanted):
        raise InvalidParams('Invalid params: "taskIds" must be an array of strings')
    owner = owner_of(req, peer)
    accepted = []
    for task_id in wanted:
        try:
            server._tasks.get(task_id, owner)
        except McpError:
            continue  # unknown, expired or someone else's: not followed
        accepted.append(task_id)
    return accepted


METHODS: dict[str, Method] = {
    "tools/list": tools_list,
    "tools/call": tools_call,
    "resources/list": resources_list,
    "resources/templates/list": resource_templates_list,
    "resources/read": resources_read,
    "resources/subscribe": resources_subscribe,
    "resources/unsubscribe": resources_unsubscribe,
    "prompts/list": prompts_list,
    "prompts/get": prompts_get,
    "completion/complete": completion_complete,
    "subscriptions/listen": subscriptions_listen,
    "tasks/get": tasks_get,
    "tasks/result": tasks_result,
    "tasks/list": tasks_list,
    "tasks/cancel": tasks_cancel,
    "tasks/update": tasks_update,
}
LEGACY_ONLY = frozenset(
    {"resources/subscribe", "resources/unsubscribe", "tasks/result", "tasks/list"}
)
MODERN_ONLY = frozenset({"subscriptions/listen", "tasks/update"})
