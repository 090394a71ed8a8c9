"""Middleware: the chain's order and hooks, what a middleware may do, and the built-ins.

Every test drives a real server through the in-memory client (real JSON-RPC over
the real runtime); time is Trio's MockClock wherever it matters.
"""

from __future__ import annotations

import itertools
import logging
from typing import Any

import pytest
import trio
import trio.testing

from trio_mcp import Context, McpError, Server
from trio_mcp.middleware import (
    CallNext,
    ErrorMasking,
    Middleware,
    Notification,
    NotifyNext,
    RateLimit,
    RequestLogging,
    ResponseCache,
    Timing,
    retry,
    retrying,
)
from trio_mcp.testing import connect


def build(**kw: Any) -> Server:
    server = Server("mw", "1.0", **kw)

    @server.tool()
    async def echo(text: str) -> str:
        return text

    @server.tool()
    async def boom() -> str:
        raise RuntimeError("secret path /srv/db/password")

    @server.tool()
    async def internal() -> str:
        raise McpError(-32603, "Internal error: db at 10.0.0.7 refused")

    @server.resource("data://n")
    async def n() -> str:
        return "n"

    @server.prompt()
    async def hello(who: str) -> str:
        return f"hello {who}"

    return server


def text(result: dict[str, Any]) -> str:
    value: str = result["content"][0]["text"]
    return value


# ------------------------------------------------------------------ the chain


@pytest.mark.parametrize("era", ["legacy", "modern"])
async def test_order_functions_and_hooks(era: str) -> None:
    seen: list[str] = []

    def tracer(label: str) -> Any:
        async def mw(ctx: Context, call_next: CallNext) -> dict[str, Any]:
            seen.append(f"{label}>{ctx.method}")
            result = await call_next(ctx)
            seen.append(f"<{label}")
            return result

        return mw

    class Hooks(Middleware):
        async def on_request(self, ctx: Context, call_next: CallNext) -> dict[str, Any]:
            seen.append("req")
            return await call_next(ctx)

        async def on_call_tool(self, ctx: Context, call_next: CallNext) -> dict[str, Any]:
            seen.append(f"tool {ctx.params['name']}")
            return await call_next(ctx)

        async def on_read_resource(self, ctx: Context, call_next: CallNext) -> dict[str, Any]:
            seen.append(f"read {ctx.params['uri']}")
            return await call_next(ctx)

    server = build(middleware=[tracer("a")])
    server.add_middleware(Hooks())
    server.add_middleware(tracer("b"))
    async with connect(server, era=era) as client:  # type: ignore[arg-type]
        assert text(await client.call_tool("echo", {"text": "x"})) == "x"
        assert seen == ["a>tools/call", "req", "tool echo", "b>tools/call", "<b", "<a"]
        seen.clear()
        await client.read_resource("data://n")
        assert seen == ["a>resources/read", "req", "read data://n", "b>resources/read", "<b", "<a"]
        seen.clear()
        await client.list_tools()  # Hooks has no on_list_tools: only on_request
        assert seen == ["a>tools/list", "req", "b>tools/list", "<b", "<a"]
    assert len(server.middleware) == 3


async def test_short_circuit_rewrite_params_and_result() -> None:
    class Shout(Middleware):
        async def on_call_tool(self, ctx: Context, call_next: CallNext) -> dict[str, Any]:
            if ctx.params["name"] == "blocked":
                return {"content": [{"type": "text", "text": "not today"}], "isError": True}
            args = dict(ctx.params.get("arguments") or {})
            if "text" in args:
                args["text"] = args["text"] + "!"
            ctx.params = {**ctx.params, "arguments": args}
            result = await call_next(ctx)
            result["content"][0]["text"] = result["content"][0]["text"].upper()
            return result

    server = build(middleware=[Shout()])
    async with connect(server) as client:
        assert text(await client.call_tool("echo", {"text": "hi"})) == "HI!"
        blocked = await client.call_tool("blocked")  # no such tool: never reached
        assert blocked["isError"] and text(blocked) == "not today"


async def test_raise_mcp_error_and_other_exceptions_go_through_the_one_boundary() -> None:
    async def refuse(ctx: Context, call_next: CallNext) -> dict[str, Any]:
        if ctx.method == "prompts/get":
            raise McpError(-32042, "no prompts today", {"why": "policy"})
        if ctx.method == "resources/read":
            raise ValueError("a bug in middleware")
        return await call_next(ctx)

    async with connect(build(middleware=[refuse])) as client:
        with pytest.raises(McpError) as info:
            await client.get_prompt("hello", {"who": "x"})
        assert (info.value.code, info.value.data) == (-32042, {"why": "policy"})
        with pytest.raises(McpError) as info:
            await client.read_resource("data://n")
        assert (info.value.code, info.value.message) == (-32603, "Internal error")
        assert text(await client.call_tool("echo", {"text": "ok"})) == "ok"


async def test_deadline_and_cancel_reach_a_middleware(
    autojump_clock: trio.testing.MockClock,
) -> None:
    events: list[str] = []

    class Slow(Middleware):
        async def on_call_tool(self, ctx: Context, call_next: CallNext) -> dict[str, Any]:
            events.append(f"deadline {trio.current_effective_deadline() - trio.current_time():g}")
            try:
                await trio.sleep(100)  # slower than the request's 5 s deadline
            except trio.Cancelled:
                events.append("cancelled")
                raise
            return await call_next(ctx)  # pragma: no cover

    server = build(middleware=[Slow()], timeout=5)
    async with connect(server) as client:
        result = await client.call_tool("echo", {"text": "x"})
        assert result["isError"] and "timed out after 5s" in text(result)
        assert events == ["deadline 5", "cancelled"]
        events.clear()
        rid = await client.start_request("tools/call", {"name": "echo", "arguments": {"text": "y"}})
        await trio.sleep(1)
        await client.cancel(rid)
        await trio.sleep(1)
        assert events == ["deadline 5", "cancelled"]


async def test_notification_hook() -> None:
    heard: list[Notification] = []

    class Listen(Middleware):
        async def on_notification(self, note: Notification, call_next: NotifyNext) -> None:
            heard.append(note)
            await call_next(note)

    async with connect(build(middleware=[Listen()])) as client:
        await client.notify("notifications/roots/list_changed", {})
        await client.ping()  # the notification was read before the ping's answer
        assert [n.method for n in heard] == ["notifications/roots/list_changed"]


def test_add_middleware_refuses_what_is_not_one() -> None:
    with pytest.raises(TypeError):
        Server("x", middleware=[42])  # type: ignore[list-item]


# ----------------------------------------------------------------- built-ins


async def test_timing_records_on_ctx_and_stats(autojump_clock: trio.testing.MockClock) -> None:
    server = Server("t", "1")
    seen: dict[str, float] = {}

    @server.tool()
    async def nap(ctx: Context) -> str:
        await trio.sleep(2)
        return "ok"

    async def report(ctx: Context, call_next: CallNext) -> dict[str, Any]:
        result = await call_next(ctx)
        seen.update(ctx.timings)
        return result

    timing = Timing()
    server.add_middleware(report)
    server.add_middleware(timing)
    async with connect(server) as client:
        await client.call_tool("nap")
        await client.call_tool("nap")
    assert seen == {"total": 2.0}
    stats = timing.stats["tools/call"]
    assert (stats.count, stats.total, stats.max, stats.mean) == (2, 4.0, 2.0, 2.0)


async def test_request_logging(caplog: pytest.LogCaptureFixture) -> None:
    server = build(middleware=[RequestLogging(include_params=True), Timing()])
    caplog.set_level(logging.INFO, logger="trio_mcp.requests")
    async with connect(server) as client:
        await client.call_tool("echo", {"text": "x"})
        await client.call_tool("boom")
        with pytest.raises(McpError):
            await client.get_prompt("nope")
    records = [r for r in caplog.records if r.name == "trio_mcp.requests"]
    fields = [r.mcp for r in records]  # type: ignore[attr-defined]
    assert [(f["method"], f["target"], f["outcome"], f["code"]) for f in fields] == [
        ("tools/call", "echo", "ok", None),
        ("tools/call", "boom", "tool_error", None),
        ("prompts/get", "nope", "error", -32602),
    ]
    assert fields[0]["params"]["arguments"] == {"text": "x"}
    assert "total" in fields[0]["timings"]
    assert records[0].getMessage().startswith("tools/call echo id=")
    assert records[2].levelno == logging.WARNING


async def test_error_masking(caplog: pytest.LogCaptureFixture) -> None:
    async def bug(ctx: Context, call_next: CallNext) -> dict[str, Any]:
        if ctx.method == "prompts/get" and ctx.params["name"] == "hello":
            raise KeyError("inner detail")
        return await call_next(ctx)

    server = build(middleware=[ErrorMasking("Something went wrong"), bug])
    async with connect(server) as client:
        result = await client.call_tool("boom")
        assert result == {
            "content": [{"type": "text", "text": "Error executing tool boom"}],
            "isError": True,
        }
        with pytest.raises(McpError) as info:
            await client.call_tool("internal")
        assert (info.value.code, info.value.message, info.value.data) == (
            -32603,
            "Something went wrong",
            None,
        )
        with pytest.raises(McpError) as info:
            await client.get_prompt("hello", {"who": "x"})
        assert info.value.message == "Something went wrong"
        with pytest.raises(McpError) as info:  # meant for the client: unchanged
            await client.get_prompt("nope")
        assert info.value.code == -32602 and "nope" in info.value.message
        assert text(await client.call_tool("echo", {"text": "fine"})) == "fine"
    logged = "\n".join(r.getMessage() + (r.exc_text or "") for r in caplog.records)
    assert "secret path" in logged and "inner detail" in logged  # the detail: the log only


async def test_rate_limit_per_client(autojump_clock: trio.testing.MockClock) -> None:
    limit = RateLimit(rate=1, burst=2, methods={"tools/call"})
    server = build(middleware=[limit])
    async with connect(server) as a, connect(server) as b:
        await a.call_tool("echo", {"text": "1"})
        await a.call_tool("echo", {"text": "2"})
        with pytest.raises(McpError) as info:
            await a.call_tool("echo", {"text": "3"})
        assert info.value.code == -32050
        assert info.value.data == {"retryAfter": 1.0}
        await a.list_tools()  # not a limited method
        await b.call_tool("echo", {"text": "other client"})  # its own bucket
        await trio.sleep(1)
        await a.call_tool("echo", {"text": "refilled"})
        with pytest.raises(McpError):
            await a.call_tool("echo", {"text": "again"})


def test_rate_limit_arguments() -> None:
    with pytest.raises(ValueError):
        RateLimit(rate=0)
    with pytest.raises(ValueError):
        RateLimit(rate=1, burst=0.5)


async def test_response_cache_ttl_and_invalidation(
    autojump_clock: trio.testing.MockClock,
) -> None:
    server = Server("c", "1")
    reads = {"count": 0}

    @server.resource("data://counter")
    async def counter() -> str:
        reads["count"] += 1
        return str(reads["count"])

    @server.tool()
    async def a() -> str:
        return "a"

    cache = ResponseCache(ttl=10)
    server.add_middleware(cache)
    async with connect(server) as client:
        first = await client.read_resource("data://counter")
        again = await client.read_resource("data://counter")
        assert first == again and reads["count"] == 1
        await trio.sleep(11)  # the TTL ended
        assert (await client.read_resource("data://counter"))["contents"][0]["text"] == "2"
        server.notify_resource_updated("data://counter")  # changed: dropped at once
        assert (await client.read_resource("data://counter"))["contents"][0]["text"] == "3"

        assert [t["name"] for t in await client.list_tools()] == ["a"]

        @server.tool()
        async def b() -> str:
            return "b"

        assert [t["name"] for t in await client.list_tools()] == ["a", "b"]  # list_changed
        await client.list_tools()
        server.disable(names=["a"])
        assert [t["name"] for t in await client.list_tools()] == ["b"]
    assert cache.hits >= 2 and cache.misses >= 4


async def test_response_cache_keeps_eras_apart_and_returns_copies() -> None:
    server = build()
    server.add_middleware(ResponseCache(ttl=60))
    async with connect(server) as legacy, connect(server, era="modern") as modern:
        one = await legacy.request("tools/list")
        one["tools"].clear()  # the client's copy: not the cache's
        assert len((await legacy.request("tools/list"))["tools"]) == 3
        assert (await modern.request("tools/list"))["resultType"] == "complete"


def test_response_cache_refuses_other_methods() -> None:
    with pytest.raises(ValueError):
        ResponseCache(methods={"tools/call"})


async def test_retry(autojump_clock: trio.testing.MockClock) -> None:
    calls: list[float] = []

    async def flaky() -> str:
        calls.append(trio.current_time())
        if len(calls) < 3:
            raise ConnectionError("down")
        return "up"

    assert await retry(flaky, attempts=3, backoff=1, jitter=False) == "up"
    assert [b - a for a, b in itertools.pairwise(calls)] == [1.0, 2.0]

    calls.clear()
    with pytest.raises(ConnectionError):
        await retry(flaky, attempts=2, backoff=1)
    assert len(calls) == 2

    async def wrong() -> str:
        raise KeyError("not retried")

    with pytest.raises(KeyError):
        await retry(wrong, retry_on=ConnectionError)

    calls.clear()
    with trio.move_on_after(1.5):  # the next wait (2 s) would pass the deadline: fail now
        with pytest.raises(ConnectionError):
            await retry(flaky, attempts=5, backoff=1, jitter=False)
    assert len(calls) == 2

    @retrying(attempts=3, backoff=0.5)
    async def decorated(n: int) -> int:
        calls.append(trio.current_time())
        if len(calls) % 3:
            raise ConnectionError
        return n

    calls.clear()
    assert await decorated(7) == 7 and len(calls) == 3
    with pytest.raises(ValueError):
        await retry(flaky, attempts=0)
