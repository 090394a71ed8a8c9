"""Tracing over Streamable HTTP: the ``traceparent`` header, ``_meta`` winning, the subject.

The real HTTP server (trio_mcp's native one, and Hypercorn serving the ASGI app)
on a loopback port; spans from the OpenTelemetry SDK's in-memory exporter. The
span attributes common to every transport are in tests/app/test_tracing.py.
"""

from __future__ import annotations

import hashlib
from typing import Any

import httpx
import pytest
import trio
from _support.http import (
    LEGACY,
    initialize,
    legacy_call,
    legacy_headers,
    modern_call,
    modern_headers,
    serving,
)
from _support.spans import PARENT_ID, TRACE_ID, TRACEPARENT, Spans, parent_of, span_id, trace_id
from opentelemetry.trace import SpanKind

from trio_mcp import AccessToken, BearerAuth, Server
from trio_mcp.lowlevel import HttpTransport

OTHER = "00-11111111111111111111111111111111-2222222222222222-01"


def build(spans: Spans) -> Server:
    server = Server("traced-http", "1.0")
    server.enable_tracing(spans.provider)

    @server.tool()
    async def add(a: int, b: int) -> int:
        return a + b

    return server


async def verify(token: str) -> AccessToken | None:
    return AccessToken("alice", frozenset({"mcp:tools"})) if token == "good" else None


AUTH = BearerAuth(verify=verify, required_scopes=("mcp:tools",))


@pytest.mark.parametrize("http_server", ["native", "hypercorn"])
async def test_the_traceparent_header_is_the_parent(http_server: str) -> None:
    spans = Spans()
    headers = {**modern_headers("tools/call", "add"), "traceparent": TRACEPARENT}
    headers["tracestate"] = "vendor=http"
    with trio.fail_after(20):
        async with serving(build(spans), http_server=http_server) as t:
            async with httpx.AsyncClient() as client:
                r = await client.post(
                    t.urls[0], json=modern_call(1, "add", {"a": 1, "b": 2}), headers=headers
                )
            assert r.status_code == 200, r.text
    span = spans.one("tools/call add")
    assert span.kind is SpanKind.SERVER
    assert f"{trace_id(span):032x}" == TRACE_ID
    assert f"{parent_of(span):016x}" == PARENT_ID
    assert span.context is not None and span.context.trace_state.get("vendor") == "http"
    attributes = dict(span.attributes or {})
    assert attributes["network.transport"] == "tcp"
    assert attributes["network.protocol.name"] == "http"
    assert attributes["client.address"] == "127.0.0.1"
    assert isinstance(attributes["client.port"], int)
    assert "mcp.session.id" not in attributes  # a modern POST has no session
    assert "enduser.id" not in attributes  # and no token here


async def test_meta_wins_over_the_header() -> None:
    spans = Spans()
    body = modern_call(1, "add", {"a": 1, "b": 2})
    body["params"]["_meta"] = {**body["params"]["_meta"], "traceparent": TRACEPARENT}
    headers = {**modern_headers("tools/call", "add"), "traceparent": OTHER}
    with trio.fail_after(20):
        async with serving(build(spans)) as t:
            async with httpx.AsyncClient() as client:
                r = await client.post(t.urls[0], json=body, headers=headers)
            assert r.status_code == 200, r.text
    span = spans.one("tools/call add")
    assert f"{trace_id(span):032x}" == TRACE_ID
    assert f"{parent_of(span):016x}" == PARENT_ID


async def test_modern_subject_on_the_span() -> None:
    spans = Spans()
    headers = {**modern_headers("tools/call", "add"), "authorization": "Bearer good"}
    with trio.fail_after(20):
        async with serving(build(spans), auth=AUTH) as t:
            async with httpx.AsyncClient() as client:
                r = await client.post(
                    t.urls[0], json=modern_call(1, "add", {"a": 1, "b": 2}), headers=headers
                )
            assert r.status_code == 200, r.text
    assert spans.attributes("tools/call add")["enduser.id"] == "alice"


async def test_legacy_session_subject_and_header() -> None:
    spans = Spans()
    auth = {"authorization": "Bearer good"}
    with trio.fail_after(20):
        async with serving(build(spans), auth=AUTH) as t, httpx.AsyncClient() as client:
            sid = await initialize(client, t.urls[0], **auth)
            headers = {**legacy_headers(sid), **auth, "traceparent": TRACEPARENT}
            r = await client.post(
                t.urls[0], json=legacy_call(2, "add", {"a": 1, "b": 2}), headers=headers
            )
            assert r.status_code == 200, r.text
            r = await client.delete(t.urls[0], headers={**legacy_headers(sid), **auth})
    span = spans.one("tools/call add")
    attributes = dict(span.attributes or {})
    assert attributes["enduser.id"] == "alice"
    assert attributes["mcp.protocol.version"] == LEGACY
    # The session id is the session's credential: the span carries a digest of it.
    assert attributes["mcp.session.id"] == hashlib.sha256(sid.encode()).hexdigest()[:32]
    assert sid not in str(attributes)
    assert f"{trace_id(span):032x}" == TRACE_ID and f"{parent_of(span):016x}" == PARENT_ID


async def test_a_span_current_around_the_asgi_app_is_the_parent() -> None:
    # An ASGI instrumentation's server span wraps the POST: the MCP span is its
    # child, not a sibling under the header's remote parent.
    spans = Spans()
    app: HttpTransport = build(spans).asgi_app()
    body = b'{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"add","arguments":{"a":1,"b":2},"_meta":{"io.modelcontextprotocol/protocolVersion":"2026-07-28","io.modelcontextprotocol/clientCapabilities":{}}}}'
    headers = {**modern_headers("tools/call", "add"), "traceparent": OTHER}
    scope: dict[str, Any] = {
        "type": "http",
        "http_version": "1.1",
        "method": "POST",
        "path": "/mcp",
        "raw_path": b"/mcp",
        "query_string": b"",
        "scheme": "http",
        "headers": [(b"host", b"127.0.0.1:8000"), (b"content-type", b"application/json")]
        + [(k.encode(), v.encode()) for k, v in headers.items()],
        "client": ("127.0.0.1", 5000),
        "server": ("127.0.0.1", 8000),
    }
    sent: list[dict[str, Any]] = []
    messages = [{"type": "http.request", "body": body, "more_body": False}]

    async def receive() -> dict[str, Any]:
        if messages:
            return messages.pop(0)
        await trio.sleep_forever()
        raise AssertionError("unreachable")  # pragma: no cover

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    outer = spans.provider.get_tracer("asgi")
    with trio.fail_after(20):
        async with app.running():
            with outer.start_as_current_span("POST /mcp", kind=SpanKind.SERVER) as around:
                await app(scope, receive, send)
    assert sent[0]["status"] == 200
    span = spans.one("tools/call add")
    assert parent_of(span) == around.get_span_context().span_id
    assert trace_id(span) == around.get_span_context().trace_id
    assert span_id(span) != around.get_span_context().span_id
