"""trio_mcp.Client over Streamable HTTP against trio_mcp's own server, both eras.

Legacy: the session id, the standalone GET stream (list changes arrive on it),
a response stream resumed with Last-Event-ID, DELETE on close. Modern: the
Mcp-* headers (the server refuses a request whose headers do not mirror its
body), and cancellation by closing the response stream.
"""

from __future__ import annotations

import re
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from functools import partial
from pathlib import Path
from typing import Any

import pytest
import trio

from trio_mcp import Client, McpError, Server
from trio_mcp.client import ConnectionClosed, HttpError, LogMessage

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "examples"))
import everything

LIMIT = 30


@asynccontextmanager
async def serving(server: Server) -> AsyncIterator[tuple[str, Any]]:
    async with trio.open_nursery() as nursery:
        transport = await nursery.start(server.serve_http, "127.0.0.1", 0)
        try:
            yield transport.urls[0], transport
        finally:
            transport.stop()


@pytest.mark.parametrize("era", ["auto", "legacy", "modern"])
async def test_both_eras_over_http(era: str) -> None:
    logs: list[LogMessage] = []

    async def on_log(message: LogMessage) -> None:
        logs.append(message)

    with trio.fail_after(LIMIT):
        async with (
            serving(everything.build()) as (url, _),
            Client(url, era=era, on_log=on_log, log_level="info") as client,  # type: ignore[arg-type]
        ):
            assert client.era == ("legacy" if era == "legacy" else "modern")
            assert (await client.call_tool("greet", {"name": "Ada"})).text == "Hello, Ada!"
            # Mcp-Param-Region must mirror the argument; the client learns the schema itself
            region = await client.call_tool("test_x_mcp_header", {"region": "eu-west"})
            assert region.text == "region=eu-west"
            await client.call_tool("test_tool_with_logging")  # logs on the POST's SSE stream
            assert [m.data for m in logs][-1] == "Tool execution completed"


async def test_legacy_session_get_stream_resumption_and_delete() -> None:
    notes: list[dict[str, Any]] = []

    async def on_notification(message: dict[str, Any]) -> None:
        notes.append(message)

    with trio.fail_after(LIMIT):
        async with serving(everything.build()) as (url, transport):
            async with Client(url, era="legacy", on_notification=on_notification) as client:
                session_id = client.transport.session_id  # type: ignore[attr-defined]
                assert session_id in transport.sessions
                # the stream is closed mid-call; the client resumes it with Last-Event-ID
                result = await client.call_tool("test_reconnection")
                assert result.text == "Reconnection test completed"
                # a list change is not related to any request: it comes on the GET stream
                await client.call_tool("extra_toggle", {"kind": "tool", "present": True})
                while not any(n["method"] == "notifications/tools/list_changed" for n in notes):
                    await trio.sleep(0.01)
            assert session_id not in transport.sessions  # DELETE ended it


async def test_modern_cancel_closes_the_stream_and_stops_the_handler() -> None:
    server = Server("tracked")
    seen: list[str] = []
    started = trio.Event()

    @server.tool(timeout=None)
    async def slow() -> str:
        started.set()
        try:
            await trio.sleep(3600)
        except trio.Cancelled:
            seen.append("cancelled")
            raise
        return "done"

    with trio.fail_after(LIMIT):
        async with serving(server) as (url, _), Client(url, era="modern") as client:
            async with trio.open_nursery() as nursery:
                nursery.start_soon(client.call_tool, "slow")
                await started.wait()
                nursery.cancel_scope.cancel()
            while not seen:
                await trio.sleep(0.01)
            assert seen == ["cancelled"]


async def test_http_failures_are_one_line() -> None:
    with pytest.raises(ConnectionClosed, match=re.escape("cannot reach http://127.0.0.1:9/mcp")):
        async with Client("http://127.0.0.1:9/mcp"):
            pass
    with trio.fail_after(LIMIT):
        async with serving(everything.build()) as (url, _):
            with pytest.raises(McpError, match="Not Found"):  # trio_mcp answers JSON-RPC
                async with Client(url.replace("/mcp", "/nope"), era="legacy"):
                    pass

    async def busy(stream: trio.SocketStream) -> None:  # a proxy in the way: no JSON-RPC
        await stream.receive_some(65536)
        body = b"upstream busy"
        head = f"HTTP/1.1 503 Service Unavailable\r\nContent-Type: text/plain\r\nContent-Length: {len(body)}\r\nConnection: close\r\n\r\n"
        await stream.send_all(head.encode() + body)
        await stream.aclose()

    with trio.fail_after(LIMIT):
        async with trio.open_nursery() as nursery:
            listeners = await nursery.start(partial(trio.serve_tcp, busy, 0, host="127.0.0.1"))
            port = listeners[0].socket.getsockname()[1]
            with pytest.raises(HttpError) as info:
                async with Client(f"http://127.0.0.1:{port}/mcp", era="legacy"):
                    pass
            assert info.value.status == 503
            assert str(info.value).endswith(
                f"HTTP 503 from http://127.0.0.1:{port}/mcp: 'upstream busy'"
            )
            nursery.cancel_scope.cancel()
