"""One connection on memory streams, with MockClock: deadlines, cancellation, drain, load."""

from __future__ import annotations

from typing import Any

import pytest
import trio
import trio.testing

from trio_mcp import Context, McpError, Server
from trio_mcp._wire import encode_line
from trio_mcp.testing import connect


def make_server(**kw: Any) -> tuple[Server, dict[str, Any]]:
    server = Server("test", version="1.0", **kw)
    seen: dict[str, Any] = {"started": 0, "finished": 0, "cancelled": 0}

    @server.tool()
    async def add(a: float, b: float) -> float:
        """Add."""
        return a + b

    @server.tool()
    async def sleep(seconds: float) -> str:
        seen["started"] += 1
        try:
            await trio.sleep(seconds)
        except trio.Cancelled:
            seen["cancelled"] += 1
            raise
        seen["finished"] += 1
        return f"slept {seconds}"

    @server.tool(timeout=2.5)
    async def quick_deadline(ctx: Context) -> str:
        seen["deadline"] = ctx.cancel_scope.deadline
        await trio.sleep(10)
        return "never"

    return server, seen


async def test_call_and_list() -> None:
    server, _ = make_server()
    async with connect(server) as client:
        tools = await client.list_tools()
        assert [t["name"] for t in tools] == ["add", "sleep", "quick_deadline"]
        result = await client.call_tool("add", {"a": 1, "b": 2})
        assert result == {"content": [{"type": "text", "text": "3.0"}]}


async def test_deadline_fires(autojump_clock: trio.testing.MockClock) -> None:
    server, seen = make_server()
    async with connect(server) as client:
        start = trio.current_time()
        result = await client.call_tool("quick_deadline")
        assert trio.current_time() - start == pytest.approx(2.5)
        assert result["isError"] is True
        assert "timed out after 2.5s" in result["content"][0]["text"]
        assert seen["deadline"] == pytest.approx(start + 2.5)


async def test_server_default_deadline_for_tools(autojump_clock: trio.testing.MockClock) -> None:
    server, seen = make_server(timeout=5)
    async with connect(server) as client:
        result = await client.call_tool("sleep", {"seconds": 100})
        assert result["isError"] is True
        assert seen == {"started": 1, "finished": 0, "cancelled": 1}


async def test_cancelled_handler_stops_and_gets_no_response(
    autojump_clock: trio.testing.MockClock,
) -> None:
    server, seen = make_server()
    async with connect(server) as client:
        rid = await client.start_request(
            "tools/call", {"name": "sleep", "arguments": {"seconds": 50}}
        )
        await trio.sleep(1)
        assert seen["started"] == 1
        await client.cancel(rid)
        await trio.sleep(1)
        assert seen["cancelled"] == 1
        # The server is still serving, and nothing came back for the cancelled id.
        assert (await client.call_tool("add", {"a": 1, "b": 1}))["content"][0]["text"] == "2.0"
        await trio.sleep(100)
        assert seen["finished"] == 0
    assert client.unmatched == []
    assert client._waiters[rid].message is None


async def test_cancel_in_the_same_read_as_its_request_stops_the_handler(
    autojump_clock: trio.testing.MockClock,
) -> None:
    """The cancel arrives before the request's task started (one read holds both)."""
    server, seen = make_server()
    async with connect(server) as client:
        call = {
            "jsonrpc": "2.0",
            "id": "early",
            "method": "tools/call",
            "params": {"name": "sleep", "arguments": {"seconds": 50}},
        }
        cancel = {
            "jsonrpc": "2.0",
            "method": "notifications/cancelled",
            "params": {"requestId": "early"},
        }
        await client.transport.send_raw(encode_line(call) + encode_line(cancel))  # one write
        await trio.sleep(100)
        assert seen["finished"] == 0
        assert (await client.call_tool("add", {"a": 1, "b": 1}))["content"][0]["text"] == "2.0"
    assert client.unmatched == []


async def test_thousand_concurrent_calls_complete(autojump_clock: trio.testing.MockClock) -> None:
    server, seen = make_server()
    async with connect(server) as client:
        results: list[dict[str, Any]] = []

        async def one(i: int) -> None:
            results.append(await client.call_tool("sleep", {"seconds": 1 + (i % 7) / 10}))

        async with trio.open_nursery() as nursery:
            for i in range(1000):
                nursery.start_soon(one, i)
    assert len(results) == 1000
    assert all("isError" not in r for r in results)
    assert seen["finished"] == 1000


async def test_in_flight_cap_pauses_reading(autojump_clock: trio.testing.MockClock) -> None:
    server, seen = make_server(max_in_flight=4)
    async with connect(server) as client:
        for _ in range(10):
            await client.start_request("tools/call", {"name": "sleep", "arguments": {"seconds": 5}})
        await trio.sleep(1)
        assert seen["started"] == 4
        assert client.connection is not None and client.connection.in_flight == 4
        await trio.sleep(5)
        assert seen["started"] == 8
        await trio.sleep(20)
        assert seen["finished"] == 10


async def test_eof_with_100_in_flight_ends_within_grace(
    autojump_clock: trio.testing.MockClock,
) -> None:
    server, seen = make_server(grace=2.0)
    start = trio.current_time()
    async with connect(server) as client:
        ids = [
            await client.start_request(
                "tools/call", {"name": "sleep", "arguments": {"seconds": 1000}}
            )
            for _ in range(100)
        ]
        await trio.sleep(0.5)
        assert seen["started"] == 100
    # connect() closed stdin-equivalent and waited for serve() to return.
    elapsed = trio.current_time() - start
    assert elapsed == pytest.approx(2.5)
    assert seen["cancelled"] == 100
    # Every request still got exactly one answer: a shutdown error.
    for rid in ids:
        message = client._waiters[rid].message
        assert message is not None and message["error"]["code"] == -32603
        assert "shutting down" in message["error"]["message"]


async def test_eof_lets_quick_calls_finish(autojump_clock: trio.testing.MockClock) -> None:
    server, seen = make_server(grace=2.0)
    async with connect(server) as client:
        ids = [
            await client.start_request("tools/call", {"name": "sleep", "arguments": {"seconds": 1}})
            for _ in range(5)
        ]
    for rid in ids:
        message = client._waiters[rid].message
        assert message is not None and message["result"]["content"][0]["text"] == "slept 1.0"
    assert seen["finished"] == 5


async def test_mcp_error_becomes_jsonrpc_error() -> None:
    server = Server("t")

    @server.tool()
    async def quota() -> str:
        raise McpError(-32001, "Quota exceeded", {"retryAfter": 30})

    @server.tool()
    async def boom() -> str:
        raise ValueError("kaboom")

    async with connect(server) as client:
        with pytest.raises(McpError) as info:
            await client.call_tool("quota")
        assert (info.value.code, info.value.message, info.value.data) == (
            -32001,
            "Quota exceeded",
            {"retryAfter": 30},
        )
        result = await client.call_tool("boom")
        assert result["isError"] is True
        assert "kaboom" in result["content"][0]["text"]
        assert "Traceback" not in result["content"][0]["text"]


async def test_sync_tool_runs_in_thread_without_blocking_loop() -> None:
    import threading

    server = Server("t")
    main = threading.get_ident()
    release = threading.Event()

    @server.tool()
    def blocking() -> bool:
        release.wait(10)
        return threading.get_ident() != main

    @server.tool()
    async def ping_tool() -> str:
        return "pong"

    async with connect(server) as client:
        rid = await client.start_request("tools/call", {"name": "blocking"})
        # The loop is free while the thread blocks.
        assert (await client.call_tool("ping_tool"))["content"][0]["text"] == "pong"
        release.set()
        message = await client.response(rid)
        assert message["result"]["content"][0]["text"] == "true"


async def test_stop_drains_gracefully(autojump_clock: trio.testing.MockClock) -> None:
    server, _ = make_server(grace=3)
    async with connect(server) as client:
        rid = await client.start_request(
            "tools/call", {"name": "sleep", "arguments": {"seconds": 2}}
        )
        await trio.sleep(0.1)
        assert client.connection is not None
        client.connection.stop()
        message = await client.response(rid)
        assert message["result"]["content"][0]["text"] == "slept 2.0"


async def test_shutdown_is_bounded_when_the_client_never_reads(
    autojump_clock: trio.testing.MockClock,
) -> None:
    server, _ = make_server(grace=2.0)
    client_stream, server_stream = trio.testing.lockstep_stream_pair()
    start = trio.current_time()
    with trio.fail_after(60):  # without the bounded flush, this hangs forever
        async with trio.open_nursery() as nursery:
            await nursery.start(server.serve, server_stream)
            for i in range(5):  # answers pile up: nobody reads them
                line = b'{"jsonrpc":"2.0","id":%d,"method":"ping"}\n' % i
                await client_stream.send_stream.send_all(line)
            await client_stream.send_stream.aclose()  # EOF, and still never read
    # serve() returned: grace (nothing in flight, so none used) + the bounded flush.
    assert trio.current_time() - start <= 2.0 + 0.01


async def test_a_flood_of_progress_never_hangs_the_connection() -> None:
    """Other SDKs' bug: progress notifications that wedge stdio. Here a tool sends 5,000
    of them while other requests keep being answered, all arrive in order, and nothing
    is sent for the request after its response."""
    server = Server("p")

    @server.tool()
    async def busy(n: int, ctx: Context) -> str:
        for i in range(n):
            await ctx.report_progress(i + 1, n)
        return "done"

    with trio.fail_after(30):
        async with connect(server) as client:
            rid = await client.start_request(
                "tools/call",
                {"name": "busy", "arguments": {"n": 5000}},
                meta={"progressToken": "t"},
            )
            for _ in range(20):  # the connection stays responsive meanwhile
                assert await client.ping() == {}
            message = await client.response(rid)
            assert message["result"]["content"][0]["text"] == "done"
            progress = [
                n["params"]["progress"]
                for n in client.notifications
                if n["method"] == "notifications/progress"
            ]
            assert progress == list(range(1, 5001))
            count = len(client.notifications)
            await client.call_tool("busy", {"n": 3})  # no progressToken: no notifications
            await trio.sleep(0.01)
            assert len(client.notifications) == count  # and nothing late for the first call
