"""The Redis task store (``TRIO_MCP_REDIS_URL``): modern-era tasks shared by every worker.

What lives where:

* **The record** of a modern-era task (status, message, timestamps, result or
  error, outstanding ``inputRequests``, owner, the worker running it) is a Redis
  hash ``trio_mcp:task:<id>`` that expires with the task's ttl. ``tasks/get``,
  ``tasks/cancel`` and ``tasks/update`` on any worker read and write it.
* **The run** (the handler, its cancel scope, its input waits) stays in the worker
  that started it, in a :class:`~._task_store.MemoryTaskStore` that holds only the
  tasks still running here. Every status change is written to the record by one
  flusher task (batched: one round trip for all changes since the last write).
* **Cancel and update** reach the running worker through pub/sub, on its own
  channel ``trio_mcp:worker:<id>:inbox``. A message lost while Redis was away is
  made up by the heartbeat, which reads back the status of every task running
  here and cancels those the record says are over.
* **The lease**: each worker refreshes ``trio_mcp:worker:<id>`` (expiring after
  ``lease`` seconds) every ``lease / 3`` seconds. A lookup that finds a task
  still ``working`` whose worker's key has expired marks it ``failed`` ("the
  worker running the task stopped"), atomically, so a worker killed with
  ``SIGKILL`` has its tasks failed within the lease. A worker that stops
  gracefully deletes its key at once.
* **Legacy-era tasks** (2025-11-25) stay in the memory of the worker holding the
  session, as without Redis: legacy session state is not shared yet, so the
  session's requests all reach that worker anyway.

Records survive a Redis restart only as far as Redis persists them; the tasks still
running are written again by their workers' next heartbeat. Every call has the
link's timeout and runs in the caller's task (inside the request's cancel scope);
a call that fails raises ``StoreUnavailable`` (``-32603`` "task store unavailable").
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import orjson
import trio

from .._errors import StoreUnavailable
from .._protocol import Era
from .._transports._redis import RedisLink, connect
from ._redis_records import (
    BEAT,
    CANCEL,
    CREATE,
    GET,
    PREFIX,
    SAVE,
    WORKER_STOPPED,
    RemoteTask,
    dump,
    fields,
    task_key,
)
from ._task_store import MemoryTaskStore, TaskView, check_id, not_found
from ._tasks import TERMINAL, Task, _now

if TYPE_CHECKING:
    from .._runtime import Peer

__all__ = ["RedisTaskStore", "RemoteTask"]

log = logging.getLogger("trio_mcp")


class RedisTaskStore:
    """Modern-era task records in Redis; runs in the worker that started them.

    Args:
        url: The Redis URL (``TRIO_MCP_REDIS_URL``).
        ttl, poll_interval: As for :class:`~._task_store.MemoryTaskStore`.
        lease: Seconds after a worker's last heartbeat when its tasks count as failed.
        call_timeout: Seconds each Redis call may take.
    """

    def __init__(
        self,
        url: str,
        ttl: float | None = 3600.0,
        poll_interval: float = 1.0,
        *,
        lease: float = 10.0,
        call_timeout: float = 2.0,
    ) -> None:
        self.url = url
        self.lease = lease
        self.call_timeout = call_timeout
        self.memory = MemoryTaskStore(ttl, poll_interval)
        self.worker = secrets.token_hex(8)
        self.on_change: Callable[[Task], None] | None = None
        self._link: RedisLink | None = None
        self._dirty: dict[str, Task] = {}
        self._wake = trio.Event()
        self._scripts: dict[str, Any] = {}
        #: Each held task's revision: bumped on every change, written with the record.
        self._revs: dict[str, int] = {}

    @property
    def ttl(self) -> float | None:
        return self.memory.ttl

    @property
    def poll_interval(self) -> float:
        return self.memory.poll_interval

    @property
    def link(self) -> RedisLink:
        if self._link is None:
            raise StoreUnavailable("task")  # not serving (yet)
        return self._link

    def __len__(self) -> int:
        return len(self.memory)

    # ------------------------------------------------------------ services

    async def serve(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        """Connect, register this worker, then heartbeat, flush and listen until cancelled.

        On cancellation (the server stops) the connection is kept, shielded, for at
        most ``2 * call_timeout`` to say goodbye: the tasks still running here are
        recorded ``cancelled`` ("The server stopped") and this worker's lease is
        dropped.

        Raises:
            RedisUnreachable: Redis does not answer at start (the message names the URL).
        """
        closing, closed = trio.Event(), trio.Event()
        guard = trio.CancelScope(shield=True)
        async with trio.open_nursery() as nursery:
            await nursery.start(self._connected, guard, closing, closed)
            task_status.started()
            try:
                await trio.sleep_forever()
            finally:
                closing.set()
                with trio.CancelScope(shield=True):
                    with trio.move_on_after(2 * self.call_timeout):
                        await closed.wait()
                    guard.cancel()  # a goodbye still stuck: give up (the lease expires)

    async def _connected(
        self,
        guard: trio.CancelScope,
        closing: trio.Event,
        closed: trio.Event,
        *,
        task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED,
    ) -> None:
        """The connection's life, shielded from the server's cancellation (see :meth:`serve`)."""
        try:
            with guard:
                async with connect(self.url, self.call_timeout) as link:
                    client = link.client
                    for name, src in (("create", CREATE), ("save", SAVE), ("get", GET)):
                        self._scripts[name] = client.register_script(src)
                    self._scripts["cancel"] = client.register_script(CANCEL)
                    self._scripts["beat"] = client.register_script(BEAT)
                    self._link = link
                    await self._beat()
                    async with trio.open_nursery() as nursery:
                        await nursery.start(
                            link.listen, self._channel(self.worker), self._on_message
                        )
                        nursery.start_soon(self._beat_loop)
                        nursery.start_soon(self._flush_loop)
                        task_status.started()
                        await closing.wait()
                        await self._goodbye()
                        nursery.cancel_scope.cancel()
        finally:
            self._link = None
            closed.set()

    async def _goodbye(self) -> None:
        """Graceful stop: record the runs here as cancelled, drop this worker's lease."""
        modern = [t for t in self.memory.held() if t.era is Era.MODERN]
        for task in modern:
            task.cancel("The server stopped")
        try:  # every record not known final yet (dirty, or its write still in flight)
            await self._save(modern)
            key = self._worker_key(self.worker)
            await self.link.call(lambda: self.link.client.delete([key]))
        except StoreUnavailable:
            pass  # the lease expires on its own

    def _channel(self, worker: str) -> str:
        return f"{PREFIX}worker:{worker}:inbox"

    def _worker_key(self, worker: str) -> str:
        return f"{PREFIX}worker:{worker}"

    def _changed(self, task: Task) -> None:
        if self.on_change is not None:
            self.on_change(task)
        self._dirty[task.id] = task
        self._revs[task.id] = self._revs.get(task.id, 0) + 1
        self._wake.set()

    def _on_message(self, data: bytes) -> None:
        try:
            msg = orjson.loads(data)
            task = self.memory.local(msg["id"])
            if task is None:
                return
            if msg["op"] == "cancel":
                task.cancel(msg["message"])
            elif msg["op"] == "update" and isinstance(msg["responses"], dict):
                task.update(msg["responses"])
                self._changed(task)  # answered keys leave the record
        except (ValueError, KeyError, TypeError):
            log.warning("trio_mcp: ignored a malformed task message: %r", data[:200])

    async def _flush_loop(self) -> None:
        delay = 0.05
        while True:
            await self._wake.wait()
            self._wake = trio.Event()
            batch, self._dirty = self._dirty, {}
            try:
                await self._save(list(batch.values()))
            except StoreUnavailable:
                for task_id, task in batch.items():
                    self._dirty.setdefault(task_id, task)
                await trio.sleep(delay)
                delay = min(2.0, delay * 2)
                self._wake.set()
                continue
            delay = 0.05
            for task in batch.values():
                if task.terminal and task.id not in self._dirty:
                    self.memory.forget(task)  # its record is final: nothing runs here any more
                    self._revs.pop(task.id, None)

    async def _save(self, tasks: list[Task]) -> None:
        now = trio.current_time()
        live = [t for t in tasks if t.expires > now]
        if not live:
            return
        keys = [self._worker_key(self.worker), *(task_key(t.id) for t in live)]
        args = [dump(fields(t, self.worker, self._revs.get(t.id, 0))) for t in live]
        ttls = [str(max(1, int((t.expires - now) * 1000))) if t.ttl_ms else "0" for t in live]
        link, save = self.link, self._scripts["save"]
        lease = int(self.lease * 1000)
        await link.call(lambda: save(keys=keys, args=[lease, *args, *ttls]))

    async def _beat(self) -> None:
        running = [t for t in self.memory.running() if t.era is Era.MODERN]
        keys = [self._worker_key(self.worker), *(task_key(t.id) for t in running)]
        link, beat = self.link, self._scripts["beat"]
        statuses = await link.call(lambda: beat(keys=keys, args=[int(self.lease * 1000)]))
        for task, status in zip(running, statuses, strict=False):
            status = status.decode() if isinstance(status, bytes) else str(status)
            if status == "":
                self._changed(task)  # Redis lost the record: write it again
            elif status in TERMINAL and not task.terminal:
                task.cancel("Cancelled" if status == "cancelled" else WORKER_STOPPED)

    async def _beat_loop(self) -> None:
        while True:
            await trio.sleep(self.lease / 3)
            try:
                await self._beat()
            except StoreUnavailable:
                pass  # logged by the link; the next beat tries again

    # ------------------------------------------------------------ the interface

    async def create(
        self, owner: object, era: Era, peer: Peer | None, requested_ttl_ms: Any = None
    ) -> Task:
        if era is Era.LEGACY:
            return self.memory.create_now(owner, era, peer, requested_ttl_ms)
        task = self.memory.create_now(owner, era, peer, requested_ttl_ms, self._changed)
        flat = [v for kv in fields(task, self.worker, 0).items() for v in kv]
        recorded = False
        try:
            link, create = self.link, self._scripts["create"]
            keys = [self._worker_key(self.worker), task_key(task.id)]
            args = [int(self.lease * 1000), task.ttl_ms or 0, *flat]
            await link.call(lambda: create(keys=keys, args=args))
            recorded = True
        finally:
            if not recorded:  # unavailable or cancelled: a record, if written, says so
                task.cancel("The task could not be recorded")
        return task

    async def get(self, task_id: Any, owner: object, era: Era) -> TaskView:
        if era is Era.LEGACY:
            return self.memory.get_now(task_id, owner)
        task_id = check_id(task_id)
        link, get = self.link, self._scripts["get"]
        error = {"code": -32603, "message": WORKER_STOPPED}
        args = [self._worker_key(""), dump(WORKER_STOPPED), dump(error), dump(_now())]
        flat = await link.call(lambda: get(keys=[task_key(task_id)], args=args))
        if not flat:
            raise not_found(task_id)
        task = RemoteTask.parse(task_id, flat)
        if task.owner != owner:
            raise not_found(task_id)
        return task

    async def owned(self, owner: object, era: Era) -> list[TaskView]:
        return await self.memory.owned(owner, era)  # tasks/list is legacy-only: local

    async def cancel(self, task: TaskView, message: str) -> TaskView:
        if isinstance(task, Task):
            task.cancel(message)  # a legacy task, here
            return task
        payload = dump({"op": "cancel", "id": task.id, "message": message})
        link, cancel = self.link, self._scripts["cancel"]
        args = [dump(message), dump(_now()), f"{PREFIX}worker:", payload]
        flat = await link.call(lambda: cancel(keys=[task_key(task.id)], args=args))
        local = self.memory.local(task.id)
        if local is not None:
            local.cancel(message)  # running here: at once (the message also arrives)
        return RemoteTask.parse(task.id, flat) if flat else task

    async def update(self, task: TaskView, responses: dict[str, Any]) -> None:
        if isinstance(task, Task):
            task.update(responses)
            return
        local = self.memory.local(task.id)
        if local is not None:
            local.update(responses)
            await self._save([local])  # answered keys are gone from the very next tasks/get
            return
        if not isinstance(task, RemoteTask):
            return
        payload = orjson.dumps({"op": "update", "id": task.id, "responses": responses})
        link, channel = self.link, self._channel(task.worker)
        await link.call(lambda: link.client.publish(channel, payload))

    def drop_owner(self, owner: object) -> None:
        self.memory.drop_owner(owner)
