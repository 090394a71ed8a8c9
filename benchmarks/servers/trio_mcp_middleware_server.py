"""Peer: trio_mcp with three no-op middlewares (the cost per middleware; not in the suite).

The same tools as ``trio_mcp_server.py``; every request goes through a plain
function middleware, a :class:`~trio_mcp.middleware.Middleware` overriding
``on_request`` and one overriding ``on_call_tool``, each only calling next.
"""

from typing import Any

from trio_mcp_server import server

from trio_mcp import Context
from trio_mcp.middleware import CallNext, Middleware


async def passthrough(ctx: Context, call_next: CallNext) -> dict[str, Any]:
    return await call_next(ctx)


class OnRequest(Middleware):
    async def on_request(self, ctx: Context, call_next: CallNext) -> dict[str, Any]:
        return await call_next(ctx)


class OnCallTool(Middleware):
    async def on_call_tool(self, ctx: Context, call_next: CallNext) -> dict[str, Any]:
        return await call_next(ctx)


server.add_middleware(passthrough)
server.add_middleware(OnRequest())
server.add_middleware(OnCallTool())

if __name__ == "__main__":
    server.run()
