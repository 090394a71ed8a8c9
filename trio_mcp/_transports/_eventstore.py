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
* ``forget_session`` drops everything the store holds for a session.
"""

from __future__ import annotations

from collections import OrderedDict
from typing import Protocol, runtime_checkable

import attrs

__all__ = ["EventStore", "InMemoryEventStore"]


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

    async def forget_session(self, session_id: str) -> None:
        """Drop every event of ``session_id`` (it ended: DELETE, expiry, shutdown)."""
        ...


@attrs.define(eq=False)
class _SessionEvents:
    seq: int = 0
    # event id -> (stream id, data), oldest first
    events: OrderedDict[str, tuple[str, bytes]] = attrs.field(factory=OrderedDict)


@attrs.define(eq=False)
class InMemoryEventStore:
    """An :class:`EventStore` in this process's memory, bounded per session.

    Args:
        max_events_per_session: Events kept per session; the oldest are evicted
            first (a client resuming from an evicted id gets nothing replayed).
    """

    max_events_per_session: int = 1024
    _sessions: dict[str, _SessionEvents] = attrs.field(factory=dict, init=False)

    async def store_event(self, session_id: str, stream_id: str, data: bytes) -> str:
        s = self._sessions.get(session_id)
        if s is None:
            s = self._sessions[session_id] = _SessionEvents()
        s.seq += 1
        event_id = f"{stream_id}.{s.seq}"
        s.events[event_id] = (stream_id, data)
        while len(s.events) > self.max_events_per_session:
            s.events.popitem(last=False)
        return event_id

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

    async def forget_session(self, session_id: str) -> None:
        self._sessions.pop(session_id, None)

    def __len__(self) -> int:
        """Sessions with stored events (for tests: nothing leaks after a session ends)."""
        return len(self._sessions)
