"""Legacy sessions shared by every worker through Redis: :class:`SharedSessions`.

With ``TRIO_MCP_REDIS_URL`` set, a legacy session (2025-03-26 .. 2025-11-25,
``initialize`` + ``Mcp-Session-Id``) is a record in Redis, and any worker may
serve any of its POSTs, GETs and its DELETE: no affinity.

* **The record** is a hash ``trio_mcp:session:<id>``: ``s`` the protocol state
  ``initialize`` fixed (negotiated version, client capabilities and info:
  :meth:`~trio_mcp._protocol.SharedServerSession.state`), ``u`` the bearer
  subject it was opened with, ``g`` the worker holding its GET stream, ``l``
  the log level and a field ``+<uri>`` per subscription (so two workers'
  subscribes never overwrite each other: each writes only what it changed). It
  expires ``session_idle_timeout`` seconds after the last activity any worker
  saw. ``trio_mcp:sessions`` is the set of live ids (``list_changed`` fans out
  to them) and ``trio_mcp:subs:<uri>`` the set of sessions subscribed to a URI.
* **Local copies.** A worker that gets a request for a session it does not hold
  loads the record and builds a copy whose protocol session is restored
  already initialized. A copy is used without asking Redis for ``validity``
  seconds after its last check (a check is one round trip, and refreshes the
  expiry); a change on another worker (DELETE, log level, subscriptions)
  reaches every copy at once by pub/sub on ``trio_mcp:sessions:all``. Pub/sub
  lost while Redis was away only shortens the validity of every copy.
* **Directed messages** (a client's answer for the worker whose handler waits
  for it, "detach your GET stream") go on the worker's own channel
  ``trio_mcp:sessions:worker:<id>``; cancels go to everyone (the worker running
  the request acts on it).
* **Streams**: the standalone stream in Redis and its one reader per worker
  (:mod:`._redis_streams`); GETs and POST streams resumed on any worker
  (:mod:`._redis_resume`). ``list_changed`` and ``resources/updated`` are
  written once to every live (or subscribed) session's stream
  (:meth:`SharedSessions.fanout`, called by the application's hub).
* **Liveness.** Each worker refreshes ``trio_mcp:sessions:alive:<worker>`` every
  ``lease / 3`` seconds (``TRIO_MCP_TASK_LEASE``): a worker resuming another
  one's POST stream answers its request with an error once that key expired
  (:func:`~._redis_resume.resume_post`).
* **Failure.** Every call goes through the :class:`~._redis.RedisLink` (its
  timeout, in the caller's task and cancel scope); Redis away answers the HTTP
  request ``503`` with ``Retry-After`` and a ``-32603`` "session store
  unavailable" body (:func:`unavailable`).
"""

from __future__ import annotations

import logging
import math
import secrets
from collections.abc import Awaitable, Callable
from functools import partial
from typing import Any

import attrs
import orjson
import trio

from .._errors import StoreUnavailable
from .._wire import encode, notification
from ._asgi import Receive, Responder
from ._http_session import LegacySession
from ._redis import RedisLink, connect
from ._redis_events import PREFIX as EVENTS
from ._redis_events import RedisEventStore
from ._redis_records import ALIVE, DROP, EVERYONE, LIVE, LOAD, OPEN, PREFIX, SAVE, SUBS, TOUCH
from ._redis_resume import SpillStore, resume_post, serve_standalone
from ._redis_session import SharedSession
from ._redis_streams import StreamReader

__all__ = ["SharedSessions"]

log = logging.getLogger("trio_mcp")


@attrs.define(eq=False)
class SharedSessions:
    """The Redis side of one worker's legacy sessions (see the module docstring).

    Args:
        url: ``TRIO_MCP_REDIS_URL``.
        idle: ``session_idle_timeout``: the record's expiry after the last activity.
        sessions: The transport's local copies, by id (shared with it).
        end_local: Ends a local copy (its handlers cancelled, streams closed);
            the record is not touched.
    """

    url: str
    idle: float
    sessions: dict[str, LegacySession]
    end_local: Callable[[LegacySession], Awaitable[None]]
    worker: str = attrs.field(factory=lambda: secrets.token_hex(4))
    call_timeout: float = 2.0
    #: Seconds after this worker's last heartbeat when other workers count it dead.
    lease: float = 10.0
    _link: RedisLink | None = attrs.field(default=None, init=False)
    _events: RedisEventStore | None = attrs.field(default=None, init=False)
    _reader: StreamReader | None = attrs.field(default=None, init=False)
    _scripts: dict[str, Any] = attrs.field(factory=dict, init=False)
    _inbox: trio.MemorySendChannel[bytes] | None = attrs.field(default=None, init=False)
    _fanouts: trio.MemorySendChannel[tuple[str, bytes]] | None = attrs.field(
        default=None, init=False
    )
    _token: trio.lowlevel.TrioToken | None = attrs.field(default=None, init=False)
    #: The shared sessions' POST-stream events (here, and in Redis once spilled).
    spill: SpillStore = attrs.field(init=False)

    def __attrs_post_init__(self) -> None:
        self.spill = SpillStore(ttl_ms=self.ttl_ms)

    @property
    def validity(self) -> float:
        """Seconds a local copy is used without asking Redis."""
        return min(5.0, self.idle / 4)

    @property
    def ttl_ms(self) -> int:
        return max(1, math.ceil(self.idle * 1000))

    @property
    def link(self) -> RedisLink:
        if self._link is None:
            raise StoreUnavailable("session")
        return self._link

    @property
    def events(self) -> RedisEventStore:
        if self._events is None:
            raise StoreUnavailable("session")
        return self._events

    @property
    def reader(self) -> StreamReader:
        assert self._reader is not None
        return self._reader

    @property
    def everyone(self) -> str:
        return EVERYONE

    def channel(self, worker: str) -> str:
        """The channel of messages for ``worker`` only."""
        return f"{EVERYONE}:worker:{worker}"

    # ------------------------------------------------------------ services

    async def serve(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        """Connect, then listen and read streams until cancelled.

        Raises:
            RedisUnreachable: Redis does not answer at start (the message names the URL).
        """
        async with connect(self.url, self.call_timeout) as link:
            client = link.client
            for name, src in (("open", OPEN), ("load", LOAD), ("touch", TOUCH)):
                self._scripts[name] = client.register_script(src)
            self._scripts["save"] = client.register_script(SAVE)
            self._scripts["drop"] = client.register_script(DROP)
            self._events = RedisEventStore(link, ttl=self.idle)
            self._reader = StreamReader(link, self._events, self.worker)
            send, receive = trio.open_memory_channel[bytes](4096)
            fan_send, fan_receive = trio.open_memory_channel[tuple[str, bytes]](1024)
            self._inbox, self._fanouts = send, fan_send
            self._token = trio.lowlevel.current_trio_token()
            self._link = link
            try:
                async with trio.open_nursery() as nursery:
                    channels = [EVERYONE, self.channel(self.worker)]
                    await nursery.start(
                        partial_listen(link, channels, self._on_message, self._resubscribed)
                    )
                    nursery.start_soon(self._apply, receive)
                    nursery.start_soon(self._reader.run)
                    nursery.start_soon(self._fan_out, fan_receive)
                    nursery.start_soon(self.spill.write, link)
                    await self._beat()
                    nursery.start_soon(self._beat_loop)
                    task_status.started()
                    await trio.sleep_forever()
            finally:
                self._link = None
                self._inbox = self._fanouts = None

    async def _beat(self) -> None:
        key, ms = ALIVE + self.worker, int(self.lease * 1000)
        await self.link.call(lambda: self.link.client.set(key, b"1", px=ms), "session")

    async def _beat_loop(self) -> None:
        """Keep this worker's liveness key (its POST streams' requests are answered here)."""
        try:
            while True:
                await trio.sleep(self.lease / 3)
                try:
                    await self._beat()
                except StoreUnavailable:
                    pass  # logged by the link; the next beat tries again
        finally:
            with trio.CancelScope(shield=True), trio.move_on_after(self.call_timeout):
                try:  # a graceful stop: its POST streams were answered or ended
                    key = ALIVE + self.worker
                    await self.link.call(lambda: self.link.client.delete([key]), "session")
                except StoreUnavailable:
                    pass

    async def alive(self, worker: str) -> bool:
        """Is ``worker``'s heartbeat fresh (one round trip)?"""
        key = ALIVE + worker
        return bool(await self.link.call(lambda: self.link.client.exists([key]), "session"))

    def fanout(self, method: str, params: dict[str, Any] | None, uri: str | None) -> bool:
        """Queue a notification for every live session (``uri``: its subscribers), any worker.

        Never waits, and may be called from a thread (a sync tool changing the
        registry): the message is handed to the Trio loop. False when not serving.
        """
        fanouts, token = self._fanouts, self._token
        if fanouts is None or token is None:
            return False
        item = (LIVE if uri is None else SUBS + uri, encode(notification(method, params)))

        def queue() -> None:
            try:
                fanouts.send_nowait(item)
            except trio.WouldBlock:
                log.warning("trio_mcp: %s dropped: too many notifications queued for Redis", method)
            except trio.ClosedResourceError:
                pass

        try:
            token.run_sync_soon(queue)
        except trio.RunFinishedError:
            return False
        return True

    async def _fan_out(self, receive: trio.MemoryReceiveChannel[tuple[str, bytes]]) -> None:
        async for members, data in receive:
            try:
                await self.reader.fanout(members, data)
            except StoreUnavailable:
                log.warning("trio_mcp: a notification for every session was dropped: Redis is away")

    def _resubscribed(self) -> None:
        for session in self.sessions.values():
            if isinstance(session, SharedSession):
                session.valid_until = 0.0  # a change may have been missed: check again

    def _on_message(self, data: bytes) -> None:
        inbox = self._inbox
        if inbox is None:
            return
        try:
            inbox.send_nowait(data)
        except trio.WouldBlock:
            log.warning("trio_mcp: a session message was dropped (this worker is behind)")
            self._resubscribed()

    async def _apply(self, receive: trio.MemoryReceiveChannel[bytes]) -> None:
        async for data in receive:
            try:
                msg = orjson.loads(data)
                op, sid = msg["op"], msg["s"]
            except (ValueError, KeyError, TypeError):
                log.warning("trio_mcp: ignored a malformed session message: %r", data[:200])
                continue
            session = self.sessions.get(sid)
            if not isinstance(session, SharedSession) or session.closed:
                continue
            if op == "drop":
                await self.end_local(session)
            elif op == "stale" and msg.get("w") != self.worker:
                session.stale, session.valid_until = True, 0.0
            elif op == "cancel":
                session.cancel_routed(msg.get("id"))
            elif op == "answer" and session.protocol.owner_of(msg.get("id")) == self.worker:
                session.answer(msg.get("id"), msg.get("result"), msg.get("error"))
            elif op == "detach":
                session.streams["g"].detach()

    # ------------------------------------------------------------ records

    async def open(self, session: SharedSession) -> None:
        """Write the record of a session ``initialize`` just opened."""
        state = orjson.dumps(session.protocol.state())
        keys = [PREFIX + session.id, LIVE]
        args: list[Any] = [state, orjson.dumps(session.subject), self.ttl_ms, session.id, PREFIX]
        link, script = self.link, self._scripts["open"]
        await link.call(lambda: script(keys=keys, args=args), "session")
        self._checked(session)

    async def load(self, sid: str) -> tuple[dict[str, Any], str | None] | None:
        """The record's state and subject (its expiry refreshed); ``None`` if there is none."""
        link, script = self.link, self._scripts["load"]
        found = await link.call(
            lambda: script(keys=[PREFIX + sid], args=[self.ttl_ms, SUBS]), "session"
        )
        if not found:
            return None
        fields = dict(zip(found[::2], found[1::2], strict=False))
        try:
            state, subject = orjson.loads(fields[b"s"]), orjson.loads(fields[b"u"])
            if b"l" in fields:
                state["level"] = orjson.loads(fields[b"l"])
            state["subscriptions"] = [k[1:].decode() for k in fields if k.startswith(b"+")]
        except (ValueError, TypeError, KeyError, UnicodeDecodeError):
            log.warning("trio_mcp: session record %s… is malformed", sid[:8])
            return None
        return state, subject if isinstance(subject, str) else None

    def adopted(self, session: SharedSession) -> None:
        """A copy was just built from a fresh :meth:`load`."""
        self._checked(session)

    def _checked(self, session: SharedSession) -> None:
        session.valid_until = trio.current_time() + self.validity
        session.stale = False
        protocol = session.session
        session.saved = (protocol.legacy_log_level, frozenset(protocol.subscriptions))

    async def check(self, session: SharedSession) -> bool:
        """Is the session still there? No round trip while the copy is valid.

        A stale copy (another worker changed the record) is reloaded in place.
        """
        if not session.stale and trio.current_time() < session.valid_until:
            return True
        if session.stale:
            found = await self.load(session.id)
            if found is None:
                return False
            protocol = session.session
            level = found[0].get("level")
            protocol.legacy_log_level = level if isinstance(level, str) else None
            protocol.subscriptions = {str(u) for u in found[0].get("subscriptions", ())}
        else:
            (alive,) = await self.touch([session.id])
            if not alive:
                return False
        self._checked(session)
        return True

    async def touch(self, sids: list[str]) -> list[bool]:
        """Refresh the expiry of these records; which are still there."""
        if not sids:
            return []
        link, script = self.link, self._scripts["touch"]
        keys = [PREFIX + sid for sid in sids]
        args = [self.ttl_ms, SUBS, EVENTS, len(PREFIX)]
        found = await link.call(lambda: script(keys=keys, args=args), "session")
        return [bool(x) for x in found]

    async def save(self, session: SharedSession) -> bool:
        """Write the copy's log level and subscriptions through; tell the other copies.

        Returns False (nothing written) when the record is gone.
        """
        protocol = session.protocol
        old = session.saved[1]
        new = frozenset(protocol.subscriptions)
        ops, session.touched = session.touched, {}
        on = (new - old) | {uri for uri, subscribed in ops.items() if subscribed}
        off = ((old - new) | {uri for uri, subscribed in ops.items() if not subscribed}) - on
        added, removed = sorted(on), sorted(off)
        payload = orjson.dumps({"op": "stale", "s": session.id, "w": self.worker})
        args: list[Any] = [orjson.dumps(protocol.legacy_log_level), self.ttl_ms, session.id, SUBS]
        args += [EVERYONE, payload, len(added), *added, *removed]
        link, script = self.link, self._scripts["save"]
        saved = await link.call(lambda: script(keys=[PREFIX + session.id], args=args), "session")
        if not saved:
            return False
        self._checked(session)
        return True

    async def delete(self, session: SharedSession) -> None:
        """DELETE: the record and the session's events go; every copy is told to end."""
        payload = orjson.dumps({"op": "drop", "s": session.id})
        keys, args = [PREFIX + session.id, LIVE], [session.id, SUBS, EVERYONE, payload]
        link, script = self.link, self._scripts["drop"]
        await link.call(lambda: script(keys=keys, args=args), "session")
        await self.events.forget_session(session.id)

    # ------------------------------------------------------------ GET

    async def get(
        self, session: SharedSession, receive: Receive, responder: Responder, last: str | None
    ) -> None:
        """A GET of a shared session: its standalone stream, or a POST stream resumed here."""
        if last is None or last.endswith(".g"):
            await serve_standalone(self, session, receive, responder, last)
        else:
            await resume_post(self, session, receive, responder, last)

    async def flush(self, session: SharedSession) -> None:
        """Publish the answers and cancels a POST queued for other workers."""
        routes, session.routes = session.routes, []
        client = self.link.client
        for channel, payload in routes:
            await self.link.call(partial(client.publish, channel, payload), "session")


def partial_listen(
    link: RedisLink,
    channels: list[str],
    handle: Callable[[bytes], None],
    resubscribed: Callable[[], None],
) -> Callable[..., Awaitable[None]]:
    """``link.listen`` for ``nursery.start``."""

    async def listen(*, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        await link.listen(channels, handle, resubscribed=resubscribed, task_status=task_status)

    return listen
