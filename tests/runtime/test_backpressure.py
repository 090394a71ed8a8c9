"""Backpressure: a client that stops reading, and a huge result stuck in the pipe.

The server's memory stays bounded (in-flight cap + write backpressure) and no
handler stalls behind a slow reader; once the client reads, every answer arrives,
exactly once. Driven over real pipes against ``tests/servers/faulty_server.py``.
"""

from __future__ import annotations

import time
from collections import Counter

import trio
import trio.testing
from _support.messages import tool_call
from _support.paths import FAULTY
from _support.process import rss_kib, spawn

LIMIT = 60


async def test_client_stops_reading_memory_bounded_then_every_response_arrives() -> None:
    """The client sends 3,000 calls of 32 KiB results (~96 MiB) and reads nothing. The
    server's memory stays bounded (in-flight cap + write backpressure: it stops reading
    stdin, so the client's own writes block). Then the client reads: all 3,000 arrive."""
    n, size = 3000, 32 * 1024
    with trio.fail_after(LIMIT * 2):
        async with spawn(FAULTY, "--max-in-flight", "16") as server:
            await server.initialize()
            for _ in range(20):  # warm up with the same kind of call
                reply = await server.request(
                    "tools/call", {"name": "big", "arguments": {"size": size}}
                )
                assert len(reply["result"]["content"][0]["text"]) == size
            pid = server.process.pid
            base = rss_kib(pid)
            sent = 0

            async def sender() -> None:
                nonlocal sent
                for i in range(n):
                    await server.send(tool_call(i, "big", {"size": size}))
                    sent += 1

            async with trio.open_nursery() as nursery:
                nursery.start_soon(sender)
                # Wait until the sender is stuck: the pipes and the server's buffers are full.
                last, still = -1, 0
                while still < 10:
                    await trio.sleep(0.1)
                    still = still + 1 if sent == last else 0
                    last = sent
                stuck_at = sent
                peak = rss_kib(pid)
                got: Counter[int] = Counter()
                while sum(got.values()) < n:
                    msg = await server.recv()
                    assert len(msg["result"]["content"][0]["text"]) == size
                    got[msg["id"]] += 1
        grew_mib = (peak - base) / 1024
        print(
            f"\nstopped reading: sender stuck after {stuck_at}/{n} requests; "
            f"server RSS {base / 1024:.1f} -> {peak / 1024:.1f} MiB (+{grew_mib:.1f})"
        )
        assert stuck_at < n, "the client's writes never blocked: nothing pushed back"
        assert got == Counter(range(n))  # every response, exactly once
        # Unbounded buffering would hold ~96 MiB here; the bound is ~(16 + 256) x 32 KiB.
        assert grew_mib < 48, grew_mib


async def test_stalled_client_costs_the_write_bound_not_the_calls() -> None:
    """Issue 13, item 6: 20,000 calls of 1 KB, written while the client reads nothing.
    The writer's queue is bounded in bytes (256 KiB) and the reader pauses at the bound,
    so the server grows by far less than the 20 MB the calls carry (it grew 17 MB when
    only the count of messages and of requests in flight was bounded). Then every
    answer arrives, exactly once."""
    n, text = 20_000, "x" * 1000
    with trio.fail_after(LIMIT * 2):
        async with spawn(FAULTY) as server:
            await server.initialize()
            for _ in range(500):  # warm up with the same kind of call
                await server.request("tools/call", {"name": "echo", "arguments": {"text": text}})
            pid = server.process.pid
            base = rss_kib(pid)
            sent = 0

            async def sender() -> None:
                nonlocal sent
                for i in range(n):
                    await server.send(tool_call(i, "echo", {"text": text}))
                    sent += 1

            async with trio.open_nursery() as nursery:
                nursery.start_soon(sender)
                last, still, peak = -1, 0, base
                while still < 10 and sent < n:
                    await trio.sleep(0.1)
                    peak = max(peak, rss_kib(pid))
                    still = still + 1 if sent == last else 0
                    last = sent
                stuck_at = sent
                got: Counter[int] = Counter()
                while sum(got.values()) < n:
                    msg = await server.recv()
                    assert msg["result"]["content"][0]["text"] == text
                    got[msg["id"]] += 1
        grew_mib = (peak - base) / 1024
        print(f"\nstalled after {stuck_at}/{n} calls; server RSS +{grew_mib:.2f} MiB")
        assert stuck_at < n, "the client's writes never blocked: nothing pushed back"
        assert got == Counter(range(n))
        assert grew_mib < 5, grew_mib


async def test_five_megabyte_result_does_not_stall_other_handlers() -> None:
    """A 5 MB result is stuck in the pipe (the client is not reading). Twenty more calls
    are still handled meanwhile (each writes a mark on stderr); only their bytes wait
    behind the big one. Then the client reads: all 21 answers, the big one intact."""
    size = 5 * 1000 * 1000
    with trio.fail_after(LIMIT):
        async with spawn(FAULTY) as server:
            await server.initialize()
            await server.send(tool_call("big", "big", {"size": size}))
            await trio.sleep(0.2)
            for i in range(20):
                await server.send(tool_call(i, "mark", {"i": i}))
            while server.stderr_text().count("mark ") < 20:
                await trio.sleep(0.02)
            start = time.monotonic()
            big = await server.response("big")
            replies = [await server.response(i) for i in range(20)]
            took = time.monotonic() - start
        print(f"\n5 MB result + 20 queued answers read in {took * 1000:.0f} ms")
        assert len(big["result"]["content"][0]["text"]) == size
        assert [r["result"]["content"][0]["text"] for r in replies] == [str(i) for i in range(20)]
