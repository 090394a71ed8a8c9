"""A peer for trio_mcp.Client: fastmcp 4.x (asyncio), over stdio or HTTP, banner off.

``python fastmcp_peer.py`` serves stdio; ``python fastmcp_peer.py http PORT``
Streamable HTTP. ``sleep`` records its cancellation in ``PEER_CANCEL_LOG``.
fastmcp 4.2.3 asks for input only in the legacy era (server requests); in
2026-07-28 its ``ctx.elicit`` refuses ("unavailable on 2026-07-28 connections").
"""

import asyncio
import os
import sys

from fastmcp import Context, FastMCP
from mcp_types import SamplingMessage, TextContent

mcp = FastMCP("fastmcp-peer")


@mcp.tool()
async def echo(text: str) -> str:
    """Echo the text back."""
    return text


@mcp.tool()
async def add(a: int, b: int) -> int:
    """Add two integers."""
    return a + b


@mcp.tool()
async def sleep(seconds: float) -> str:
    """Sleep, then answer."""
    try:
        await asyncio.sleep(seconds)
    except asyncio.CancelledError:
        with open(os.environ["PEER_CANCEL_LOG"], "a") as f:
            f.write("cancelled\n")
        raise
    return "slept"


@mcp.tool()
async def ask(ctx: Context) -> str:
    """Ask the user for a name (elicitation)."""
    result = await ctx.elicit("What is your name?", response_type=str)
    return f"hello {getattr(result, 'data', None)} ({result.action})"


@mcp.tool()
async def think(ctx: Context) -> str:
    """Ask the client's model (sampling; fastmcp 4.2 has no ctx.sample: the SDK session's)."""
    message = SamplingMessage(role="user", content=TextContent(type="text", text="a haiku"))
    reply = await ctx.session.create_message([message], max_tokens=50)
    return f"model said: {getattr(reply.content, 'text', reply.content)}"


if __name__ == "__main__":
    if len(sys.argv) > 2 and sys.argv[1] == "http":
        mcp.run(transport="http", port=int(sys.argv[2]), show_banner=False)
    else:
        mcp.run(show_banner=False)
