"""Peer: fastmcp 4.x (asyncio), banner off.

``http PORT [MODE]``: streamable HTTP on uvicorn instead; MODE ``stateless`` (the
default: stateless, JSON answers), ``session-json`` or ``session-sse``, as for the SDK.
"""

import asyncio
import sys

import _cancel_log
from fastmcp import FastMCP

mcp = FastMCP("bench")


@mcp.tool()
async def echo(text: str) -> str:
    """Echo the text back."""
    return text


@mcp.tool()
async def add(a: float, b: float) -> float:
    """Add two numbers."""
    return a + b


@mcp.tool()
async def sleep(seconds: float) -> str:
    """Sleep, then answer."""
    try:
        await asyncio.sleep(seconds)
    except asyncio.CancelledError:
        _cancel_log.record()
        raise
    return "ok"


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "http":
        mode = sys.argv[3] if len(sys.argv) > 3 else "stateless"
        asyncio.run(
            mcp.run_http_async(
                show_banner=False,
                host="127.0.0.1",
                port=int(sys.argv[2]),
                path="/mcp",
                log_level="warning",
                stateless_http=mode == "stateless",
                json_response=mode != "session-sse",
            )
        )
    else:
        mcp.run(show_banner=False)
