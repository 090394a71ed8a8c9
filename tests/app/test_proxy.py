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

from trio_mcp import Client, Context, McpError, Server, proxy
from trio_mcp._proxy import Upstream as ProxyUpstream
from trio_mcp._proxy._held import HeldCall, Holds
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


async def rounds(
    client: Any, params: dict[str, Any], seen: list[str] | None = None
) -> dict[str, Any]:
    """Call until the result is not ``input_required``, answering each round with ``answers()``."""
    for _ in range(5):
        result: dict[str, Any] = await client.request("tools/call", params)
        if result.get("resultType") != "input_required":
            return result
        requests = result["inputRequests"]
        if seen is not None:
            seen.extend(r["method"] for r in requests.values())
        responses = {k: answers()[r["method"]](r["params"]) for k, r in requests.items()}
        params = {**params, "inputResponses": responses, "requestState": result["requestState"]}
    raise AssertionError("too many rounds")


def holds(server: Server) -> Holds:
    upstream = server._registry.providers[0]
    assert isinstance(upstream, ProxyUpstream)
    return upstream.holds


class Held:
    """An upstream whose tools ask for input (a legacy one: real requests, mid-call)."""

    def __init__(self) -> None:
        self.upstream = Upstream()
        self.runs = 0
        self.cancelled = trio.Event()
        server = self.upstream.server

        @server.tool()
        async def counted(ctx: Context) -> str:
            self.runs += 1
            answer = await ctx.sample("2+2?", max_tokens=5)
            roots = await ctx.list_roots()
            return f"{answer['content']['text']} {[r['uri'] for r in roots]} run {self.runs}"

        @server.tool()
        async def hangs(ctx: Context) -> str:
            await ctx.sample("first?", max_tokens=5)
            try:
                await trio.sleep_forever()
            except trio.Cancelled:
                self.cancelled.set()
                raise
            return "never"

        @server.tool()
        async def asks_then_waits(ctx: Context) -> str:
            try:
                await ctx.sample("anyone?", max_tokens=5)
            except trio.Cancelled:
                self.cancelled.set()
                raise
            return "answered"


async def test_a_modern_client_is_asked_in_rounds_by_a_legacy_upstream() -> None:
    held = Held()
    server = proxy(held.upstream.server, era="legacy")
    async with connect(server, era="modern", capabilities=SAMPLING) as client:
        seen: list[str] = []
        result = await rounds(client, {"name": "counted", "arguments": {}}, seen)
        assert text(result) == "4 ['file:///work'] run 1"  # one upstream call, kept across rounds
        assert seen == ["sampling/createMessage", "roots/list"]
        assert not holds(server).calls


async def test_the_trio_mcp_client_answers_the_rounds_transparently() -> None:
    held = Held()
    server = proxy(held.upstream.server, era="legacy")

    async def sample(request: Any) -> dict[str, Any]:
        return {"role": "assistant", "content": {"type": "text", "text": "4"}, "model": "m"}

    client = Client(server, era="modern", sampling=sample, roots=["file:///work"])
    async with client:
        result = await client.call_tool("counted")
    assert result.text == "4 ['file:///work'] run 1"


async def test_a_call_abandoned_between_rounds_is_cancelled_upstream(
    autojump_clock: trio.testing.MockClock,
) -> None:
    held = Held()
    server = proxy(held.upstream.server, era="legacy", input_wait=30)
    async with connect(server, era="modern", capabilities=SAMPLING) as client:
        params: dict[str, Any] = {"name": "asks_then_waits", "arguments": {}}
        first = await client.request("tools/call", params)
        assert first["resultType"] == "input_required"
        with trio.fail_after(31):  # the client never comes back: after input_wait, it is over
            await held.cancelled.wait()
        [(key, request)] = first["inputRequests"].items()
        late = {key: answers()[request["method"]](request["params"])}
        params.update(inputResponses=late, requestState=first["requestState"])
        with pytest.raises(McpError, match="has ended") as info:
            await client.request("tools/call", params)
        assert info.value.code == -32602


async def test_a_cancelled_round_cancels_the_held_call() -> None:
    held = Held()
    server = proxy(held.upstream.server, era="legacy")
    async with connect(server, era="modern", capabilities=SAMPLING) as client:
        params: dict[str, Any] = {"name": "hangs", "arguments": {}}
        first = await client.request("tools/call", params)
        [(key, request)] = first["inputRequests"].items()
        responses = {key: answers()[request["method"]](request["params"])}
        retry = {**params, "inputResponses": responses, "requestState": first["requestState"]}
        rid = await client.start_request("tools/call", retry)
        with trio.fail_after(10):
            [call] = holds(server).calls.values()
            while call.round is None:
                await trio.sleep(0.01)  # until the retry is being served
            await client.cancel(rid)
            await held.cancelled.wait()
        assert not holds(server).calls


async def test_held_calls_end_with_the_proxy() -> None:
    held = Held()
    server = proxy(held.upstream.server, era="legacy")
    async with connect(server, era="modern", capabilities=SAMPLING) as client:
        first = await client.call_tool("asks_then_waits")
        assert first["resultType"] == "input_required"
    assert held.cancelled.is_set()  # the proxy stopped: its held call (and the upstream's) ended


async def test_a_state_for_another_call_or_forged_is_refused() -> None:
    held = Held()
    server = proxy(held.upstream.server, era="legacy")
    async with connect(server, era="modern", capabilities=SAMPLING) as client:
        first = await client.call_tool("asks_then_waits")
        state = first["requestState"]
        for name, state_ in (("counted", state), ("asks_then_waits", state[:-2] + "xx")):
            with pytest.raises(McpError) as info:
                await client.request(
                    "tools/call", {"name": name, "arguments": {}, "requestState": state_}
                )
            assert info.value.code == -32602


async def test_beyond_max_held_a_question_is_refused_as_before() -> None:
    held = Held()
    server = proxy(held.upstream.server, era="legacy", max_held=1)
    async with connect(server, era="modern", capabilities=SAMPLING) as client:
        first = await client.call_tool("asks_then_waits")  # held, waiting for the client
        assert first["resultType"] == "input_required"
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


async def test_a_prompt_and_a_resource_of_a_legacy_upstream_may_ask_in_rounds_too() -> None:
    upstream = Server("up")

    @upstream.prompt()
    async def greet(ctx: Context) -> str:
        answer = await ctx.elicit(
            "Your name?", {"type": "object", "properties": {"n": {"type": "string"}}}
        )
        return f"hello {answer.content['n'] if answer.content else '?'}"

    @upstream.resource("data://me")
    async def me(ctx: Context) -> str:
        roots = await ctx.list_roots()
        return f"roots: {[r['uri'] for r in roots]}"

    asked: list[str] = []

    async def elicit(request: Any) -> dict[str, Any]:
        asked.append(request.message)
        return {"action": "accept", "content": {"n": "Ada"}}

    server = proxy(upstream, era="legacy")
    client = Client(server, era="modern", elicitation=elicit, roots=["file:///w"])
    async with client:
        prompt = await client.get_prompt("greet")
        contents = await client.read_resource("data://me")
    assert prompt.messages[0].content.text == "hello Ada"  # type: ignore[union-attr]
    assert contents.contents[0].text == "roots: ['file:///w']"
    assert asked == ["Your name?"]


async def test_a_held_call_that_raises_does_not_take_the_server_down() -> None:
    # A held call runs in the server's services nursery: an exception of the
    # upstream call (a bug, not an McpError) must end that call only, as a
    # handler's exception ends its request only, not crash every session.
    held = HeldCall({}, wait=60.0)
    ended: list[HeldCall] = []

    async def call() -> dict[str, Any]:
        raise RuntimeError("a bug in forwarding")

    async with trio.open_nursery() as nursery:
        await nursery.start(held.run, call, ended.append)
    assert ended == [held]
    assert isinstance(held.outcome, McpError)
    assert held.outcome.code == -32603


async def test_a_legacy_upstreams_request_never_reaches_another_users_client() -> None:
    # Two users' calls in flight at a legacy upstream, which asks (and logs)
    # without saying for whom: the proxy must not pick the other user's client.
    from trio_mcp import AccessToken

    upstream = Upstream()

    @upstream.server.tool()
    async def logs(ctx: Context) -> str:
        await ctx.warning("alice's secret")
        return "logged"

    server = proxy(upstream.server, era="legacy")
    async with (
        connect(server, capabilities=SAMPLING, responders=answers()) as bob,
        connect(server, capabilities=SAMPLING, responders=answers()) as alice,
    ):
        bob.connection.token = AccessToken("bob")
        alice.connection.token = AccessToken("alice")
        for client in (bob, alice):
            await client.request("logging/setLevel", {"level": "info"})
        async with trio.open_nursery() as nursery:
            nursery.start_soon(bob.call_tool, "wait")  # bob's call: the oldest in flight
            await upstream.started.wait()
            with pytest.raises(McpError) as info:
                await alice.call_tool("ask")
            assert info.value.code == -32021
            assert text(await alice.call_tool("logs")) == "logged"
            nursery.cancel_scope.cancel()
    assert bob.server_requests == []
    assert not [n for n in bob.notifications if n["method"] == "notifications/message"]


async def test_a_legacy_upstreams_request_reaches_a_client_of_the_same_user() -> None:
    from trio_mcp import AccessToken

    upstream = Upstream()
    server = proxy(upstream.server, era="legacy")
    async with (
        connect(server, capabilities=SAMPLING, responders=answers()) as first,
        connect(server, capabilities=SAMPLING, responders=answers()) as second,
    ):
        first.connection.token = AccessToken("alice")
        second.connection.token = AccessToken("alice")
        async with trio.open_nursery() as nursery:
            nursery.start_soon(first.call_tool, "wait")
            await upstream.started.wait()
            assert text(await second.call_tool("ask")) == "4 ['file:///work']"
            nursery.cancel_scope.cancel()
    assert [r["method"] for r in first.server_requests] == ["sampling/createMessage", "roots/list"]


async def test_a_held_call_that_cannot_start_is_not_counted() -> None:
    # running_services() raises (the server is not serving): the call must not
    # stay in Holds.calls, where it would count against max_held forever.
    from types import SimpleNamespace

    def no_services() -> Any:
        raise RuntimeError("not serving")

    holds = Holds(SimpleNamespace(running_services=no_services), wait=60.0, limit=1)  # type: ignore[arg-type]
    req = SimpleNamespace(method="tools/call", params={"name": "ask"}, client_capabilities={})
    ctx = SimpleNamespace(access_token=None)

    async def call(held: HeldCall) -> dict[str, Any]:
        raise AssertionError("never made")

    with pytest.raises(RuntimeError, match="not serving"):
        await holds.serve(req, ctx, call)  # type: ignore[arg-type]
    assert holds.calls == {}
