"""InMemoryEventStore: bounded in bytes per session and in total, never a silent gap on replay.

The property test drives random sequences of stores and forgets against a model
that remembers every event ever stored. It checks, after every step, that the
store is under each of its bounds, and that any replay it answers is exactly
what the model says followed that event on its stream: eviction may make an
id unknown (the client gets a 400), never make a replay skip an event.
"""

from __future__ import annotations

from typing import Any

import trio
from hypothesis import given, settings
from hypothesis import strategies as st

from trio_mcp._transports._eventstore import EVENT_OVERHEAD
from trio_mcp.lowlevel import InMemoryEventStore

PER_SESSION = 4096
TOTAL = 10_000


ops = st.lists(
    st.one_of(
        st.tuples(
            st.just("store"),
            st.sampled_from(["s1", "s2", "s3"]),
            st.sampled_from(["g", "p1", "p2"]),
            st.one_of(st.just(0), st.integers(1, 300), st.integers(3000, 5000)),
        ),
        st.tuples(
            st.just("forget_stream"), st.sampled_from(["s1", "s2"]), st.sampled_from(["p1", "g"])
        ),
        st.tuples(st.just("forget_session"), st.sampled_from(["s1", "s2", "s3"])),
    ),
    max_size=60,
)


@settings(max_examples=200, deadline=None)
@given(ops)
def test_never_above_its_bounds_and_never_a_silent_gap(steps: list[tuple[Any, ...]]) -> None:
    async def main() -> None:
        store = InMemoryEventStore(
            max_events_per_session=20, max_bytes_per_session=PER_SESSION, max_bytes=TOTAL
        )
        # the model: every event ever stored, per (session, stream), in order
        model: dict[tuple[str, str], list[tuple[str, bytes]]] = {}
        for step in steps:
            if step[0] == "store":
                _, session, stream, size = step
                data = b"x" * size
                eid = await store.store_event(session, stream, data)
                model.setdefault((session, stream), []).append((eid, data))
            elif step[0] == "forget_stream":
                await store.forget_stream(step[1], step[2])
                model.pop((step[1], step[2]), None)
            else:
                await store.forget_session(step[1])
                for key in [k for k in model if k[0] == step[1]]:
                    del model[key]
            assert store.nbytes <= TOTAL
            for session in ("s1", "s2", "s3"):
                assert store.session_bytes(session) <= PER_SESSION
            assert store.nbytes == sum(store.session_bytes(s) for s in ("s1", "s2", "s3"))
            for (session, stream), events in model.items():
                for i, (eid, _) in enumerate(events):
                    found = await store.replay_events_after(session, eid)
                    if found is None:
                        continue  # evicted (or never kept): the client is told, 400
                    assert found[0] == stream
                    assert found[1] == [(e, d) for e, d in events[i + 1 :] if d]

    trio.run(main)


async def test_an_event_over_the_bound_is_not_kept_nor_anything_before_it() -> None:
    store = InMemoryEventStore(max_bytes_per_session=1000)
    first = await store.store_event("s", "p1", b"")
    await store.store_event("s", "p1", b"small")
    big = await store.store_event("s", "p1", b"x" * 1000)
    after = await store.store_event("s", "p1", b"later")
    assert await store.replay_events_after("s", first) is None
    assert await store.replay_events_after("s", big) is None
    assert await store.replay_events_after("s", after) == ("p1", [])
    assert store.nbytes == len(b"later") + EVENT_OVERHEAD


async def test_the_total_bound_evicts_the_oldest_over_all_sessions() -> None:
    store = InMemoryEventStore(max_bytes=3 * (100 + EVENT_OVERHEAD))
    ids = [await store.store_event(f"s{i}", "g", b"x" * 100) for i in range(4)]
    assert await store.replay_events_after("s0", ids[0]) is None
    for i in (1, 2, 3):
        assert await store.replay_events_after(f"s{i}", ids[i]) == ("g", [])
    await store.forget_session("s1")
    assert store.nbytes == 2 * (100 + EVENT_OVERHEAD)
    assert len(store) == 3  # s0 (empty, its ids still unique), s2, s3
