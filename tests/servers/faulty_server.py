"""A test server whose tools misbehave on purpose, plus a diagnostic tool (issue 7).

Run as ``python faulty_server.py [--grace S] [--max-in-flight N] [--timeout S]
[--max-message-size BYTES]``.

Tools:

* ``echo(text)``, ``add(a, b)``: quick answers (counted in ``finished``);
* ``sleep(seconds)``: counts started / finished / cancelled;
* ``boom()``: raises ``ValueError``;
* ``hang()``: awaits forever (counts started / cancelled);
* ``block(seconds)``: a *sync* tool that ``time.sleep``s in a worker thread and so
  ignores cancellation (counts threads currently blocked);
* ``big(size)``: a text result of ``size`` bytes;
* ``mark(i)``: writes ``mark <i>`` to stderr (lets a test watch handlers run while
  stdout is not being read) and returns ``i``;
* ``diag()``: what is alive in the process right now: Trio tasks (walked from the
  root task), Python threads, blocked sync tools, allocated Python memory blocks
  (after a full ``gc.collect()``), RSS and peak RSS in KiB, the counters above.

At exit the counters are printed to stderr as one ``faulty-exit {json}`` line,
after the connection has been drained and flushed.
"""

from __future__ import annotations

import argparse
import gc
import json
import sys
import threading
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import trio

from trio_mcp import Server

counts: dict[str, int] = {
    "started": 0,
    "finished": 0,
    "cancelled": 0,
    "quick": 0,
    "hung": 0,
    "blocked_started": 0,
    "blocked_finished": 0,
}
_lock = threading.Lock()


def count_tasks() -> int:
    """Every Trio task alive in this run, found by walking the task tree."""
    stack = [trio.lowlevel.current_root_task()]
    n = 0
    while stack:
        task = stack.pop()
        if task is None:
            continue
        n += 1
        for nursery in task.child_nurseries:
            stack.extend(nursery.child_tasks)
    return n


def memory_kib() -> tuple[int, int]:
    """(VmRSS, VmHWM) of this process in KiB (Linux), or (0, 0)."""
    rss = hwm = 0
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    rss = int(line.split()[1])
                elif line.startswith("VmHWM:"):
                    hwm = int(line.split()[1])
    except OSError:
        pass
    return rss, hwm


@asynccontextmanager
async def report_at_exit(server: Server) -> AsyncIterator[None]:
    try:
        yield None
    finally:
        print("faulty-exit " + json.dumps(counts), file=sys.stderr, flush=True)


def build(grace: float, max_in_flight: int, timeout: float | None, max_message_size: int) -> Server:
    server = Server(
        "faulty",
        version="0.0.1",
        grace=grace,
        max_in_flight=max_in_flight,
        timeout=timeout,
        max_message_size=max_message_size,
        lifespan=report_at_exit,
    )

    @server.tool()
    async def echo(text: str) -> str:
        """Echo the text back."""
        counts["quick"] += 1
        return text

    @server.tool()
    async def add(a: float, b: float) -> float:
        """Add two numbers."""
        counts["quick"] += 1
        return a + b

    @server.tool()
    async def sleep(seconds: float) -> str:
        """Sleep for ``seconds`` seconds."""
        counts["started"] += 1
        try:
            await trio.sleep(seconds)
        except trio.Cancelled:
            counts["cancelled"] += 1
            raise
        counts["finished"] += 1
        return f"slept {seconds}"

    @server.tool()
    async def boom() -> str:
        """Raise an exception."""
        raise ValueError("boom on purpose")

    @server.tool()
    async def hang() -> str:
        """Never return."""
        counts["hung"] += 1
        await trio.sleep_forever()
        raise AssertionError("unreachable")

    @server.tool()
    def block(seconds: float) -> str:
        """Block a worker thread, ignoring cancellation."""
        with _lock:
            counts["blocked_started"] += 1
        time.sleep(seconds)
        with _lock:
            counts["blocked_finished"] += 1
        return f"blocked {seconds}"

    @server.tool()
    async def big(size: int) -> str:
        """A text result of ``size`` bytes."""
        return "x" * size

    @server.tool()
    async def mark(i: int) -> int:
        """Write ``mark <i>`` to stderr and return ``i``."""
        print(f"mark {i}", file=sys.stderr, flush=True)
        return i

    @server.tool()
    async def diag() -> dict[str, Any]:
        """What is alive in the process right now."""
        gc.collect()
        rss, hwm = memory_kib()
        return {
            "tasks": count_tasks(),
            "threads": threading.active_count(),
            "blocked": counts["blocked_started"] - counts["blocked_finished"],
            "blocks": sys.getallocatedblocks(),  # Python heap objects: flat unless leaking
            "rss_kib": rss,
            "hwm_kib": hwm,
            **counts,
        }

    return server


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--grace", type=float, default=2.0)
    parser.add_argument("--max-in-flight", type=int, default=1024)
    parser.add_argument("--timeout", type=float, default=60.0)
    parser.add_argument("--max-message-size", type=int, default=4 * 1024 * 1024)
    args = parser.parse_args()
    build(args.grace, args.max_in_flight, args.timeout, args.max_message_size).run()


if __name__ == "__main__":
    main()
