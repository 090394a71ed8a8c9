"""Load and soak (issue 7): nothing leaks over long runs, nothing is left after a cancel storm.

``make test`` runs a short version; ``make stress`` (``TRIO_MCP_STRESS=1``) the full one:

* 100,000 sequential and 100,000 pipelined calls (64 in flight) against the real
  stdio process; its RSS after warm-up vs at the end;
* 10,000 concurrent ``sleep`` calls, then all cancelled: every handler stops, and
  the server's Trio tasks, threads and RSS go back to where they were (checked
  with the ``diag`` tool of ``tests/servers/faulty_server.py``).

Each test prints its figures (run with ``-s`` to see them).
"""

from __future__ import annotations

import os
import time
from typing import Any

import trio
from _support.faulty import diag
from _support.messages import tool_call
from _support.paths import FAULTY
from _support.process import ServerProcess, rss_kib, spawn

STRESS = os.environ.get("TRIO_MCP_STRESS") == "1"
SEQUENTIAL = 100_000 if STRESS else 2_000
PIPELINED = 100_000 if STRESS else 5_000
DEPTH = 64
BURST = 10_000 if STRESS else 1_000
ROUNDS = 5  # a leak of one object per request would show as 3 x BURST blocks
WARMUP = 5_000 if STRESS else 1_000
#: Allowed RSS growth after warm-up. The issue says "a few MB".
RSS_SLACK_MIB = 4.0
LIMIT = 1800 if STRESS else 120


async def sequential(server: ServerProcess, n: int) -> None:
    for i in range(n):
        reply = await server.request("tools/call", {"name": "add", "arguments": {"a": i, "b": 1}})
        assert reply["result"]["content"][0]["text"] == f"{i + 1}.0", reply


async def pipelined(server: ServerProcess, n: int, depth: int, tag: str) -> None:
    """``n`` echo calls with ``depth`` in flight; every answer checked, exactly once."""
    slots = trio.Semaphore(depth)
    seen: set[int] = set()

    async def send() -> None:
        for i in range(n):
            await slots.acquire()
            await server.send(tool_call(f"{tag}{i}", "echo", {"text": str(i)}))

    async with trio.open_nursery() as nursery:
        nursery.start_soon(send)
        while len(seen) < n:
            msg = await server.recv()
            i = int(msg["id"].removeprefix(tag))
            assert i not in seen and msg["result"]["content"][0]["text"] == str(i), msg
            seen.add(i)
            slots.release()


async def test_soak_sequential_and_pipelined_rss_flat() -> None:
    with trio.fail_after(LIMIT):
        async with spawn(FAULTY) as server:
            await server.initialize()
            pid = server.process.pid
            await sequential(server, WARMUP)
            await pipelined(server, WARMUP, DEPTH, "w")
            before = rss_kib(pid)
            t0 = time.monotonic()
            await sequential(server, SEQUENTIAL)
            mid = rss_kib(pid)
            t1 = time.monotonic()
            await pipelined(server, PIPELINED, DEPTH, "p")
            t2 = time.monotonic()
            after = rss_kib(pid)
            d = await diag(server)
            await server.close_stdin()
            assert await server.process.wait() == 0
        grow = (after - before) / 1024
        print(
            f"\nsoak: {SEQUENTIAL:,} sequential in {t1 - t0:.1f}s "
            f"({SEQUENTIAL / (t1 - t0):,.0f}/s), {PIPELINED:,} pipelined x{DEPTH} in "
            f"{t2 - t1:.1f}s ({PIPELINED / (t2 - t1):,.0f}/s); server RSS after warm-up "
            f"{before / 1024:.1f} MiB, after sequential {mid / 1024:.1f} MiB, at end "
            f"{after / 1024:.1f} MiB (growth {grow:+.2f} MiB); tasks {d['tasks']}, "
            f"threads {d['threads']}"
        )
        assert grow < RSS_SLACK_MIB, grow


async def test_cancel_storm_leaves_nothing_behind() -> None:
    """``BURST`` sleeps at once, then all cancelled; ``ROUNDS`` times. Tasks and threads
    return to the idle count, and (``make stress``) live Python memory blocks do not grow
    from round to round."""
    with trio.fail_after(LIMIT):
        async with spawn(FAULTY, "--max-in-flight", str(BURST + 100)) as server:
            await server.initialize()
            idle = await diag(server)
            rounds: list[dict[str, Any]] = []
            for round_ in range(ROUNDS):
                for i in range(BURST):
                    await server.send(tool_call(f"{round_}-{i}", "sleep", {"seconds": 3600}))
                while (peak := await diag(server))["started"] < BURST * (round_ + 1):
                    await trio.sleep(0.05)
                assert peak["tasks"] >= idle["tasks"] + BURST
                for i in range(BURST):
                    await server.send(
                        {
                            "jsonrpc": "2.0",
                            "method": "notifications/cancelled",
                            "params": {"requestId": f"{round_}-{i}"},
                        }
                    )
                while (done := await diag(server))["cancelled"] < BURST * (round_ + 1):
                    await trio.sleep(0.05)
                rounds.append({"peak": peak, "done": done})
                # Every handler stopped; no task or thread is left behind.
                assert done["tasks"] == idle["tasks"], (idle, done)
                assert done["threads"] == idle["threads"], (idle, done)
                assert done["finished"] == 0
            # Nothing was answered for the cancelled ids (a ping goes straight through).
            assert (await server.request("ping"))["result"] == {}
            assert not server._stash, list(server._stash)[:5]
            await server.close_stdin()
            rest = await server.read_to_eof()
            assert [m for m in rest if "id" in m] == []
            assert await server.process.wait() == 0
        r1, r2 = rounds[0]["done"]["rss_kib"], rounds[-1]["done"]["rss_kib"]
        b1, b2 = rounds[0]["done"]["blocks"], rounds[-1]["done"]["blocks"]
        print(
            f"\ncancel storm of {BURST:,}: tasks idle {idle['tasks']}, peak "
            f"{rounds[0]['peak']['tasks']}, after {rounds[0]['done']['tasks']}; threads "
            f"{idle['threads']} -> {rounds[1]['done']['threads']}; RSS idle "
            f"{idle['rss_kib'] / 1024:.1f} MiB, peak {rounds[0]['peak']['rss_kib'] / 1024:.1f}, "
            f"after round 1 {r1 / 1024:.1f}, after round {ROUNDS} {r2 / 1024:.1f} MiB; Python "
            f"blocks idle {idle['blocks']:,}, after round 1 {b1:,}, after round {ROUNDS} {b2:,}"
        )
        # Live Python objects do not grow from round to round: a leak of even one
        # object per cancelled request adds BURST blocks per round, so over the rounds
        # between the first two and the last two it would add 3 x BURST. The count wanders
        # by a few thousand blocks between measurements (free lists, dict capacities), so
        # each end is the smaller of two rounds. (RSS is only reported: the allocator
        # keeps freed arenas, so it wanders by tens of MiB.)
        # In the short run (1,000 per round) that signal is below the noise (one-time
        # jumps of ~10,000 blocks were seen), so only `make stress` asserts it.
        blocks = [r["done"]["blocks"] for r in rounds]
        early, late = min(blocks[:2]), min(blocks[-2:])
        if STRESS:
            assert late - early < BURST * 3 // 2, blocks
