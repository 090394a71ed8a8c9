"""Legacy POSTs answered as JSON when the answer comes first (``json_response="auto"``).

A legacy POST of one request holds its response until the handler's first
message: the answer goes as plain ``application/json`` (nothing stored: no
event id to resume from); progress, a log record, a request to the client,
``close_sse_stream`` or :data:`JSON_HOLD` seconds of silence begin the SSE
stream, priming event first. ``json_response="never"`` and a client that does
not accept JSON always get the SSE stream.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
import trio
from _support.http import ACCEPT, initialize, legacy_call, legacy_headers, serving, sse_events

from trio_mcp import Context, Server
from trio_mcp._transports import _http_sse
from trio_mcp.lowlevel import InMemoryEventStore

httpx = pytest.importorskip("httpx2")


def build() -> tuple[Server, dict[str, Any]]:
    server = Server("legacy-json", "1.0")
    seen: dict[str, Any] = {"gate": trio.Event(), "left": trio.Event()}

    @server.tool()
    async def echo(text: str) -> str:
        return text

    @server.tool()
    async def chatty(ctx: Context) -> str:
        await ctx.report_progress(1, 2)
        return "chatted"

    @server.tool()
    async def slow() -> str:
        await seen["gate"].wait()
        return "slow done"

    @server.tool()
    async def closing(ctx: Context) -> str:
        """Close the SSE connection before sending anything, then answer later."""
        seen["closed"] = ctx.close_sse_stream()
        await seen["gate"].wait()
        return "closed first"

    @server.tool()
    async def abandoned(ctx: Context) -> str:
        """Wait until the client left, then send progress and answer."""
        await seen["left"].wait()
        await ctx.report_progress(1, 1)
        return "nobody listens"

    return server, seen


def is_priming(event: dict[str, str]) -> bool:
    return event["data"] == "" and "id" in event and "retry" in event


@pytest.mark.parametrize("http_server", ["native", "hypercorn"])
async def test_an_answer_that_comes_first_is_plain_json_and_stores_nothing(
    http_server: str,
) -> None:
    server, _ = build()
    store = InMemoryEventStore()
    with trio.fail_after(10):
        async with (
            serving(server, event_store=store, http_server=http_server) as t,
            httpx.AsyncClient() as c,
        ):
            url = t.urls[0]
            sid = await initialize(c, url)
            for i in range(3):
                r = await c.post(
                    url, json=legacy_call(i, "echo", {"text": "yo"}), headers=legacy_headers(sid)
                )
                assert r.status_code == 200 and r.headers["content-type"] == "application/json"
                assert r.json() == {
                    "jsonrpc": "2.0",
                    "id": i,
                    "result": {"content": [{"type": "text", "text": "yo"}]},
                }
                assert store.nbytes == 0  # no event: nothing to resume, nothing to forget
            assert list(t.sessions[sid].streams) == ["g"]


async def test_a_message_before_the_answer_begins_the_sse_stream_primed() -> None:
    server, _ = build()
    with trio.fail_after(10):
        async with serving(server) as t, httpx.AsyncClient() as c:
            url = t.urls[0]
            sid = await initialize(c, url)
            call = legacy_call(1, "chatty", {})
            call["params"]["_meta"] = {"progressToken": "p"}
            r = await c.post(url, json=call, headers=legacy_headers(sid))
            assert r.headers["content-type"] == "text/event-stream"
            priming, progress, answer = sse_events(r.text)
            assert is_priming(priming)
            assert json.loads(progress["data"])["method"] == "notifications/progress"
            assert json.loads(answer["data"])["result"]["content"][0]["text"] == "chatted"
            assert priming["id"] < progress["id"] < answer["id"]


@pytest.mark.parametrize(
    ("options", "accept"),
    [({"json_response": "never"}, ACCEPT), ({}, "text/event-stream")],
    ids=["never", "accept-sse-only"],
)
async def test_sse_always_when_configured_or_when_json_is_not_accepted(
    options: dict[str, Any], accept: str
) -> None:
    server, _ = build()
    with trio.fail_after(10):
        async with serving(server, **options) as t, httpx.AsyncClient() as c:
            url = t.urls[0]
            sid = await initialize(c, url)
            headers = {**legacy_headers(sid), "accept": accept}
            r = await c.post(url, json=legacy_call(1, "echo", {"text": "yo"}), headers=headers)
            assert r.status_code == 200 and r.headers["content-type"] == "text/event-stream"
            priming, answer = sse_events(r.text)
            assert is_priming(priming)
            assert json.loads(answer["data"])["result"]["content"][0]["text"] == "yo"


async def test_silence_past_the_hold_begins_the_stream_and_a_resume_gets_the_answer(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(_http_sse, "JSON_HOLD", 0.05)
    server, seen = build()
    with trio.fail_after(10):
        async with serving(server) as t, httpx.AsyncClient() as c:
            url = t.urls[0]
            sid = await initialize(c, url)
            body = legacy_call(1, "slow", {})
            async with c.stream("POST", url, json=body, headers=legacy_headers(sid)) as r:
                assert r.headers["content-type"] == "text/event-stream"
                async for chunk in r.aiter_text():
                    (priming,) = sse_events(chunk)
                    assert is_priming(priming)
                    break  # leave after the priming event
            while t.sessions[sid]._attached:
                await trio.sleep(0.01)
            seen["gate"].set()
            headers = {**legacy_headers(sid), "last-event-id": priming["id"]}
            r = await c.get(url, headers=headers)
            (answer,) = sse_events(r.text)
            assert json.loads(answer["data"])["result"]["content"][0]["text"] == "slow done"


@pytest.mark.parametrize("http_server", ["native", "hypercorn"])
async def test_close_sse_stream_before_anything_sends_the_priming_event_to_resume_from(
    http_server: str,
) -> None:
    server, seen = build()
    with trio.fail_after(10):
        async with serving(server, http_server=http_server) as t, httpx.AsyncClient() as c:
            url = t.urls[0]
            sid = await initialize(c, url)
            r = await c.post(url, json=legacy_call(1, "closing", {}), headers=legacy_headers(sid))
            assert seen["closed"] is True
            assert r.headers["content-type"] == "text/event-stream"
            (priming,) = sse_events(r.text)  # the response ended after it
            assert is_priming(priming)
            seen["gate"].set()
            headers = {**legacy_headers(sid), "last-event-id": priming["id"]}
            r = await c.get(url, headers=headers)
            (answer,) = sse_events(r.text)
            assert json.loads(answer["data"])["result"]["content"][0]["text"] == "closed first"


@pytest.mark.parametrize("http_server", ["native", "hypercorn"])
async def test_a_client_gone_before_anything_was_sent_leaves_nothing_stored(
    http_server: str,
) -> None:
    server, seen = build()
    store = InMemoryEventStore()
    with trio.fail_after(10):
        async with (
            serving(server, event_store=store, http_server=http_server) as t,
            httpx.AsyncClient() as c,
        ):
            url = t.urls[0]
            sid = await initialize(c, url)
            session = t.sessions[sid]
            call = legacy_call(1, "abandoned", {})
            call["params"]["_meta"] = {"progressToken": "p"}
            with trio.move_on_after(0.2):  # the client gives up before the hold ends
                await c.post(url, json=call, headers=legacy_headers(sid))
            while session._attached:  # the server saw it leave
                await trio.sleep(0.01)
            seen["left"].set()
            while session.in_flight:
                await trio.sleep(0.01)
            assert store.nbytes == 0  # neither the progress nor the answer: no id to resume
            assert list(session.streams) == ["g"]
            r = await c.post(
                url, json=legacy_call(2, "echo", {"text": "on"}), headers=legacy_headers(sid)
            )
            assert r.json()["result"]["content"][0]["text"] == "on"


async def test_the_setting_comes_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TRIO_MCP_HTTP_JSON_RESPONSE", "never")
    server, _ = build()
    assert server.asgi_app().options.json_response == "never"
    monkeypatch.setenv("TRIO_MCP_HTTP_JSON_RESPONSE", "sometimes")
    with pytest.raises(ValueError, match="expected auto or never"):
        build()
