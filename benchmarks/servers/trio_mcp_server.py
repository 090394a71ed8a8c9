"""Peer: trio_mcp."""

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
    server.run()
