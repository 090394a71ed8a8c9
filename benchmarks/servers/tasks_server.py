"""The server of ``benchmarks/redis_tasks.py``: one task-capable tool that answers at once."""

from __future__ import annotations

from trio_mcp import Server

server = Server("tasks-bench")


@server.tool(task="optional")
async def quick() -> str:
    return "done"
