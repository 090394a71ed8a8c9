"""Tracing across composition: a proxy passes its own span upstream; a mounted child is traced."""

from __future__ import annotations

from typing import Any

import pytest
import trio

pytest.importorskip("opentelemetry.sdk")

from _support.spans import TRACE_ID, TRACEPARENT, Spans, span_id, trace_id

from trio_mcp import Client, Context, Server, proxy
from trio_mcp.middleware import CallNext


@pytest.mark.parametrize("era", ["legacy", "modern"])
async def test_the_proxy_sends_its_own_span_upstream(era: str) -> None:
    spans = Spans()
    upstream = Server("up")

    @upstream.tool()
    async def seen(ctx: Context) -> str:
        return str(ctx.params.get("_meta", {}).get("traceparent"))

    server = proxy(upstream, era=era)
    server.enable_tracing(spans.provider)
    with trio.fail_after(10):
        async with Client(server, era=era) as client:
            result = await client.call_tool("seen", {}, meta={"traceparent": TRACEPARENT})
    _version, trace, parent, _flags = result.text.split("-")
    request = spans.one("tools/call seen")
    assert trace == TRACE_ID == f"{trace_id(request):032x}"  # one trace, the client's
    assert parent == f"{span_id(request):016x}"  # the proxy's span is the upstream's parent
    assert parent != TRACEPARENT.split("-")[2]


async def test_a_mounted_childs_middleware_is_traced_by_the_parent() -> None:
    spans = Spans()
    child = Server("child")

    async def audited(ctx: Context, call_next: CallNext) -> dict[str, Any]:
        return await call_next(ctx)

    child.add_middleware(audited)

    @child.tool()
    async def ping() -> str:
        return "pong"

    parent = Server("parent")
    parent.mount(child, prefix="kid")
    parent.enable_tracing(spans.provider)
    with trio.fail_after(10):
        async with Client(parent) as client:
            assert (await client.call_tool("kid_ping", {})).text == "pong"
    names = [s.name for s in spans.all()]
    assert "tools/call kid_ping" in names
    assert any(n.startswith("middleware") and "audited" in n for n in names), names
