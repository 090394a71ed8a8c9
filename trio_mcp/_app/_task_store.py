"""Where tasks are kept: the interface both stores share, and the in-memory store.

:class:`TaskStore` is what the ``tasks/*`` methods, ``tools/call`` and listen
streams use. It is async where a shared store needs I/O (:meth:`~TaskStore.create`,
:meth:`~TaskStore.get`, :meth:`~TaskStore.cancel`, :meth:`~TaskStore.update`,
:meth:`~TaskStore.owned`), and sync where only this process is concerned
(:meth:`~TaskStore.drop_owner`). What a lookup returns is a :class:`TaskView`: the
running :class:`~._tasks.Task` itself when the task lives in this process, or a
snapshot of a task another worker runs (the Redis store).

Two implementations:

* :class:`MemoryTaskStore` (the default): the records of this process, in a dict;
  every method is a dict operation (no await inside, no I/O).
* ``RedisTaskStore`` (``TRIO_MCP_REDIS_URL``, :mod:`._redis_tasks`): modern-era task
  records in Redis, so any worker answers ``tasks/get``, ``tasks/cancel`` and
  ``tasks/update``; the runs themselves stay in the worker that started them.
"""

from __future__ import annotations

import heapq
import math
import secrets
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any, Protocol

import trio

from .._errors import InternalError, InvalidParams
from .._protocol import Era
from ._tasks import Task

if TYPE_CHECKING:
    from .._runtime import Peer
    from .._wire import Id

__all__ = ["MemoryTaskStore", "TaskStore", "TaskView", "not_found"]


class AskView(Protocol):
    """One outstanding input request of a modern task."""

    @property
    def method(self) -> str: ...
    @property
    def params(self) -> dict[str, Any]: ...


class TaskView(Protocol):
    """What the ``tasks/*`` answers read of a task (:mod:`._task_wire`)."""

    @property
    def id(self) -> str: ...
    @property
    def era(self) -> Era: ...
    @property
    def status(self) -> str: ...
    @property
    def message(self) -> str | None: ...
    @property
    def created(self) -> str: ...
    @property
    def updated(self) -> str: ...
    @property
    def ttl_ms(self) -> int | None: ...
    @property
    def poll_ms(self) -> int: ...
    @property
    def result(self) -> dict[str, Any] | None: ...
    @property
    def error(self) -> dict[str, Any] | None: ...
    @property
    def asks(self) -> Mapping[str, AskView]: ...
    @property
    def terminal(self) -> bool: ...


class TaskStore(Protocol):
    """The interface of a task store (see the module docstring).

    Every async method may raise :class:`~trio_mcp._errors.StoreUnavailable`
    (``-32603``) when the store is shared and does not answer in time; each runs
    in the caller's task, so inside the request's cancel scope.
    """

    @property
    def ttl(self) -> float | None:
        """Seconds a task is kept from creation (``None``: until the server stops)."""
        ...

    @property
    def poll_interval(self) -> float:
        """The ``pollInterval`` suggested to clients, in seconds."""
        ...

    #: Told of every modern task's status changes, on any worker (listen streams).
    on_change: Callable[[TaskView], None] | None

    def __len__(self) -> int:
        """Tasks held by this process."""
        ...

    async def serve(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        """The store's own services (run in the server's nursery while it serves)."""
        ...

    async def create(
        self, owner: object, era: Era, peer: Peer | None, requested_ttl_ms: Any = None
    ) -> Task:
        """A new task, ``working``, visible to :meth:`get` once this returns."""
        ...

    async def get(self, task_id: Any, owner: object, era: Era) -> TaskView:
        """The task ``task_id`` if ``owner`` may see it.

        Raises:
            InvalidParams: ``task_id`` is not a string, unknown, expired or another
                owner's (``-32602`` "Task not found").
        """
        ...

    async def owned(self, owner: object, era: Era) -> list[TaskView]:
        """``owner``'s tasks (``tasks/list``, 2025-11-25)."""
        ...

    async def cancel(self, task: TaskView, message: str) -> TaskView:
        """Cancel ``task`` (its handler stops, wherever it runs); the task as it is after.

        A terminal task is left as it is.
        """
        ...

    async def update(self, task: TaskView, responses: dict[str, Any]) -> None:
        """Deliver ``tasks/update`` answers to ``task``'s handler, wherever it runs."""
        ...

    async def wait(self, task: TaskView, rid: Id) -> TaskView:
        """Legacy ``tasks/result`` (request ``rid``): ``task`` once terminal, wherever it runs.

        While it waits, the handler may send its input requests to the client
        (on the waiting request's stream when the task runs in this process).
        """
        ...

    def drop_owner(self, owner: object) -> None:
        """Cancel and forget ``owner``'s tasks (its legacy session ended)."""
        ...


def not_found(task_id: str) -> InvalidParams:
    return InvalidParams("Failed to retrieve task: Task not found", {"taskId": task_id})


def check_id(task_id: Any) -> str:
    if type(task_id) is not str:
        raise InvalidParams('Invalid params: "taskId" must be a string')
    return task_id


class MemoryTaskStore:
    """The server's tasks, in memory. Expired tasks are cancelled and forgotten lazily.

    Args:
        ttl: Seconds a task is kept from creation (``None``: until the server
            stops). A legacy client's requested ``ttl`` is honoured up to it.
        poll_interval: The ``pollInterval`` suggested to clients, in seconds.
    """

    def __init__(self, ttl: float | None = 3600.0, poll_interval: float = 1.0) -> None:
        self.ttl = ttl
        self.poll_interval = poll_interval
        self.on_change: Callable[[TaskView], None] | None = None
        self._tasks: dict[str, Task] = {}
        self._expiry: list[tuple[float, str]] = []

    def __len__(self) -> int:
        return len(self._tasks)

    async def serve(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        task_status.started()  # nothing to run: expiry is swept on every operation

    async def create(
        self, owner: object, era: Era, peer: Peer | None, requested_ttl_ms: Any = None
    ) -> Task:
        return self.create_now(owner, era, peer, requested_ttl_ms)

    def create_now(
        self,
        owner: object,
        era: Era,
        peer: Peer | None,
        requested_ttl_ms: Any = None,
        on_change: Callable[[Task], None] | None = None,
    ) -> Task:
        self.sweep()
        ttl_ms = None if self.ttl is None else int(self.ttl * 1000)
        if type(requested_ttl_ms) is int and requested_ttl_ms > 0:
            ttl_ms = requested_ttl_ms if ttl_ms is None else min(ttl_ms, requested_ttl_ms)
        expires = math.inf if ttl_ms is None else trio.current_time() + ttl_ms / 1000
        task = Task(
            secrets.token_urlsafe(16),
            owner,
            era,
            ttl_ms,
            max(1, int(self.poll_interval * 1000)),
            expires,
            peer if era is Era.LEGACY else None,
            on_change=on_change if on_change is not None or era is Era.LEGACY else self.on_change,
        )
        self._tasks[task.id] = task
        if ttl_ms is not None:
            heapq.heappush(self._expiry, (expires, task.id))
        return task

    async def get(self, task_id: Any, owner: object, era: Era) -> Task:
        return self.get_now(task_id, owner)

    def get_now(self, task_id: Any, owner: object) -> Task:
        """The task ``task_id`` if ``owner`` may see it, else ``-32602``."""
        self.sweep()
        task = self._tasks.get(check_id(task_id))
        if task is None or not (task.owner is owner or task.owner == owner):
            raise not_found(task_id)
        return task

    def local(self, task_id: str) -> Task | None:
        """The task ``task_id`` if this process holds it (no owner check)."""
        return self._tasks.get(task_id)

    def held(self) -> list[Task]:
        """Every task this process holds."""
        return list(self._tasks.values())

    def running(self) -> list[Task]:
        """The tasks held here that are not terminal yet."""
        return [t for t in self._tasks.values() if not t.terminal]

    def forget(self, task: Task) -> None:
        if self._tasks.get(task.id) is task:
            del self._tasks[task.id]

    async def owned(self, owner: object, era: Era) -> list[TaskView]:
        self.sweep()
        return [t for t in self._tasks.values() if t.owner is owner or t.owner == owner]

    async def cancel(self, task: TaskView, message: str) -> TaskView:
        if isinstance(task, Task):
            task.cancel(message)
        return task

    async def update(self, task: TaskView, responses: dict[str, Any]) -> None:
        if isinstance(task, Task):
            task.update(responses)

    async def wait(self, task: TaskView, rid: Id) -> TaskView:
        if not isinstance(task, Task):
            raise InternalError(message="Internal error: the task is not held by this worker")
        task.result_waiters.append(rid)
        task.wake()  # a handler waiting to send its input request on this stream
        try:
            while not task.terminal:
                await task.changed()
        finally:
            task.result_waiters.remove(rid)
        return task

    def drop_owner(self, owner: object) -> None:
        for task in [t for t in self._tasks.values() if t.owner is owner or t.owner == owner]:
            task.cancel("The session ended")
            del self._tasks[task.id]

    def sweep(self) -> None:
        now = trio.current_time()
        while self._expiry and self._expiry[0][0] <= now:
            _, task_id = heapq.heappop(self._expiry)
            task = self._tasks.pop(task_id, None)
            if task is not None:
                task.cancel("The task's ttl expired")
