"""A task as each design puts it on the wire: the 2025-11-25 ``Task`` and the extension's."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .._protocol import Era

if TYPE_CHECKING:
    from ._task_store import TaskView as Task

__all__ = ["created_result", "legacy_task", "modern_task"]


def _base(task: Task) -> dict[str, Any]:
    out: dict[str, Any] = {
        "taskId": task.id,
        "status": task.status,
        "createdAt": task.created,
        "lastUpdatedAt": task.updated,
    }
    if task.message is not None:
        out["statusMessage"] = task.message
    return out


def legacy_task(task: Task) -> dict[str, Any]:
    """The 2025-11-25 ``Task`` object (``ttl``, ``pollInterval``)."""
    return {**_base(task), "ttl": task.ttl_ms, "pollInterval": task.poll_ms}


def modern_task(task: Task, *, detailed: bool = False) -> dict[str, Any]:
    """The extension's ``Task`` (``ttlMs``, ``pollIntervalMs``); ``detailed`` inlines the rest."""
    out = {**_base(task), "ttlMs": task.ttl_ms, "pollIntervalMs": task.poll_ms}
    if detailed:
        if task.status == "completed" and task.result is not None:
            out["result"] = task.result
        elif task.status == "failed" and task.error is not None:
            out["error"] = task.error
        elif task.status == "input_required":
            out["inputRequests"] = {
                k: {"method": a.method, "params": a.params} for k, a in task.asks.items()
            }
    return out


def created_result(task: Task) -> dict[str, Any]:
    """The ``CreateTaskResult`` for the task's era."""
    if task.era is Era.LEGACY:
        return {"task": legacy_task(task)}
    return {"resultType": "task", **modern_task(task)}
