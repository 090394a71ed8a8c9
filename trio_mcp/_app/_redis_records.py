"""A task's record in Redis: its fields, the Lua scripts that keep it, its parsed view.

The record is a hash ``trio_mcp:task:<id>`` (either era; a legacy session's tasks
are also indexed in ``trio_mcp:session-tasks:<session id>``, for ``tasks/list``).
Every key and channel name of the task store is built here. Every write is a script, so each
check-and-set is atomic: a terminal status is final, an older revision never
overwrites a newer one, and a lookup that finds a ``working`` task whose worker's
lease key has expired marks it ``failed`` then and there. (Single node and
Sentinel; Redis Cluster would need the worker key in the task's hash slot.)
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import attrs
import orjson

from .._protocol import Era, SharedServerSession
from ._tasks import TERMINAL, Task, _now

__all__ = [
    "BEAT",
    "CANCEL",
    "CHANGES",
    "CREATE",
    "GET",
    "LIST",
    "PREFIX",
    "SAVE",
    "TASK_PREFIX",
    "WORKER_PREFIX",
    "WORKER_STOPPED",
    "RemoteTask",
    "dump",
    "fields",
    "inbox",
    "read_args",
    "session_of",
    "session_tasks_key",
    "task_key",
    "worker_key",
]

PREFIX = "trio_mcp:"
WORKER_STOPPED = "The worker running the task stopped (its lease expired)"
_T = "local T = {completed=true, failed=true, cancelled=true}\n"
#: Every write of a worker also renews its lease, so a record never exists without
#: its worker's key having been set with it (after Redis lost its data too).
#: KEYS[1] the worker, KEYS[2] the task, KEYS[3] (legacy) its session's index of
#: tasks; ARGV[1] the lease in ms, ARGV[2] the task's ttl in ms (0: none), ARGV[3]
#: the task id, then field/value pairs.
CREATE = """
redis.call('SET', KEYS[1], '1', 'PX', ARGV[1])
redis.call('HSET', KEYS[2], unpack(ARGV, 4))
local ttl = tonumber(ARGV[2])
if ttl > 0 then redis.call('PEXPIRE', KEYS[2], ttl) end
if KEYS[3] then
  local t = redis.call('TIME')
  redis.call('ZADD', KEYS[3], t[1] * 1000000 + t[2], ARGV[3])
  local left = redis.call('PTTL', KEYS[3])
  if ttl == 0 then redis.call('PERSIST', KEYS[3])
  elseif left ~= -1 and left < ttl then redis.call('PEXPIRE', KEYS[3], ttl) end
end
return 1
"""
#: KEYS[1] the worker, then tasks; ARGV[1] the lease in ms, then for each task (i from
#: 1) ARGV[1+i]: a JSON object of its fields, ARGV[1+n+i]: its ttl in ms, then the
#: channel of changes and the messages to publish on it. A terminal record is
#: final; an older revision never overwrites a newer one (writes race on separate
#: connections); a missing one (Redis restarted) is written again.
SAVE = (
    _T
    + """
redis.call('SET', KEYS[1], '1', 'PX', ARGV[1])
local n = #KEYS - 1
for i = 1, n do
  local key = KEYS[1 + i]
  local cur = redis.call('HMGET', key, 'status', 'rev')
  local f = cjson.decode(ARGV[1 + i])
  if not (cur[1] and T[cur[1]]) and tonumber(f.rev) > tonumber(cur[2] or '-1') then
    local flat = {}
    for k, v in pairs(f) do flat[#flat + 1] = k; flat[#flat + 1] = v end
    redis.call('HSET', key, unpack(flat))
    local ttl = tonumber(ARGV[1 + n + i])
    if not cur[1] and ttl > 0 then redis.call('PEXPIRE', key, ttl) end
  end
end
for i = 3 + 2 * n, #ARGV do redis.call('PUBLISH', ARGV[2 + 2 * n], ARGV[i]) end
return n
"""
)
#: The record of one task (false if none), failed first if its worker's lease expired.
_READ = """
local function read(key)
  local st = redis.call('HGET', key, 'status')
  if not st then return false end
  if not T[st] then
    local w = redis.call('HGET', key, 'worker')
    if redis.call('EXISTS', ARGV[1] .. w) == 0 then
      redis.call('HSET', key, 'status', 'failed', 'message', ARGV[2], 'error', ARGV[3],
                 'updated', ARGV[4])
    end
  end
  return redis.call('HGETALL', key)
end
"""
#: KEYS[1] the task; ARGV: worker key prefix, message, error, updated (JSON).
GET = _T + _READ + "return read(KEYS[1])\n"
#: KEYS[1] a session's index of tasks; ARGV: as for GET, then the task key prefix.
#: ``[id, record, id, record...]`` in creation order; ids whose record is gone leave.
LIST = (
    _T
    + _READ
    + """
local out = {}
for _, id in ipairs(redis.call('ZRANGE', KEYS[1], 0, -1)) do
  local rec = read(ARGV[5] .. id)
  if rec then out[#out + 1] = id; out[#out + 1] = rec
  else redis.call('ZREM', KEYS[1], id) end
end
return out
"""
)
#: KEYS[1] the task; ARGV: message, updated (JSON), channel prefix, the message to publish.
CANCEL = (
    _T
    + """
local st = redis.call('HGET', KEYS[1], 'status')
if not st then return false end
if not T[st] then
  redis.call('HSET', KEYS[1], 'status', 'cancelled', 'message', ARGV[1], 'updated', ARGV[2])
  redis.call('PUBLISH', ARGV[3] .. redis.call('HGET', KEYS[1], 'worker') .. ':inbox', ARGV[4])
end
return redis.call('HGETALL', KEYS[1])
"""
)
#: KEYS[1] this worker's key, then its running tasks; ARGV[1] the lease in ms.
#: Returns each task's status ("" when its record is gone).
BEAT = """
redis.call('SET', KEYS[1], '1', 'PX', ARGV[1])
local out = {}
for i = 2, #KEYS do out[#out + 1] = redis.call('HGET', KEYS[i], 'status') or '' end
return out
"""


#: Every worker hears every task's status changes here (listen streams, result waits).
CHANGES = f"{PREFIX}tasks:changed"
TASK_PREFIX = f"{PREFIX}task:"
WORKER_PREFIX = f"{PREFIX}worker:"


def task_key(task_id: str) -> str:
    return f"{TASK_PREFIX}{task_id}"


def worker_key(worker: str) -> str:
    """The worker's lease key (it exists while the worker's heartbeat is fresh)."""
    return f"{WORKER_PREFIX}{worker}"


def inbox(worker: str) -> str:
    """The worker's channel of cancels and updates for the tasks it runs."""
    return f"{WORKER_PREFIX}{worker}:inbox"


def session_tasks_key(sid: str) -> str:
    """The index of a legacy session's tasks (``tasks/list`` on any worker)."""
    return f"{PREFIX}session-tasks:{sid}"


def session_of(owner: object, era: Era) -> str | None:
    """The id of a shared legacy session ``owner`` (``None``: not one, its tasks stay here)."""
    if era is Era.LEGACY and isinstance(owner, SharedServerSession) and owner.sid:
        return owner.sid
    return None


def read_args() -> list[str]:
    """``ARGV`` of :data:`GET` and :data:`LIST` (what a lease-expired task is failed with)."""
    error = {"code": -32603, "message": WORKER_STOPPED}
    return [WORKER_PREFIX, dump(WORKER_STOPPED), dump(error), dump(_now())]


def dump(value: Any) -> str:
    return orjson.dumps(value).decode()


@attrs.frozen
class RemoteAsk:
    method: str
    params: dict[str, Any]


@attrs.frozen
class RemoteTask:
    """A modern task's record as read from Redis (see :class:`~._task_store.TaskView`)."""

    id: str
    status: str
    message: str | None
    created: str
    updated: str
    ttl_ms: int | None
    poll_ms: int
    result: dict[str, Any] | None
    error: dict[str, Any] | None
    asks: Mapping[str, RemoteAsk]
    owner: Any
    worker: str
    era: Era = Era.MODERN

    @property
    def terminal(self) -> bool:
        return self.status in TERMINAL

    @classmethod
    def parse(cls, task_id: str, flat: list[bytes]) -> RemoteTask:
        """The task from a record as ``HGETALL`` returns it (a flat list of bytes)."""
        return cls.of(task_id, {flat[i].decode(): flat[i + 1] for i in range(0, len(flat), 2)})

    @classmethod
    def of(cls, task_id: str, f: Mapping[str, bytes | str]) -> RemoteTask:
        """The task from a record's fields (as :func:`fields` makes them, or bytes)."""

        def js(name: str) -> Any:
            return orjson.loads(f[name]) if name in f else None

        def text(name: str) -> str:
            value = f.get(name, "")
            return value.decode() if isinstance(value, bytes) else value

        asks = {k: RemoteAsk(a["method"], a["params"]) for k, a in (js("asks") or {}).items()}
        return cls(
            task_id,
            text("status"),
            js("message"),
            js("created"),
            js("updated"),
            js("ttl"),
            js("poll"),
            js("result"),
            js("error"),
            asks,
            js("owner"),
            text("worker"),
            Era.LEGACY if text("era") == "legacy" else Era.MODERN,
        )


def fields(task: Task, worker: str, rev: int) -> dict[str, str]:
    """The record of ``task`` (every value a string: JSON, or a plain status / worker id)."""
    asks = {k: {"method": a.method, "params": a.params} for k, a in task.asks.items()}
    return {
        "status": task.status,
        "message": dump(task.message),
        "created": dump(task.created),
        "updated": dump(task.updated),
        "ttl": dump(task.ttl_ms),
        "poll": dump(task.poll_ms),
        "result": dump(task.result),
        "error": dump(task.error),
        "asks": dump(asks),
        "owner": dump(task.owner),
        "worker": worker,
        "rev": str(rev),
        "era": "legacy" if task.era is Era.LEGACY else "modern",
    }
