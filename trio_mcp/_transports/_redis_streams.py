"""The standalone (GET) streams of shared legacy sessions, read from Redis.

A shared session's standalone stream is the Redis stream
``trio_mcp:events:<session>:g`` (:class:`~._redis_events.RedisEventStore`):
every worker appends to it what it sends the session outside a request, and
the worker whose client holds the GET writes it out. Its rules:

* **Event ids are Redis entry ids**: ``<entry>.g``. A client that lost its GET
  resumes with ``Last-Event-ID`` on any worker: the entries after that one are
  replayed, then the stream goes on from the last replayed entry, so every
  event arrives once (a cursor per stream, never "from now").
* **One reader per worker** (:class:`StreamReader`): one ``XREAD BLOCK`` over
  every stream this worker's clients hold, plus the worker's own wake stream,
  which an attach appends to so that the blocked read returns and takes the
  new stream in at once. No blocked connection per stream.
* **One GET per session**: the record names the worker holding it (``g``); an
  attach elsewhere tells the previous one to detach (its response ends; only
  one response carries each event).
* A response that cannot keep up is detached, as without Redis: its client
  resumes from the stream.
"""

from __future__ import annotations

import logging
import re
from functools import partial
from typing import TYPE_CHECKING, Any

import attrs
import orjson
import trio

from .._errors import StoreUnavailable
from .._runtime import OutQueue
from ._asgi import sse_event
from ._eventstore import EVENT_OVERHEAD
from ._redis import RedisLink
from ._redis_events import PREFIX, REPLAY, RedisEventStore, entries

if TYPE_CHECKING:
    from ._redis_session import SharedSession

__all__ = ["Reading", "StreamReader"]

log = logging.getLogger("trio_mcp")

ENTRY = re.compile(r"\d{1,20}-\d{1,20}")
RECORD = "trio_mcp:session:"
#: Milliseconds one XREAD blocks (it returns at once when a stream it reads grows).
BLOCK_MS = 1000

_HOLD = """
local old = redis.call('HGET', KEYS[2], 'g')
redis.call('HSET', KEYS[2], 'g', ARGV[2])
if old and old ~= ARGV[2] then redis.call('PUBLISH', ARGV[3] .. old, ARGV[4]) end
redis.call('XADD', KEYS[3], 'MAXLEN', '~', '16', '*', 'w', '1')
redis.call('PEXPIRE', KEYS[3], 86400000)
"""
#: KEYS: the stream, the record, the wake stream, the stream's byte count, the session's
#: set of streams; ARGV: ttl ms, worker, channel prefix, detach payload, priming cost.
#: The priming entry's id, or nil when the session is gone.
ATTACH = (
    """
if redis.call('EXISTS', KEYS[2]) == 0 then return false end
local id = redis.call('XADD', KEYS[1], '*', 'd', '', 'c', ARGV[5])
redis.call('INCRBY', KEYS[4], ARGV[5])
redis.call('SADD', KEYS[5], 'g')
for i = 1, 5 do if i ~= 2 and i ~= 3 then redis.call('PEXPIRE', KEYS[i], ARGV[1]) end end
"""
    + _HOLD
    + "return id\n"
)
#: KEYS: the stream, the record, the wake stream; ARGV: the entry, worker, channel
#: prefix, detach payload. The entries after it, or nil (unknown entry, no session).
RESUME = (
    """
if redis.call('EXISTS', KEYS[2]) == 0 then return false end
if #redis.call('XRANGE', KEYS[1], ARGV[1], ARGV[1]) == 0 then return false end
local after = redis.call('XRANGE', KEYS[1], '(' .. ARGV[1], '+')
"""
    + _HOLD
    + "return after\n"
)


#: KEYS[1] a set of session ids (every live one, or a URI's subscribers); ARGV: the
#: record prefix, the events prefix, data, cost, max bytes, max events, ttl ms. Appends
#: the message to the standalone stream of each session still there (the others leave
#: the set); returns how many.
FANOUT = """
local cost, maxb, maxn = tonumber(ARGV[4]), tonumber(ARGV[5]), tonumber(ARGV[6])
local n = 0
for _, sid in ipairs(redis.call('SMEMBERS', KEYS[1])) do
  if redis.call('EXISTS', ARGV[1] .. sid) == 1 then
    local key = ARGV[2] .. sid .. ':g'
    redis.call('XADD', key, '*', 'd', ARGV[3], 'c', cost)
    local total = redis.call('INCRBY', key .. ':bytes', cost)
    while total > maxb or redis.call('XLEN', key) > maxn do
      local first = redis.call('XRANGE', key, '-', '+', 'COUNT', 1)[1]
      redis.call('XDEL', key, first[1])
      total = redis.call('DECRBY', key .. ':bytes', tonumber(first[2][4]))
    end
    redis.call('PEXPIRE', key, ARGV[7])
    redis.call('PEXPIRE', key .. ':bytes', ARGV[7])
    redis.call('SADD', ARGV[2] .. sid, 'g')
    redis.call('PEXPIRE', ARGV[2] .. sid, ARGV[7])
    n = n + 1
  else
    redis.call('SREM', KEYS[1], sid)
  end
end
return n
"""


@attrs.define(eq=False)
class Reading:
    """One stream this worker writes out from Redis: where it goes, and how far it got."""

    session: SharedSession
    key: str
    stream_id: str
    live: OutQueue
    cursor: str
    #: A POST stream resumed here (event ids ``<stream>.<n>``; it ends at its final entry).
    post: bool = False
    ended: bool = False


@attrs.define(eq=False)
class StreamReader:
    """One worker's reader of every Redis stream its clients hold (see the module docstring)."""

    link: RedisLink
    events: RedisEventStore
    worker: str
    readings: dict[str, Reading] = attrs.field(factory=dict)
    _changed: trio.Event = attrs.field(factory=trio.Event)
    _gen: int = 0
    #: The generation of the XREAD in flight (-1: none).
    _issued: int = -1
    _wake_cursor: str = "0-0"
    _scripts: dict[str, Any] = attrs.field(factory=dict)

    @property
    def wake_key(self) -> str:
        return f"trio_mcp:wake:{self.worker}"

    def _script(self, name: str, src: str) -> Any:
        script = self._scripts.get(name)
        if script is None:
            script = self._scripts[name] = self.link.client.register_script(src)
        return script

    def key(self, session_id: str, stream_id: str) -> str:
        return f"{PREFIX}{session_id}:{stream_id}"

    def _hold_args(self, session: SharedSession, channel: str) -> list[Any]:
        payload = orjson.dumps({"op": "detach", "s": session.id})
        return [self.worker, channel, payload]

    async def attach(self, session: SharedSession, channel_prefix: str) -> str | None:
        """Append a priming event and hold the session's GET here: the entry id (``None``: gone)."""
        key = self.key(session.id, "g")
        keys = [key, RECORD + session.id, self.wake_key, f"{key}:bytes", f"{PREFIX}{session.id}"]
        args = [int(self.events.ttl * 1000), *self._hold_args(session, channel_prefix)]
        args.append(EVENT_OVERHEAD)
        script = self._script("attach", ATTACH)
        entry = await self.link.call(lambda: script(keys=keys, args=args), "session")
        if not entry:
            return None
        return entry.decode() if isinstance(entry, bytes) else str(entry)

    async def replay(self, key: str, entry: str) -> list[tuple[str, bytes, bool]] | None:
        """The entries of stream ``key`` after ``entry`` (``None``: no such entry)."""
        if not ENTRY.fullmatch(entry):
            return None
        script = self._script("replay", REPLAY)
        found = await self.link.call(lambda: script(keys=[key], args=[entry]), "session")
        return None if found is None else entries(found)

    async def resume(
        self, session: SharedSession, entry: str, channel_prefix: str
    ) -> list[tuple[str, bytes, bool]] | None:
        """The entries after ``entry`` on the standalone stream, which is held here from now."""
        if not ENTRY.fullmatch(entry):
            return None
        keys = [self.key(session.id, "g"), RECORD + session.id, self.wake_key]
        args = [entry, *self._hold_args(session, channel_prefix)]
        script = self._script("resume", RESUME)
        found = await self.link.call(lambda: script(keys=keys, args=args), "session")
        return None if found is None else entries(found)

    def add(self, reading: Reading) -> bool:
        """Read ``reading``'s stream from now on. True: a read in flight misses it (:meth:`wake`)."""
        old = self.readings.get(reading.key)
        if old is not None and old.live is not reading.live:
            old.live.close()
        self.readings[reading.key] = reading
        self._gen += 1
        self._changed.set()
        return self._issued != -1 and self._issued < self._gen

    def remove(self, reading: Reading) -> None:
        if self.readings.get(reading.key) is reading:
            del self.readings[reading.key]
            self._gen += 1

    async def fanout(self, members: str, data: bytes) -> int:
        """Append ``data`` to the standalone stream of every session in the set ``members``."""
        events = self.events
        args: list[Any] = [RECORD, PREFIX, data, len(data) + EVENT_OVERHEAD]
        args += [events.max_bytes_per_stream, events.max_events_per_stream, int(events.ttl * 1000)]
        script = self._script("fanout", FANOUT)
        n = await self.link.call(lambda: script(keys=[members], args=args), "session")
        return int(n)

    async def wake(self) -> None:
        """Make the read in flight return (it then reads the streams added since)."""
        client, key = self.link.client, self.wake_key
        await self.link.call(lambda: client.xadd(key, {"w": "1"}), "session")

    async def run(self) -> None:
        """Read every held stream and write what arrives to its response, until cancelled."""
        delay = 0.05
        client = self.link.client
        while True:
            if not self.readings:
                await self._changed.wait()
                self._changed = trio.Event()
                continue
            held = dict(self.readings)
            streams = {self.wake_key: self._wake_cursor}
            streams.update((key, r.cursor) for key, r in held.items())
            self._issued = self._gen
            try:
                got = await self.link.call(
                    partial(client.xread, streams, count=256, block=BLOCK_MS),
                    "session",
                    limit=self.link.timeout + BLOCK_MS / 1000,
                )
            except StoreUnavailable:
                await trio.sleep(delay)
                delay = min(2.0, delay * 2)
                continue
            finally:
                self._issued = -1
            delay = 0.05
            for raw, items in (got or {}).items():
                key = raw.decode() if isinstance(raw, bytes) else str(raw)
                found = entries(items)
                if key == self.wake_key:
                    if found:
                        self._wake_cursor = found[-1][0]
                    continue
                reading = self.readings.get(key)
                if reading is not None and reading is held.get(key):
                    self._deliver(reading, found)

    def _deliver(self, reading: Reading, found: list[tuple[str, bytes, bool]]) -> None:
        for entry, data, final in found:
            reading.cursor = entry
            if reading.post and final and not data:
                reading.ended = True  # the end marker: no answer will come
                reading.live.close()
                self.remove(reading)
                return
            if not data:
                continue  # a priming event (its id was the one to resume from)
            if reading.post:
                eid = f"{reading.stream_id}.{entry.partition('-')[2]}"
            else:
                eid = f"{entry}.{reading.stream_id}"
            try:
                reading.live.send_nowait(sse_event(data, eid))
                if reading.post and final:
                    reading.ended = True
                    reading.live.close()  # its writer ends the response after it
                    self.remove(reading)
                    return
            except (trio.WouldBlock, trio.BrokenResourceError, trio.ClosedResourceError):
                stream = reading.session.streams.get(reading.stream_id)
                if stream is not None and stream.live is reading.live:
                    stream.detach()  # too slow, or gone: it resumes from the stream
                else:
                    reading.live.close()
                self.remove(reading)
                return
