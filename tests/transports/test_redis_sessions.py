"""Legacy sessions shared through a real redis-server: any request of a session on any worker.

Three "workers" are three :class:`~trio_mcp.Server` objects with the same
``redis_url``, each serving HTTP on its own loopback port in this test's Trio
loop; nothing but Redis connects them. The client is raw HTTP (``httpx2``), and
each request goes to a different worker than the one before, as a load balancer
without affinity would send it. Changes another worker makes reach a copy by
pub/sub, so where a test must see one it waits for it (under ``fail_after``);
nothing asserts on time.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from typing import Any

import pytest
import trio
from _support.http import LEGACY, initialize, legacy_headers, serving, sse_events
from _support.mcp_http import Events, answer_of, call, get_headers, rpc, until_status
from _support.redis import RedisServer

from trio_mcp import BearerAuth, Context, Server
from trio_mcp.auth import StaticTokens

httpx = pytest.importorskip("httpx2")

LIMIT = 20
CONFIRM = {"type": "object", "properties": {"ok": {"type": "boolean"}}}


def build(url: str, seen: dict[str, Any]) -> Server:
    server = Server("shared-sessions", "1.0")
    server.configure(redis_url=url)

    @server.tool()
    async def echo(text: str) -> str:
        return text

    @server.tool()
    async def note(text: str, ctx: Context) -> str:
        """A log record outside the request: it goes on the session's GET stream."""
        return "queued" if ctx.log_nowait("info", text) else "dropped"

    @server.tool()
    async def levels(ctx: Context) -> str:
        await ctx.debug("debug record")
        await ctx.info("info record")
        return "logged"

    @server.tool()
    async def ask(ctx: Context) -> str:
        answer = await ctx.elicit("Sure?", CONFIRM)
        return f"{answer.action}:{(answer.content or {}).get('ok')}"

    @server.tool()
    async def hold(label: str) -> str:
        seen.setdefault("started", {})[label] = True
        seen["event"].set()
        try:
            await trio.sleep_forever()
        finally:
            seen.setdefault("stopped", {})[label] = True
            seen["event"].set()
        return "never"  # pragma: no cover

    @server.tool()
    async def poll(ctx: Context) -> str:
        """Close the POST's SSE connection mid-call: the client resumes elsewhere."""
        await ctx.report_progress(1)
        seen["closed"] = ctx.close_sse_stream()
        await seen["go"].wait()
        await ctx.report_progress(2)
        return "polled"

    @server.tool()
    def spare() -> str:
        return "spare"

    @server.tool()
    def drop_spare(ctx: Context) -> str:
        ctx.server.remove_tool("spare")  # tools/list_changed, to every worker's sessions
        return "dropped"

    @server.tool()
    def touch(uri: str, ctx: Context) -> int:
        return ctx.server.notify_resource_updated(uri)

    @server.resource("file:///doc")
    def doc() -> str:
        return "the doc"

    return server


@asynccontextmanager
async def workers(
    redis: RedisServer, n: int = 3, **options: Any
) -> AsyncIterator[tuple[list[str], dict[str, Any]]]:
    seen: dict[str, Any] = {"event": trio.Event(), "go": trio.Event()}
    async with AsyncExitStack() as stack:
        urls = []
        for _ in range(n):
            server = build(redis.url, seen)
            transport = await stack.enter_async_context(serving(server, **options))
            urls.append(transport.urls[0])
        yield urls, seen


async def open_session(c: Any, url: str) -> str:
    """``initialize`` with the capabilities for server-to-client requests; the session id."""
    return await initialize(c, url, capabilities={"elicitation": {}, "sampling": {}})


async def test_every_request_on_another_worker(redis_server: RedisServer) -> None:
    with trio.fail_after(LIMIT):
        async with workers(redis_server) as (urls, _), httpx.AsyncClient() as c:
            a, b, w3 = urls
            sid = await initialize(c, a)  # initialize on A, initialized on A too
            for i, url in enumerate([b, w3, a, b]):
                r = await c.post(
                    url, json=call(i + 1, "echo", text=f"hi {i}"), headers=legacy_headers(sid)
                )
                assert r.status_code == 200, r.text
                assert answer_of(r)["result"]["content"][0]["text"] == f"hi {i}"
            r = await c.post(w3, json=rpc(9, "tools/list"), headers=legacy_headers(sid))
            assert "echo" in [t["name"] for t in answer_of(r)["result"]["tools"]]
            # an unknown id is the same 404 everywhere
            r = await c.post(b, json=call(10, "echo", text="x"), headers=legacy_headers("nope"))
            assert (r.status_code, r.json()["error"]["code"]) == (404, -32001)
            # the log level set on C applies on B (the copy on B hears of it by pub/sub)
            r = await c.post(
                w3, json=rpc(11, "logging/setLevel", {"level": "info"}), headers=legacy_headers(sid)
            )
            assert r.status_code == 200 and r.json()["result"] == {}
            with trio.fail_after(LIMIT):
                while True:
                    r = await c.post(b, json=call(12, "levels"), headers=legacy_headers(sid))
                    logged = [
                        e
                        for e in sse_events(r.text)
                        if "notifications/message" in e.get("data", "")
                    ]
                    if len(logged) == 1:
                        break
                    await trio.sleep(0.01)
            assert json.loads(logged[0]["data"])["params"]["data"] == "info record"
            # DELETE on B ends it on every worker
            r = await c.delete(b, headers=legacy_headers(sid))
            assert r.status_code == 200
            for url in (a, w3, b):
                r = await until_status(c, url, call(13, "echo", text="x"), sid, 404)
                assert r.json()["error"]["code"] == -32001


async def test_get_stream_gets_what_any_worker_sends_and_resumes_anywhere(
    redis_server: RedisServer,
) -> None:
    with trio.fail_after(LIMIT):
        async with workers(redis_server) as (urls, _), httpx.AsyncClient(timeout=LIMIT) as c:
            a, b, w3 = urls
            sid = await initialize(c, a)
            r = await c.post(
                b, json=rpc(1, "logging/setLevel", {"level": "info"}), headers=legacy_headers(sid)
            )
            assert r.status_code == 200
            get = get_headers(sid)
            got: list[dict[str, Any]] = []
            async with c.stream("GET", a, headers=get) as stream:
                assert stream.status_code == 200
                events = Events(stream)
                priming = await events.next()
                assert priming["id"].endswith(".g") and not priming.get("data")
                for i, url in enumerate([b, w3, a]):
                    r = await c.post(
                        url, json=call(i + 2, "note", text=f"n{i}"), headers=legacy_headers(sid)
                    )
                    assert answer_of(r)["result"]["content"][0]["text"] == "queued"
                    got.append(await events.message())
            assert [m["params"]["data"] for m in got] == ["n0", "n1", "n2"]
            # the GET is gone: notes sent meanwhile wait in Redis
            for i, url in enumerate([a, b]):
                r = await c.post(
                    url, json=call(i + 10, "note", text=f"m{i}"), headers=legacy_headers(sid)
                )
                assert r.status_code == 200
            resumed = {**get, "last-event-id": got[-1]["_event_id"]}
            async with c.stream("GET", w3, headers=resumed) as stream:
                assert stream.status_code == 200
                events = Events(stream)
                replayed = [await events.message(), await events.message()]
                assert [m["params"]["data"] for m in replayed] == ["m0", "m1"]
                r = await c.post(a, json=call(20, "note", text="live"), headers=legacy_headers(sid))
                live = await events.message()
                assert live["params"]["data"] == "live"
            # every id once, in order
            ids = [m["_event_id"] for m in [*got, *replayed, live]]
            assert len(set(ids)) == len(ids)
            resumed = {**get, "last-event-id": "123-0.g"}
            r = await c.get(b, headers=resumed)
            assert r.status_code == 400


async def test_answers_and_cancels_reach_the_worker_that_waits(redis_server: RedisServer) -> None:
    with trio.fail_after(LIMIT):
        async with workers(redis_server) as (urls, seen), httpx.AsyncClient(timeout=LIMIT) as c:
            a, b, w3 = urls
            sid = await open_session(c, a)
            # ask on B; its elicitation comes on B's POST stream; the answer goes to C
            async with c.stream("POST", b, json=call(1, "ask"), headers=legacy_headers(sid)) as r:
                events = Events(r)
                asked = await events.message()
                assert asked["method"] == "elicitation/create"
                assert isinstance(asked["id"], str)  # "<worker>.<n>": unique over the workers
                reply = {
                    "jsonrpc": "2.0",
                    "id": asked["id"],
                    "result": {"action": "accept", "content": {"ok": True}},
                }
                assert (
                    await c.post(w3, json=reply, headers=legacy_headers(sid))
                ).status_code == 202
                done = await events.message()
            assert done["id"] == 1 and done["result"]["content"][0]["text"] == "accept:True"
            # hold on B, cancelled from A: the handler on B really stops
            async with c.stream(
                "POST", b, json=call(2, "hold", label="h"), headers=legacy_headers(sid)
            ) as r:
                events = Events(r)
                await events.next()  # priming
                while "h" not in seen.get("started", {}):
                    await seen["event"].wait()
                    seen["event"] = trio.Event()
                cancel = {
                    "jsonrpc": "2.0",
                    "method": "notifications/cancelled",
                    "params": {"requestId": 2},
                }
                assert (
                    await c.post(a, json=cancel, headers=legacy_headers(sid))
                ).status_code == 202
                while "h" not in seen.get("stopped", {}):
                    await seen["event"].wait()
                    seen["event"] = trio.Event()
                with pytest.raises(EOFError):
                    await events.message()  # cancelled: the stream ends with no answer


async def test_list_changed_and_subscriptions_fan_out(redis_server: RedisServer) -> None:
    with trio.fail_after(LIMIT):
        async with workers(redis_server) as (urls, _), httpx.AsyncClient(timeout=LIMIT) as c:
            a, b, w3 = urls
            sid = await open_session(c, a)
            other = await open_session(c, b)  # a second session, subscribed to nothing
            r = await c.post(
                b, json=rpc(1, "logging/setLevel", {"level": "info"}), headers=legacy_headers(sid)
            )
            assert r.status_code == 200
            r = await c.post(
                w3,
                json=rpc(2, "resources/subscribe", {"uri": "file:///doc"}),
                headers=legacy_headers(sid),
            )
            assert answer_of(r)["result"] == {}
            async with (
                c.stream("GET", a, headers=get_headers(sid)) as mine,
                c.stream("GET", w3, headers=get_headers(other)) as theirs,
            ):
                events, their_events = Events(mine), Events(theirs)
                await events.next()
                await their_events.next()
                r = await c.post(b, json=call(3, "drop_spare"), headers=legacy_headers(sid))
                assert answer_of(r)["result"]["content"][0]["text"] == "dropped"
                assert (await events.message())["method"] == "notifications/tools/list_changed"
                assert (await their_events.message())[
                    "method"
                ] == "notifications/tools/list_changed"
                r = await c.post(
                    a, json=call(4, "touch", uri="file:///doc"), headers=legacy_headers(sid)
                )
                assert r.status_code == 200
                updated = await events.message()
                assert updated["method"] == "notifications/resources/updated"
                assert updated["params"] == {"uri": "file:///doc"}
                # unsubscribed on B: the next update reaches nobody; the marker comes next
                r = await c.post(
                    b,
                    json=rpc(5, "resources/unsubscribe", {"uri": "file:///doc"}),
                    headers=legacy_headers(sid),
                )
                assert answer_of(r)["result"] == {}
                await c.post(
                    w3, json=call(6, "touch", uri="file:///doc"), headers=legacy_headers(sid)
                )
                await c.post(a, json=call(7, "note", text="marker"), headers=legacy_headers(sid))
                assert (await events.message())["params"]["data"] == "marker"
                r = await c.post(a, json=call(8, "drop_spare"), headers=legacy_headers(other))
                # the other session never saw the resource updates: list_changed comes next
                assert (await their_events.message())[
                    "method"
                ] == "notifications/tools/list_changed"


async def test_redis_away_is_503_then_service_resumes(redis_server: RedisServer) -> None:
    with trio.fail_after(LIMIT):
        async with workers(redis_server) as (urls, _), httpx.AsyncClient(timeout=LIMIT) as c:
            a, b, w3 = urls
            sid = await open_session(c, a)
            redis_server.stop()
            for url, msg in ((b, call(1, "echo", text="x")), (w3, rpc(2, "initialize", {}))):
                headers = (
                    legacy_headers(sid)
                    if msg["method"] != "initialize"
                    else {"accept": "application/json, text/event-stream"}
                )
                if msg["method"] == "initialize":
                    msg["params"] = {"protocolVersion": LEGACY, "capabilities": {}}
                r = await c.post(url, json=msg, headers=headers)
                assert r.status_code == 503, r.text
                assert r.headers["retry-after"] == "1"
                error = r.json()["error"]
                assert error == {
                    "code": -32603,
                    "message": "session store unavailable",
                    "data": {"retryAfter": 1},
                }
                assert r.json()["id"] == msg["id"]
            r = await c.get(b, headers=get_headers(sid))
            assert r.status_code == 503
            redis_server.start()  # empty: the session is gone, a new one works everywhere
            await until_status(c, b, call(3, "echo", text="x"), sid, 404)
            fresh = await open_session(c, w3)
            for url in (a, b, w3):
                r = await until_status(c, url, call(4, "echo", text="back"), fresh, 200)
                assert answer_of(r)["result"]["content"][0]["text"] == "back"


async def test_a_post_stream_its_client_left_resumes_on_another_worker(
    redis_server: RedisServer,
) -> None:
    with trio.fail_after(LIMIT):
        async with workers(redis_server) as (urls, seen), httpx.AsyncClient(timeout=LIMIT) as c:
            a, b, w3 = urls
            sid = await open_session(c, a)
            msg = call(1, "poll")
            msg["params"]["_meta"] = {"progressToken": "t"}
            r = await c.post(b, json=msg, headers=legacy_headers(sid))  # ends after progress 1
            events = [e for e in sse_events(r.text) if e.get("data")]
            assert [json.loads(e["data"])["params"]["progress"] for e in events] == [1]
            assert seen["closed"] is True
            async with c.stream("GET", w3, headers=get_headers(sid, events[-1]["id"])) as resumed:
                assert resumed.status_code == 200
                seen["go"].set()
                got = Events(resumed)
                progress, done = await got.message(), await got.message()
                with pytest.raises(EOFError):
                    await got.next()  # the final event ends it
            assert progress["params"]["progress"] == 2
            assert done["id"] == 1 and done["result"]["content"][0]["text"] == "polled"
            ids = [events[-1]["id"], progress["_event_id"], done["_event_id"]]
            assert len(set(ids)) == 3 and all(i.startswith("p") for i in ids)
            # a finished stream is gone: resuming it again is refused
            r = await c.get(a, headers=get_headers(sid, done["_event_id"]))
            assert r.status_code == 400
            # resumed on the worker that runs it: from its memory ("go" is set: it ends at once)
            msg["id"] = 2
            r = await c.post(b, json=msg, headers=legacy_headers(sid))
            first = [e for e in sse_events(r.text) if e.get("data")][-1]
            r = await c.get(b, headers=get_headers(sid, first["id"]))
            rest = [json.loads(e["data"]) for e in sse_events(r.text) if e.get("data")]
            assert rest[0]["params"]["progress"] == 2
            assert rest[-1]["id"] == 2 and rest[-1]["result"]["content"][0]["text"] == "polled"


async def test_another_subject_gets_the_404_of_an_unknown_session(
    redis_server: RedisServer,
) -> None:
    auth = BearerAuth(verify=StaticTokens({"ta": "alice", "tb": "bob"}))
    alice, bob = {"authorization": "Bearer ta"}, {"authorization": "Bearer tb"}
    with trio.fail_after(LIMIT):
        async with workers(redis_server, auth=auth) as (urls, _), httpx.AsyncClient() as c:
            a, b, w3 = urls
            sid = await initialize(c, a, **alice)
            for url in (b, w3, a):  # bob, with or without a copy of alice's session there
                r = await c.post(
                    url, json=call(1, "echo", text="x"), headers={**legacy_headers(sid), **bob}
                )
                assert (r.status_code, r.json()["error"]["code"]) == (404, -32001)
                r = await c.post(
                    url, json=call(2, "echo", text="mine"), headers={**legacy_headers(sid), **alice}
                )
                assert answer_of(r)["result"]["content"][0]["text"] == "mine"
            r = await c.delete(w3, headers={**legacy_headers(sid), **bob})
            assert r.status_code == 404
