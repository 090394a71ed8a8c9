"""Peer: fastmcp 4.x (asyncio), banner off."""

import asyncio

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
    mcp.run(show_banner=False)
