"""trio_mcp.Client against other servers: the official SDK's MCPServer and fastmcp.

Each peer runs as a real process, over stdio and over Streamable HTTP, in both
eras (``auto`` negotiates the modern one with both peers). Sampling and
elicitation go through the client's handlers: legacy server requests, or
modern ``input_required`` rounds. Cancelling a call mid-flight is checked on
the server side: the peer's ``sleep`` tool writes to a file when it is cancelled.
"""

from __future__ import annotations

import socket
import subprocess
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest
import trio

from trio_mcp import Client
from trio_mcp.client import ElicitationRequest, SamplingRequest

SERVERS = Path(__file__).resolve().parent.parent / "servers"
LIMIT = 60


async def sample(request: SamplingRequest) -> str:
    assert request.messages and request.max_tokens == 50
    return "an old pond"


async def elicit(request: ElicitationRequest) -> dict[str, Any]:
    props = request.requested_schema.get("properties", {})
    value = {name: "Ada" for name in props} or {"value": "Ada"}
    return {"action": "accept", "content": value}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def wait_listening(port: int, proc: subprocess.Popen[bytes]) -> None:
    with trio.fail_after(LIMIT):
        while True:
            assert proc.poll() is None, "the peer exited while starting"
            try:
                stream = await trio.open_tcp_stream("127.0.0.1", port)
            except OSError:
                await trio.sleep(0.1)
            else:
                await stream.aclose()
                return


@asynccontextmanager
async def peer(
    name: str, transport: str, env: dict[str, str], **options: Any
) -> AsyncIterator[Client]:
    script = str(SERVERS / f"{name}.py")
    if transport == "stdio":
        client = Client([sys.executable, script], env=env, **options)
        async with client:
            yield client
        return
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, script, "http", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        await wait_listening(port, proc)
        async with Client(f"http://127.0.0.1:{port}/mcp", **options) as client:
            yield client
    finally:
        proc.terminate()
        proc.wait(10)


def env_for(tmp_path: Path) -> tuple[dict[str, str], Path]:
    import os

    log = tmp_path / "cancelled.log"
    return {**os.environ, "PEER_CANCEL_LOG": str(log)}, log


async def cancelled_count(log: Path, at_least: int) -> int:
    with trio.fail_after(LIMIT):
        while True:
            count = log.read_text().count("cancelled") if log.exists() else 0
            if count >= at_least:
                return count
            await trio.sleep(0.05)


@pytest.mark.parametrize("transport", ["stdio", "http"])
@pytest.mark.parametrize("era", ["auto", "legacy", "modern"])
async def test_sdk_server(transport: str, era: str, tmp_path: Path) -> None:
    env, log = env_for(tmp_path)
    with trio.fail_after(LIMIT):
        async with peer(
            "sdk_peer", transport, env, era=era, sampling=sample, elicitation=elicit
        ) as client:
            assert client.era == ("legacy" if era == "legacy" else "modern")
            assert client.server_info is not None and client.server_info.name == "sdk-peer"
            assert {t.name for t in await client.list_tools()} == {"echo", "sleep", "ask", "think"}
            assert (await client.call_tool("echo", {"text": "hi"})).text == "hi"
            assert (await client.call_tool("ask")).text == "hello Ada"
            assert (await client.call_tool("think")).text == "model said: an old pond"
            assert (await client.read_resource("peer://greeting")).text == "hi from the SDK"
            prompt = await client.get_prompt("review", {"code": "x = 1"})
            assert "Review this: x = 1" in str(prompt.messages[0].content)
            with trio.move_on_after(1):
                await client.call_tool("sleep", {"seconds": 30})
            assert await cancelled_count(log, 1) == 1
            assert (await client.call_tool("echo", {"text": "still"})).text == "still"


@pytest.mark.parametrize("transport", ["stdio", "http"])
@pytest.mark.parametrize("era", ["auto", "legacy", "modern"])
async def test_fastmcp_server(transport: str, era: str, tmp_path: Path) -> None:
    env, log = env_for(tmp_path)
    with trio.fail_after(LIMIT):
        async with peer(
            "fastmcp_peer", transport, env, era=era, sampling=sample, elicitation=elicit
        ) as client:
            assert client.era == ("legacy" if era == "legacy" else "modern")
            assert "echo" in {t.name for t in await client.list_tools()}
            assert (await client.call_tool("add", {"a": 2, "b": 3})).text == "5"
            if client.era == "legacy":  # fastmcp 4.2 asks for input in the legacy era only
                assert (await client.call_tool("ask")).text == "hello Ada (accept)"
                assert (await client.call_tool("think")).text == "model said: an old pond"
            with trio.move_on_after(1):
                await client.call_tool("sleep", {"seconds": 30})
            assert await cancelled_count(log, 1) == 1
            assert (await client.call_tool("echo", {"text": "still"})).text == "still"
