"""A Redis :class:`~._eventstore.EventStore`: one Redis stream per SSE stream.

Each SSE stream of a legacy session is a Redis stream
``trio_mcp:events:<session>:<stream>`` (entries ``{d: data}``), with its byte count
beside it, both expiring ``ttl`` seconds after the last event; a set of the
session's streams lets :meth:`RedisEventStore.forget_session` find them. An event
id is ``<entry id>.<stream id>`` (Redis entry ids are ``<ms>-<seq>``), so it is
unique across the session's streams and names the stream it belongs to.

The same contract as :class:`~._eventstore.InMemoryEventStore`: bounded in bytes
per stream (data plus :data:`~._eventstore.EVENT_OVERHEAD` per event) and in
events, oldest first; an event larger than the byte bound is not kept and drops
the earlier events of its stream, so a client resuming from before it gets
"unknown ``Last-Event-ID``" rather than a replay with a gap; priming events
(empty data) are kept for their id and never replayed. Each method is one Redis
round trip (a script) under the link's timeout, and raises
:class:`~trio_mcp._errors.StoreUnavailable` (``"event store unavailable"``) when
Redis does not answer.

With ``TRIO_MCP_REDIS_URL`` the HTTP transport keeps each legacy session's standalone
(GET) stream here (:mod:`._redis_streams`); POST streams go here once their client left.
"""

from __future__ import annotations

from typing import Any

import attrs

from ._eventstore import EVENT_OVERHEAD
from ._redis import RedisLink

__all__ = ["RedisEventStore", "entries"]

PREFIX = "trio_mcp:events:"
#: KEYS: the stream, its byte count, the session's set; ARGV: overhead, max bytes, max
#: events, ttl in ms, stream id, then each event's data. Returns the entry ids ("" when
#: one was not kept: too large).
STORE = """
local over, maxb, maxn, ttl = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3]), ARGV[4]
redis.call('SADD', KEYS[3], ARGV[5])
redis.call('PEXPIRE', KEYS[3], ttl)
local ids = {}
for i = 6, #ARGV do
  local cost = #ARGV[i] + over
  if cost > maxb then
    redis.call('DEL', KEYS[1], KEYS[2])
    ids[#ids + 1] = ''
  else
    ids[#ids + 1] = redis.call('XADD', KEYS[1], '*', 'd', ARGV[i], 'c', cost)
    local total = redis.call('INCRBY', KEYS[2], cost)
    while total > maxb or redis.call('XLEN', KEYS[1]) > maxn do
      local first = redis.call('XRANGE', KEYS[1], '-', '+', 'COUNT', 1)[1]
      redis.call('XDEL', KEYS[1], first[1])
      total = redis.call('DECRBY', KEYS[2], tonumber(first[2][4]))
    end
  end
end
redis.call('PEXPIRE', KEYS[1], ttl)
redis.call('PEXPIRE', KEYS[2], ttl)
return ids
"""
#: KEYS[1] the stream; ARGV[1] the entry id. nil when unknown, else the entries after it.
REPLAY = """
if #redis.call('XRANGE', KEYS[1], ARGV[1], ARGV[1]) == 0 then return false end
return redis.call('XRANGE', KEYS[1], '(' .. ARGV[1], '+')
"""
#: KEYS[1] the session's set; ARGV[1] the key prefix of its streams.
FORGET_SESSION = """
for _, sid in ipairs(redis.call('SMEMBERS', KEYS[1])) do
  redis.call('DEL', ARGV[1] .. sid, ARGV[1] .. sid .. ':bytes')
end
redis.call('DEL', KEYS[1])
return 1
"""


def entries(found: Any) -> list[tuple[str, bytes, bool]]:
    """``(entry id, data, final)`` of each stream entry a script or ``XREAD`` returned.

    An entry holds ``d`` (the data), ``c`` (its cost), and ``f`` when it is a
    POST stream's final event.
    """
    out = []
    for item in found:
        eid, fields = item[0], item[1]  # a script's [id, fields], or XREAD's StreamEntry
        if isinstance(fields, list):
            fields = dict(zip(fields[::2], fields[1::2], strict=False))
        entry = eid.decode() if isinstance(eid, bytes) else str(eid)
        out.append((entry, bytes(fields.get(b"d", b"")), b"f" in fields))
    return out


@attrs.define(eq=False)
class RedisEventStore:
    """Legacy SSE events in Redis, so any worker can replay a stream (see the module docstring).

    Args:
        link: The Redis link (``connect(url)``) this store's calls go through.
        max_bytes_per_stream: Bytes kept per SSE stream (16 MiB).
        max_events_per_stream: Events kept per SSE stream.
        ttl: Seconds a stream's events are kept after its last event.
    """

    link: RedisLink
    max_bytes_per_stream: int = 16 << 20
    max_events_per_stream: int = 1024
    ttl: float = 3600.0
    _scripts: dict[str, Any] = attrs.field(factory=dict, init=False)

    def _script(self, name: str, src: str) -> Any:
        script = self._scripts.get(name)
        if script is None:
            script = self._scripts[name] = self.link.client.register_script(src)
        return script

    def _key(self, session_id: str, stream_id: str) -> str:
        return f"{PREFIX}{session_id}:{stream_id}"

    async def store_event(self, session_id: str, stream_id: str, data: bytes) -> str:
        return (await self.store_events(session_id, stream_id, [data]))[0]

    async def store_events(self, session_id: str, stream_id: str, data: list[bytes]) -> list[str]:
        """Store several events on one stream in one round trip; their ids, in order."""
        key = self._key(session_id, stream_id)
        keys = [key, f"{key}:bytes", f"{PREFIX}{session_id}"]
        args: list[Any] = [EVENT_OVERHEAD, self.max_bytes_per_stream, self.max_events_per_stream]
        args += [int(self.ttl * 1000), stream_id, *(bytes(d) for d in data)]
        script = self._script("store", STORE)
        entries = await self.link.call(lambda: script(keys=keys, args=args), "event")
        out = []
        for entry in entries:
            entry = entry.decode() if isinstance(entry, bytes) else str(entry)
            out.append(f"{entry or '0-0'}.{stream_id}")  # "0-0": too large, nothing resumes from it
        return out

    async def replay_events_after(
        self, session_id: str, last_event_id: str
    ) -> tuple[str, list[tuple[str, bytes]]] | None:
        entry, dot, stream_id = last_event_id.partition(".")
        if not dot or not stream_id or entry == "0-0":
            return None
        script = self._script("replay", REPLAY)
        key = self._key(session_id, stream_id)
        try:
            found = await self.link.call(lambda: script(keys=[key], args=[entry]), "event")
        except Exception as exc:  # a malformed id Redis refuses (ResponseError)
            from coredis.exceptions import ResponseError

            if isinstance(exc, ResponseError):
                return None
            raise
        if found is None:
            return None
        return stream_id, [(f"{e}.{stream_id}", d) for e, d, _ in entries(found) if d]

    async def forget_stream(self, session_id: str, stream_id: str) -> None:
        key = self._key(session_id, stream_id)
        client = self.link.client
        await self.link.call(lambda: client.delete([key, f"{key}:bytes"]), "event")

    async def forget_session(self, session_id: str) -> None:
        script = self._script("forget", FORGET_SESSION)
        keys, args = [f"{PREFIX}{session_id}"], [f"{PREFIX}{session_id}:"]
        await self.link.call(lambda: script(keys=keys, args=args), "event")
