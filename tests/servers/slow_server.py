"""A test server with slow and misbehaving tools (used by the end-to-end tests).

* ``sleep(seconds)`` sleeps, counting how many sleeps started, finished and were
  cancelled, so a client can observe that its cancellation reached the handler;
* ``stats()`` returns those counters;
* ``shout(text)`` ``print()``s the text to stdout (which the server must divert
  to stderr) and returns it.
"""

from __future__ import annotations

import sys
from typing import TypedDict

import trio

from trio_mcp import Server

server = Server("slow", version="0.0.1", instructions="Slow tools for tests.")

_counts = {"started": 0, "finished": 0, "cancelled": 0}


class Stats(TypedDict):
    started: int
    finished: int
    cancelled: int


@server.tool()
async def sleep(seconds: float) -> str:
    """Sleep for ``seconds`` seconds."""
    _counts["started"] += 1
    try:
        await trio.sleep(seconds)
    except trio.Cancelled:
        _counts["cancelled"] += 1
        print(f"slow_server: sleep({seconds}) cancelled", file=sys.stderr, flush=True)
        raise
    _counts["finished"] += 1
    return f"slept {seconds}"


@server.tool()
async def stats() -> Stats:
    """How many sleeps started, finished and were cancelled."""
    return Stats(**_counts)  # type: ignore[typeddict-item]


@server.tool()
async def shout(text: str) -> str:
    """Print ``text`` to stdout (a stray print), then return it."""
    print(text)
    sys.stdout.flush()
    return text


@server.tool()
def shout_sync(text: str) -> str:
    """Like ``shout``, from a worker thread."""
    print(text, flush=True)
    return text


if __name__ == "__main__":
    server.run()
