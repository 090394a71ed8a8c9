"""Shutdown: one object holds the work in flight and the phase, for stdio and HTTP alike."""

from __future__ import annotations

import trio
import trio.testing

from trio_mcp._runtime import Shutdown


async def test_wait_idle_ends_with_the_last_handler_or_the_grace(
    autojump_clock: trio.testing.MockClock,
) -> None:
    state = Shutdown()
    state.begin()
    state.begin()
    state.end()
    state.draining = True
    start = trio.current_time()
    await state.wait_idle(2.0)  # one handler is left: the grace runs out
    assert trio.current_time() - start == 2.0 and state.count == 1
    assert not state.is_closing()
    state.closing = True
    assert state.is_closing()
    async with trio.open_nursery() as nursery:
        nursery.start_soon(state.wait_idle, 10.0)
        await trio.sleep(1.0)
        state.end()  # the last one ends: the waiter returns at once
    assert trio.current_time() - start == 3.0
    state.reset()
    assert (state.count, state.draining, state.closing) == (0, False, False)
    await state.wait_idle(5.0)  # nothing in flight: no wait
    assert trio.current_time() - start == 3.0
