"""RedisEventStore against a real redis-server: the EventStore contract, bounds, ttl, failures."""

from __future__ import annotations

import random

import pytest
import trio
from _support.redis import RedisServer

from trio_mcp._errors import StoreUnavailable
from trio_mcp._transports._eventstore import EVENT_OVERHEAD
from trio_mcp._transports._redis import connect
from trio_mcp._transports._redis_events import RedisEventStore

MAX_BYTES = 4096


async def test_never_above_its_bounds_and_never_a_silent_gap(redis_server: RedisServer) -> None:
    """A seeded random walk of stores and forgets against a model of every event stored."""
    rng = random.Random(18)
    async with connect(redis_server.url) as link:
        store = RedisEventStore(link, max_bytes_per_stream=MAX_BYTES, max_events_per_stream=8)
        model: dict[tuple[str, str], list[tuple[str, bytes]]] = {}
        for _ in range(150):
            op = rng.choice(["store"] * 6 + ["forget_stream", "forget_session"])
            session, stream = rng.choice(["s1", "s2"]), rng.choice(["g", "p1", "p2"])
            if op == "store":
                data = b"x" * rng.choice([0, rng.randint(1, 300), rng.randint(3000, 5000)])
                eid = await store.store_event(session, stream, data)
                model.setdefault((session, stream), []).append((eid, data))
            elif op == "forget_stream":
                await store.forget_stream(session, stream)
                model.pop((session, stream), None)
            else:
                await store.forget_session(session)
                for key in [k for k in model if k[0] == session]:
                    del model[key]
            for (session, stream), events in model.items():
                key = f"trio_mcp:events:{session}:{stream}"
                held = await link.client.get(f"{key}:bytes")
                assert int(held or 0) <= MAX_BYTES
                assert await link.client.xlen(key) <= 8
                for i, (eid, _) in enumerate(events):
                    found = await store.replay_events_after(session, eid)
                    if found is None:
                        continue  # evicted (or never kept): the client is told, 400
                    assert found[0] == stream
                    assert found[1] == [(e, d) for e, d in events[i + 1 :] if d]


async def test_bounds_priming_forged_ids_and_ttl(redis_server: RedisServer) -> None:
    async with connect(redis_server.url) as link:
        store = RedisEventStore(link, max_bytes_per_stream=1000, ttl=60)
        first = await store.store_event("s", "p1", b"")
        small = await store.store_event("s", "p1", b"small")
        assert await store.replay_events_after("s", first) == ("p1", [(small, b"small")])
        big = await store.store_event("s", "p1", b"x" * 1000)
        after = await store.store_event("s", "p1", b"later")
        assert await store.replay_events_after("s", first) is None  # no replay skips `big`
        assert await store.replay_events_after("s", big) is None
        assert await store.replay_events_after("s", after) == ("p1", [])
        held = await link.client.get("trio_mcp:events:s:p1:bytes")
        assert int(held or 0) == len(b"later") + EVENT_OVERHEAD
        assert 0 < await link.client.pttl("trio_mcp:events:s:p1") <= 60_000
        for forged in ("nope", "1-0.p1", "x.p1", after + "x", "0-0.p1"):
            assert await store.replay_events_after("s", forged) is None
        assert await store.replay_events_after("other", after) is None
        other = await store.store_event("s", "p2", b"two")
        await store.forget_session("s")
        assert await store.replay_events_after("s", other) is None
        assert await link.client.keys("trio_mcp:events:*") == set()


async def test_redis_away_is_event_store_unavailable(redis_server: RedisServer) -> None:
    async with connect(redis_server.url, call_timeout=1) as link:
        store = RedisEventStore(link)
        redis_server.stop()
        with pytest.raises(StoreUnavailable, match=r"^event store unavailable$"):
            await store.store_event("s", "g", b"data")
        redis_server.start()
        with trio.fail_after(10):
            eid = await store.store_event("s", "g", b"data")
        assert await store.replay_events_after("s", eid) == ("g", [])
