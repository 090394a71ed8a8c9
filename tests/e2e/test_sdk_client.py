"""End to end: the official ``mcp`` Python client drives our servers over stdio.

The client (``mcp`` 2.x, anyio-based) runs directly inside the pytest-trio test,
so it runs on Trio; it spawns ``examples/hello.py`` (or a test server) as a
subprocess and talks newline-delimited JSON-RPC over its stdin/stdout.
"""

from __future__ import annotations

import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import pytest
import sniffio
import trio
from _support.paths import HELLO, ROOT, SLOW

mcp = pytest.importorskip("mcp")

from mcp import Client, MCPError, StdioServerParameters  # noqa: E402

# Generous: a hang fails the test instead of the whole run.
LIMIT = 30


def params(script: Path) -> StdioServerParameters:
    return StdioServerParameters(command=sys.executable, args=[str(script)], cwd=str(ROOT))


@asynccontextmanager
async def connect(script: Path, mode: str) -> AsyncIterator[Client]:
    async with Client(params(script), mode=mode, read_timeout_seconds=LIMIT) as client:  # type: ignore[arg-type]
        yield client


async def check_hello_tools(client: Client) -> None:
    tools = await client.list_tools()
    by_name = {t.name: t for t in tools.tools}
    assert set(by_name) == {"add", "echo"}
    add = by_name["add"]
    assert add.description == "Add two numbers."
    assert add.input_schema["type"] == "object"
    assert add.input_schema["properties"] == {"a": {"type": "number"}, "b": {"type": "number"}}
    assert sorted(add.input_schema["required"]) == ["a", "b"]

    result = await client.call_tool("add", {"a": 1, "b": 2.5})
    assert not result.is_error
    assert result.content[0].type == "text"
    assert float(result.content[0].text) == 3.5

    result = await client.call_tool("echo", {"text": "héllo\nworld"})
    assert not result.is_error
    assert result.content[0].text == "héllo\nworld"


async def test_client_runs_on_trio() -> None:
    # The premise of this module: the anyio-based SDK runs inside a trio test.
    assert sniffio.current_async_library() == "trio"


@pytest.mark.filterwarnings("ignore:ping is removed")
async def test_legacy_handshake() -> None:
    with trio.fail_after(LIMIT):
        async with connect(HELLO, "legacy") as client:
            # The client always offers 2025-11-25; the server supports it, so echoes it.
            assert client.protocol_version == "2025-11-25"
            assert client.server_info is not None
            assert client.server_info.name == "demo"
            assert client.server_info.version == "0.1.0"
            assert client.instructions == "Arithmetic and echo tools."
            assert client.server_capabilities.tools is not None
            await client.send_ping()
            await check_hello_tools(client)


async def test_modern_era() -> None:
    with trio.fail_after(LIMIT):
        async with connect(HELLO, "2026-07-28") as client:
            # No handshake at all: the first message on the wire is tools/list,
            # carrying the _meta envelope on every request.
            assert client.protocol_version == "2026-07-28"
            await check_hello_tools(client)


async def test_auto_discovers_modern_era() -> None:
    with trio.fail_after(LIMIT):
        async with connect(HELLO, "auto") as client:
            # server/discover succeeded, so no fallback to initialize.
            assert client.protocol_version == "2026-07-28"
            assert client.session.discover_result is not None
            assert "2026-07-28" in client.session.discover_result.supported_versions
            assert client.server_info is not None
            assert client.server_info.name == "demo"
            assert client.instructions == "Arithmetic and echo tools."
            await check_hello_tools(client)


@pytest.mark.parametrize("mode", ["legacy", "2026-07-28"])
async def test_invalid_arguments_are_a_readable_tool_error(mode: str) -> None:
    with trio.fail_after(LIMIT):
        async with connect(HELLO, mode) as client:
            result = await client.call_tool("add", {"a": "one", "b": 2})
            assert result.is_error
            text = result.content[0].text
            assert "$.a" in text, text  # the path of the bad field
            assert "add" in text, text

            result = await client.call_tool("add", {"a": 1})
            assert result.is_error
            assert "$.b" in result.content[0].text, result.content[0].text

            # The session is fine afterwards.
            result = await client.call_tool("add", {"a": 1, "b": 1})
            assert float(result.content[0].text) == 2


@pytest.mark.parametrize("mode", ["legacy", "2026-07-28"])
async def test_unknown_tool_is_invalid_params(mode: str) -> None:
    with trio.fail_after(LIMIT):
        async with connect(HELLO, mode) as client:
            with pytest.raises(MCPError) as info:
                await client.call_tool("no_such_tool", {})
            assert info.value.code == -32602
            assert "no_such_tool" in info.value.error.message
            result = await client.call_tool("echo", {"text": "still here"})
            assert result.content[0].text == "still here"


async def wait_for_cancelled(client: Client, count: int) -> dict[str, int]:
    """Poll the slow server's counters until ``count`` sleeps were cancelled."""
    while True:
        result = await client.call_tool("stats", {})
        assert not result.is_error
        stats = result.structured_content
        assert stats is not None
        if stats["cancelled"] >= count:
            return stats
        await trio.sleep(0.05)


@pytest.mark.parametrize("mode", ["legacy", "2026-07-28"])
async def test_client_timeout_cancels_the_handler(mode: str) -> None:
    with trio.fail_after(LIMIT):
        async with connect(SLOW, mode) as client:
            # Warm up (first-call costs on both sides), so that the timed call below
            # reaches its handler well within the client's timeout, even on a loaded machine.
            assert not (await client.call_tool("sleep", {"seconds": 0})).is_error
            start = trio.current_time()
            with pytest.raises(MCPError) as info:
                await client.call_tool("sleep", {"seconds": 20}, read_timeout_seconds=2)
            assert info.value.code == -32001  # the client's REQUEST_TIMEOUT
            assert trio.current_time() - start < 10

            # The client sent notifications/cancelled, and the server really
            # cancelled the handler (it did not run to completion).
            stats = await wait_for_cancelled(client, 1)
            assert stats == {"started": 2, "finished": 1, "cancelled": 1}

            # The session remains usable.
            result = await client.call_tool("sleep", {"seconds": 0.01})
            assert not result.is_error
            assert result.content[0].text == "slept 0.01"


async def cancel_once_started(client: Client, scope: trio.CancelScope, started: int) -> None:
    """Cancel ``scope`` once the slow server has started ``started`` sleeps in all.

    (Not after a fixed delay: on a loaded machine the call may not even have been
    written yet, and a call never sent is never cancelled on the server.)
    """
    while True:
        result = await client.call_tool("stats", {})
        assert result.structured_content is not None
        if result.structured_content["started"] >= started:
            scope.cancel()
            return
        await trio.sleep(0.05)


@pytest.mark.parametrize("mode", ["legacy", "2026-07-28"])
async def test_caller_cancel_scope_cancels_the_handler(mode: str) -> None:
    with trio.fail_after(LIMIT):
        async with connect(SLOW, mode) as client:
            async with trio.open_nursery() as nursery:
                with trio.CancelScope() as scope:
                    nursery.start_soon(cancel_once_started, client, scope, 1)
                    await client.call_tool("sleep", {"seconds": 20})
            assert scope.cancelled_caught

            stats = await wait_for_cancelled(client, 1)
            assert stats["finished"] == 0

            # Several concurrent calls, one cancelled, the others unaffected.
            results: dict[int, str] = {}

            async def call(i: int) -> None:
                r = await client.call_tool("sleep", {"seconds": 0.2})
                results[i] = r.content[0].text

            async with trio.open_nursery() as nursery:
                for i in range(5):
                    nursery.start_soon(call, i)
                with trio.CancelScope() as scope:
                    nursery.start_soon(cancel_once_started, client, scope, 1 + 5 + 1)
                    await client.call_tool("sleep", {"seconds": 20})
            assert results == dict.fromkeys(range(5), "slept 0.2")
            stats = await wait_for_cancelled(client, 2)
            assert stats["cancelled"] == 2
            assert stats["finished"] == 5


@pytest.mark.filterwarnings("ignore:ping is removed")
async def test_stray_print_does_not_break_the_client() -> None:
    with trio.fail_after(LIMIT):
        async with connect(SLOW, "legacy") as client:
            for tool in ("shout", "shout_sync"):
                result = await client.call_tool(tool, {"text": '{"jsonrpc": "2.0", "id": 99}'})
                assert not result.is_error
            await client.send_ping()


@pytest.mark.parametrize("version", ["2025-06-18", "2025-03-26", "2024-11-05"])
async def test_older_legacy_versions(monkeypatch: pytest.MonkeyPatch, version: str) -> None:
    # The client has no public option to offer an older version; patch the
    # module global its initialize() reads (see /work/notes/sdk.md).
    import mcp.client.session as client_session

    monkeypatch.setattr(client_session, "LATEST_HANDSHAKE_VERSION", version)
    with trio.fail_after(LIMIT):
        async with connect(HELLO, "legacy") as client:
            assert client.protocol_version == version  # the server echoed our offer
            await check_hello_tools(client)
            # Before 2025-11-25, invalid arguments are a protocol error (-32602),
            # not an isError result (SEP-1303).
            with pytest.raises(MCPError) as info:
                await client.call_tool("add", {"a": "one", "b": 2})
            assert info.value.code == -32602
            assert "$.a" in info.value.error.message
