"""The Redis task store, two workers in one process sharing a real redis-server.

Workers A and B are two :class:`~trio_mcp.Server` objects with the same
``redis_url``, each served to its own in-memory client in the modern era (the
stateless one: nothing but Redis connects them). Waits are on events the
handlers set, under ``fail_after`` guards; nothing asserts on time.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import pytest
import trio
from _support.redis import RedisServer, free_port

from trio_mcp import Context, McpError, Server
from trio_mcp.testing import RawClient as Client
from trio_mcp.testing import connect

TASKS = "io.modelcontextprotocol/tasks"
CAPS: dict[str, Any] = {"elicitation": {}, "extensions": {TASKS: {}}}
CONFIRM = {"type": "object", "properties": {"ok": {"type": "boolean"}}}
LIMIT = 20


class Probe:
    def __init__(self) -> None:
        self.started = trio.Event()
        self.stopped = trio.Event()
        self.release = trio.Event()


def build(url: str, probe: Probe, lease: float = 10.0) -> Server:
    server = Server("redis-tasks")
    server.configure(redis_url=url, task_lease=lease)

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
        answer = await ctx.elicit("Sure?", CONFIRM, key="sure")
        return f"answer={answer.action}:{(answer.content or {}).get('ok')}"

    return server


@asynccontextmanager
async def worker(url: str, probe: Probe, lease: float = 10.0) -> AsyncIterator[Client]:
    async with connect(build(url, probe, lease), era="modern", capabilities=CAPS) as client:
        yield client


async def start(client: Client, tool: str) -> str:
    created = await client.call_tool(tool, {})
    assert created["resultType"] == "task" and created["status"] == "working", created
    task_id: str = created["taskId"]
    return task_id


async def until(client: Client, task_id: str, *statuses: str) -> dict[str, Any]:
    """Poll ``tasks/get`` on ``client`` until the status is one of ``statuses``."""
    with trio.fail_after(LIMIT):
        while True:
            got: dict[str, Any] = await client.request("tasks/get", {"taskId": task_id})
            if got["status"] in statuses:
                return got
            await trio.sleep(0.02)


async def test_started_on_a_polled_and_cancelled_on_b_stops_on_a(
    redis_server: RedisServer,
) -> None:
    probe = Probe()
    async with worker(redis_server.url, probe) as a, worker(redis_server.url, Probe()) as b:
        task_id = await start(a, "hold")
        got = await b.request("tasks/get", {"taskId": task_id})  # recorded before the answer
        assert got["status"] == "working" and got["taskId"] == task_id
        with trio.fail_after(LIMIT):
            await probe.started.wait()
        assert (await b.request("tasks/cancel", {"taskId": task_id}))["resultType"] == "complete"
        assert (await b.request("tasks/get", {"taskId": task_id}))["status"] == "cancelled"
        with trio.fail_after(LIMIT):
            await probe.stopped.wait()  # the handler on A really stopped
        assert (await a.request("tasks/get", {"taskId": task_id}))["status"] == "cancelled"


async def test_a_result_on_a_is_read_on_b(redis_server: RedisServer) -> None:
    probe = Probe()
    async with worker(redis_server.url, probe) as a, worker(redis_server.url, Probe()) as b:
        task_id = await start(a, "hold")
        probe.release.set()
        done = await until(b, task_id, "completed", "failed", "cancelled")
        assert done["status"] == "completed"
        assert done["result"]["content"] == [{"type": "text", "text": "released"}]


async def test_input_asked_on_a_is_answered_from_b(redis_server: RedisServer) -> None:
    async with worker(redis_server.url, Probe()) as a, worker(redis_server.url, Probe()) as b:
        task_id = await start(a, "ask")
        asked = await until(b, task_id, "input_required")
        assert asked["inputRequests"]["sure"]["method"] == "elicitation/create"
        answer = {"action": "accept", "content": {"ok": True}}
        update = {"taskId": task_id, "inputResponses": {"sure": answer}}
        assert (await b.request("tasks/update", update))["resultType"] == "complete"
        done = await until(b, task_id, "completed", "failed")
        assert done["result"]["content"][0]["text"] == "answer=accept:True"


async def test_unknown_ids_are_not_found_on_every_worker(redis_server: RedisServer) -> None:
    async with worker(redis_server.url, Probe()) as a:
        with pytest.raises(McpError) as info:
            await a.request("tasks/get", {"taskId": "nope"})
        assert info.value.code == -32602 and "Task not found" in info.value.message


async def test_a_stopped_worker_records_its_tasks_cancelled(redis_server: RedisServer) -> None:
    async with worker(redis_server.url, Probe()) as b:
        probe = Probe()
        async with worker(redis_server.url, probe) as a:
            task_id = await start(a, "hold")
        # A stopped gracefully: its run was cancelled, and recorded so, before it left
        got = await b.request("tasks/get", {"taskId": task_id})
        assert got["status"] == "cancelled"  # not "working" until the lease runs out
        assert probe.stopped.is_set()


async def test_redis_lost_and_back(redis_server: RedisServer) -> None:
    probe = Probe()
    async with worker(redis_server.url, probe, lease=0.6) as a:
        task_id = await start(a, "hold")
        redis_server.stop()
        for call in (
            a.request("tasks/get", {"taskId": task_id}),
            a.call_tool("hold", {}),
        ):
            with pytest.raises(McpError) as info:
                await call
            assert (info.value.code, info.value.message) == (-32603, "task store unavailable")
            assert info.value.data == {"retryAfter": 1.0}
        redis_server.start()  # empty: the running task is written again by A's heartbeat
        with trio.fail_after(LIMIT):
            while True:
                try:
                    got = await a.request("tasks/get", {"taskId": task_id})
                    break
                except McpError as exc:
                    assert exc.code in (-32602, -32603), exc  # not yet written, or reconnecting
                    await trio.sleep(0.05)
        assert got["status"] == "working"
        assert not probe.stopped.is_set()
        probe.release.set()
        assert (await until(a, task_id, "completed"))["result"]["content"][0]["text"] == "released"


async def test_redis_unreachable_at_start_is_one_clear_error() -> None:
    url = f"redis://127.0.0.1:{free_port()}/0"
    with pytest.raises(BaseException) as info:
        async with worker(url, Probe()):
            raise AssertionError("served without Redis")
    exc: BaseException = info.value
    while isinstance(exc, BaseExceptionGroup):
        assert len(exc.exceptions) == 1, exc
        exc = exc.exceptions[0]
    assert isinstance(exc, ConnectionError)
    assert str(exc).startswith(f"cannot reach Redis at {url} (TRIO_MCP_REDIS_URL): ")


async def test_a_listen_stream_on_b_follows_a_task_running_on_a(
    redis_server: RedisServer,
) -> None:
    """``notifications/tasks`` reach a ``subscriptions/listen`` stream on any worker."""
    probe = Probe()
    async with worker(redis_server.url, probe) as a, worker(redis_server.url, Probe()) as b:
        task_id = await start(a, "hold")
        listen = await b.start_request(
            "subscriptions/listen", {"notifications": {"taskIds": [task_id]}}
        )
        with trio.fail_after(LIMIT):
            ack = await b.wait_notification("notifications/subscriptions/acknowledged")
            assert ack["params"]["notifications"] == {"taskIds": [task_id]}
            await probe.started.wait()
            probe.release.set()
            done = await b.wait_notification("notifications/tasks")
        assert (done["params"]["taskId"], done["params"]["status"]) == (task_id, "completed")
        assert done["params"]["result"]["content"] == [{"type": "text", "text": "released"}]
        assert done["params"]["_meta"] == {"io.modelcontextprotocol/subscriptionId": listen}
        await b.cancel(listen)
