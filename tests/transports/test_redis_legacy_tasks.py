"""Legacy-era tasks (2025-11-25 ``params.task``) shared through a real redis-server.

Three "workers" are three :class:`~trio_mcp.Server` objects with the same
``redis_url``, each serving HTTP on its own loopback port in this test's Trio
loop; nothing but Redis connects them. The client is raw HTTP and sends each
request of one session to the worker the test names, as a load balancer without
affinity would. Waits are on events the handlers set, or on the client's own
streams, under ``fail_after`` guards; nothing asserts on time.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from typing import Any

import pytest
import trio
from _support.http import initialize, legacy_headers, serving
from _support.mcp_http import Events, get_headers, post, rpc
from _support.redis import RedisServer

from trio_mcp import Context, Server
from trio_mcp._transports._redis import connect as redis_connect

httpx = pytest.importorskip("httpx2")

LIMIT = 20
CONFIRM = {"type": "object", "properties": {"ok": {"type": "boolean"}}}


class Probe:
    def __init__(self) -> None:
        self.started = trio.Event()
        self.stopped = trio.Event()
        self.release = trio.Event()


def build(url: str, probe: Probe) -> Server:
    server = Server("shared-legacy-tasks", "1.0")
    server.configure(redis_url=url)

    @server.tool(task="optional")
    async def hold() -> str:
        probe.started.set()
        try:
            await probe.release.wait()
        except trio.Cancelled:
            probe.stopped.set()
            raise
        return "released"

    @server.tool(task="optional")
    async def ask(ctx: Context) -> str:
        answer = await ctx.elicit("Sure?", CONFIRM)
        return f"{answer.action}:{(answer.content or {}).get('ok')}"

    return server


@asynccontextmanager
async def workers(redis: RedisServer, n: int = 3) -> AsyncIterator[tuple[list[str], list[Probe]]]:
    probes = [Probe() for _ in range(n)]
    async with AsyncExitStack() as stack:
        urls = []
        for probe in probes:
            transport = await stack.enter_async_context(serving(build(redis.url, probe)))
            urls.append(transport.urls[0])
        yield urls, probes


def as_task(rid: int, tool: str) -> dict[str, Any]:
    return rpc(rid, "tools/call", {"name": tool, "arguments": {}, "task": {"ttl": 60_000}})


async def open_session(c: Any, url: str) -> str:
    return await initialize(c, url, capabilities={"elicitation": {}, "tasks": {}})


async def test_started_on_a_polled_on_b_listed_and_cancelled_on_c_stops_on_a(
    redis_server: RedisServer,
) -> None:
    with trio.fail_after(LIMIT):
        async with workers(redis_server) as (urls, probes), httpx.AsyncClient(timeout=LIMIT) as c:
            a, b, w3 = urls
            sid = await open_session(c, a)
            async with c.stream("GET", b, headers=get_headers(sid)) as stream:  # held by B
                assert stream.status_code == 200
                events = Events(stream)
                created = (await post(c, a, sid, as_task(1, "hold")))["result"]
                task_id = created["task"]["taskId"]
                assert created["task"]["status"] == "working"
                await probes[0].started.wait()  # it runs on A
                got = (await post(c, b, sid, rpc(2, "tasks/get", {"taskId": task_id})))["result"]
                assert (got["taskId"], got["status"]) == (task_id, "working")
                listed = (await post(c, w3, sid, rpc(3, "tasks/list")))["result"]
                assert [t["taskId"] for t in listed["tasks"]] == [task_id]
                done = await post(c, w3, sid, rpc(4, "tasks/cancel", {"taskId": task_id}))
                assert done["result"]["status"] == "cancelled", done
                await probes[0].stopped.wait()  # the handler on A really stopped
                got = (await post(c, b, sid, rpc(5, "tasks/get", {"taskId": task_id})))["result"]
                assert got["status"] == "cancelled"
                again = await post(c, a, sid, rpc(6, "tasks/cancel", {"taskId": task_id}))
                assert again["error"]["code"] == -32602  # terminal: on every worker
                # A's notifications/tasks/status reached the GET stream B holds
                note = await events.message()
                assert note["method"] == "notifications/tasks/status"
                assert (note["params"]["taskId"], note["params"]["status"]) == (
                    task_id,
                    "cancelled",
                )
            # another session sees none of it, on any worker
            other = await open_session(c, b)
            lost = await post(c, w3, other, rpc(7, "tasks/get", {"taskId": task_id}))
            assert lost["error"]["code"] == -32602
            assert (await post(c, a, other, rpc(8, "tasks/list")))["result"]["tasks"] == []


async def test_a_result_waited_for_on_c_comes_when_a_finishes(redis_server: RedisServer) -> None:
    with trio.fail_after(LIMIT):
        async with workers(redis_server) as (urls, probes), httpx.AsyncClient(timeout=LIMIT) as c:
            a, b, w3 = urls
            sid = await open_session(c, a)
            task_id = (await post(c, a, sid, as_task(1, "hold")))["result"]["task"]["taskId"]
            await probes[0].started.wait()
            async with trio.open_nursery() as nursery:
                results: list[Any] = []

                async def wait_result() -> None:
                    msg = rpc(2, "tasks/result", {"taskId": task_id})
                    results.append(await post(c, w3, sid, msg))

                nursery.start_soon(wait_result)
                got = (await post(c, b, sid, rpc(3, "tasks/get", {"taskId": task_id})))["result"]
                assert got["status"] == "working" and not results
                probes[0].release.set()
            (result,) = results
            assert result["result"]["content"] == [{"type": "text", "text": "released"}]
            meta = result["result"]["_meta"]["io.modelcontextprotocol/related-task"]
            assert meta == {"taskId": task_id}
            got = (await post(c, b, sid, rpc(4, "tasks/get", {"taskId": task_id})))["result"]
            assert got["status"] == "completed"


async def test_input_asked_on_a_while_the_result_waits_on_c(redis_server: RedisServer) -> None:
    """The elicitation goes out on the session's GET stream (held by B), answered to C."""
    with trio.fail_after(LIMIT):
        async with workers(redis_server) as (urls, _), httpx.AsyncClient(timeout=LIMIT) as c:
            a, b, w3 = urls
            sid = await open_session(c, a)
            async with c.stream("GET", b, headers=get_headers(sid)) as stream:
                events = Events(stream)
                task_id = (await post(c, a, sid, as_task(1, "ask")))["result"]["task"]["taskId"]
                while True:  # working, then input_required
                    note = await events.message()
                    if note["params"]["status"] == "input_required":
                        break
                async with trio.open_nursery() as nursery:
                    results: list[Any] = []

                    async def wait_result() -> None:
                        msg = rpc(2, "tasks/result", {"taskId": task_id})
                        results.append(await post(c, w3, sid, msg))

                    nursery.start_soon(wait_result)
                    asked = await events.message()
                    while asked.get("method") != "elicitation/create":
                        asked = await events.message()
                    related = asked["params"]["_meta"]["io.modelcontextprotocol/related-task"]
                    assert related == {"taskId": task_id}
                    reply = {
                        "jsonrpc": "2.0",
                        "id": asked["id"],
                        "result": {"action": "accept", "content": {"ok": True}},
                    }
                    r = await c.post(w3, json=reply, headers=legacy_headers(sid))
                    assert r.status_code == 202
            (result,) = results
            assert result["result"]["content"] == [{"type": "text", "text": "accept:True"}]


async def test_delete_cancels_the_session_s_tasks(redis_server: RedisServer) -> None:
    with trio.fail_after(LIMIT):
        async with workers(redis_server) as (urls, probes), httpx.AsyncClient(timeout=LIMIT) as c:
            a, b, _ = urls
            sid = await open_session(c, a)
            await post(c, a, sid, as_task(1, "hold"))
            await probes[0].started.wait()
            r = await c.delete(b, headers=legacy_headers(sid))
            assert r.status_code == 200
            await probes[0].stopped.wait()  # DELETE on B stops the handler on A


async def test_without_shared_sessions_nothing_is_written(redis_server: RedisServer) -> None:
    """A legacy session that is not shared (in-memory transport): its tasks stay in memory."""
    from trio_mcp.testing import connect

    probe = Probe()
    async with connect(build(redis_server.url, probe), version="2025-11-25") as client:
        created = await client.request(
            "tools/call", {"name": "hold", "arguments": {}, "task": {"ttl": 60_000}}
        )
        task_id = created["task"]["taskId"]
        assert (await client.request("tasks/get", {"taskId": task_id}))["status"] == "working"
        listed = await client.request("tasks/list", {})
        assert [t["taskId"] for t in listed["tasks"]] == [task_id]
        with trio.fail_after(LIMIT):
            await probe.started.wait()
        probe.release.set()
        result = await client.request("tasks/result", {"taskId": task_id})
        assert result["content"] == [{"type": "text", "text": "released"}]
    async with redis_connect(redis_server.url) as link:
        assert await link.client.keys("trio_mcp:task:*") == set()
