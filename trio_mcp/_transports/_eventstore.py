"""Where legacy SSE events wait for a client to resume: the :class:`EventStore` interface.

In the legacy Streamable HTTP era (2025-03-26 .. 2025-11-25) every SSE event the
server sends on a session's streams carries an ``id``. A client whose stream
broke sends ``GET`` with ``Last-Event-ID``, and the server replays what came
after that event *on that same stream*, then goes on live. The store is what
makes this possible. It is an interface so that a deployment can keep events
in an external store; :class:`InMemoryEventStore` is the built-in one.

Contract, for any implementation:

* ``store_event`` returns an id unique across all streams of the session, from
  which ``replay_events_after`` can tell the stream it belongs to;
* ``replay_events_after`` returns that stream's id and, in order, every event
  stored on it after the given one; ``None`` when the id is unknown (expired,
  evicted, forged, or from another session);
* an event with empty data is a *priming* event: it exists only so that its id
  can be resumed from, and it is never replayed;
* ``forget_stream`` drops every event of one stream: the transport calls it
  once nothing can resume the stream any more (its final event reached the
  client, or it ended with no answer);
* ``forget_session`` drops everything the store holds for a session.

:class:`InMemoryEventStore` is bounded in bytes, per session and in total
(an event costs its data plus :data:`EVENT_OVERHEAD`), and in events per
session; the oldest events go first. An event larger than a bound is not
kept, and neither are the earlier events of its stream: a client resuming
from before it gets "unknown ``Last-Event-ID``" (400) rather than a replay
with a silent gap.
"""

from __future__ import annotations

from collections import OrderedDict
from typing import Protocol, runtime_checkable

import attrs

__all__ = ["EVENT_OVERHEAD", "EventStore", "InMemoryEventStore"]


#: What one stored event costs besides its data (its ids and bookkeeping), in bytes.
EVENT_OVERHEAD = 128


@runtime_checkable
class EventStore(Protocol):
    """Storage for the SSE events of legacy sessions (see the module docstring)."""

    async def store_event(self, session_id: str, stream_id: str, data: bytes) -> str:
        """Keep ``data`` (one encoded JSON-RPC message, or ``b""`` for priming); return its id."""
        ...

    async def replay_events_after(
        self, session_id: str, last_event_id: str
    ) -> tuple[str, list[tuple[str, bytes]]] | None:
        """``(stream_id, [(event_id, data), ...])`` after ``last_event_id``, or ``None``."""
        ...

    async def forget_stream(self, session_id: str, stream_id: str) -> None:
        """Drop every event of one stream (it completed: nothing will resume it)."""
        ...

    async def forget_session(self, session_id: str) -> None:
        """Drop every event of ``session_id`` (it ended: DELETE, expiry, shutdown)."""
        ...


@attrs.define(eq=False)
class _SessionEvents:
    seq: int = 0
    nbytes: int = 0
    # event id -> (stream id, data), oldest first
    events: OrderedDict[str, tuple[str, bytes]] = attrs.field(factory=OrderedDict)


@attrs.define(eq=False)
class InMemoryEventStore:
    """An :class:`EventStore` in this process's memory, bounded in bytes and events.

    Args:
        max_events_per_session: Events kept per session.
        max_bytes_per_session: Bytes kept per session (16 MiB: four messages
            of the default 4 MiB maximum size).
        max_bytes: Bytes kept over all sessions (128 MiB).

    The oldest events are evicted first, within a session for its own bounds
    and over all sessions for ``max_bytes``; a client resuming from an
    evicted id gets nothing replayed (400). :attr:`nbytes` never exceeds
    either byte bound.
    """

    max_events_per_session: int = 1024
    max_bytes_per_session: int = 16 << 20
    max_bytes: int = 128 << 20
    _sessions: dict[str, _SessionEvents] = attrs.field(factory=dict, init=False)
    # every stored event, oldest first: (session id, event id) -> its cost
    _order: OrderedDict[tuple[str, str], int] = attrs.field(factory=OrderedDict, init=False)
    _nbytes: int = attrs.field(default=0, init=False)

    @property
    def nbytes(self) -> int:
        """Bytes held over all sessions (data plus :data:`EVENT_OVERHEAD` per event)."""
        return self._nbytes

    def session_bytes(self, session_id: str) -> int:
        """Bytes held for one session."""
        s = self._sessions.get(session_id)
        return s.nbytes if s is not None else 0

    async def store_event(self, session_id: str, stream_id: str, data: bytes) -> str:
        s = self._sessions.get(session_id)
        if s is None:
            s = self._sessions[session_id] = _SessionEvents()
        s.seq += 1
        event_id = f"{stream_id}.{s.seq}"
        cost = len(data) + EVENT_OVERHEAD
        if cost > self.max_bytes_per_session or cost > self.max_bytes:
            self._drop_stream(session_id, s, stream_id)  # no replay may skip this one
            return event_id
        # An exact copy: orjson's output holds a buffer several times its length.
        s.events[event_id] = (stream_id, bytes(memoryview(data)))
        s.nbytes += cost
        self._nbytes += cost
        self._order[(session_id, event_id)] = cost
        while len(s.events) > self.max_events_per_session or s.nbytes > self.max_bytes_per_session:
            self._evict(session_id, s, next(iter(s.events)))
        while self._nbytes > self.max_bytes:
            sess, eid = next(iter(self._order))
            self._evict(sess, self._sessions[sess], eid)
        return event_id

    def _evict(self, session_id: str, s: _SessionEvents, event_id: str) -> None:
        del s.events[event_id]
        cost = self._order.pop((session_id, event_id))
        s.nbytes -= cost
        self._nbytes -= cost

    def _drop_stream(self, session_id: str, s: _SessionEvents, stream_id: str) -> None:
        for eid in [eid for eid, (sid, _) in s.events.items() if sid == stream_id]:
            self._evict(session_id, s, eid)

    async def replay_events_after(
        self, session_id: str, last_event_id: str
    ) -> tuple[str, list[tuple[str, bytes]]] | None:
        s = self._sessions.get(session_id)
        if s is None or last_event_id not in s.events:
            return None
        stream_id = s.events[last_event_id][0]
        found = False
        out: list[tuple[str, bytes]] = []
        for eid, (sid, data) in s.events.items():
            if found:
                if sid == stream_id and data:
                    out.append((eid, data))
            elif eid == last_event_id:
                found = True
        return stream_id, out

    async def forget_stream(self, session_id: str, stream_id: str) -> None:
        s = self._sessions.get(session_id)
        if s is not None:
            self._drop_stream(session_id, s, stream_id)

    async def forget_session(self, session_id: str) -> None:
        s = self._sessions.pop(session_id, None)
        if s is not None:
            for eid in s.events:
                self._nbytes -= self._order.pop((session_id, eid))

    def __len__(self) -> int:
        """Sessions with stored events (for tests: nothing leaks after a session ends)."""
        return len(self._sessions)
