"""The Redis task store (``TRIO_MCP_REDIS_URL``): tasks of either era shared by every worker.

What lives where:

* **The record** of a task (status, message, timestamps, result or error,
  outstanding ``inputRequests``, owner, era, the worker running it) is a Redis
  hash ``trio_mcp:task:<id>`` that expires with the task's ttl. ``tasks/get``,
  ``tasks/cancel``, ``tasks/update`` and (legacy) ``tasks/result`` and
  ``tasks/list`` on any worker read and write it. A modern task belongs to the
  request's auth subject; a legacy one to its session (``{"session": <id>}``). A
  legacy session that is not shared (stdio) keeps its tasks in memory.
* **The run** (the handler, its cancel scope, its input waits) stays in the worker
  that started it, in a :class:`~._task_store.MemoryTaskStore` that holds only the
  tasks still running here. Every status change is written to the record by one
  flusher task (batched: one round trip for all changes since the last write), and
  published in that round trip on ``trio_mcp:tasks:changed``, so modern listen
  streams on any worker get ``notifications/tasks`` and a legacy ``tasks/result``
  waiting elsewhere wakes. Legacy ``notifications/tasks/status`` go to the
  session's standalone stream, which any worker may hold.
* **Cancel and update** reach the running worker through pub/sub, on its own
  channel ``trio_mcp:worker:<id>:inbox`` (and "a ``tasks/result`` waits elsewhere",
  so a legacy handler's input requests go out on the session's standalone stream).
  A message lost while Redis was away is made up by the heartbeat (it reads back
  the status of the tasks running here); a ``tasks/result`` waiting elsewhere
  reads the record again every ``lease / 3`` seconds at least.
* **The lease**: each worker refreshes ``trio_mcp:worker:<id>`` (expiring after
  ``lease`` seconds) every ``lease / 3`` seconds. A lookup that finds a task
  still ``working`` whose worker's key has expired marks it ``failed`` ("the
  worker running the task stopped"), atomically, so a worker killed with
  ``SIGKILL`` has its tasks failed within the lease (a graceful stop deletes it).

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
from .._protocol import Era, SharedServerSession
from .._transports._redis import RedisLink, connect
from ._redis_records import (
    BEAT,
    CANCEL,
    CHANGES,
    CREATE,
    GET,
    LIST,
    SAVE,
    TASK_PREFIX,
    WORKER_PREFIX,
    WORKER_STOPPED,
    RemoteTask,
    dump,
    fields,
    inbox,
    read_args,
    session_of,
    session_tasks_key,
    task_key,
    worker_key,
)
from ._task_store import MemoryTaskStore, TaskView, check_id, not_found
from ._tasks import TERMINAL, Task, _now

if TYPE_CHECKING:
    from .._runtime import Peer
    from .._wire import Id

__all__ = ["RedisTaskStore", "RemoteTask"]

log = logging.getLogger("trio_mcp")
#: Change messages kept for the next write while Redis is away (older ones are dropped).
MAX_NOTES = 1000


class RedisTaskStore:
    """Task records in Redis; runs in the worker that started them.

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
        self.on_change: Callable[[TaskView], None] | None = None
        self._link: RedisLink | None = None
        self._dirty: dict[str, Task] = {}
        self._notes: list[str] = []
        self._wake = trio.Event()
        self._scripts: dict[str, Any] = {}
        #: Each held task's revision: bumped on every change, written with the record.
        self._revs: dict[str, int] = {}
        #: Shared legacy sessions whose tasks run here, by task id (their copies stay busy).
        self._sessions: dict[str, SharedServerSession] = {}
        #: ``tasks/result`` waits for tasks running elsewhere: woken by their changes.
        self._watch: dict[str, trio.Event] = {}

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

    def _recorded(self, task: Task) -> bool:
        return task.on_change == self._changed

    def _held(self) -> list[Task]:
        return [t for t in self.memory.held() if self._recorded(t)]

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
                    self._scripts["list"] = client.register_script(LIST)
                    self._link = link
                    await self._beat()
                    async with trio.open_nursery() as nursery:
                        channels = [inbox(self.worker), CHANGES]
                        await nursery.start(self._listen, link, channels)
                        nursery.start_soon(self._beat_loop)
                        nursery.start_soon(self._flush_loop)
                        task_status.started()
                        await closing.wait()
                        await self._goodbye()
                        nursery.cancel_scope.cancel()
        finally:
            self._link = None
            closed.set()

    async def _listen(
        self,
        link: RedisLink,
        channels: list[str],
        *,
        task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED,
    ) -> None:
        await link.listen(
            channels, self._on_message, resubscribed=self._rewatch, task_status=task_status
        )

    async def _goodbye(self) -> None:
        """Graceful stop: record the runs here as cancelled, drop this worker's lease."""
        held = self._held()
        for task in held:
            task.cancel("The server stopped")
        try:  # every record not known final yet (dirty, or its write still in flight)
            await self._save(list({t.id: t for t in [*held, *self._dirty.values()]}.values()))
            key = worker_key(self.worker)
            await self.link.call(lambda: self.link.client.delete([key]))
        except StoreUnavailable:
            pass  # the lease expires on its own

    def _changed(self, task: Task) -> None:
        if task.era is Era.MODERN and self.on_change is not None:
            self.on_change(task)
        rev = self._revs[task.id] = self._revs.get(task.id, 0) + 1
        self._dirty[task.id] = task
        note: dict[str, Any] = {"w": self.worker, "id": task.id}
        if task.era is Era.MODERN:  # what other workers' listen streams are sent
            note["f"] = fields(task, self.worker, rev)
        self._notes.append(dump(note))
        del self._notes[:-MAX_NOTES]
        if task.terminal:
            session = self._sessions.pop(task.id, None)
            if session is not None:
                session.tasks_running -= 1
        self._wake.set()

    def _on_message(self, data: bytes) -> None:
        try:
            msg = orjson.loads(data)
            if "w" in msg:
                self._heard(msg)
                return
            task = self.memory.local(msg["id"])
            if task is None:
                return
            if msg["op"] == "cancel":
                task.cancel(msg["message"])
            elif msg["op"] == "update" and isinstance(msg["responses"], dict):
                task.update(msg["responses"])
                self._changed(task)  # answered keys leave the record
            elif msg["op"] == "waiting":
                task.remote_waiting = True
                task.wake()
        except (ValueError, KeyError, TypeError):
            log.warning("trio_mcp: ignored a malformed task message: %r", data[:200])

    def _heard(self, msg: dict[str, Any]) -> None:
        """Another worker's task changed (its record is written already)."""
        if msg["w"] == self.worker:
            return  # heard here already, at the change
        event = self._watch.pop(msg["id"], None)
        if event is not None:
            event.set()
        if isinstance(msg.get("f"), dict) and self.on_change is not None:
            self.on_change(RemoteTask.of(msg["id"], msg["f"]))

    def _rewatch(self) -> None:
        """Pub/sub was lost meanwhile: every wait reads its record again."""
        watch, self._watch = self._watch, {}
        for event in watch.values():
            event.set()

    async def _flush_loop(self) -> None:
        delay = 0.05
        while True:
            await self._wake.wait()
            self._wake = trio.Event()
            batch, self._dirty = self._dirty, {}
            notes, self._notes = self._notes, []
            try:
                await self._save(list(batch.values()), notes)
            except StoreUnavailable:
                for task_id, task in batch.items():
                    self._dirty.setdefault(task_id, task)
                self._notes[:0] = notes
                del self._notes[:-MAX_NOTES]
                await trio.sleep(delay)
                delay = min(2.0, delay * 2)
                self._wake.set()
                continue
            delay = 0.05
            for task in batch.values():
                if task.terminal and task.id not in self._dirty:
                    self.memory.forget(task)  # its record is final: nothing runs here any more
                    self._revs.pop(task.id, None)

    async def _save(self, tasks: list[Task], notes: list[str] | None = None) -> None:
        now = trio.current_time()
        live = [t for t in tasks if t.expires > now]
        if not live and not notes:
            return
        keys = [worker_key(self.worker), *(task_key(t.id) for t in live)]
        args = [dump(fields(t, self.worker, self._revs.get(t.id, 0))) for t in live]
        ttls = [str(max(1, int((t.expires - now) * 1000))) if t.ttl_ms else "0" for t in live]
        link, save = self.link, self._scripts["save"]
        argv = [int(self.lease * 1000), *args, *ttls, CHANGES, *(notes or ())]
        await link.call(lambda: save(keys=keys, args=argv))

    async def _beat(self) -> None:
        running = [t for t in self._held() if not t.terminal]
        keys = [worker_key(self.worker), *(task_key(t.id) for t in running)]
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
        sid = session_of(owner, era)
        if era is Era.LEGACY and sid is None:
            return self.memory.create_now(owner, era, peer, requested_ttl_ms)
        record_owner = owner if sid is None else {"session": sid}
        task = self.memory.create_now(record_owner, era, peer, requested_ttl_ms, self._changed)
        if isinstance(owner, SharedServerSession):
            owner.tasks_running += 1  # its copy here stays while the task runs
            self._sessions[task.id] = owner
        flat = [v for kv in fields(task, self.worker, 0).items() for v in kv]
        recorded = False
        try:
            link, create = self.link, self._scripts["create"]
            keys = [worker_key(self.worker), task_key(task.id)]
            if sid is not None:
                keys.append(session_tasks_key(sid))
            args = [int(self.lease * 1000), task.ttl_ms or 0, task.id, *flat]
            await link.call(lambda: create(keys=keys, args=args))
            recorded = True
        finally:
            if not recorded:  # unavailable or cancelled: a record, if written, says so
                task.cancel("The task could not be recorded")
        return task

    async def _read(self, task_id: str) -> RemoteTask | None:
        link, get, args = self.link, self._scripts["get"], read_args()
        flat = await link.call(lambda: get(keys=[task_key(task_id)], args=args))
        return RemoteTask.parse(task_id, flat) if flat else None

    async def get(self, task_id: Any, owner: object, era: Era) -> TaskView:
        sid = session_of(owner, era)
        if era is Era.LEGACY and sid is None:
            return self.memory.get_now(task_id, owner)
        task_id = check_id(task_id)
        record_owner = owner if sid is None else {"session": sid}
        local = self.memory.local(task_id) if sid is not None else None
        if local is not None and local.owner == record_owner:
            return local  # a legacy task running here: its freshest state
        task = await self._read(task_id)
        if task is None or task.owner != record_owner or task.era is not era:
            raise not_found(task_id)
        return task

    async def owned(self, owner: object, era: Era) -> list[TaskView]:
        sid = session_of(owner, era)
        if sid is None:
            return await self.memory.owned(owner, era)
        link, script = self.link, self._scripts["list"]
        args = [*read_args(), TASK_PREFIX]
        flat = await link.call(lambda: script(keys=[session_tasks_key(sid)], args=args))
        record_owner = {"session": sid}
        out: list[TaskView] = []
        for i in range(0, len(flat), 2):
            task_id = flat[i].decode()
            local = self.memory.local(task_id)
            task = local if local is not None else RemoteTask.parse(task_id, flat[i + 1])
            if task.owner == record_owner:
                out.append(task)
        return out

    async def cancel(self, task: TaskView, message: str) -> TaskView:
        if isinstance(task, Task):
            task.cancel(message)  # running here (its record follows)
            return task
        payload = dump({"op": "cancel", "id": task.id, "message": message})
        link, cancel = self.link, self._scripts["cancel"]
        args = [dump(message), dump(_now()), WORKER_PREFIX, payload]
        flat = await link.call(lambda: cancel(keys=[task_key(task.id)], args=args))
        local = self.memory.local(task.id)
        if local is not None:
            local.cancel(message)  # running here: at once (the message also arrives)
        return RemoteTask.parse(task.id, flat) if flat else task

    async def update(self, task: TaskView, responses: dict[str, Any]) -> None:
        local = task if isinstance(task, Task) else self.memory.local(task.id)
        if local is not None:
            local.update(responses)
            if self._recorded(local):
                await self._save([local])  # answered keys are gone from the very next tasks/get
            return
        if not isinstance(task, RemoteTask):
            return
        await self._publish(task.worker, {"op": "update", "id": task.id, "responses": responses})

    async def _publish(self, worker: str, message: dict[str, Any]) -> None:
        link, channel, payload = self.link, inbox(worker), orjson.dumps(message)
        await link.call(lambda: link.client.publish(channel, payload))

    async def wait(self, task: TaskView, rid: Id) -> TaskView:
        local = task if isinstance(task, Task) else self.memory.local(task.id)
        if local is not None:
            return await self.memory.wait(local, rid)
        asked = False
        while not task.terminal:
            if task.status == "input_required" and not asked and isinstance(task, RemoteTask):
                await self._publish(task.worker, {"op": "waiting", "id": task.id})
                asked = True  # its handler sends its input requests to the session's stream
            event = self._watch.setdefault(task.id, trio.Event())
            with trio.move_on_after(self.lease / 3):  # a dead worker sends nothing
                await event.wait()
            found = await self._read(task.id)
            if found is None:
                raise not_found(task.id)
            task = found
        return task

    def drop_owner(self, owner: object) -> None:
        sid = session_of(owner, Era.LEGACY)
        self.memory.drop_owner(owner if sid is None else {"session": sid})
