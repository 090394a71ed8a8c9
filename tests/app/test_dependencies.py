"""Dependencies: ``Depends(fn)`` in tools, resources and prompts; their exits; ``ctx.http``.

A dependency is entered before the handler and exited after it, in the request's own
task and cancel scope: the exit runs on success, on error, on a client's cancel and on
the deadline (MockClock). Dependencies never appear in the input schema.
"""

# No ``from __future__ import annotations``: the dependencies below are local
# functions, which string annotations could not name (``get_type_hints``).
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from typing import Annotated, Any

import pytest
import trio
import trio.testing

from trio_mcp import Context, Depends, McpError, Server
from trio_mcp.testing import connect


class Pool:
    """A stand-in connection pool that records what happens to each connection."""

    def __init__(self) -> None:
        self.log: list[str] = []
        self.count = 0

    @asynccontextmanager
    async def connection(self) -> AsyncIterator[str]:
        self.count += 1
        name = f"conn{self.count}"
        self.log.append(f"open {name}")
        try:
            yield name
        finally:
            await trio.lowlevel.checkpoint()  # releasing awaits: it must survive a cancel
            self.log.append(f"close {name}")


def build(pool: Pool, **kw: Any) -> Server:
    server = Server("deps", "1.0", **kw)

    async def get_db(ctx: Context) -> AsyncIterator[str]:  # an async generator
        assert isinstance(ctx, Context)
        async with pool.connection() as conn:
            yield conn

    def settings() -> dict[str, str]:  # plain def: a worker thread
        return {"region": "eu"}

    async def user(ctx: Context, db: Annotated[str, Depends(get_db)]) -> str:
        return f"user@{db}"

    @server.tool()
    async def query(sql: str, db: Annotated[str, Depends(get_db)]) -> str:
        pool.log.append(f"query {sql} on {db}")
        return db

    @server.tool()
    async def both(
        who: Annotated[str, Depends(user)],
        db: str = Depends(get_db),
        conf: dict[str, str] = Depends(settings),  # noqa: B008
    ) -> str:
        return f"{who} {db} {conf['region']}"

    @server.tool()
    async def fresh(
        a: Annotated[str, Depends(get_db, use_cache=False)],
        b: Annotated[str, Depends(get_db, use_cache=False)],
    ) -> str:
        return f"{a} {b}"

    @server.tool()
    async def slow(db: Annotated[str, Depends(get_db)], ctx: Context) -> str:
        pool.log.append("slow started")
        await trio.sleep(100)
        return "never"  # pragma: no cover

    @server.tool()
    async def fails(db: Annotated[str, Depends(get_db)]) -> str:
        raise RuntimeError("query failed")

    @server.tool()
    def sync_tool(db: Annotated[str, Depends(get_db)]) -> str:  # runs in a thread
        return f"sync {db}"

    @server.resource("db://{table}/count")
    async def count(table: str, db: Annotated[str, Depends(get_db)]) -> str:
        return f"{table} on {db}"

    @server.prompt()
    async def ask(topic: str, db: Annotated[str, Depends(get_db)]) -> str:
        return f"{topic} via {db}"

    return server


async def test_not_in_the_schema_and_solved_per_call() -> None:
    pool = Pool()
    server = build(pool)
    async with connect(server) as client:
        tools = {t["name"]: t for t in await client.list_tools()}
        assert tools["query"]["inputSchema"]["properties"] == {"sql": {"type": "string"}}
        assert tools["both"]["inputSchema"]["properties"] == {}
        result = await client.call_tool("query", {"sql": "select 1"})
        assert result["content"][0]["text"] == "conn1"
        assert pool.log == ["open conn1", "query select 1 on conn1", "close conn1"]
        # Arguments named like a dependency are refused, not injected
        bad = await client.call_tool("query", {"sql": "x", "db": "forged"})
        assert bad["isError"] and "db" in bad["content"][0]["text"]


async def test_cached_per_request_and_nested() -> None:
    pool = Pool()
    async with connect(build(pool)) as client:
        result = await client.call_tool("both")
        assert result["content"][0]["text"] == "user@conn1 conn1 eu"
        assert pool.log == ["open conn1", "close conn1"]
        pool.log.clear()
        result = await client.call_tool("fresh")
        assert result["content"][0]["text"] == "conn2 conn3"
        assert pool.log == ["open conn2", "open conn3", "close conn3", "close conn2"]


async def test_exit_runs_on_error_and_in_sync_tools() -> None:
    pool = Pool()
    async with connect(build(pool)) as client:
        result = await client.call_tool("fails")
        assert result["isError"] and "query failed" in result["content"][0]["text"]
        assert pool.log == ["open conn1", "close conn1"]
        result = await client.call_tool("sync_tool")
        assert result["content"][0]["text"] == "sync conn2"
        assert pool.log[-1] == "close conn2"


async def test_exit_runs_on_deadline_and_on_cancel(
    autojump_clock: trio.testing.MockClock,
) -> None:
    pool = Pool()
    async with connect(build(pool, timeout=5)) as client:
        result = await client.call_tool("slow")
        assert result["isError"] and "timed out after 5s" in result["content"][0]["text"]
        assert pool.log == ["open conn1", "slow started", "close conn1"]
        pool.log.clear()
        rid = await client.start_request("tools/call", {"name": "slow", "arguments": {}})
        await trio.sleep(1)
        await client.cancel(rid)
        await trio.sleep(1)
        assert pool.log == ["open conn2", "slow started", "close conn2"]


async def test_resources_and_prompts() -> None:
    pool = Pool()
    async with connect(build(pool), era="modern") as client:
        read = await client.read_resource("db://users/count")
        assert read["contents"][0]["text"] == "users on conn1"
        prompt = await client.get_prompt("ask", {"topic": "sales"})
        assert prompt["messages"][0]["content"]["text"] == "sales via conn2"
        prompts = await client.list_prompts()
        assert [a["name"] for a in prompts[0]["arguments"]] == ["topic"]
        with pytest.raises(McpError):
            await client.get_prompt("ask", {"topic": "x", "db": "forged"})
    assert pool.log == ["open conn1", "close conn1", "open conn2", "close conn2"]


async def test_sync_context_managers_and_decorated_ones() -> None:
    events: list[str] = []

    @contextmanager
    def decorated() -> Iterator[str]:
        events.append("enter decorated")
        yield "d"
        events.append("exit decorated")

    def generator() -> Iterator[str]:
        events.append("enter generator")
        yield "g"
        events.append("exit generator")

    async def plain_async() -> str:
        return "p"

    server = Server("s", "1")

    @server.tool()
    async def use(
        a: Annotated[str, Depends(decorated)],
        b: Annotated[str, Depends(generator)],
        c: Annotated[str, Depends(plain_async)],
    ) -> str:
        events.append("tool")
        return a + b + c

    async with connect(server) as client:
        assert (await client.call_tool("use"))["content"][0]["text"] == "dgp"
    assert events == [
        "enter decorated",
        "enter generator",
        "tool",
        "exit generator",
        "exit decorated",
    ]


def test_refused_at_registration() -> None:
    server = Server("s", "1")

    def needs(x: int) -> int:  # a parameter that is neither Context nor Depends
        return x

    with pytest.raises(TypeError, match="neither a Context"):

        @server.tool()
        async def t(v: Annotated[int, Depends(needs)]) -> int:
            return v

    def loop(v: Any = None) -> Any:
        return v

    loop.__defaults__ = (Depends(loop),)  # a dependency on itself
    with pytest.raises(TypeError, match="depends on itself"):

        @server.tool()
        async def u(v: Annotated[int, Depends(loop)]) -> int:
            return v


async def test_ctx_http_is_none_over_streams() -> None:
    server = Server("s", "1")

    @server.tool()
    async def where(ctx: Context) -> str:
        return repr(ctx.http)

    async with connect(server) as client:
        assert (await client.call_tool("where"))["content"][0]["text"] == "None"
