"""Peer: trio_mcp. ``http native|hypercorn PORT [WORKERS]``: Streamable HTTP instead of stdio.

``register`` and ``broadcast`` serve the SSE fan-out (``benchmarks/http_fanout.py``):
every legacy session hears a change of the tool list, so ``register`` does
nothing and ``broadcast`` re-registers ``echo``: one
``notifications/tools/list_changed`` to every session's GET stream.
"""

import sys

import _cancel_log
import trio

from trio_mcp import Server

server = Server("bench", version="0.1.0", max_in_flight=20000)


@server.tool()
async def echo(text: str) -> str:
    """Echo the text back."""
    return text


@server.tool()
async def add(a: float, b: float) -> float:
    """Add two numbers."""
    return a + b


@server.tool()
async def sleep(seconds: float) -> str:
    """Sleep, then answer."""
    try:
        await trio.sleep(seconds)
    except trio.Cancelled:
        _cancel_log.record()
        raise
    return "ok"


@server.tool()
async def register() -> str:
    """Hear broadcasts (fan-out benchmark): every session does already."""
    return "ok"


@server.tool()
async def broadcast() -> str:
    """Tell every session that the tool list changed."""
    server.add_tool(server.tools["echo"], replace=True)
    return "ok"


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "http":
        workers = int(sys.argv[4]) if len(sys.argv) > 4 else 1
        server.run(
            transport="http", port=int(sys.argv[3]), http_server=sys.argv[2], workers=workers
        )
    else:
        server.run()
