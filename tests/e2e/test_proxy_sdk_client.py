"""End to end: the official ``mcp`` client drives ``trio-mcp proxy`` of a stdio server.

The upstream is ``examples/hello.py`` (trio_mcp, stdio), or the official SDK's own
server; the proxy is the real ``trio-mcp proxy`` process, served over stdio or over
Streamable HTTP; the client speaks the legacy era (2025-11-25) or the modern one
(2026-07-28), whatever the upstream speaks: each side of the proxy has its own era.
"""

from __future__ import annotations

import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest
import trio
from _support.paths import EVERYTHING, HELLO, ROOT
from _support.process import alive

mcp = pytest.importorskip("mcp")

import mcp_types as types  # noqa: E402
from mcp import Client, StdioServerParameters  # noqa: E402

LIMIT = 60
SCRIPT = str(Path(sys.executable).with_name("trio-mcp"))
MODES = ["legacy", "2026-07-28"]
SDK_SERVER = ROOT / "benchmarks" / "servers" / "sdk_server.py"


def children(pid: int) -> set[int]:
    """The child processes of ``pid`` (Linux ``/proc``)."""
    found: set[int] = set()
    for task in Path(f"/proc/{pid}/task").iterdir():
        found.update(int(p) for p in (task / "children").read_text().split())
    return found


def upstream_command(upstream: Path) -> str:
    return f"{sys.executable} {upstream}"


@asynccontextmanager
async def over_stdio(
    mode: str, upstream: Path = HELLO, *options: str, **callbacks: Any
) -> AsyncIterator[Client]:
    params = StdioServerParameters(
        command=SCRIPT, args=["proxy", *options, upstream_command(upstream)], cwd=str(ROOT)
    )
    async with Client(
        params,
        mode=mode,  # type: ignore[arg-type]
        read_timeout_seconds=LIMIT,
        cache=None,
        **callbacks,
    ) as client:
        yield client


@asynccontextmanager
async def over_http(
    mode: str, upstream: Path = HELLO, *options: str, **callbacks: Any
) -> AsyncIterator[tuple[Client, int]]:
    from _support.sdk_client import connect_http

    command = [SCRIPT, "proxy", *options, upstream_command(upstream)]
    servers = {"PYTHONPATH": str(ROOT / "benchmarks" / "servers")}
    async with connect_http(mode, command, env=servers, **callbacks) as (client, proc):
        yield client, proc.pid


async def check_hello(client: Client) -> None:
    tools = {t.name: t for t in (await client.list_tools()).tools}
    assert set(tools) == {"add", "echo"}
    assert tools["add"].description == "Add two numbers."
    assert tools["add"].input_schema["properties"] == {
        "a": {"type": "number"},
        "b": {"type": "number"},
    }
    result = await client.call_tool("add", {"a": 1, "b": 2.5})
    assert not result.is_error
    assert float(result.content[0].text) == 3.5  # type: ignore[union-attr]
    result = await client.call_tool("echo", {"text": "héllo"})
    assert result.content[0].text == "héllo"  # type: ignore[union-attr]


@pytest.mark.parametrize("mode", MODES)
async def test_proxy_over_stdio(mode: str) -> None:
    with trio.fail_after(LIMIT):
        async with over_stdio(mode) as client:
            if mode == "legacy":  # (a modern client at a fixed version makes no handshake)
                assert client.server_info is not None
                assert client.server_info.name == "demo"  # the upstream's, adopted
                assert client.instructions == "Arithmetic and echo tools."
            await check_hello(client)


@pytest.mark.parametrize("mode", MODES)
async def test_proxy_over_http_and_its_upstream_dies_with_it(mode: str) -> None:
    with trio.fail_after(LIMIT):
        async with over_http(mode) as (client, pid):
            await check_hello(client)
            [upstream] = children(pid)
            assert alive(upstream)
    # The proxy has exited (SIGTERM, drained), and it waited for its child first.
    assert not alive(upstream)


@pytest.mark.parametrize("mode", MODES)
async def test_proxy_of_the_official_sdk_server(mode: str) -> None:
    with trio.fail_after(LIMIT):
        async with over_http(mode, SDK_SERVER) as (client, _):
            if mode == "legacy":
                assert client.server_info is not None
                assert client.server_info.name == "bench"
            result = await client.call_tool("add", {"a": 2, "b": 2})
            assert float(result.content[0].text) == 4  # type: ignore[union-attr]
            result = await client.call_tool("echo", {"text": "via the proxy"})
            assert result.content[0].text == "via the proxy"  # type: ignore[union-attr]


@pytest.mark.parametrize("transport", ["stdio", "http"])
async def test_a_modern_client_answers_a_legacy_stdio_upstream_in_rounds(transport: str) -> None:
    """The main use: a legacy stdio server whose tools elicit and sample, behind a proxy
    that a modern (2026-07-28) client reaches; the upstream's mid-call requests come to
    the client as ``input_required`` rounds, which the SDK answers with its callbacks."""
    asked: list[str] = []

    async def elicit(ctx: Any, params: Any) -> types.ElicitResult:
        asked.append(f"elicit {params.message}")
        return types.ElicitResult(action="accept", content={"response": "hello"})

    async def sample(
        ctx: Any, params: types.CreateMessageRequestParams
    ) -> types.CreateMessageResult:
        asked.append(f"sample {params.messages[0].content.text}")  # type: ignore[union-attr]
        return types.CreateMessageResult(
            role="assistant",
            content=types.TextContent(type="text", text="Paris"),
            model="test-model",
        )

    callbacks = {"elicitation_callback": elicit, "sampling_callback": sample}
    connect = over_stdio if transport == "stdio" else over_http
    with trio.fail_after(LIMIT):
        async with connect("2026-07-28", EVERYTHING, "--era", "legacy", **callbacks) as opened:
            client = opened if isinstance(opened, Client) else opened[0]
            r = await client.call_tool("test_elicitation", {"message": "Say something"})
            assert r.content[0].text == (  # type: ignore[union-attr]
                'User response: action=accept, content={"response":"hello"}'
            )
            r = await client.call_tool("test_sampling", {"prompt": "Capital of France?"})
            assert r.content[0].text == "LLM response: Paris"  # type: ignore[union-attr]
    assert asked == ["elicit Say something", "sample Capital of France?"]
