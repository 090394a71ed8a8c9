"""Peer for ``benchmarks/memory.py``: trio_mcp with its defaults, over stdio or HTTP.

``python memory_trio_mcp.py`` serves stdio; ``python memory_trio_mcp.py http PORT``
Streamable HTTP on 127.0.0.1:PORT at /mcp. Tools: ``echo(text)``, ``blob(size)``.
"""

import sys

from trio_mcp import Server

server = Server("memory", version="0.1.0")


@server.tool()
async def echo(text: str) -> str:
    """Echo the text back."""
    return text


@server.tool()
async def blob(size: int) -> str:
    """A text of ``size`` bytes."""
    return "x" * size


if __name__ == "__main__":
    if len(sys.argv) > 2 and sys.argv[1] == "http":
        server.run("http", port=int(sys.argv[2]))
    else:
        server.run()
