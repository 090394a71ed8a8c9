"""examples/asyncio_http.py: aiohttp inside a Trio server, against a local Trio HTTP server.

The upstream API is a tiny HTTP/1.1 server written with trio (in the test's
nursery, so nothing outlives the test). It counts requests per path, and its
``/slow`` path never answers: it waits for the client to hang up, which is how
the test sees that a Trio deadline or a cancel really aborted aiohttp's request.
"""

from __future__ import annotations

import functools
import importlib.util
from collections import Counter
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from types import ModuleType

import attrs
import pytest
import trio
from _support.paths import ASYNCIO_HTTP

pytest.importorskip("aiohttp")
pytest.importorskip("trio_asyncio")

from trio_mcp.testing import connect

EXAMPLE = ASYNCIO_HTTP


def load_example() -> ModuleType:
    spec = importlib.util.spec_from_file_location("asyncio_http_example", EXAMPLE)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@attrs.define
class Upstream:
    """What the fake API saw."""

    port: int = 0
    hits: Counter[str] = attrs.field(factory=Counter)
    slow_started: trio.Event = attrs.field(factory=trio.Event)
    slow_hung_up: trio.Event = attrs.field(factory=trio.Event)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def handle(self, stream: trio.SocketStream) -> None:
        async with stream:
            head = b""
            while b"\r\n\r\n" not in head:
                chunk = await stream.receive_some(4096)
                if not chunk:
                    return
                head += chunk
            path = head.split(b" ", 2)[1].decode()
            self.hits[path] += 1
            if path == "/slow":
                self.slow_started.set()
                # Never answer; return once the client closes the connection.
                while await stream.receive_some(4096):
                    pass
                self.slow_hung_up.set()
                return
            status, body = (
                (b"200 OK", f'{{"path": "{path}", "n": {self.hits[path]}}}'.encode())
                if path.startswith("/items")
                else (b"404 Not Found", b"no such thing")
            )
            await stream.send_all(
                b"HTTP/1.1 " + status + b"\r\nContent-Type: application/json\r\n"
                b"Content-Length: " + str(len(body)).encode() + b"\r\n"
                b"Connection: close\r\n\r\n" + body
            )


@asynccontextmanager
async def upstream() -> AsyncIterator[Upstream]:
    api = Upstream()
    async with trio.open_nursery() as nursery:
        listeners = await nursery.start(
            functools.partial(trio.serve_tcp, api.handle, 0, host="127.0.0.1")
        )
        api.port = listeners[0].socket.getsockname()[1]
        yield api
        nursery.cancel_scope.cancel()


async def test_call_then_cached() -> None:
    example = load_example()
    async with upstream() as api:
        server = example.build(example.Config(base_url=api.base_url, cache_ttl=60))
        async with connect(server) as client:
            with trio.fail_after(30):
                first = await client.call_tool("api_get", {"path": "items/1"})
                second = await client.call_tool("api_get", {"path": "/items/1"})
                other = await client.call_tool("api_get", {"path": "items/2"})
    assert not first.get("isError"), first
    assert first["content"][0]["text"] == '{"path": "/items/1", "n": 1}'
    # The second call was served from ctx.cache: same body, no second request.
    assert second == first
    assert api.hits["/items/1"] == 1
    assert other["content"][0]["text"] == '{"path": "/items/2", "n": 1}'


async def test_cache_expires(autojump_clock: trio.testing.MockClock) -> None:
    # TTLCache runs on Trio's clock, also inside the asyncio tool.
    example = load_example()
    async with upstream() as api:
        server = example.build(example.Config(base_url=api.base_url, cache_ttl=5))
        async with connect(server) as client:
            await client.call_tool("api_get", {"path": "items/1"})
            await client.call_tool("api_get", {"path": "items/1"})
            assert api.hits["/items/1"] == 1
            autojump_clock.jump(6)
            again = await client.call_tool("api_get", {"path": "items/1"})
    assert again["content"][0]["text"] == '{"path": "/items/1", "n": 2}'


async def test_upstream_errors_are_tool_errors() -> None:
    example = load_example()
    async with upstream() as api:
        server = example.build(example.Config(base_url=api.base_url))
        async with connect(server) as client:
            with trio.fail_after(30):
                missing = await client.call_tool("api_get", {"path": "nope"})
    assert missing["isError"] is True
    assert "API error 404" in missing["content"][0]["text"]
    # Nothing listens on port 1: aiohttp's connection error, as the tool's error.
    server = example.build(example.Config(base_url="http://127.0.0.1:1"))
    async with connect(server) as client:
        with trio.fail_after(30):
            refused = await client.call_tool("api_get", {"path": "x"})
    assert refused["isError"] is True
    assert "API unreachable" in refused["content"][0]["text"]


async def test_deadline_aborts_the_aiohttp_request() -> None:
    example = load_example()
    async with upstream() as api:
        server = example.build(example.Config(base_url=api.base_url, timeout=0.5))
        async with connect(server) as client:
            with trio.fail_after(30):
                result = await client.call_tool("api_get", {"path": "slow"})
                assert result["isError"] is True
                assert "timed out after 0.5s" in result["content"][0]["text"]
                # The upstream saw aiohttp hang up: the request was aborted, not abandoned.
                await api.slow_hung_up.wait()
            assert client.connection is not None and client.connection.in_flight == 0
            # The server and its aiohttp session still work.
            ok = await client.call_tool("api_get", {"path": "items/3"})
            assert not ok.get("isError"), ok


async def test_client_cancel_aborts_the_aiohttp_request() -> None:
    example = load_example()
    async with upstream() as api:
        server = example.build(example.Config(base_url=api.base_url, timeout=60))
        async with connect(server) as client:
            with trio.fail_after(30):
                rid = await client.start_request(
                    "tools/call", {"name": "api_get", "arguments": {"path": "slow"}}
                )
                await api.slow_started.wait()
                await client.cancel(rid)
                await api.slow_hung_up.wait()
                while client.connection is not None and client.connection.in_flight:
                    await trio.sleep(0.01)
