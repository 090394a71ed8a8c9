"""The server's lifespan: its state, its supervised background tasks, a TTL cache's sweeper.

All of it lives in ``server.running()``: entered before the first request, exited
(background tasks cancelled, then the lifespan) after the last. In memory, under
``MockClock`` where time matters.
"""

from __future__ import annotations

from typing import Any

import trio
import trio.testing

from trio_mcp import Context, Server, TTLCache
from trio_mcp.testing import connect


async def test_ttl_cache_cleanup_task_runs_and_stops(
    autojump_clock: trio.testing.MockClock,
) -> None:
    server = Server("t")
    cache: TTLCache[str, int] = TTLCache(ttl=10, sweep_interval=5)
    server.background(cache.run)

    @server.tool()
    async def remember(key: str, value: int, ctx: Context) -> int:
        cache.set(key, value)
        ctx.cache.set(key, value)
        return len(cache)

    async with connect(server) as client:
        await client.call_tool("remember", {"key": "a", "value": 1})
        assert cache.get("a") == 1
        await trio.sleep(11)
        assert len(cache) == 1 or cache.sweeps >= 2
        await trio.sleep(5)
        assert len(cache) == 0  # swept from memory, not just hidden
        sweeps = cache.sweeps
        assert sweeps >= 3
    await trio.sleep(100)
    assert cache.sweeps == sweeps  # the task stopped with the server


async def test_lifespan_state_and_background_are_supervised() -> None:
    from contextlib import asynccontextmanager

    events: list[str] = []

    @asynccontextmanager
    async def lifespan(server: Server) -> Any:
        events.append("enter")
        yield {"db": "connected"}
        events.append("exit")

    server = Server("t", lifespan=lifespan)

    @server.background
    async def ticker() -> None:
        try:
            await trio.sleep_forever()
        finally:
            events.append("ticker stopped")

    @server.tool()
    async def state(ctx: Context) -> str:
        return str(ctx.state["db"])

    async with connect(server) as client:
        assert (await client.call_tool("state"))["content"][0]["text"] == "connected"
    assert events == ["enter", "ticker stopped", "exit"]
