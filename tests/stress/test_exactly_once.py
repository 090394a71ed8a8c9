"""Exactly once: every request not cancelled gets exactly one answer, over a long randomized run.

Random kinds (async work that may fail, deadlines, blocking threads), delays,
cancellations, all pipelined over one in-memory connection under ``MockClock``:
thousands of requests in well under a second. ``make stress`` (``TRIO_MCP_STRESS=1``)
runs 30,000 per seed instead of 2,000.
"""

from __future__ import annotations

import json
import os
import random
import time
from collections import Counter
from typing import Any

import pytest
import trio
import trio.testing
from _support.messages import tool_call

from trio_mcp import Context, McpError, Server
from trio_mcp._wire import LineBuffer, encode_line

STRESS = os.environ.get("TRIO_MCP_STRESS") == "1"


def exactly_once_server() -> tuple[Server, Counter[str]]:
    server = Server("x1", timeout=None, max_in_flight=64, grace=5)
    seen: Counter[str] = Counter()

    @server.tool()
    async def work(seconds: float, fail: int) -> str:
        seen["started"] += 1
        try:
            await trio.sleep(seconds)
        except trio.Cancelled:
            seen["cancelled"] += 1
            raise
        seen["finished"] += 1
        if fail == 1:
            raise ValueError("failed on purpose")
        if fail == 2:
            raise McpError(-32001, "refused on purpose")
        return "done"

    @server.tool(timeout=1.0)
    async def deadline(seconds: float, ctx: Context) -> str:
        seen["deadline"] += 1
        await trio.sleep(seconds)
        return "in time"

    @server.tool(timeout=1.0)
    def blocking(seconds: float) -> str:
        time.sleep(seconds / 1000)  # real time, tiny: a thread, cancelled or timed out
        return "thread done"

    return server, seen


async def run_exactly_once(n: int, seed: int) -> dict[str, int]:
    """``n`` requests with random kinds, delays, cancellations and deadlines, pipelined."""
    rng = random.Random(seed)
    server, seen = exactly_once_server()
    client, server_stream = trio.testing.memory_stream_pair()
    answers: Counter[int] = Counter()
    cancelled: set[int] = set()
    sent: list[int] = []
    lock = trio.StrictFIFOLock()

    async def send(msg: dict[str, Any]) -> None:
        async with lock:
            await client.send_all(encode_line(msg))

    async def read() -> None:
        buf = LineBuffer(1 << 30)
        while data := await client.receive_some(65536):
            for line in buf.feed(bytes(data)):
                msg = json.loads(line)  # type: ignore[arg-type]
                assert "id" in msg and ("result" in msg) != ("error" in msg), msg
                answers[msg["id"]] += 1

    async def cancel_later(rid: int, delay: float) -> None:
        await trio.sleep(delay)
        cancelled.add(rid)
        await send(
            {"jsonrpc": "2.0", "method": "notifications/cancelled", "params": {"requestId": rid}}
        )

    async with trio.open_nursery() as nursery:
        nursery.start_soon(server.serve, server_stream)
        nursery.start_soon(read)
        await send(
            {
                "jsonrpc": "2.0",
                "id": -1,
                "method": "initialize",
                "params": {"protocolVersion": "2025-11-25", "capabilities": {}},
            }
        )
        async with trio.open_nursery() as cancels:
            for rid in range(n):
                kind = rng.random()
                if kind < 0.6:
                    name, args = (
                        "work",
                        {"seconds": rng.choice([0, 0.001, 0.5, 3, 20]), "fail": rng.randrange(6)},
                    )
                elif kind < 0.85:
                    name, args = "deadline", {"seconds": rng.choice([0.2, 0.99, 1.0, 1.01, 5])}
                else:
                    name, args = "blocking", {"seconds": rng.choice([0, 1, 3])}
                await send(tool_call(rid, name, args))
                sent.append(rid)
                if rng.random() < 0.3:
                    cancels.start_soon(cancel_later, rid, rng.choice([0, 0, 0.001, 0.5, 1.0, 4]))
                if rng.random() < 0.1:
                    await trio.sleep(rng.random())
        await trio.sleep(30)  # everything still running ends (longest work is 20 s)
        await client.send_stream.aclose()
    assert max(answers.values()) == 1, [k for k, v in answers.items() if v > 1]
    assert set(answers) <= {*sent, -1}
    missing = [rid for rid in sent if rid not in cancelled and answers[rid] != 1]
    assert not missing, missing  # every request not cancelled: exactly one answer
    return {
        "requests": n,
        "cancelled": len(cancelled),
        "cancelled_unanswered": sum(1 for r in cancelled if not answers[r]),
        "handlers_cancelled": seen["cancelled"],
    }


@pytest.mark.parametrize("seed", [1, 2, 3])
async def test_exactly_once_randomized(seed: int, autojump_clock: trio.testing.MockClock) -> None:
    n = 30_000 if STRESS else 2_000
    with trio.fail_after(10_000):  # virtual seconds (MockClock); a hang still fails
        stats = await run_exactly_once(n, seed)
    print(f"\nexactly-once, seed {seed}: {stats}")
    assert stats["cancelled"] > 0 and stats["cancelled_unanswered"] > 0
