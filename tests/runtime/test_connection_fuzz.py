"""Property-based test (hypothesis) of a live in-memory connection.

Random lines never kill the connection, and every request-shaped line gets
exactly one response. Strategies and oracles: ``tests/_support/fuzzing.py``.
"""

from __future__ import annotations

import json
from collections import Counter
from typing import Any

import trio
import trio.testing
from _support.fuzzing import (
    check_response,
    key,
    messages,
    near_valid,
    request_shaped,
    valid_id,
)
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from trio_mcp import Server
from trio_mcp._wire import LineBuffer, encode


def fuzz_server() -> Server:
    server = Server("fuzz", timeout=5, page_size=1)

    @server.resource("mem://a")
    async def mem_a() -> str:
        return "a"

    @server.resource("users://{user_id}/profile")
    async def profile(user_id: int) -> dict[str, int]:
        return {"id": user_id}

    @server.prompt()
    async def greet(who: str) -> str:
        return f"hello {who}"

    @server.completer
    async def complete(request: Any) -> list[str]:
        return ["w", "x"]

    @server.tool()
    async def echo(text: str) -> str:
        return text

    @server.tool()
    async def add(a: float, b: float) -> float:
        return a + b

    @server.tool()
    def sync_add(a: int, b: int) -> int:
        return a + b

    return server


@st.composite
def runtime_lines(draw: st.DrawFn) -> list[tuple[bytes, Any]]:
    """Lines for a live connection; valid request ids are made unique (``r<n>``)."""
    out: list[tuple[bytes, Any]] = []
    for n, item in enumerate(
        draw(
            st.lists(
                st.one_of(near_valid(), near_valid(), messages(), st.binary(max_size=20)),
                max_size=25,
            )
        )
    ):
        if type(item) is bytes:
            out.append((item.replace(b"\n", b" "), None))
            continue
        if request_shaped(item) and valid_id(item["id"]):
            item["id"] = f"r{n}"
        if type(item) is dict and item.get("method") == "notifications/cancelled":
            continue  # cancellation: tests/stress/test_exactly_once.py; here every request is answered
        try:
            out.append((encode(item), item))
        except TypeError:
            continue
    return out


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(lines=runtime_lines(), era=st.sampled_from(["2025-11-25", "2025-03-26", None]))
def test_runtime_survives_and_answers_each_request_once(
    lines: list[tuple[bytes, Any]], era: str | None
) -> None:
    async def main() -> None:
        server = fuzz_server()
        client, server_stream = trio.testing.memory_stream_pair()
        received: list[Any] = []

        async def read() -> None:
            buf = LineBuffer(1 << 30)
            while data := await client.receive_some(65536):
                for line in buf.feed(bytes(data)):
                    assert type(line) is bytes
                    msg = json.loads(line)
                    received.extend(msg if type(msg) is list else [msg])

        with trio.fail_after(30):
            async with trio.open_nursery() as nursery:
                nursery.start_soon(server.serve, server_stream)
                nursery.start_soon(read)
                if era is not None:
                    init = {
                        "jsonrpc": "2.0",
                        "id": "init",
                        "method": "initialize",
                        "params": {"protocolVersion": era, "capabilities": {}},
                    }
                    await client.send_all(encode(init) + b"\n")
                for line, _ in lines:
                    await client.send_all(line + b"\n")
                await client.send_all(b'{"jsonrpc":"2.0","id":"last","method":"ping"}\n')
                await client.send_stream.aclose()  # EOF: the server drains and returns
        for msg in received:
            if "method" not in msg:
                check_response(msg)
        answered = Counter(key(m["id"]) for m in received if "method" not in m)
        assert answered[key("last")] == 1
        for _, msg in lines:
            if request_shaped(msg) and valid_id(msg["id"]):
                assert answered[key(msg["id"])] == 1, (msg, received)

    trio.run(main, clock=trio.testing.MockClock(autojump_threshold=0))
