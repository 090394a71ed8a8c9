"""Peers: the official SDK's MCPServer (mcp 2.x), on asyncio or (argv[1] == "trio") on trio.

``http PORT [MODE]``: streamable-http on uvicorn instead. MODE ``stateless`` (the
default: stateless, JSON answers, the SDK's fastest settings for a stateless POST),
``session-json`` (sessions, JSON answers) or ``session-sse`` (sessions, SSE answers).
All tools are ``async def``: a plain ``def`` tool would run in a worker thread.
``register`` and ``broadcast`` serve the SSE fan-out (``benchmarks/http_fanout.py``):
the SDK has no broadcast of its own, so a session registers itself by calling
``register``, and ``broadcast`` sends ``notifications/tools/list_changed`` to
every registered session (its standalone GET stream).
"""

import sys
from functools import partial

import _cancel_log
import anyio
from mcp.server.mcpserver import Context, MCPServer

mcp = MCPServer("bench", version="0.1.0")
sessions: set[object] = set()


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
        await anyio.sleep(seconds)
    except anyio.get_cancelled_exc_class():
        _cancel_log.record()
        raise
    return "ok"


@mcp.tool()
async def register(ctx: Context) -> str:
    """Hear broadcasts (fan-out benchmark)."""
    sessions.add(ctx.session)
    return "ok"


@mcp.tool()
async def broadcast() -> str:
    """Tell every registered session that the tool list changed."""
    for session in list(sessions):
        try:
            await session.send_tool_list_changed()  # type: ignore[attr-defined]
        except Exception:
            sessions.discard(session)
    return "ok"


if __name__ == "__main__":
    backend = sys.argv[1] if len(sys.argv) > 1 else "asyncio"
    if backend == "http":
        mode = sys.argv[3] if len(sys.argv) > 3 else "stateless"
        run = partial(
            mcp.run_streamable_http_async,
            host="127.0.0.1",
            port=int(sys.argv[2]),
            stateless_http=mode == "stateless",
            json_response=mode != "session-sse",
        )
        anyio.run(run)
    else:
        anyio.run(mcp.run_stdio_async, backend=backend)
