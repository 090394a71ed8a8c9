"""Tasks in both eras: 2025-11-25 core tasks and the io.modelcontextprotocol/tasks extension.

Everything runs through the in-memory client (real JSON-RPC lines, the real
runtime) under ``MockClock(autojump_threshold=0)``: sleeps, polls and ttl
expiry cost no wall time.
"""

from __future__ import annotations

import re
from typing import Any

import pytest
import trio
import trio.testing

from trio_mcp import Context, McpError, Server, TextContent, ToolResult
from trio_mcp.testing import RawClient as Client
from trio_mcp.testing import connect

TASKS = "io.modelcontextprotocol/tasks"
RELATED = "io.modelcontextprotocol/related-task"
ISO = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}")
MODERN_CAPS: dict[str, Any] = {"elicitation": {}, "extensions": {TASKS: {}}}
CONFIRM = {"type": "object", "properties": {"ok": {"type": "boolean"}}}


class Probe:
    """What the tools saw: started / finished / cancelled, by label."""

    def __init__(self) -> None:
        self.started: list[str] = []
        self.finished: list[str] = []
        self.cancelled: list[str] = []


def build(probe: Probe, **kw: Any) -> Server:
    server = Server("tasks-test", **kw)

    @server.tool()
    async def plain() -> str:  # async: a worker thread would race the MockClock
        return "plain"

    @server.tool(task="optional")
    async def slow(seconds: float, label: str = "x") -> str:
        probe.started.append(label)
        try:
            await trio.sleep(seconds)
        except trio.Cancelled:
            probe.cancelled.append(label)
            raise
        probe.finished.append(label)
        return f"done {label}"

    @server.tool(task="required")
    async def required_job() -> str:
        await trio.sleep(1)
        return "required done"

    @server.tool(task="optional")
    async def tool_error() -> ToolResult:
        await trio.sleep(1)
        return ToolResult([TextContent("it broke")], is_error=True)

    @server.tool(task="optional")
    async def rpc_error() -> str:
        await trio.sleep(1)
        raise McpError(-32000, "backend unavailable", {"retry": True})

    @server.tool(task="optional")
    async def ask(ctx: Context) -> str:
        answer = await ctx.elicit("Sure?", CONFIRM)
        return f"answer={answer.action}:{(answer.content or {}).get('ok')}"

    @server.tool(task="optional")
    async def two(ctx: Context) -> str:
        a, b = await ctx.gather_input(
            ctx.elicit("A?", CONFIRM, key="a"), ctx.elicit("B?", CONFIRM, key="b")
        )
        return f"{a.action}/{b.action}"

    @server.tool(task="required", task_start="explicit")
    async def prelude(ctx: Context) -> str:
        answer = await ctx.elicit("Name?", CONFIRM, key="name")
        task_id = await ctx.start_task()
        assert task_id is not None and ctx.task_id == task_id
        await trio.sleep(2)
        return f"prelude {answer.action} in {task_id}"

    @server.tool(task="optional")
    async def progress(ctx: Context) -> str:
        await ctx.report_progress(1, 2)
        await trio.sleep(1)
        return "progressed"

    return server


async def legacy_call(client: Client, name: str, args: dict[str, Any], **task: Any) -> str:
    result = await client.request(
        "tools/call", {"name": name, "arguments": args, "task": dict(task)}
    )
    created = result["task"]
    assert created["status"] == "working"
    assert ISO.match(created["createdAt"]) and ISO.match(created["lastUpdatedAt"])
    assert "ttl" in created and "pollInterval" in created
    task_id: str = created["taskId"]
    return task_id


async def modern_call(client: Client, name: str, args: dict[str, Any]) -> str:
    result = await client.call_tool(name, args)
    assert result["resultType"] == "task", result
    assert "task" not in result and "result" not in result and "requestState" not in result
    assert "ttlMs" in result and "ttl" not in result and "pollInterval" not in result
    assert ISO.match(result["createdAt"])
    task_id: str = result["taskId"]
    return task_id


async def settle(client: Client, task_id: str, *statuses: str) -> dict[str, Any]:
    """Poll ``tasks/get`` until the status is one of ``statuses`` (or terminal)."""
    wanted = set(statuses) | {"completed", "failed", "cancelled"}
    with trio.fail_after(1000):
        while True:
            got = await client.request("tasks/get", {"taskId": task_id})
            if got["status"] in wanted:
                return got
            await trio.sleep(0.1)


async def code_of(call: Any) -> int:
    with pytest.raises(McpError) as info:
        await call
    return info.value.code


# --------------------------------------------------------------- capabilities


async def test_capabilities_per_era() -> None:
    server = build(Probe())
    async with connect(server, version="2025-11-25") as client:
        assert client.initialize_result is not None
        caps = client.initialize_result["capabilities"]
        assert caps["tasks"] == {"list": {}, "cancel": {}, "requests": {"tools": {"call": {}}}}
        tools = {t["name"]: t for t in await client.list_tools()}
        assert tools["slow"]["execution"] == {"taskSupport": "optional"}
        assert tools["required_job"]["execution"] == {"taskSupport": "required"}
        assert "execution" not in tools["plain"]
    async with connect(server, version="2025-06-18") as client:
        assert client.initialize_result is not None
        assert "tasks" not in client.initialize_result["capabilities"]
        assert all("execution" not in t for t in await client.list_tools())
    async with connect(server, era="modern") as client:
        discovered = await client.discover()
        assert "tasks" not in discovered["capabilities"]
        assert discovered["capabilities"]["extensions"] == {TASKS: {}}
        assert all("execution" not in t for t in await client.list_tools())


async def test_no_task_tools_no_capability() -> None:
    server = Server("none")

    @server.tool()
    def only() -> str:
        return "x"

    async with connect(server, version="2025-11-25") as client:
        assert client.initialize_result is not None
        assert "tasks" not in client.initialize_result["capabilities"]
    async with connect(server, era="modern") as client:
        assert "extensions" not in (await client.discover())["capabilities"]


def test_bad_task_option() -> None:
    server = Server("bad")
    with pytest.raises(TypeError, match="task must be"):
        server.tool(task="sometimes")(lambda: None)  # type: ignore[arg-type]


# --------------------------------------------------------------------- legacy


async def test_legacy_lifecycle_and_result_blocks(autojump_clock: trio.testing.MockClock) -> None:
    server = build(Probe(), task_ttl=600)
    async with connect(server, version="2025-11-25") as client:
        task_id = await legacy_call(client, "slow", {"seconds": 5}, ttl=60_000)
        got = await client.request("tasks/get", {"taskId": task_id})
        assert got["status"] == "working" and got["ttl"] == 60_000
        start = trio.current_time()
        result = await client.request("tasks/result", {"taskId": task_id})  # blocks
        assert trio.current_time() - start >= 4.9
        assert result["content"] == [{"type": "text", "text": "done x"}]
        assert result["_meta"][RELATED] == {"taskId": task_id}
        got = await client.request("tasks/get", {"taskId": task_id})
        assert got["status"] == "completed" and RELATED not in got.get("_meta", {})
        note = await client.wait_notification("notifications/tasks/status")
        assert note["params"]["taskId"] == task_id
        assert note["params"]["status"] == "completed"
        # a requested ttl above the server's is capped
        capped = await legacy_call(client, "slow", {"seconds": 0}, ttl=10**9)
        assert (await client.request("tasks/get", {"taskId": capped}))["ttl"] == 600_000


async def test_legacy_errors(autojump_clock: trio.testing.MockClock) -> None:
    async with connect(build(Probe()), version="2025-11-25") as client:
        assert await code_of(client.call_tool("required_job")) == -32601
        plain = client.request("tools/call", {"name": "plain", "task": {}})
        assert await code_of(plain) == -32601
        bad = client.request("tools/call", {"name": "slow", "arguments": {}, "task": 5})
        assert await code_of(bad) == -32602
        assert await code_of(client.request("tasks/get", {"taskId": "nope"})) == -32602
        assert await code_of(client.request("tasks/result", {"taskId": "nope"})) == -32602
        assert await code_of(client.request("tasks/update", {"taskId": "x"})) == -32601
        # optional tools still answer synchronously without params.task
        assert (await client.call_tool("slow", {"seconds": 0}))["content"][0]["text"] == "done x"

        # isError: the task fails, tasks/result answers the tool result itself
        task_id = await legacy_call(client, "tool_error", {})
        result = await client.request("tasks/result", {"taskId": task_id})
        assert result["isError"] is True
        assert (await client.request("tasks/get", {"taskId": task_id}))["status"] == "failed"

        # a JSON-RPC error: tasks/result answers that same error
        task_id = await legacy_call(client, "rpc_error", {})
        with pytest.raises(McpError) as info:
            await client.request("tasks/result", {"taskId": task_id})
        assert (info.value.code, info.value.message, info.value.data) == (
            -32000,
            "backend unavailable",
            {"retry": True},
        )
        assert (await client.request("tasks/get", {"taskId": task_id}))["status"] == "failed"

        # invalid arguments: a task that fails with the isError result
        task_id = await legacy_call(client, "slow", {"seconds": "soon"})
        result = await client.request("tasks/result", {"taskId": task_id})
        assert result["isError"] is True


async def test_legacy_tasks_need_2025_11_25(autojump_clock: trio.testing.MockClock) -> None:
    async with connect(build(Probe()), version="2025-06-18") as client:
        result = await client.request(
            "tools/call", {"name": "slow", "arguments": {"seconds": 0}, "task": {}}
        )
        assert "task" not in result and result["content"]  # ignored: no tasks in 2025-06-18
        assert await code_of(client.request("tasks/get", {"taskId": "x"})) == -32601


async def test_legacy_cancel_stops_the_handler(autojump_clock: trio.testing.MockClock) -> None:
    probe = Probe()
    async with connect(build(probe), version="2025-11-25") as client:
        task_id = await legacy_call(client, "slow", {"seconds": 100, "label": "c"})
        await trio.sleep(1)
        assert probe.started == ["c"]
        waiting = await client.start_request("tasks/result", {"taskId": task_id})
        cancelled = await client.request("tasks/cancel", {"taskId": task_id})
        assert cancelled["status"] == "cancelled" and cancelled["taskId"] == task_id
        await trio.sleep(0)
        assert probe.cancelled == ["c"] and probe.finished == []
        answer = await client.response(waiting)  # the blocked tasks/result ends too
        assert "error" in answer
        again = client.request("tasks/cancel", {"taskId": task_id})
        assert await code_of(again) == -32602  # terminal: cancelled stays cancelled
        assert (await client.request("tasks/get", {"taskId": task_id}))["status"] == "cancelled"


async def test_legacy_list_is_paginated_and_scoped(autojump_clock: trio.testing.MockClock) -> None:
    server = build(Probe(), page_size=2)
    async with connect(server, version="2025-11-25") as client:
        ids = {await legacy_call(client, "slow", {"seconds": 0}) for _ in range(3)}
        first = await client.request("tasks/list")
        assert len(first["tasks"]) == 2
        second = await client.request("tasks/list", {"cursor": first["nextCursor"]})
        assert "nextCursor" not in second
        assert {t["taskId"] for t in first["tasks"] + second["tasks"]} == ids
        assert await code_of(client.request("tasks/list", {"cursor": "junk"})) == -32602
        async with connect(server, version="2025-11-25") as other:
            assert (await other.request("tasks/list"))["tasks"] == []  # another session
            some = next(iter(ids))
            assert await code_of(other.request("tasks/get", {"taskId": some})) == -32602


async def test_legacy_input_goes_out_on_the_result_stream(
    autojump_clock: trio.testing.MockClock,
) -> None:
    seen: list[dict[str, Any]] = []

    def elicit(params: dict[str, Any]) -> dict[str, Any]:
        seen.append(params)
        return {"action": "accept", "content": {"ok": True}}

    async with connect(
        build(Probe()),
        version="2025-11-25",
        capabilities={"elicitation": {}},
        responders={"elicitation/create": elicit},
    ) as client:
        task_id = await legacy_call(client, "ask", {})
        got = await settle(client, task_id, "input_required")
        assert got["status"] == "input_required"
        assert seen == []  # nothing is asked before tasks/result
        result = await client.request("tasks/result", {"taskId": task_id})
        assert result["content"][0]["text"] == "answer=accept:True"
        assert seen[0]["_meta"][RELATED] == {"taskId": task_id}


async def test_legacy_progress_carries_related_task(autojump_clock: trio.testing.MockClock) -> None:
    async with connect(build(Probe()), version="2025-11-25") as client:
        rid = await client.start_request(
            "tools/call",
            {"name": "progress", "arguments": {}, "task": {}},
            meta={"progressToken": "p1"},
        )
        task_id = (await client.response(rid))["result"]["task"]["taskId"]
        note = await client.wait_notification("notifications/progress")
        assert note["params"]["progressToken"] == "p1"
        assert note["params"]["_meta"][RELATED] == {"taskId": task_id}


async def test_legacy_session_end_cancels_its_tasks(autojump_clock: trio.testing.MockClock) -> None:
    probe = Probe()
    server = build(probe)
    async with connect(server, version="2025-11-25") as client:
        await legacy_call(client, "slow", {"seconds": 1000, "label": "orphan"})
        await trio.sleep(1)
    assert probe.cancelled == ["orphan"]
    assert len(server._core.tasks) == 0


# --------------------------------------------------------------------- modern


async def test_modern_lifecycle(autojump_clock: trio.testing.MockClock) -> None:
    async with connect(build(Probe()), era="modern", capabilities=MODERN_CAPS) as client:
        plain = await client.call_tool("plain")
        assert plain["resultType"] == "complete" and "taskId" not in plain

        task_id = await modern_call(client, "slow", {"seconds": 2})
        got = await client.request("tasks/get", {"taskId": task_id})  # durable at once
        assert got["resultType"] == "complete" and got["status"] == "working"
        assert "result" not in got
        done = await settle(client, task_id)
        assert done["status"] == "completed"
        assert done["result"]["content"] == [{"type": "text", "text": "done x"}]
        assert RELATED not in done["result"].get("_meta", {})

        task_id = await modern_call(client, "tool_error", {})
        done = await settle(client, task_id)
        assert done["status"] == "completed" and done["result"]["isError"] is True

        task_id = await modern_call(client, "rpc_error", {})
        done = await settle(client, task_id)
        assert done["status"] == "failed" and "result" not in done
        assert done["error"] == {
            "code": -32000,
            "message": "backend unavailable",
            "data": {"retry": True},
        }
        # the legacy params.task is ignored: the server decides
        result = await client.request(
            "tools/call", {"name": "plain", "arguments": {}, "task": {"ttl": 5}}
        )
        assert result["content"][0]["text"] == "plain"


async def test_modern_cancel(autojump_clock: trio.testing.MockClock) -> None:
    probe = Probe()
    async with connect(build(probe), era="modern", capabilities=MODERN_CAPS) as client:
        task_id = await modern_call(client, "slow", {"seconds": 60, "label": "m"})
        await trio.sleep(1)
        ack = await client.request("tasks/cancel", {"taskId": task_id})
        assert ack["resultType"] == "complete"
        assert not {"taskId", "status", "result", "error"} & set(ack)
        assert (await client.request("tasks/get", {"taskId": task_id}))["status"] == "cancelled"
        await trio.sleep(0)
        assert probe.cancelled == ["m"]
        again = await client.request("tasks/cancel", {"taskId": task_id})  # terminal: same ack
        assert again["resultType"] == "complete"


async def test_modern_gates_and_error_order(autojump_clock: trio.testing.MockClock) -> None:
    server = build(Probe())
    async with connect(server, era="modern", capabilities={}) as client:
        for method, params in [
            ("tasks/get", {"taskId": "gate"}),
            ("tasks/update", {"taskId": "gate", "inputResponses": {}}),
            ("tasks/cancel", {"taskId": "gate"}),
        ]:
            with pytest.raises(McpError) as info:
                await client.request(method, params)
            assert info.value.code == -32021
        with pytest.raises(McpError) as info:
            await client.call_tool("required_job")
        assert info.value.code == -32021
        assert info.value.data == {"requiredCapabilities": {"extensions": {TASKS: {}}}}
        sync = await client.call_tool("slow", {"seconds": 0})  # optional, not declared: sync
        assert sync["resultType"] == "complete" and sync["content"]
        opted = await client.call_tool(
            "slow",
            {"seconds": 1},
            meta={"io.modelcontextprotocol/clientCapabilities": MODERN_CAPS},
        )
        assert opted["resultType"] == "task"  # per-request opt-in
    async with connect(server, era="modern", capabilities=MODERN_CAPS) as client:
        assert await code_of(client.request("tasks/result", {"taskId": "x"})) == -32601
        assert await code_of(client.request("tasks/list")) == -32601
        assert await code_of(client.request("tasks/get", {"taskId": "nope"})) == -32602
        assert await code_of(client.request("tasks/get", {})) == -32602
        task_id = await modern_call(client, "slow", {"seconds": 0})
        bad = client.request("tasks/update", {"taskId": task_id, "inputResponses": None})
        assert await code_of(bad) == -32602
        # invalid arguments: the server answers synchronously (no task)
        result = await client.call_tool("slow", {"seconds": "soon"})
        assert result["resultType"] == "complete" and result["isError"] is True


async def test_modern_input_required_round_trip(autojump_clock: trio.testing.MockClock) -> None:
    async with connect(build(Probe()), era="modern", capabilities=MODERN_CAPS) as client:
        task_id = await modern_call(client, "ask", {})
        got = await settle(client, task_id, "input_required")
        assert got["status"] == "input_required"
        [(key, request)] = got["inputRequests"].items()
        assert request["method"] == "elicitation/create"
        assert request["params"]["requestedSchema"]["properties"] == {"ok": {"type": "boolean"}}
        ack = await client.request(
            "tasks/update",
            {
                "taskId": task_id,
                "inputResponses": {
                    "unknown": {"x": 1},
                    key: {"action": "accept", "content": {"ok": True}},
                },
            },
        )
        assert ack["resultType"] == "complete" and "status" not in ack
        done = await settle(client, task_id)
        assert done["result"]["content"][0]["text"] == "answer=accept:True"


async def test_modern_partial_fulfillment(autojump_clock: trio.testing.MockClock) -> None:
    async with connect(build(Probe()), era="modern", capabilities=MODERN_CAPS) as client:
        task_id = await modern_call(client, "two", {})
        got = await settle(client, task_id, "input_required")
        while len(got.get("inputRequests", {})) < 2:
            await trio.sleep(0.1)
            got = await client.request("tasks/get", {"taskId": task_id})
        assert set(got["inputRequests"]) == {"a", "b"}
        await client.request(
            "tasks/update", {"taskId": task_id, "inputResponses": {"a": {"action": "accept"}}}
        )
        got = await client.request("tasks/get", {"taskId": task_id})  # immediately
        assert got["status"] == "input_required" and set(got["inputRequests"]) == {"b"}
        await client.request(
            "tasks/update", {"taskId": task_id, "inputResponses": {"b": {"action": "decline"}}}
        )
        done = await settle(client, task_id)
        assert done["result"]["content"][0]["text"] == "accept/decline"


async def test_modern_mrtr_before_the_task(autojump_clock: trio.testing.MockClock) -> None:
    async with connect(build(Probe()), era="modern", capabilities=MODERN_CAPS) as client:
        first = await client.call_tool("prelude")
        assert first["resultType"] == "input_required" and "taskId" not in first
        assert set(first["inputRequests"]) == {"name"}
        second = await client.request(
            "tools/call",
            {
                "name": "prelude",
                "arguments": {},
                "inputResponses": {"name": {"action": "accept", "content": {"ok": True}}},
                "requestState": first["requestState"],
            },
        )
        assert second["resultType"] == "task"
        assert "requestState" not in second and "inputRequests" not in second
        done = await settle(client, second["taskId"])
        assert done["result"]["content"][0]["text"] == f"prelude accept in {second['taskId']}"


async def test_explicit_start_in_legacy(autojump_clock: trio.testing.MockClock) -> None:
    async with connect(
        build(Probe()),
        version="2025-11-25",
        capabilities={"elicitation": {}},
        responders={"elicitation/create": lambda p: {"action": "accept"}},
    ) as client:
        task_id = await legacy_call(client, "prelude", {})  # the elicitation ran first
        result = await client.request("tasks/result", {"taskId": task_id})
        assert result["content"][0]["text"] == f"prelude accept in {task_id}"


async def test_ttl_expiry(autojump_clock: trio.testing.MockClock) -> None:
    probe = Probe()
    async with connect(build(probe, task_ttl=10), era="modern", capabilities=MODERN_CAPS) as c:
        done_id = await modern_call(c, "slow", {"seconds": 0})
        running_id = await modern_call(c, "slow", {"seconds": 1000, "label": "long"})
        got = await c.request("tasks/get", {"taskId": running_id})
        assert got["ttlMs"] == 10_000
        await trio.sleep(9)
        assert (await c.request("tasks/get", {"taskId": done_id}))["status"] == "completed"
        await trio.sleep(2)
        assert await code_of(c.request("tasks/get", {"taskId": done_id})) == -32602
        assert await code_of(c.request("tasks/get", {"taskId": running_id})) == -32602
        await trio.sleep(0)
        assert probe.cancelled == ["long"]


async def test_shutdown_cancels_running_tasks(autojump_clock: trio.testing.MockClock) -> None:
    probe = Probe()
    server = build(probe)
    async with connect(server, era="modern", capabilities=MODERN_CAPS) as client:
        await modern_call(client, "slow", {"seconds": 10_000, "label": "a"})
        await modern_call(client, "slow", {"seconds": 10_000, "label": "b"})
        await trio.sleep(1)
        assert sorted(probe.started) == ["a", "b"]
    # the connection ended, serving ended: no task outlives it
    assert sorted(probe.cancelled) == ["a", "b"]
    assert server._core.services is None


# ----------------------------------------------------------------------- HTTP


async def test_http_routing_header_and_auth_binding() -> None:
    httpx = pytest.importorskip("httpx2")
    from trio_mcp import AccessToken, BearerAuth

    tokens = {"alice-token": "alice", "bob-token": "bob"}

    async def verify(token: str) -> AccessToken | None:
        return AccessToken(tokens[token]) if token in tokens else None

    auth = BearerAuth(verify=verify, resource="http://127.0.0.1/mcp")
    server = build(Probe())

    def post(rid: int, method: str, params: dict[str, Any], caps: Any = MODERN_CAPS) -> Any:
        meta = {
            "io.modelcontextprotocol/protocolVersion": "2026-07-28",
            "io.modelcontextprotocol/clientCapabilities": caps,
        }
        return {"jsonrpc": "2.0", "id": rid, "method": method, "params": {**params, "_meta": meta}}

    def headers(method: str, name: str | None, who: str = "alice") -> dict[str, str]:
        h = {
            "accept": "application/json, text/event-stream",
            "mcp-protocol-version": "2026-07-28",
            "mcp-method": method,
            "authorization": f"Bearer {who}-token",
        }
        if name is not None:
            h["mcp-name"] = name
        return h

    with trio.fail_after(10):
        async with trio.open_nursery() as nursery:
            transport = await nursery.start(
                lambda task_status: server.serve_http(
                    "127.0.0.1", 0, task_status=task_status, auth=auth
                )
            )
            url = transport.urls[0]
            try:
                async with httpx.AsyncClient() as c:
                    r = await c.post(
                        url,
                        json=post(1, "tools/call", {"name": "slow", "arguments": {"seconds": 60}}),
                        headers=headers("tools/call", "slow"),
                    )
                    created = r.json()["result"]
                    assert created["resultType"] == "task"
                    task_id = created["taskId"]
                    get = post(2, "tasks/get", {"taskId": task_id})
                    r = await c.post(url, json=get, headers=headers("tasks/get", task_id))
                    assert r.json()["result"]["status"] == "working"
                    for name in ("someone-else", None):  # Mcp-Name must carry the taskId
                        r = await c.post(url, json=get, headers=headers("tasks/get", name))
                        assert (r.status_code, r.json()["error"]["code"]) == (400, -32020)
                    # another identity: the task does not exist for bob
                    r = await c.post(url, json=get, headers=headers("tasks/get", task_id, "bob"))
                    assert r.json()["error"]["code"] == -32602
                    # no extension declared: -32021, HTTP 400, before the lookup
                    r = await c.post(
                        url,
                        json=post(3, "tasks/get", {"taskId": task_id}, caps={}),
                        headers=headers("tasks/get", task_id),
                    )
                    assert (r.status_code, r.json()["error"]["code"]) == (400, -32021)
                    cancel = post(4, "tasks/cancel", {"taskId": task_id})
                    r = await c.post(url, json=cancel, headers=headers("tasks/cancel", task_id))
                    assert r.json()["result"]["resultType"] == "complete"
            finally:
                transport.stop()


async def test_modern_listen_stream_follows_tasks(autojump_clock: trio.testing.MockClock) -> None:
    """``subscriptions/listen`` with ``taskIds``: the ack echoes the ids the caller may follow,
    then every status change arrives as ``notifications/tasks`` carrying the whole task."""
    async with connect(build(Probe()), era="modern", capabilities=MODERN_CAPS) as client:
        task_id = await modern_call(client, "slow", {"seconds": 5})
        listen = await client.start_request(
            "subscriptions/listen", {"notifications": {"taskIds": [task_id, "not-a-task"]}}
        )
        ack = await client.wait_notification("notifications/subscriptions/acknowledged")
        assert ack["params"]["notifications"] == {"taskIds": [task_id]}
        done = await client.wait_notification("notifications/tasks")
        assert done["params"]["taskId"] == task_id
        assert done["params"]["status"] == "completed"
        assert done["params"]["result"]["content"] == [{"type": "text", "text": "done x"}]
        assert done["params"]["_meta"] == {"io.modelcontextprotocol/subscriptionId": listen}
        await client.cancel(listen)

    async with connect(build(Probe()), era="modern", capabilities={}) as client:
        code = await code_of(
            client.request("subscriptions/listen", {"notifications": {"taskIds": ["x"]}})
        )
        assert code == -32021  # following tasks needs the tasks extension
