"""``examples/fastmcp_port.py`` end to end: the official ``mcp`` client, stdio and HTTP, both eras.

The gateway has two built-in middlewares, a mounted server and a mounted proxy of
``examples/hello.py`` (a child process): the client lists the namespaced names, calls
through the mount and through the proxy, and the proxied process is gone once the
gateway has exited.
"""

from __future__ import annotations

import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import pytest
import trio
from _support.paths import FASTMCP_PORT, HELLO
from _support.process import alive

mcp = pytest.importorskip("mcp")

from _support.sdk_client import LIMIT, MODES, connect, connect_http, text  # noqa: E402
from mcp import Client  # noqa: E402

TRIO_MCP = str(Path(sys.executable).with_name("trio-mcp"))


def proxied() -> set[int]:
    """The running ``hello.py`` processes whose parent is a gateway (Linux ``/proc``)."""
    found: set[int] = set()
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            cmdline = (proc / "cmdline").read_bytes()
            parent = (proc / "stat").read_text().rsplit(")", 1)[1].split()[1]
            parent_cmdline = Path(f"/proc/{parent}/cmdline").read_bytes()
        except (OSError, IndexError):
            continue  # gone meanwhile
        if str(HELLO).encode() in cmdline and b"fastmcp_port" in parent_cmdline:
            found.add(int(proc.name))
    return found


@asynccontextmanager
async def gateway(transport: str, mode: str) -> AsyncIterator[Client]:
    if transport == "stdio":
        async with connect(mode, FASTMCP_PORT) as client:
            yield client
        return
    async with connect_http(mode, [TRIO_MCP, "run", str(FASTMCP_PORT)]) as (client, _):
        yield client


@pytest.mark.parametrize("transport", ["stdio", "http"])
@pytest.mark.parametrize("mode", MODES)
async def test_the_gateway_serves_its_mount_and_its_proxy(transport: str, mode: str) -> None:
    with trio.fail_after(LIMIT):
        async with gateway(transport, mode) as client:
            tools = {t.name: t for t in (await client.list_tools()).tools}
            assert set(tools) == {"status", "weather_forecast", "hello_add", "hello_echo"}
            assert tools["hello_add"].description == "Add two numbers."  # the upstream's own

            # Through the mount: the child's tool, resource and prompt, namespaced.
            r = await client.call_tool("weather_forecast", {"city": "Oslo"})
            assert text(r) == "Oslo: snow, -3 °C"
            r = await client.call_tool("weather_forecast", {"city": "Paris"})
            assert r.is_error
            assert text(r) == "weather_forecast failed (see the server's log)"  # ErrorMasking
            [res] = (await client.list_resources()).resources
            assert str(res.uri) == "weather+weather://cities"
            [contents] = (await client.read_resource("weather+weather://cities")).contents
            assert contents.text == "lisbon\noslo"  # type: ignore[union-attr]
            got = await client.get_prompt("weather_packing_list", {"city": "Lisbon"})
            assert "sunny, 19 °C" in got.messages[0].content.text  # type: ignore[union-attr]

            # Through the proxy: examples/hello.py, a child process of the gateway.
            r = await client.call_tool("hello_add", {"a": 1, "b": 2.5})
            assert float(text(r)) == 3.5
            assert text(await client.call_tool("hello_echo", {"text": "héllo"})) == "héllo"
            [child] = proxied()
            assert alive(child)

            # The gateway's Timing middleware counted every call, mounted and proxied.
            counts = (await client.call_tool("status")).structured_content
            assert counts is not None and counts["tools/call"] == 4  # (not yet this one)
    with trio.fail_after(10):  # the gateway has exited, and it waited for hello.py first
        while alive(child):
            await trio.sleep(0.05)
    assert child not in proxied()
