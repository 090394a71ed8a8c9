"""Streamable HTTP against the real server on a loopback port: both eras, sessions, security.

The server runs in the test's own Trio loop (``nursery.start(server.serve_http, ...)``
on port 0); the client is ``httpx2`` (which comes with ``mcp``), or the official
``mcp`` client for the end-to-end cases. Every test is guarded by ``fail_after``.
"""

from __future__ import annotations

import json
from typing import Annotated, Any

import pytest
import trio
from _support.http import (
    ACCEPT,
    LEGACY,
    META,
    MODERN,
    initialize,
    legacy_headers,
    modern_call,
    modern_headers,
    serving,
    sse_events,
)

import trio_mcp
from trio_mcp import AccessToken, BearerAuth, Context, Server
from trio_mcp.lowlevel import InMemoryEventStore

httpx = pytest.importorskip("httpx2")


def build() -> tuple[Server, dict[str, Any]]:
    server = Server("http-test", "1.0")
    seen: dict[str, Any] = {"started": trio.Event(), "cancelled": trio.Event()}

    @server.tool()
    async def echo(text: str) -> str:
        return text

    @server.tool()
    async def count(n: int, ctx: Context) -> str:
        """Report progress n times, slowly, then answer."""
        for i in range(1, n + 1):
            await ctx.report_progress(i, n)
            await trio.sleep(0.02)
        return f"counted {n}"

    @server.tool()
    async def poll(ctx: Context) -> str:
        """Close the SSE connection mid-call: the client resumes with Last-Event-ID."""
        await ctx.report_progress(1)
        seen["closed"] = ctx.close_sse_stream()
        await trio.sleep(0.1)
        await ctx.report_progress(2)
        return "polled"

    @server.tool()
    async def hang() -> str:
        seen["started"].set()
        try:
            await trio.sleep_forever()
        except trio.Cancelled:
            seen["cancelled"].set()
            raise
        return "never"  # pragma: no cover

    return server, seen


# ---------------------------------------------------------------- modern era


async def test_modern_json_and_header_validation() -> None:
    server, _ = build()
    with trio.fail_after(10):
        async with serving(server) as t, httpx.AsyncClient() as c:
            url = t.urls[0]
            r = await c.post(
                url,
                json=modern_call(1, "echo", {"text": "hi"}),
                headers=modern_headers("tools/call", "echo"),
            )
            assert r.status_code == 200
            assert r.headers["content-type"] == "application/json"
            body = r.json()
            assert body["result"]["content"][0]["text"] == "hi"
            assert body["result"]["resultType"] == "complete"
            assert "mcp-session-id" not in r.headers

            # the headers must mirror the body: 400 with -32020, the request's id kept
            for headers in (
                modern_headers("tools/call", "other"),
                modern_headers("tools/call"),
                modern_headers("tools/list", "echo"),
                {**modern_headers("tools/call", "echo"), "mcp-protocol-version": "2025-11-25"},
                {
                    k: v
                    for k, v in modern_headers("tools/call", "echo").items()
                    if k != "mcp-protocol-version"
                },
            ):
                r = await c.post(url, json=modern_call(7, "echo", {"text": "x"}), headers=headers)
                assert r.status_code == 400, headers
                assert r.json()["error"]["code"] == -32020
                assert r.json()["id"] == 7
            # base64 sentinel form and surrounding whitespace are accepted
            r = await c.post(
                url,
                json=modern_call(2, "echo", {"text": "x"}),
                headers=modern_headers("tools/call", "=?base64?ZWNobw==?="),
            )
            assert r.status_code == 200, r.text

            # unknown method: 404 + -32601; missing _meta: 400 + -32602
            msg = {"jsonrpc": "2.0", "id": 3, "method": "nope/nope", "params": {"_meta": META}}
            r = await c.post(url, json=msg, headers=modern_headers("nope/nope"))
            assert (r.status_code, r.json()["error"]["code"]) == (404, -32601)
            msg = {"jsonrpc": "2.0", "id": 4, "method": "tools/list", "params": {}}
            r = await c.post(url, json=msg, headers=modern_headers("tools/list"))
            assert (r.status_code, r.json()["error"]["code"]) == (400, -32602)
            # GET is a legacy thing; without a session it is refused
            r = await c.get(url, headers={"accept": "text/event-stream"})
            assert r.status_code == 400


async def test_modern_mcp_param_header_from_mcp_header_annotation() -> None:
    server = Server("headers", "1.0")

    @server.tool()
    async def forecast(region: Annotated[str, trio_mcp.McpHeader("Region")], days: int) -> str:
        return f"{region}:{days}"

    call = modern_call(1, "forecast", {"region": "eu-west", "days": 2})
    with trio.fail_after(10):
        async with serving(server) as t, httpx.AsyncClient() as c:
            url = t.urls[0]
            r = await c.post(
                url,
                json={"jsonrpc": "2.0", "id": 9, "method": "tools/list", "params": {"_meta": META}},
                headers=modern_headers("tools/list"),
            )
            [tool] = r.json()["result"]["tools"]
            assert tool["inputSchema"]["properties"]["region"]["x-mcp-header"] == "Region"
            base = modern_headers("tools/call", "forecast")
            for value in ("eu-west", "=?base64?ZXUtd2VzdA==?="):
                r = await c.post(url, json=call, headers={**base, "mcp-param-region": value})
                assert r.status_code == 200, r.text
                assert r.json()["result"]["content"][0]["text"] == "eu-west:2"
            for bad in ({}, {"mcp-param-region": "us-east"}):
                r = await c.post(url, json=call, headers={**base, **bad})
                assert (r.status_code, r.json()["error"]["code"]) == (400, -32020), bad


@pytest.mark.parametrize("http_server", ["native", "hypercorn"])
async def test_modern_progress_switches_to_sse(http_server: str) -> None:
    # native: the SSE writer starts at the first notification; hypercorn (ASGI): the
    # same, beside the task watching receive() for http.disconnect
    server, _ = build()
    with trio.fail_after(10):
        async with serving(server, http_server=http_server) as t, httpx.AsyncClient() as c:
            r = await c.post(
                t.urls[0],
                json=modern_call(1, "count", {"n": 3}, token=99),
                headers=modern_headers("tools/call", "count"),
            )
            assert r.status_code == 200
            assert r.headers["content-type"] == "text/event-stream"
            assert r.headers["x-accel-buffering"] == "no"
            messages = [json.loads(e["data"]) for e in sse_events(r.text)]
            assert [m["params"]["progress"] for m in messages[:-1]] == [1, 2, 3]
            assert messages[-1]["result"]["content"][0]["text"] == "counted 3"


async def test_modern_listen_stream_and_graceful_shutdown() -> None:
    server, _ = build()
    listen = {
        "jsonrpc": "2.0",
        "id": "L",
        "method": "subscriptions/listen",
        "params": {"notifications": {"toolsListChanged": True}, "_meta": META},
    }
    with trio.fail_after(10):
        async with trio.open_nursery() as nursery:
            t = await nursery.start(
                lambda task_status: server.serve_http("127.0.0.1", 0, task_status=task_status)
            )
            got: list[dict[str, Any]] = []
            async with (
                httpx.AsyncClient() as c,
                c.stream(
                    "POST", t.urls[0], json=listen, headers=modern_headers("subscriptions/listen")
                ) as r,
            ):
                assert r.headers["content-type"] == "text/event-stream"
                buf = ""
                async for chunk in r.aiter_text():
                    buf += chunk
                    *blocks, buf = buf.split("\n\n")
                    for block in blocks:
                        for ev in sse_events(block + "\n\n"):
                            msg = json.loads(ev["data"])
                            got.append(msg)
                            if msg.get("method") == "notifications/subscriptions/acknowledged":
                                server.add_tool(server.tools["echo"], replace=True)
                            elif msg.get("method") == "notifications/tools/list_changed":
                                t.stop()  # the open stream ends gracefully with a result
            methods = [m.get("method") for m in got]
            assert methods[:2] == [
                "notifications/subscriptions/acknowledged",
                "notifications/tools/list_changed",
            ]
            assert got[-1]["id"] == "L" and "result" in got[-1]
        # new requests are refused while draining; afterwards nothing listens
        async with httpx.AsyncClient() as c:
            with pytest.raises(httpx.ConnectError):
                await c.post(t.urls[0], json=modern_call(1, "echo", {"text": "x"}))


@pytest.mark.parametrize("http_server", ["native", "hypercorn"])
async def test_modern_disconnect_cancels_the_handler(http_server: str) -> None:
    # native: the connection's reader reports the disconnect (Responder.on_disconnect);
    # hypercorn (ASGI): a task watches receive() for http.disconnect
    server, seen = build()
    with trio.fail_after(10):
        async with serving(server, http_server=http_server) as t, httpx.AsyncClient() as c:
            async with trio.open_nursery() as nursery:

                async def call() -> None:
                    await c.post(
                        t.urls[0],
                        json=modern_call(1, "hang", {}),
                        headers=modern_headers("tools/call", "hang"),
                    )

                nursery.start_soon(call)
                await seen["started"].wait()
                nursery.cancel_scope.cancel()  # the client goes away
            await seen["cancelled"].wait()
            await trio.sleep(0.05)
            assert t._requests.count == 0


async def test_body_limit_and_content_type() -> None:
    server, _ = build()
    with trio.fail_after(10):
        async with serving(server, max_body_size=1000) as t, httpx.AsyncClient() as c:
            big = modern_call(1, "echo", {"text": "x" * 2000})
            r = await c.post(t.urls[0], json=big, headers=modern_headers("tools/call", "echo"))
            assert r.status_code == 413
            r = await c.post(t.urls[0], content=b"{", headers={"content-type": "application/json"})
            assert (r.status_code, r.json()["error"]["code"]) == (400, -32700)
            r = await c.post(t.urls[0], content=b"{}", headers={"content-type": "text/plain"})
            assert r.status_code == 415


# ---------------------------------------------------------------- legacy era


@pytest.mark.parametrize("http_server", ["native", "hypercorn"])
async def test_legacy_session_lifecycle(http_server: str) -> None:
    server, _ = build()
    with trio.fail_after(10):
        async with serving(server, http_server=http_server) as t, httpx.AsyncClient() as c:
            url = t.urls[0]
            sid = await initialize(c, url)
            other = await initialize(c, url)
            assert sid != other and len(sid) >= 32
            assert all(0x21 <= ord(ch) <= 0x7E for ch in sid)

            call = {
                "jsonrpc": "2.0",
                "id": 1,
                "method": "tools/call",
                "params": {"name": "echo", "arguments": {"text": "yo"}},
            }
            r = await c.post(url, json=call, headers=legacy_headers(sid))
            # the answer came first: plain JSON (tests/transports/test_http_legacy_json.py)
            assert r.status_code == 200 and r.headers["content-type"] == "application/json"
            assert r.json()["result"]["content"][0]["text"] == "yo"

            # ping and other immediate answers are plain JSON; responses/notifications 202
            r = await c.post(
                url, json={"jsonrpc": "2.0", "id": 2, "method": "ping"}, headers=legacy_headers(sid)
            )
            assert r.json() == {"jsonrpc": "2.0", "id": 2, "result": {}}
            # the protocol version header is validated
            bad = {**legacy_headers(sid), "mcp-protocol-version": "1999-01-01"}
            r = await c.post(url, json={"jsonrpc": "2.0", "id": 3, "method": "ping"}, headers=bad)
            assert r.status_code == 400
            # no session id: 400; DELETE, then 404
            r = await c.post(
                url,
                json={"jsonrpc": "2.0", "id": 4, "method": "tools/list"},
                headers={"accept": ACCEPT, "mcp-protocol-version": LEGACY},
            )
            assert r.status_code == 400
            r = await c.delete(url, headers=legacy_headers(sid))
            assert r.status_code == 200
            r = await c.post(
                url, json={"jsonrpc": "2.0", "id": 5, "method": "ping"}, headers=legacy_headers(sid)
            )
            assert r.status_code == 404
            r = await c.delete(url, headers=legacy_headers(sid))
            assert r.status_code == 404
            assert list(t.sessions) == [other]


async def test_legacy_batch_2025_03_26() -> None:
    server, _ = build()
    with trio.fail_after(10):
        async with serving(server) as t, httpx.AsyncClient() as c:
            url = t.urls[0]
            init = {
                "jsonrpc": "2.0",
                "id": 0,
                "method": "initialize",
                "params": {"protocolVersion": "2025-03-26", "capabilities": {}},
            }
            r = await c.post(url, json=init, headers={"accept": ACCEPT})
            headers = {"accept": ACCEPT, "mcp-session-id": r.headers["mcp-session-id"]}
            batch = [
                {
                    "jsonrpc": "2.0",
                    "id": 1,
                    "method": "tools/call",
                    "params": {"name": "echo", "arguments": {"text": "a"}},
                },
                {"jsonrpc": "2.0", "id": 2, "method": "ping"},
                {"jsonrpc": "2.0", "method": "notifications/initialized"},
            ]
            r = await c.post(url, json=batch, headers=headers)
            answers = json.loads(sse_events(r.text)[-1]["data"])
            assert sorted(a["id"] for a in answers) == [1, 2]


async def test_legacy_in_flight_cap() -> None:
    server, seen = build()
    server.max_in_flight = 1
    with trio.fail_after(10):
        async with serving(server) as t, httpx.AsyncClient() as c:
            url = t.urls[0]
            sid = await initialize(c, url)
            call = {
                "jsonrpc": "2.0",
                "id": 1,
                "method": "tools/call",
                "params": {"name": "hang", "arguments": {}},
            }
            async with trio.open_nursery() as nursery:
                nursery.start_soon(lambda: c.post(url, json=call, headers=legacy_headers(sid)))
                await seen["started"].wait()
                r = await c.post(url, json=dict(call, id=2), headers=legacy_headers(sid))
                assert r.status_code == 429
                # notifications still pass; DELETE ends the session and its handler
                note = {"jsonrpc": "2.0", "method": "notifications/roots/list_changed"}
                r = await c.post(url, json=note, headers=legacy_headers(sid))
                assert r.status_code == 202
                r = await c.delete(url, headers=legacy_headers(sid))
                assert r.status_code == 200
            await seen["cancelled"].wait()


async def test_legacy_idle_session_expires_and_leaves_nothing() -> None:
    server, _ = build()
    store = InMemoryEventStore()
    with trio.fail_after(10):
        async with (
            serving(
                server, session_idle_timeout=0.2, event_store=store, json_response="never"
            ) as t,
            httpx.AsyncClient() as c,
        ):
            url = t.urls[0]
            sid = await initialize(c, url)
            call = {
                "jsonrpc": "2.0",
                "id": 1,
                "method": "tools/call",
                "params": {"name": "echo", "arguments": {"text": "a"}},
            }
            r = await c.post(url, json=call, headers=legacy_headers(sid))
            assert r.status_code == 200
            assert len(store) == 1
            await trio.sleep(0.6)
            r = await c.post(
                url, json={"jsonrpc": "2.0", "id": 2, "method": "ping"}, headers=legacy_headers(sid)
            )
            assert r.status_code == 404
            assert t.sessions == {} and len(store) == 0
            assert not server._core.hub.peers


@pytest.mark.parametrize("http_server", ["native", "hypercorn"])
async def test_legacy_resume_after_dropped_stream_loses_nothing(http_server: str) -> None:
    server, _ = build()
    with trio.fail_after(15):
        async with serving(server, http_server=http_server) as t, httpx.AsyncClient() as c:
            url = t.urls[0]
            sid = await initialize(c, url)
            n = 12
            call = {
                "jsonrpc": "2.0",
                "id": 1,
                "method": "tools/call",
                "params": {"name": "count", "arguments": {"n": n}, "_meta": {"progressToken": "p"}},
            }
            got: list[dict[str, Any]] = []
            last_id = None
            async with c.stream("POST", url, json=call, headers=legacy_headers(sid)) as r:
                buf = ""
                async for chunk in r.aiter_text():
                    buf += chunk
                    *blocks, buf = buf.split("\n\n")
                    for block in blocks:
                        (ev,) = sse_events(block + "\n\n")
                        last_id = ev["id"]
                        if ev["data"]:
                            got.append(json.loads(ev["data"]))
                    if len(got) >= 3:
                        break  # drop the connection mid-stream
            assert last_id is not None
            await trio.sleep(0.1)  # the handler goes on meanwhile
            headers = {
                **legacy_headers(sid),
                "accept": "text/event-stream",
                "last-event-id": last_id,
            }
            r = await c.get(url, headers=headers)
            assert r.status_code == 200
            got += [json.loads(e["data"]) for e in sse_events(r.text) if e.get("data")]
            progress = [
                m["params"]["progress"] for m in got if m.get("method") == "notifications/progress"
            ]
            assert progress == list(range(1, n + 1))  # none lost, none repeated
            assert got[-1]["result"]["content"][0]["text"] == f"counted {n}"


async def test_legacy_server_closes_stream_and_client_polls() -> None:
    server, seen = build()
    with trio.fail_after(10):
        async with serving(server) as t, httpx.AsyncClient() as c:
            url = t.urls[0]
            sid = await initialize(c, url)
            call = {
                "jsonrpc": "2.0",
                "id": 1,
                "method": "tools/call",
                "params": {"name": "poll", "arguments": {}, "_meta": {"progressToken": 5}},
            }
            r = await c.post(url, json=call, headers=legacy_headers(sid))
            first = sse_events(r.text)  # ends early: priming + progress 1
            assert seen["closed"] is True
            assert [json.loads(e["data"])["params"]["progress"] for e in first if e["data"]] == [1]
            headers = {**legacy_headers(sid), "last-event-id": first[-1]["id"]}
            r = await c.get(url, headers=headers)
            rest = [json.loads(e["data"]) for e in sse_events(r.text) if e.get("data")]
            assert rest[0]["params"]["progress"] == 2
            assert rest[1]["result"]["content"][0]["text"] == "polled"
            # modern requests are not resumable: close_sse_stream says so
            r = await c.post(
                url,
                json=modern_call(2, "poll", {}, token=1),
                headers=modern_headers("tools/call", "poll"),
            )
            assert seen["closed"] is False
            assert (
                json.loads(sse_events(r.text)[-1]["data"])["result"]["content"][0]["text"]
                == "polled"
            )


async def test_legacy_get_stream_gets_list_changed_and_closes_at_shutdown() -> None:
    server, _ = build()
    with trio.fail_after(10):
        async with trio.open_nursery() as nursery:
            t = await nursery.start(
                lambda task_status: server.serve_http("127.0.0.1", 0, task_status=task_status)
            )
            async with httpx.AsyncClient() as c:
                sid = await initialize(c, t.urls[0])
                headers = {**legacy_headers(sid), "accept": "text/event-stream"}
                async with c.stream("GET", t.urls[0], headers=headers) as r:
                    assert r.status_code == 200
                    seen = []
                    async for chunk in r.aiter_text():
                        for ev in sse_events(chunk):
                            if not ev.get("data"):
                                server.add_tool(
                                    server.tools["echo"], replace=True
                                )  # -> list_changed
                                continue
                            seen.append(json.loads(ev["data"])["method"])
                            t.stop()  # graceful shutdown ends the open stream
                    assert seen == ["notifications/tools/list_changed"]
        assert t.sessions == {}


# ------------------------------------------------------------------ security


async def test_origin_and_host_refusal() -> None:
    server, _ = build()
    with trio.fail_after(10):
        async with serving(server) as t, httpx.AsyncClient() as c:
            url = t.urls[0]
            ok = modern_headers("tools/call", "echo")
            body = modern_call(1, "echo", {"text": "x"})
            r = await c.post(url, json=body, headers={**ok, "origin": "http://evil.example.com"})
            assert r.status_code == 403
            assert r.json()["error"]["code"] and r.json()["id"] is None
            r = await c.post(url, json=body, headers={**ok, "host": "evil.example.com"})
            assert r.status_code == 421
            r = await c.post(url, json=body, headers={**ok, "origin": "http://localhost:5173"})
            assert r.status_code == 200
        async with (
            serving(server, allowed_origins=["https://app.example.com"]) as t,
            httpx.AsyncClient() as c,
        ):
            r = await c.post(
                t.urls[0], json=body, headers={**ok, "origin": "https://app.example.com"}
            )
            assert r.status_code == 200


async def test_bearer_auth_and_session_binding() -> None:
    tokens = {"alice-token": "alice", "bob-token": "bob"}

    async def verify(token: str) -> AccessToken | None:
        subject = tokens.get(token)
        return AccessToken(subject, frozenset({"mcp:read"})) if subject else None

    auth = BearerAuth(
        verify=verify,
        resource="http://127.0.0.1/mcp",
        authorization_servers=["https://auth.example.com"],
    )
    server, _ = build()

    @server.tool()
    async def whoami(ctx: Context) -> str:
        token = ctx.access_token
        assert token is not None
        return f"{token.subject} {sorted(token.scopes)}"

    with trio.fail_after(10):
        async with serving(server, auth=auth) as t, httpx.AsyncClient() as c:
            url = t.urls[0]
            body = modern_call(1, "echo", {"text": "x"})
            r = await c.post(url, json=body, headers=modern_headers("tools/call", "echo"))
            assert r.status_code == 401
            assert (
                'resource_metadata="http://127.0.0.1/.well-known/oauth-protected-resource/mcp"'
                in r.headers["www-authenticate"]
            )
            r = await c.post(
                url,
                json=body,
                headers={**modern_headers("tools/call", "echo"), "authorization": "Bearer nope"},
            )
            assert r.status_code == 401 and 'error="invalid_token"' in r.headers["www-authenticate"]
            r = await c.post(
                url,
                json=body,
                headers={
                    **modern_headers("tools/call", "echo"),
                    "authorization": "Bearer alice-token",
                },
            )
            assert r.status_code == 200
            # Handlers see who called: ctx.access_token is what the verifier returned.
            who = modern_call(3, "whoami", {})
            r = await c.post(
                url,
                json=who,
                headers={
                    **modern_headers("tools/call", "whoami"),
                    "authorization": "Bearer alice-token",
                },
            )
            assert r.json()["result"]["content"][0]["text"] == "alice ['mcp:read']"

            prm = await c.get(url.replace("/mcp", "/.well-known/oauth-protected-resource/mcp"))
            assert prm.json()["resource"] == "http://127.0.0.1/mcp"
            assert prm.json()["authorization_servers"] == ["https://auth.example.com"]

            sid = await initialize(c, url, authorization="Bearer alice-token")
            ping = {"jsonrpc": "2.0", "id": 2, "method": "ping"}
            r = await c.post(
                url,
                json=ping,
                headers={**legacy_headers(sid), "authorization": "Bearer alice-token"},
            )
            assert r.status_code == 200
            r = await c.post(
                url, json=ping, headers={**legacy_headers(sid), "authorization": "Bearer bob-token"}
            )
            assert r.status_code == 404  # bob cannot ride alice's session
            r = await c.delete(
                url, headers={**legacy_headers(sid), "authorization": "Bearer bob-token"}
            )
            assert r.status_code == 404 and sid in t.sessions


# -------------------------------------------------------- the official client


@pytest.mark.parametrize("mode", ["legacy", MODERN, "auto"])
async def test_official_mcp_client(mode: str) -> None:
    mcp = pytest.importorskip("mcp")
    server, _ = build()
    with trio.fail_after(30):
        async with (
            serving(server) as t,
            mcp.Client(t.urls[0], mode=mode, read_timeout_seconds=10) as client,
        ):
            tools = await client.list_tools()
            assert {tool.name for tool in tools.tools} >= {"echo", "count", "hang"}
            result = await client.call_tool("echo", {"text": "over http"})
            assert result.content[0].text == "over http"
            seen: list[float] = []

            async def on_progress(
                progress: float, total: float | None, message: str | None
            ) -> None:
                seen.append(progress)

            result = await client.call_tool("count", {"n": 3}, progress_callback=on_progress)
            assert result.content[0].text == "counted 3"
            assert seen == [1, 2, 3]
