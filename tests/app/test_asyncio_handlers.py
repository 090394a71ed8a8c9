"""Asyncio handlers through trio-asyncio (cancellation both ways) and anyio handlers."""

from __future__ import annotations

import asyncio

import anyio
import pytest
import trio

from trio_mcp import Server
from trio_mcp.testing import connect


def build(seen: list[str]) -> Server:
    server = Server("interop", timeout=5)

    @server.tool(asyncio=True)
    async def aio_fetch(text: str) -> str:
        """Pure asyncio code: asyncio.sleep and an asyncio.Queue."""
        queue: asyncio.Queue[str] = asyncio.Queue()
        loop = asyncio.get_running_loop()
        loop.call_later(0.01, queue.put_nowait, text.upper())
        return await queue.get()

    @server.tool(asyncio=True, timeout=0.5)
    async def aio_slow(seconds: float) -> str:
        try:
            await asyncio.sleep(seconds)
        except asyncio.CancelledError:
            seen.append("asyncio task cancelled")
            raise
        return "finished"

    @server.tool(asyncio=True)
    async def aio_fails() -> str:
        await asyncio.sleep(0)
        raise ConnectionError("upstream refused")

    @server.tool(asyncio=True)
    async def aio_cancels_itself() -> str:
        task = asyncio.current_task()
        assert task is not None
        task.cancel()
        await asyncio.sleep(1)
        return "unreachable"

    @server.tool()
    async def with_anyio(n: int) -> int:
        total = 0

        async def add(i: int) -> None:
            nonlocal total
            await anyio.sleep(0.001)
            total += i

        async with anyio.create_task_group() as tg:
            for i in range(n):
                tg.start_soon(add, i)
        with anyio.move_on_after(0.01):
            await anyio.sleep(1)
        return total

    return server


async def test_asyncio_tool_runs_on_asyncio() -> None:
    async with connect(build([])) as client:
        result = await client.call_tool("aio_fetch", {"text": "hi"})
    assert result["content"][0]["text"] == "HI"


async def test_trio_cancellation_reaches_asyncio() -> None:
    seen: list[str] = []
    async with connect(build(seen)) as client:
        # The deadline (0.5 s) cancels the asyncio task...
        with trio.fail_after(30):
            result = await client.call_tool("aio_slow", {"seconds": 60})
        assert result["isError"] is True and "timed out" in result["content"][0]["text"]
        assert seen == ["asyncio task cancelled"]
        # ...and so does a client's notifications/cancelled.
        rid = await client.start_request(
            "tools/call", {"name": "aio_slow", "arguments": {"seconds": 60}}
        )
        await trio.sleep(0.05)
        await client.cancel(rid)
        assert client.connection is not None
        with trio.fail_after(10):  # the asyncio side records first; the trio task ends after
            while len(seen) < 2 or client.connection.in_flight:
                await trio.sleep(0.01)


async def test_asyncio_errors_and_asyncio_side_cancellation_are_tool_errors() -> None:
    async with connect(build([])) as client:
        failed = await client.call_tool("aio_fails")
        assert failed["isError"] is True and "upstream refused" in failed["content"][0]["text"]
        cancelled = await client.call_tool("aio_cancels_itself")
        assert cancelled["isError"] is True
        assert "asyncio side cancelled" in cancelled["content"][0]["text"]
        # The server is still serving.
        assert (await client.call_tool("aio_fetch", {"text": "ok"}))["content"][0]["text"] == "OK"


async def test_anyio_handlers_run_on_trio() -> None:
    async with connect(build([])) as client:
        result = await client.call_tool("with_anyio", {"n": 10})
    assert result["content"][0]["text"] == "45"


def test_asyncio_flag_needs_async_def() -> None:
    server = Server("x")
    with pytest.raises(TypeError, match="async def"):

        @server.tool(asyncio=True)
        def sync_tool() -> None: ...
