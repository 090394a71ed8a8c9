"""``trio_mcp.proxy(target)``: everything forwarded, in every pairing of the two sides' eras.

The upstream is a real :class:`Server` reached by the proxy's :class:`~trio_mcp.Client`
in memory (or a real subprocess where the process matters); the downstream is the
wire-level test client. Assertions about cancellation and ``_meta`` are made on the
upstream side, where they happen.
"""

from __future__ import annotations

import sys
from typing import Any

import pytest
import trio
from _support.paths import HELLO, ROOT
from _support.process import alive

from trio_mcp import Context, McpError, Server, proxy
from trio_mcp.client import ConnectionClosed
from trio_mcp.testing import connect

PAIRS = [(down, up) for down in ("legacy", "modern") for up in ("legacy", "modern")]


class Upstream:
    """An upstream server that records what reached it."""

    def __init__(self) -> None:
        self.server = server = Server("up", "2.0", instructions="the upstream")
        self.metas: list[dict[str, Any]] = []
        self.started = trio.Event()
        self.cancelled = trio.Event()

        @server.tool()
        async def add(a: int, b: int, ctx: Context) -> int:
            """Add."""
            self.metas.append(dict(ctx.params.get("_meta") or {}))
            return a + b

        @server.tool()
        async def work(ctx: Context) -> str:
            await ctx.report_progress(1, 2, "half")
            await ctx.warning("careful")
            await ctx.report_progress(2, 2)
            return "worked"

        @server.tool()
        async def wait() -> str:
            self.started.set()
            try:
                await trio.sleep_forever()
            except trio.Cancelled:
                self.cancelled.set()
                raise
            return "never"

        @server.tool()
        async def ask(ctx: Context) -> str:
            answer = await ctx.sample("2+2?", max_tokens=5)
            roots = await ctx.list_roots()
            return f"{answer['content']['text']} {[r['uri'] for r in roots]}"

        @server.resource("data://x", mime_type="text/plain")
        async def x() -> str:
            return "X"

        @server.prompt()
        async def greet(who: str) -> str:
            return f"hello {who}"


def text(result: dict[str, Any]) -> str:
    value: str = result["content"][0]["text"]
    return value


@pytest.mark.parametrize(("down", "up"), PAIRS)
async def test_everything_is_forwarded(down: str, up: str) -> None:
    upstream = Upstream()
    server = proxy(upstream.server, era=up)  # type: ignore[arg-type]
    async with connect(server, era=down) as client:  # type: ignore[arg-type]
        if down == "legacy":
            assert client.initialize_result is not None
            assert client.initialize_result["serverInfo"] == {"name": "up", "version": "2.0"}
            assert client.initialize_result["instructions"] == "the upstream"
        tools = {t["name"]: t for t in await client.list_tools()}
        assert set(tools) == {"add", "work", "wait", "ask"}
        assert tools["add"]["description"] == "Add."
        assert tools["add"]["inputSchema"]["required"] == ["a", "b"]
        assert text(await client.call_tool("add", {"a": 2, "b": 3})) == "5"
        read = await client.read_resource("data://x")
        assert read["contents"] == [{"uri": "data://x", "mimeType": "text/plain", "text": "X"}]
        assert [p["name"] for p in await client.list_prompts()] == ["greet"]
        got = await client.get_prompt("greet", {"who": "you"})
        assert got["messages"][0]["content"]["text"] == "hello you"
        with pytest.raises(McpError) as info:
            await client.call_tool("nope")
        assert info.value.code == -32602
        assert "nope" in info.value.message


@pytest.mark.parametrize(("down", "up"), PAIRS)
async def test_trace_context_passes_and_per_hop_meta_does_not(down: str, up: str) -> None:
    upstream = Upstream()
    server = proxy(upstream.server, era=up)  # type: ignore[arg-type]
    trace = {"traceparent": "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"}
    trace["tracestate"] = "vendor=1"
    async with connect(server, era=down) as client:  # type: ignore[arg-type]
        await client.call_tool("add", {"a": 1, "b": 1}, meta={**trace, "app/key": 7})
    [meta] = upstream.metas
    assert {k: meta[k] for k in ("traceparent", "tracestate", "app/key")} == {**trace, "app/key": 7}
    client_info = meta.get("io.modelcontextprotocol/clientInfo")
    if up == "modern":  # the proxy's own client speaks for itself upstream
        assert meta["io.modelcontextprotocol/protocolVersion"] == "2026-07-28"
        assert client_info == {"name": "trio_mcp-proxy", "version": "0"}
    else:
        assert not any(k.startswith("io.modelcontextprotocol/") for k in meta)


@pytest.mark.parametrize(("down", "up"), PAIRS)
async def test_progress_and_logs_pass_through(down: str, up: str) -> None:
    upstream = Upstream()
    server = proxy(upstream.server, era=up)  # type: ignore[arg-type]
    async with connect(server, era=down) as client:  # type: ignore[arg-type]
        meta: dict[str, Any] = {"progressToken": "mine"}
        if down == "legacy":
            await client.request("logging/setLevel", {"level": "info"})
        else:
            meta["io.modelcontextprotocol/logLevel"] = "info"
        assert text(await client.call_tool("work", meta=meta)) == "worked"
    progress = [
        n["params"] for n in client.notifications if n["method"] == "notifications/progress"
    ]
    assert [(p["progressToken"], p["progress"]) for p in progress] == [("mine", 1), ("mine", 2)]
    assert progress[0]["message"] == "half"
    logs = [n["params"] for n in client.notifications if n["method"] == "notifications/message"]
    assert [(m["level"], m["data"]) for m in logs] == [("warning", "careful")]


@pytest.mark.parametrize(("down", "up"), PAIRS)
async def test_a_client_cancel_cancels_the_upstream_request(down: str, up: str) -> None:
    upstream = Upstream()
    server = proxy(upstream.server, era=up)  # type: ignore[arg-type]
    async with connect(server, era=down) as client:  # type: ignore[arg-type]
        rid = await client.start_request("tools/call", {"name": "wait", "arguments": {}})
        with trio.fail_after(10):
            await upstream.started.wait()
            await client.cancel(rid)
            await upstream.cancelled.wait()  # the upstream's handler itself was cancelled
        assert text(await client.call_tool("add", {"a": 1, "b": 2})) == "3"  # still serving


@pytest.mark.parametrize("up", ["legacy", "modern"])
async def test_list_changed_of_the_upstream_reaches_clients(up: str) -> None:
    upstream = Upstream()
    server = proxy(upstream.server, era=up)  # type: ignore[arg-type]
    async with connect(server) as client:

        @upstream.server.tool()
        async def later() -> str:
            return "later"

        with trio.fail_after(10):
            await client.wait_notification("notifications/tools/list_changed")
        assert "later" in [t["name"] for t in await client.list_tools()]
        assert text(await client.call_tool("later")) == "later"


@pytest.mark.parametrize("up", ["legacy", "modern"])
async def test_subscriptions_are_forwarded_to_a_legacy_upstream(up: str) -> None:
    upstream = Upstream()
    server = proxy(upstream.server, era=up)  # type: ignore[arg-type]
    async with connect(server) as client:
        assert await client.request("resources/subscribe", {"uri": "data://x"}) == {}
        if up == "legacy":
            with trio.fail_after(10):
                while not upstream.server.notify_resource_updated("data://x"):
                    await trio.sleep(0.01)  # until the upstream heard the subscription
                note = await client.wait_notification("notifications/resources/updated")
            assert note["params"]["uri"] == "data://x"
        assert await client.request("resources/unsubscribe", {"uri": "data://x"}) == {}


SAMPLING = {"sampling": {}, "roots": {"listChanged": True}}


def answers() -> dict[str, Any]:
    return {
        "sampling/createMessage": lambda params: {
            "role": "assistant",
            "content": {"type": "text", "text": "4"},
            "model": "m",
        },
        "roots/list": lambda params: {"roots": [{"uri": "file:///work", "name": "w"}]},
    }


@pytest.mark.parametrize("up", ["legacy", "modern"])
async def test_input_asked_upstream_is_asked_of_a_legacy_client(up: str) -> None:
    upstream = Upstream()
    server = proxy(upstream.server, era=up)  # type: ignore[arg-type]
    async with connect(server, capabilities=SAMPLING, responders=answers()) as client:
        result = await client.call_tool("ask")
    assert text(result) == "4 ['file:///work']"
    assert [r["method"] for r in client.server_requests] == ["sampling/createMessage", "roots/list"]


async def test_input_rounds_pass_through_between_modern_sides() -> None:
    upstream = Upstream()
    server = proxy(upstream.server, era="modern")
    async with connect(server, era="modern", capabilities=SAMPLING) as client:
        params: dict[str, Any] = {"name": "ask", "arguments": {}}
        for _ in range(3):
            result = await client.request("tools/call", params)
            if result.get("resultType") != "input_required":
                break
            responses = {
                key: answers()[request["method"]](request["params"])
                for key, request in result["inputRequests"].items()
            }
            params = {**params, "inputResponses": responses, "requestState": result["requestState"]}
    assert text(result) == "4 ['file:///work']"


async def test_a_modern_client_cannot_be_asked_mid_request_by_a_legacy_upstream() -> None:
    upstream = Upstream()
    server = proxy(upstream.server, era="legacy")
    async with connect(server, era="modern", capabilities=SAMPLING) as client:
        with pytest.raises(McpError) as info:
            await client.call_tool("ask")
    assert info.value.code == -32021  # what the upstream's ctx.sample raised, passed on
    assert "modern era" in info.value.message


async def test_a_command_line_upstream_is_a_child_process_that_dies_with_the_proxy() -> None:
    server = proxy([sys.executable, str(HELLO)], cwd=str(ROOT))
    [upstream] = server._registry.providers
    async with connect(server) as client:
        assert text(await client.call_tool("add", {"a": 1, "b": 2})) == "3.0"
        process = upstream.client.transport.process  # type: ignore[attr-defined]
        pid = process.pid
        assert alive(pid)
    assert process.returncode is not None  # waited for, not left behind
    assert not alive(pid)


async def test_an_upstream_that_cannot_start_fails_the_proxy_at_once() -> None:
    server = proxy([sys.executable, "-c", "import sys; sys.exit('no such server')"])
    with pytest.raises(ConnectionClosed, match="no such server"):
        async with connect(server):
            pass


def test_a_target_that_names_no_server_is_refused_at_once() -> None:
    with pytest.raises(ValueError, match="empty command"):
        proxy("")
