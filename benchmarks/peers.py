"""The peers under test: how to spawn each one, and what its framework import is."""

from __future__ import annotations

import sys
from pathlib import Path

SERVERS = Path(__file__).resolve().parent / "servers"

# name -> (label, server argv, import statement used for the import-time figure)
PEERS: dict[str, tuple[str, list[str], str]] = {
    "trio_mcp": (
        "trio_mcp",
        [sys.executable, str(SERVERS / "trio_mcp_server.py")],
        "import trio_mcp",
    ),
    "trio_mcp_middleware": (
        "trio_mcp, 3 no-op middlewares",
        [sys.executable, str(SERVERS / "trio_mcp_middleware_server.py")],
        "import trio_mcp.middleware",
    ),
    "sdk_asyncio": (
        "official SDK MCPServer (asyncio)",
        [sys.executable, str(SERVERS / "sdk_server.py"), "asyncio"],
        "import mcp.server.mcpserver",
    ),
    "sdk_trio": (
        "official SDK MCPServer (trio backend)",
        [sys.executable, str(SERVERS / "sdk_server.py"), "trio"],
        "import mcp.server.mcpserver, trio",
    ),
    "fastmcp": (
        "fastmcp 4.x",
        [sys.executable, str(SERVERS / "fastmcp_server.py")],
        "import fastmcp",
    ),
    "raw_asyncio": (
        "raw asyncio loop",
        [sys.executable, str(SERVERS / "raw_asyncio_server.py")],
        "import asyncio, json",
    ),
    "floor": (
        "floor (blocking reads + orjson)",
        [sys.executable, str(SERVERS / "floor_server.py")],
        "import orjson",
    ),
}

BASELINE = "sdk_asyncio"
#: The suite's peers (the middleware variant is for benchmarks.compare only).
ORDER = [p for p in PEERS if p != "trio_mcp_middleware"]
