"""A server for the legacy scale-out test: run by ``trio-mcp run`` with ``TRIO_MCP_REDIS_URL`` set.

Every tool reports on the session it was called in, from whichever worker runs it:

* ``sample(prompt)``, ``ask()``: a sampling and an elicitation round trip with the client;
* ``count(n)``: ``n`` progress notifications, then ``counted n``;
* ``note(text)``: one log record outside the request (it goes on the GET stream);
* ``burst(n)``: ``n`` such records, ``burst <i>``, a little apart (a stream to kill a worker in);
* ``touch(uri)``: ``resources/updated`` for ``uri``; ``drop_spare()``: ``tools/list_changed``;
* ``stall()``: one progress notification, then never answers (a request to kill a worker in);
* ``forever()``: a task (``params.task``) that runs until cancelled;
* the resource ``file:///doc``, to subscribe to.
"""

from __future__ import annotations

import trio

from trio_mcp import Context, Server

server = Server("scaleout-legacy")
CONFIRM = {"type": "object", "properties": {"ok": {"type": "boolean"}}}


@server.tool()
async def sample(prompt: str, ctx: Context) -> str:
    got = await ctx.sample(prompt, max_tokens=10)
    return f"model said {got['content']['text']}"


@server.tool()
async def ask(ctx: Context) -> str:
    answer = await ctx.elicit("Sure?", CONFIRM)
    return f"{answer.action}:{(answer.content or {}).get('ok')}"


@server.tool()
async def count(n: int, ctx: Context) -> str:
    for i in range(1, n + 1):
        await ctx.report_progress(i, n)
    return f"counted {n}"


@server.tool()
async def note(text: str, ctx: Context) -> bool:
    return ctx.log_nowait("info", text)


@server.tool()
async def burst(n: int, ctx: Context) -> int:
    for i in range(n):
        ctx.log_nowait("info", f"burst {i}")
        await trio.sleep(0.01)
    return n


@server.tool()
async def stall(ctx: Context) -> str:
    await ctx.report_progress(1)
    await trio.sleep_forever()
    return "never"  # pragma: no cover


@server.tool(task="optional")
async def forever() -> str:
    await trio.sleep_forever()
    return "never"  # pragma: no cover


@server.tool()
def touch(uri: str, ctx: Context) -> int:
    return ctx.server.notify_resource_updated(uri)


@server.tool()
def spare() -> str:
    return "spare"


@server.tool()
def drop_spare(ctx: Context) -> str:
    ctx.server.remove_tool("spare")
    return "dropped"


@server.resource("file:///doc")
def doc() -> str:
    return "the doc"
