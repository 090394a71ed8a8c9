"""Peer for ``benchmarks/memory.py``: the official SDK's MCPServer (mcp 2.x), stdio or HTTP.

``python memory_sdk.py`` serves stdio; ``python memory_sdk.py http PORT``
Streamable HTTP on 127.0.0.1:PORT at /mcp (the SDK's defaults: no event store).
Tools: ``echo(text)``, ``blob(size)``.
"""

import sys

from mcp.server.mcpserver import MCPServer

mcp = MCPServer("memory", version="0.1.0")


@mcp.tool()
async def echo(text: str) -> str:
    """Echo the text back."""
    return text


@mcp.tool()
async def blob(size: int) -> str:
    """A text of ``size`` bytes."""
    return "x" * size


if __name__ == "__main__":
    if len(sys.argv) > 2 and sys.argv[1] == "http":
        mcp.run("streamable-http", port=int(sys.argv[2]))
    else:
        mcp.run()
