"""``tasks/*``: get, result, list, cancel (2025-11-25) and update (the modern extension).

The error order is the one the extension's conformance scenarios expect: the
era and method, then the capability gate (``-32021``), then the task lookup
(``-32602``).
"""

from __future__ import annotations

from typing import Any

from ..._errors import InvalidParams, McpError, MethodNotFound
from ..._protocol import IncomingRequest
from ..._runtime import Peer
from .._context import Context
from .._core import ServerCore
from .._task_store import TaskView
from .._task_wire import legacy_task, modern_task
from .._tasks import RELATED_TASK, declares_extension, missing_extension, owner_of

__all__ = ["tasks_cancel", "tasks_get", "tasks_list", "tasks_result", "tasks_update"]


async def _lookup(core: ServerCore, req: IncomingRequest, peer: Peer) -> TaskView:
    """The error order: the version's task design, the capability gate, then the task id."""
    design = req.features.tasks
    if design is None:
        raise MethodNotFound(f"Method not found: {req.method}")
    if design == "extension" and not declares_extension(req.client_capabilities):
        raise missing_extension()
    return await core.tasks.get(req.params.get("taskId"), owner_of(req, peer), req.era)


async def tasks_get(
    core: ServerCore, req: IncomingRequest, peer: Peer, ctx: Context
) -> dict[str, Any]:
    task = await _lookup(core, req, peer)
    return legacy_task(task) if req.features.tasks == "core" else modern_task(task, detailed=True)


async def tasks_result(
    core: ServerCore, req: IncomingRequest, peer: Peer, ctx: Context
) -> dict[str, Any]:
    """Legacy: wait for the end; answer exactly what the call would have (plus related-task)."""
    task = await core.tasks.wait(await _lookup(core, req, peer), req.id)
    related = {RELATED_TASK: {"taskId": task.id}}
    if task.error is not None:
        err = task.error
        raise McpError(err["code"], err["message"], err.get("data"))
    if task.result is None:
        raise McpError(None, f"Task {task.status}: {task.message or 'no result'}", related)
    result = dict(task.result)
    result["_meta"] = dict(result.get("_meta") or {}, **related)
    return result


async def tasks_list(
    core: ServerCore, req: IncomingRequest, peer: Peer, ctx: Context
) -> dict[str, Any]:
    if req.features.tasks != "core":
        raise MethodNotFound(f"Method not found: {req.method}")
    tasks = [legacy_task(t) for t in await core.tasks.owned(owner_of(req, peer), req.era)]
    return core.registry.page("tasks", tasks, req.params.get("cursor"))


async def tasks_cancel(
    core: ServerCore, req: IncomingRequest, peer: Peer, ctx: Context
) -> dict[str, Any]:
    task = await _lookup(core, req, peer)
    if req.features.tasks == "extension":
        await core.tasks.cancel(task, "Cancelled by the client")
        return {}  # an empty ack, for a terminal task too
    if task.terminal:
        raise InvalidParams(f"Cannot cancel task: already in terminal status '{task.status}'")
    return legacy_task(await core.tasks.cancel(task, "Cancelled by the client"))


async def tasks_update(
    core: ServerCore, req: IncomingRequest, peer: Peer, ctx: Context
) -> dict[str, Any]:
    task = await _lookup(core, req, peer)
    responses: dict[str, Any] = req.params["inputResponses"]  # checked by the dispatcher
    await core.tasks.update(task, responses)
    return {}
