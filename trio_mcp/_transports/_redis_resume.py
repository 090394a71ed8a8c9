"""Resuming a shared session's streams on any worker: the GET, and POST streams a client left.

* **The standalone stream** (:func:`serve_standalone`): a fresh GET appends a
  priming entry and holds the session's GET here; a GET with ``Last-Event-ID``
  ``<entry>.g`` replays the entries after it. Either way the worker's
  :class:`~._redis_streams.StreamReader` then goes on from that entry.
* **POST streams** stay in the memory of the worker running their handlers
  (:class:`SpillStore`, an :class:`~._eventstore.InMemoryEventStore`): a POST
  whose answer reaches its client costs no Redis round trip at all. When a POST
  stream's live response goes before the stream is done (the client left, was
  too slow, or the handler closed it for polling), the stream **spills**: its
  events so far, then every later one, are copied to the Redis stream
  ``trio_mcp:events:<session>:<stream>`` with entry ids ``0-<n>`` (``n`` the
  event's number in its id ``<stream>.<n>``), in order, by one writer task per
  worker (a round trip per batch). The final event carries ``f``, and so does
  an end marker when the stream ends with no answer.
* **A POST stream resumed on another worker** (:func:`resume_post`): the events
  after ``Last-Event-ID`` are replayed from Redis, then read as they come, until
  the final one; a resume that comes before the spill landed waits for it (one
  blocking read).
* **A POST stream whose worker died** before its answer: its id
  ``p<worker>-<n>-<named>`` names the worker and its request, or for a JSON-RPC
  batch a list of ids (:func:`~._redis_session.stream_request`). Once that
  worker's liveness key (``trio_mcp:sessions:alive:<worker>``, refreshed every
  ``lease / 3`` s) has expired, the resuming worker writes what was spilled,
  then the answer the stream owes (:func:`~._redis_session.stopped_answer`: a
  ``-32603`` error, :data:`STOPPED` with ``data.retryable``, for each of its
  requests; a batch's one response also holds the answers the session had made
  itself), and ends the stream: every request gets exactly one answer. What the
  id cannot name (a batch's own answers, ids that do not fit in 96 bytes
  encoded) is recorded before the stream's response begins, as
  ``trio_mcp:events:<session>:<stream>:stopped`` (:meth:`SpillStore.record`),
  and read from there. A resume that comes before the lease expired waits for
  it (nothing spilled: up to the lease; spilled: a check every ``lease / 3`` s
  while it reads). A stream whose id names nothing (an old id) ends as before,
  after what was spilled, with no answer.
"""

from __future__ import annotations

import logging
import re
from functools import partial
from typing import TYPE_CHECKING, Any

import attrs
import trio

from .._errors import StoreUnavailable
from .._runtime import OutQueue
from ._asgi import HttpError, Receive, Responder, sse_event
from ._eventstore import InMemoryEventStore
from ._http_session import STANDALONE
from ._redis_events import PREFIX
from ._redis_session import STOPPED, SharedSession, stopped_answer, store_errors, stream_request
from ._redis_streams import BLOCK_MS, Reading

if TYPE_CHECKING:
    from ._redis import RedisLink
    from ._redis_sessions import SharedSessions

__all__ = ["STOPPED", "SpillStore", "resume_post", "serve_standalone"]

log = logging.getLogger("trio_mcp")

POST_EVENT = re.compile(r"(p[0-9a-f]{1,16}-\d{1,20}(?:-[A-Za-z0-9_-]{1,96})?)\.(\d{1,20})")
#: What a POST stream owes if its worker dies, when its id cannot say (see the docstring).
STOPPED_SUFFIX = ":stopped"
#: KEYS: records to delete; ARGV: ttl ms, then per event: key, session set, stream id,
#: entry id, data, final ("1"/"").
SPILL = """
for i = 2, #ARGV, 6 do
  local key = ARGV[i]
  if ARGV[i + 5] == '1' then
    redis.call('XADD', key, ARGV[i + 3], 'd', ARGV[i + 4], 'c', #ARGV[i + 4], 'f', '1')
  else
    redis.call('XADD', key, ARGV[i + 3], 'd', ARGV[i + 4], 'c', #ARGV[i + 4])
  end
  redis.call('PEXPIRE', key, ARGV[1])
  redis.call('SADD', ARGV[i + 1], ARGV[i + 2])
  redis.call('PEXPIRE', ARGV[i + 1], ARGV[1])
end
for _, key in ipairs(KEYS) do redis.call('DEL', key) end
return 1
"""
#: KEYS: the record, the session's set; ARGV: the answer, ttl ms, the record's member.
RECORD = """
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
redis.call('SADD', KEYS[2], ARGV[3])
redis.call('PEXPIRE', KEYS[2], ARGV[2])
return 1
"""


@attrs.define(eq=False)
class SpillStore(InMemoryEventStore):
    """POST-stream events in this worker's memory; copied to Redis once a stream spills."""

    ttl_ms: int = 3_600_000
    _spilled: set[tuple[str, str]] = attrs.field(factory=set, init=False)
    _finals: set[tuple[str, str]] = attrs.field(factory=set, init=False)
    _queue: list[list[Any]] = attrs.field(factory=list, init=False)
    #: Streams whose answer is recorded (:meth:`record`); the records to delete.
    _recorded: set[tuple[str, str]] = attrs.field(factory=set, init=False)
    _drops: list[str] = attrs.field(factory=list, init=False)
    _wake: trio.Event = attrs.field(factory=trio.Event, init=False)

    def final_next(self, session_id: str, stream_id: str) -> None:
        """The next event stored on this stream is its final one."""
        self._finals.add((session_id, stream_id))

    def final_done(self, session_id: str, stream_id: str) -> None:
        """The final event was handed over (stored, or sent as JSON): forget the mark."""
        self._finals.discard((session_id, stream_id))

    async def store_event(self, session_id: str, stream_id: str, data: bytes) -> str:
        eid = await InMemoryEventStore.store_event(self, session_id, stream_id, data)
        final = (session_id, stream_id) in self._finals
        self._finals.discard((session_id, stream_id))
        if (session_id, stream_id) in self._spilled:
            self._put(session_id, stream_id, eid, data, final)
        return eid

    def spill(self, session_id: str, stream_id: str) -> None:
        """Copy this stream to Redis from now on (its client left before its end)."""
        if (session_id, stream_id) in self._spilled:
            return
        self._spilled.add((session_id, stream_id))
        held = self._sessions.get(session_id)
        for eid, (sid, data) in list(held.events.items()) if held is not None else ():
            if sid == stream_id:
                self._put(session_id, stream_id, eid, data, False)

    def _put(self, session_id: str, stream_id: str, eid: str, data: bytes, final: bool) -> None:
        key = f"{PREFIX}{session_id}:{stream_id}"
        entry = f"0-{eid.rpartition('.')[2]}"
        self._queue.append([key, f"{PREFIX}{session_id}", stream_id, entry, data, "1" * final])
        self._wake.set()

    async def record(self, link: RedisLink, session_id: str, stream_id: str, data: bytes) -> None:
        """Record the answer ``data`` that ``stream_id`` owes if this worker dies (a round trip).

        Raises:
            StoreUnavailable: Redis did not answer.
        """
        keys = [f"{PREFIX}{session_id}:{stream_id}{STOPPED_SUFFIX}", f"{PREFIX}{session_id}"]
        args = [data, self.ttl_ms, f"{stream_id}{STOPPED_SUFFIX}"]
        script = link.client.register_script(RECORD)
        await link.call(partial(script, keys=keys, args=args), "event")
        self._recorded.add((session_id, stream_id))

    async def forget_stream(self, session_id: str, stream_id: str) -> None:
        if (session_id, stream_id) in self._spilled:
            self._spilled.discard((session_id, stream_id))
            self._put(session_id, stream_id, f"{stream_id}.0", b"", True)  # the end marker
            self._queue[-1][3] = "*"  # after whatever is there
        if (session_id, stream_id) in self._recorded:  # ended: nothing is owed any more
            self._recorded.discard((session_id, stream_id))
            self._drops.append(f"{PREFIX}{session_id}:{stream_id}{STOPPED_SUFFIX}")
            self._wake.set()
        await InMemoryEventStore.forget_stream(self, session_id, stream_id)

    async def forget_session(self, session_id: str) -> None:
        self._spilled = {k for k in self._spilled if k[0] != session_id}
        self._recorded = {k for k in self._recorded if k[0] != session_id}
        self._finals = {k for k in self._finals if k[0] != session_id}
        await InMemoryEventStore.forget_session(self, session_id)

    async def write(self, link: RedisLink) -> None:
        """Copy what spilled to Redis, a batch per round trip, until cancelled."""
        script = link.client.register_script(SPILL)
        delay = 0.05
        while True:
            await self._wake.wait()
            self._wake = trio.Event()
            batch, self._queue = self._queue, []
            drops, self._drops = self._drops, []
            args: list[Any] = [self.ttl_ms]
            for item in batch:
                args += item
            try:
                await link.call(partial(script, keys=drops, args=args), "event")
            except StoreUnavailable:
                self._queue[:0] = batch  # in order, before what came since
                self._drops[:0] = drops
                self._wake.set()
                await trio.sleep(delay)
                delay = min(2.0, delay * 2)
                continue
            except Exception:  # an id Redis refused (out of order): log, never loop on it
                log.exception("trio_mcp: spilling %d event(s) to Redis failed", len(batch))
            delay = 0.05


async def serve_standalone(
    manager: SharedSessions,
    session: SharedSession,
    receive: Receive,
    responder: Responder,
    last: str | None,
) -> None:
    """Serve the standalone stream from Redis: a fresh GET, or a resume after ``last``."""
    reader, channel = manager.reader, manager.channel("")
    stream = session.streams[STANDALONE]
    replay: list[tuple[str, bytes]] = []
    if last is None:
        with store_errors():
            entry = await reader.attach(session, channel)
        if entry is None or session.closed:  # closed meanwhile: nothing would end it
            raise HttpError(404, "Not Found: no such session (expired or terminated)", -32001)
        live = stream.attach()
        live.send_nowait(sse_event(b"", f"{entry}.g", session.retry_ms))  # priming
        cursor = entry
    else:
        with store_errors():
            found = await reader.resume(session, last[: -len(".g")], channel)
        if session.closed:
            raise HttpError(404, "Not Found: no such session (expired or terminated)", -32001)
        if found is None:
            raise HttpError(400, "Bad Request: unknown Last-Event-ID")
        live = stream.attach()
        replay = [(f"{e}.g", d) for e, d, _ in found if d]
        cursor = found[-1][0] if found else last[: -len(".g")]
    reading = Reading(session, reader.key(session.id, STANDALONE), STANDALONE, live, cursor)
    try:
        if reader.add(reading):
            with store_errors():
                await reader.wake()
        await session.write(responder, receive, stream, live, replay, [])
    finally:
        reader.remove(reading)
        if stream.live is live:
            stream.detach()


async def resume_post(
    manager: SharedSessions,
    session: SharedSession,
    receive: Receive,
    responder: Responder,
    last: str,
) -> None:
    """Resume, here, a POST stream of another worker that its client left (from Redis)."""
    match = POST_EVENT.fullmatch(last)
    if match is None:
        raise HttpError(400, "Bad Request: unknown Last-Event-ID")
    stream_id, n = match.groups()
    reader, link = manager.reader, manager.link
    key, entry = reader.key(session.id, stream_id), f"0-{n}"
    worker, named = stream_request(stream_id)
    dead, owed = False, None
    with store_errors():
        found = await reader.replay(key, entry)
        # The spill may not have landed yet: wait for it (once; while its worker
        # lives, when the stream names its request: a dead one never spills).
        with trio.move_on_after(manager.lease + link.timeout):
            while found is None:
                client = link.client
                read = partial(client.xread, {key: "0-0"}, count=1, block=BLOCK_MS)
                if await link.call(read, "session", limit=link.timeout + BLOCK_MS / 1000):
                    found = await reader.replay(key, entry)
                elif named is None:
                    break
                elif not await manager.alive(worker):
                    found, dead = [], True
        if found is not None and named is not None and not dead:
            dead = not any(f for _, _, f in found) and not await manager.alive(worker)
        if dead:
            owed = await _owed(link, key, named)
    if session.closed:
        raise HttpError(404, "Not Found: no such session (expired or terminated)", -32001)
    if found is None:
        raise HttpError(400, "Bad Request: unknown Last-Event-ID")
    replay = [(f"{stream_id}.{e.partition('-')[2]}", d) for e, d, _ in found if d]
    if dead:  # every event it stored, then the answer it never gave
        last_n = max([int(n), *(int(e.partition("-")[2]) for e, _, _ in found)])
        if owed is not None:
            replay.append((f"{stream_id}.{last_n + 1}", owed))
        if await session.write(responder, receive, None, None, replay, []):
            await _forget(link, key)
        return
    if any(final for _, _, final in found):
        if await session.write(responder, receive, None, None, replay, []):
            await _forget(link, key)
        return
    live = OutQueue(session.buffer_bytes)
    cursor = found[-1][0] if found else entry
    reading = Reading(session, key, stream_id, live, cursor, post=True)
    try:
        if reader.add(reading):
            with store_errors():
                await reader.wake()
        async with trio.open_nursery() as nursery:
            if named is not None:
                nursery.start_soon(_watch_worker, manager, worker, reading, named)
            complete = await session.write(responder, receive, None, live, replay, [])
            nursery.cancel_scope.cancel()
    finally:
        reader.remove(reading)
        live.close()
    if complete and reading.ended:
        await _forget(link, key)


async def _owed(link: RedisLink, key: str, named: Any) -> bytes | None:
    """What the POST stream ``key``, whose worker died, owes: recorded, else what its id names.

    Raises:
        StoreUnavailable: Redis did not answer.
    """
    recorded = await link.call(partial(link.client.get, key + STOPPED_SUFFIX), "session")
    return bytes(recorded) if recorded else stopped_answer(named)


async def _watch_worker(manager: SharedSessions, worker: str, reading: Reading, named: Any) -> None:
    """While a POST stream of ``worker`` is read here: if that worker dies, end it.

    Every ``lease / 3`` seconds its heartbeat is checked; once it expired, what the
    stream stored after the reading's cursor is written, then (no answer among it)
    the answer it owes (:func:`_owed`), and the stream ends.
    """
    while not reading.ended:
        await trio.sleep(manager.lease / 3)
        try:
            if await manager.alive(worker):
                continue
            manager.reader.remove(reading)
            rest = await manager.reader.replay(reading.key, reading.cursor) or []
            owed = await _owed(manager.link, reading.key, named)
        except StoreUnavailable:
            continue  # logged by the link: look again
        n = int(reading.cursor.partition("-")[2] or 0)
        try:
            for entry, data, final in rest:
                n = int(entry.partition("-")[2])
                if data:
                    reading.live.send_nowait(sse_event(data, f"{reading.stream_id}.{n}"))
                if final:
                    return
            if owed is not None:
                reading.live.send_nowait(sse_event(owed, f"{reading.stream_id}.{n + 1}"))
        except (trio.WouldBlock, trio.BrokenResourceError, trio.ClosedResourceError):
            return  # the client is gone or too slow: it resumes again
        finally:
            reading.ended = True
            reading.live.close()


async def _forget(link: RedisLink, key: str) -> None:
    """Drop a POST stream whose end reached its client (nothing resumes it any more)."""
    with trio.CancelScope(shield=True):
        try:
            await link.call(partial(link.client.delete, [key, key + STOPPED_SUFFIX]), "event")
        except StoreUnavailable:
            pass  # its ttl ends it
