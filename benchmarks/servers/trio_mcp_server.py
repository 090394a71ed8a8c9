"""Peer: trio_mcp. ``http native|hypercorn PORT [WORKERS]``: Streamable HTTP instead of stdio."""

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


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "http":
        workers = int(sys.argv[4]) if len(sys.argv) > 4 else 1
        server.run(
            transport="http", port=int(sys.argv[3]), http_server=sys.argv[2], workers=workers
        )
    else:
        server.run()
