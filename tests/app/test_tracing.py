"""Tracing: a SERVER span per request with the MCP semantic conventions' attributes.

Each test drives a real server through the in-memory client, in both eras where
the era matters, and reads the spans from the OpenTelemetry SDK's in-memory
exporter: names, attributes, status, the parent from ``_meta.traceparent``, and
the middleware and dependency spans nested under the request's. The HTTP side
(headers, subject, session) is in tests/transports/test_http_tracing.py.
"""

# No ``from __future__ import annotations``: the dependencies below are local
# functions, which string annotations could not name (``get_type_hints``).
import itertools
from collections.abc import AsyncIterator
from typing import Annotated, Any

import pytest
import trio
import trio.testing
from _support.spans import PARENT_ID, TRACE_ID, TRACEPARENT, Spans, parent_of, span_id, trace_id
from opentelemetry import trace
from opentelemetry.trace import SpanKind, StatusCode

from trio_mcp import Context, Depends, McpError, Server
from trio_mcp._app._tracing import inject_meta
from trio_mcp.middleware import CallNext, Middleware, Notification, NotifyNext
from trio_mcp.testing import connect

ERAS = ["legacy", "modern"]


def build(spans: Spans | None, **kw: Any) -> Server:
    server = Server("traced", "1.0", **kw)
    if spans is not None:
        server.enable_tracing(spans.provider)

    @server.tool()
    async def add(a: int, b: int) -> int:
        return a + b

    @server.tool()
    async def broken() -> int:
        raise ValueError("the tool failed")

    @server.tool()
    async def quota() -> int:
        raise McpError(-32001, "Quota exceeded")

    @server.tool(timeout=5)
    async def slow() -> int:
        await trio.sleep(100)
        return 0  # pragma: no cover

    @server.resource("data://n")
    async def n() -> str:
        return "n"

    @server.resource("data://bad")
    async def bad() -> str:
        raise RuntimeError("the resource failed")

    @server.prompt()
    async def greet(who: str) -> str:
        return f"hello {who}"

    return server


@pytest.mark.parametrize("era", ERAS)
async def test_tools_call_span(era: str) -> None:
    spans = Spans()
    async with connect(build(spans), era=era) as client:
        assert (await client.call_tool("add", {"a": 1, "b": 2}))["content"][0]["text"] == "3"
    span = spans.one("tools/call add")
    assert span.kind is SpanKind.SERVER
    assert span.status.status_code is StatusCode.UNSET
    assert span.parent is None  # no trace context came in: a root
    attributes = dict(span.attributes or {})
    assert attributes == {
        "mcp.method.name": "tools/call",
        "jsonrpc.request.id": attributes["jsonrpc.request.id"],
        "mcp.protocol.version": "2025-11-25" if era == "legacy" else "2026-07-28",
        "gen_ai.operation.name": "execute_tool",
        "gen_ai.tool.name": "add",
    }
    assert attributes["jsonrpc.request.id"].isdigit()
    assert spans.one("tools/call add").instrumentation_scope.name == "trio_mcp"


@pytest.mark.parametrize("era", ERAS)
async def test_resources_read_and_prompts_get_spans(era: str) -> None:
    spans = Spans()
    async with connect(build(spans), era=era) as client:
        await client.read_resource("data://n")
        await client.get_prompt("greet", {"who": "ann"})
        await client.list_tools()
    read = spans.attributes("resources/read")  # a URI is not a low-cardinality target
    assert read["mcp.method.name"] == "resources/read"
    assert read["mcp.resource.uri"] == "data://n"
    assert "gen_ai.operation.name" not in read
    prompt = spans.attributes("prompts/get greet")
    assert prompt["mcp.method.name"] == "prompts/get"
    assert prompt["gen_ai.prompt.name"] == "greet"
    assert spans.attributes("tools/list")["mcp.method.name"] == "tools/list"


@pytest.mark.parametrize("era", ERAS)
async def test_error_spans(era: str) -> None:
    spans = Spans()
    async with connect(build(spans), era=era) as client:
        assert (await client.call_tool("broken"))["isError"]
        with pytest.raises(McpError):
            await client.call_tool("quota")
        with pytest.raises(McpError):
            await client.read_resource("data://bad")
        with pytest.raises(McpError):
            await client.call_tool("nonexistent")

    tool = spans.one("tools/call broken")  # an isError result: the conventions' tool_error
    assert tool.attributes is not None and tool.attributes["error.type"] == "tool_error"
    assert tool.status.status_code is StatusCode.ERROR
    (event,) = tool.events  # the exception the tool raised, recorded
    assert event.name == "exception" and event.attributes is not None
    assert event.attributes["exception.type"] == "ValueError"
    assert event.attributes["exception.message"] == "the tool failed"

    coded = spans.one("tools/call quota")  # a JSON-RPC error of the server's: an error
    assert coded.attributes is not None
    assert coded.attributes["error.type"] == "-32001"
    assert coded.attributes["rpc.response.status_code"] == "-32001"
    assert coded.status.status_code is StatusCode.ERROR
    assert coded.status.description == "Quota exceeded"

    crashed = spans.one("resources/read")  # any other exception: -32603, recorded
    assert crashed.attributes is not None and crashed.attributes["error.type"] == "-32603"
    assert crashed.status.description == "Internal error"
    assert [e.attributes["exception.type"] for e in crashed.events if e.attributes] == [
        "RuntimeError"
    ]

    unknown = spans.one("tools/call nonexistent")  # -32602 is the caller's: not an error
    assert unknown.attributes is not None
    assert unknown.attributes["rpc.response.status_code"] == "-32602"
    assert "error.type" not in unknown.attributes
    assert unknown.status.status_code is StatusCode.UNSET


async def test_invalid_params_have_a_span_too() -> None:
    spans = Spans()
    async with connect(build(spans)) as client:
        with pytest.raises(McpError) as info:
            await client.request("tools/call", {"name": 7})
        assert info.value.code == -32602
    (span,) = spans.servers()
    assert span.name == "tools/call"  # no string name: no target
    assert span.attributes is not None and span.attributes["rpc.response.status_code"] == "-32602"


async def test_deadline_and_cancel(autojump_clock: trio.testing.MockClock) -> None:
    spans = Spans()
    async with connect(build(spans)) as client:
        result = await client.call_tool("slow")
        assert result["isError"] and "timed out" in result["content"][0]["text"]
        timed_out = spans.one("tools/call slow")
        assert timed_out.attributes is not None
        assert timed_out.attributes["error.type"] == "timeout"
        assert timed_out.status.status_code is StatusCode.ERROR
        spans.exporter.clear()
        rid = await client.start_request("tools/call", {"name": "slow", "arguments": {}})
        await trio.sleep(1)
        await client.cancel(rid)
        await client.ping()
        await trio.sleep(1)
    cancelled = spans.one("tools/call slow")
    assert cancelled.attributes is not None and cancelled.attributes["error.type"] == "cancelled"


@pytest.mark.parametrize("era", ERAS)
async def test_incoming_meta_traceparent_is_the_parent(era: str) -> None:
    spans = Spans()
    inner: dict[str, Any] = {}
    server = build(spans)

    @server.tool()
    async def traced(ctx: Context) -> str:
        inner["current"] = trace.get_current_span().get_span_context()
        inner["meta"] = inject_meta({"progressToken": 1})  # what a proxy would send upstream
        with spans.provider.get_tracer("app").start_as_current_span("app work"):
            pass
        return "ok"

    meta = {"traceparent": TRACEPARENT, "tracestate": "vendor=abc"}
    async with connect(server, era=era) as client:
        await client.call_tool("traced", meta=meta)
        await client.call_tool("add", {"a": 1, "b": 1})  # no context: a new trace
    span = spans.one("tools/call traced")
    assert f"{trace_id(span):032x}" == TRACE_ID
    assert f"{parent_of(span):016x}" == PARENT_ID
    assert span.parent is not None and span.parent.is_remote
    assert span.context is not None and span.context.trace_state.get("vendor") == "abc"
    # The request's span is current in the handler: what it injects names it,
    assert inner["current"].span_id == span_id(span)
    assert inner["meta"]["traceparent"] == f"00-{TRACE_ID}-{span_id(span):016x}-01"
    assert inner["meta"]["tracestate"] == "vendor=abc"
    assert inner["meta"]["progressToken"] == 1
    # and the application's own spans nest under it.
    assert parent_of(spans.one("app work")) == span_id(span)
    assert f"{trace_id(spans.one('tools/call add')):032x}" != TRACE_ID


async def test_a_malformed_or_odd_traceparent_is_ignored() -> None:
    spans = Spans()
    async with connect(build(spans), era="modern") as client:
        await client.call_tool("add", {"a": 1, "b": 1}, meta={"traceparent": "garbage"})
        await client.call_tool("add", {"a": 1, "b": 2}, meta={"traceparent": 42})
    assert [s.parent for s in spans.servers()] == [None, None]


def test_inject_meta_without_a_span_writes_nothing() -> None:
    assert inject_meta({"k": 1}) == {"k": 1}


@pytest.mark.parametrize("era", ERAS)
async def test_middleware_and_dependency_spans_nest(era: str) -> None:
    spans = Spans()
    log: list[str] = []

    class Outer(Middleware):
        async def on_request(self, ctx: Context, call_next: CallNext) -> dict[str, Any]:
            return await call_next(ctx)

        async def on_call_tool(self, ctx: Context, call_next: CallNext) -> dict[str, Any]:
            return await call_next(ctx)

    async def plain(ctx: Context, call_next: CallNext) -> dict[str, Any]:
        return await call_next(ctx)

    async def settings() -> str:
        return "s"

    async def db(conf: Annotated[str, Depends(settings)]) -> AsyncIterator[str]:
        log.append("open")
        yield f"db({conf})"
        log.append("close")

    server = build(spans, middleware=[Outer(), plain])

    @server.tool()
    async def query(conn: Annotated[str, Depends(db)]) -> str:
        return conn

    async with connect(server, era=era) as client:
        assert (await client.call_tool("query"))["content"][0]["text"] == "db(s)"
    assert log == ["open", "close"]
    request = spans.one("tools/call query")
    on_request = spans.one("middleware Outer.on_request")
    on_call_tool = spans.one("middleware Outer.on_call_tool")
    function = spans.one(f"middleware {plain.__qualname__}")
    dependency = spans.one(f"dependency {db.__qualname__}")
    sub = spans.one(f"dependency {settings.__qualname__}")
    exit_ = spans.one(f"dependency {db.__qualname__} exit")
    chain = [request, on_request, on_call_tool, function, dependency, sub]
    for parent, child in itertools.pairwise(chain):
        assert parent_of(child) == span_id(parent), (child.name, parent.name)
    assert parent_of(exit_) == span_id(function)  # the exit runs after the handler, inside
    assert {trace_id(s) for s in spans.all()} == {trace_id(request)}
    assert all(s.kind is SpanKind.INTERNAL for s in [*chain[1:], exit_])


async def test_a_failing_middleware_marks_its_span() -> None:
    spans = Spans()

    async def refuse(ctx: Context, call_next: CallNext) -> dict[str, Any]:
        raise McpError(-32042, "refused by policy")

    async with connect(build(spans, middleware=[refuse])) as client:
        with pytest.raises(McpError):
            await client.call_tool("add", {"a": 1, "b": 1})
    link = spans.one(f"middleware {refuse.__qualname__}")
    assert link.attributes is not None and link.attributes["error.type"] == "-32042"
    assert link.status.description == "refused by policy"
    assert spans.attributes("tools/call add")["error.type"] == "-32042"


async def test_notification_span() -> None:
    spans = Spans()

    class Listen(Middleware):
        async def on_notification(self, note: Notification, call_next: NotifyNext) -> None:
            await call_next(note)

    async with connect(build(spans, middleware=[Listen()])) as client:
        meta = {"traceparent": TRACEPARENT}
        await client.notify("notifications/roots/list_changed", {"_meta": meta})
        await client.ping()
    note = spans.one("notifications/roots/list_changed")
    assert note.kind is SpanKind.SERVER
    assert f"{trace_id(note):032x}" == TRACE_ID
    link = spans.one("middleware Listen.on_notification")
    assert parent_of(link) == span_id(note)


async def test_off_makes_no_spans_and_the_setting_wins() -> None:
    spans = Spans()
    server = build(spans)
    server.configure(tracing="off")
    async with connect(server) as client:
        await client.call_tool("add", {"a": 1, "b": 1})
    assert spans.all() == []
    server.configure(tracing="auto")  # enable_tracing was called: auto means on
    async with connect(server) as client:
        await client.call_tool("add", {"a": 1, "b": 1})
    assert [s.name for s in spans.servers()] == ["tools/call add"]


async def test_auto_without_a_configured_provider_is_off() -> None:
    # opentelemetry is imported in this process, but no global provider was set.
    assert isinstance(trace.get_tracer_provider(), trace.ProxyTracerProvider)
    server = build(None)
    async with connect(server) as client:
        await client.call_tool("add", {"a": 1, "b": 1})
        assert server._core.tracing is None
    server.configure(tracing="on")  # on: the global provider (the API's no-op one here)
    async with connect(server) as client:
        await client.call_tool("add", {"a": 1, "b": 1})
        assert server._core.tracing is not None
    assert server._core.tracing is None  # decided per run


def test_the_setting_is_checked() -> None:
    from trio_mcp import SettingsError

    with pytest.raises(SettingsError, match="expected auto, on or off"):
        Server("x").configure(tracing="sometimes")
