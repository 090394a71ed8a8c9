"""``tools/list`` and ``tools/call``, with the per-era rule for running a call as a task."""

from __future__ import annotations

import logging
from typing import Any

from ..._errors import InternalError, InvalidParams, McpError, MethodNotFound
from ..._protocol import IncomingRequest
from ..._runtime import Peer
from .._context import Context
from .._core import ServerCore
from .._functions import error_text
from .._mrtr import InputRequired
from .._tasks import (
    TaskRun,
    declares_extension,
    missing_extension,
    owner_of,
)
from .._tools import Tool, ToolArgumentsError, to_call_result
from .._visibility import caller_scopes, check_scopes, may_list
from ._common import error_result, input_required, listed, resume

__all__ = ["call_tool", "tools_list"]

log = logging.getLogger("trio_mcp")


async def tools_list(
    core: ServerCore, req: IncomingRequest, peer: Peer, ctx: Context
) -> dict[str, Any]:
    tasks = req.features.task_support
    granted = caller_scopes(peer, req.id)
    items = [
        t.definition(task_support=tasks)
        for t in core.registry.tools.values()
        if may_list(t, granted)
    ]
    return await listed(core, req, peer, ctx, "tools", items)


async def call_tool(
    core: ServerCore, req: IncomingRequest, peer: Peer, ctx: Context | None
) -> dict[str, Any]:
    """``tools/call``. With ``ctx=None`` (the fast path), a Context is made only
    if the tool declares one: most tools never pay for it."""
    params = req.params  # types checked by the dispatcher (_params.PARAMS)
    name: str = params["name"]
    tool = core.registry.tools.get(name)
    if tool is None:
        provider = core.registry.provider_for("tool", name)
        if provider is not None:  # a mounted or proxied server's tool
            return await provider.forward(req, peer, ctx)
    if tool is None or not tool.enabled:
        raise InvalidParams(f"Unknown tool: {name}")
    if tool.scopes:
        check_scopes(tool, peer, req.id)
    arguments: dict[str, Any] = params.get("arguments") or {}
    if (tool.task_support != "forbidden" or "task" in params) and _as_task(tool, req):
        return await _call_as_task(core, req, peer, tool, arguments)
    if ctx is None and tool._context_param is not None:
        ctx = Context(req, peer, core)
        try:
            return await call_tool(core, req, peer, ctx)
        finally:
            ctx._finish()
    target = resume(core, req, ctx, name, arguments) if ctx is not None else (name, arguments)
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
        return input_required(core, ctx, exc, target)
    except McpError:
        raise
    except Exception as exc:
        if ctx is not None and ctx.pending_input is not None:  # the tool swallowed it; still ask
            return input_required(core, ctx, ctx.pending_input, target)
        log.exception("trio_mcp: tool %r raised", name)
        if ctx is not None:
            ctx.exception = exc  # for middleware (error masking, logging)
        if core.tracing is not None:
            core.tracing.record(exc)  # on the span around the tool (tracing on)
        return error_result(f"Error executing tool {name}: {error_text(exc)}")
    if ctx is not None and ctx.pending_input is not None:
        return input_required(core, ctx, ctx.pending_input, target)
    return to_call_result(tool, value, structured_ok=True)  # the session drops it where undefined


def _as_task(tool: Tool, req: IncomingRequest) -> bool:
    """Whether this call runs as a task (the rule of each era), or its error.

    Modern: the server decides. A task-capable tool becomes a task whenever the
    request declares the extension; ``required`` without it is ``-32021``;
    ``params.task`` is ignored. Legacy (2025-11-25): the client opts in with
    ``params.task``; ``required`` without it, or ``forbidden`` with it, is ``-32601``.
    """
    mode = tool.task_support
    if req.features.tasks == "extension":
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
    if mode == "forbidden":
        raise MethodNotFound(f"Tool {tool.name} does not support task-augmented calls")
    return True


async def _call_as_task(
    core: ServerCore, req: IncomingRequest, peer: Peer, tool: Tool, arguments: dict[str, Any]
) -> dict[str, Any]:
    """Run the call in the services nursery; answer with its ``CreateTaskResult``.

    ``task_start="explicit"``: wait until the handler calls ``ctx.start_task()``
    (then the task's handle), or ends first (then its own answer: a result, an
    error, or an MRTR ``input_required`` round).
    """
    ctx = Context(req, peer, core)
    target = resume(core, req, ctx, tool.name, arguments)
    task_meta = req.params.get("task") if req.features.tasks == "core" else None
    run = TaskRun(
        core.tasks,
        tool,
        ctx,
        owner_of(req, peer),
        peer,
        task_meta.get("ttl") if isinstance(task_meta, dict) else None,
    )
    try:
        run.kwargs = tool.bind(arguments, ctx)
    except ToolArgumentsError as exc:
        if req.features.tasks == "extension":
            return error_result(str(exc))  # the server decides: no task for a call that cannot run
        (await run.start()).finish(error_result(str(exc)))  # created "working", failed at once
        return run.created
    services = core.running_services()
    if tool.task_start == "immediate":
        await run.start()
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
        return input_required(core, ctx, outcome, target)
    if isinstance(outcome, McpError):
        raise outcome
    if outcome is None:
        raise InternalError(message="Internal error: the call was cancelled")
    return outcome
