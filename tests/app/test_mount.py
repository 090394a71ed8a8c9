"""``server.mount(child, prefix=...)``: namespacing, live changes, the child's middleware, lifespan.

Every test drives a real parent through the in-memory client (real JSON-RPC over the
real runtime), in both eras where the era matters.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import pytest
import trio
import trio.testing

from trio_mcp import Context, McpError, Server
from trio_mcp.middleware import CallNext, ErrorMasking, Middleware
from trio_mcp.testing import connect

ERAS = ["legacy", "modern"]


def weather() -> Server:
    child = Server("weather", "1.0")

    @child.tool()
    async def forecast(city: str) -> str:
        """Tomorrow's weather."""
        return f"sunny in {city}"

    @child.resource("file:///stations.csv", mime_type="text/csv")
    async def stations() -> str:
        return "id,name\n1,Oslo"

    @child.resource("city://{name}/today")
    async def today(name: str) -> str:
        return f"{name}: 21C"

    @child.prompt()
    async def brief(city: str) -> str:
        return f"Brief me on {city}"

    return child


def parent_with(child: Server, prefix: str | None = "weather") -> Server:
    parent = Server("main", "1.0")

    @parent.tool()
    async def ping() -> str:
        return "pong"

    parent.mount(child, prefix=prefix)
    return parent


def text(result: dict[str, Any]) -> str:
    value: str = result["content"][0]["text"]
    return value


@pytest.mark.parametrize("era", ERAS)
async def test_names_are_namespaced_and_calls_reach_the_child(era: str) -> None:
    parent = parent_with(weather())
    async with connect(parent, era=era) as client:  # type: ignore[arg-type]
        tools = {t["name"]: t for t in await client.list_tools()}
        assert set(tools) == {"ping", "weather_forecast"}
        assert tools["weather_forecast"]["description"] == "Tomorrow's weather."
        assert text(await client.call_tool("weather_forecast", {"city": "Oslo"})) == "sunny in Oslo"

        assert [r["uri"] for r in await client.list_resources()] == ["weather+file:///stations.csv"]
        read = await client.read_resource("weather+file:///stations.csv")
        assert read["contents"] == [
            {
                "uri": "weather+file:///stations.csv",
                "mimeType": "text/csv",
                "text": "id,name\n1,Oslo",
            }
        ]
        templates = await client.request("resources/templates/list")
        assert [t["uriTemplate"] for t in templates["resourceTemplates"]] == [
            "weather+city://{name}/today"
        ]
        read = await client.read_resource("weather+city://Bergen/today")
        [content] = read["contents"]
        assert content["uri"] == "weather+city://Bergen/today"
        assert content["text"] == "Bergen: 21C"

        assert [p["name"] for p in await client.list_prompts()] == ["weather_brief"]
        got = await client.get_prompt("weather_brief", {"city": "Oslo"})
        assert got["messages"][0]["content"]["text"] == "Brief me on Oslo"


@pytest.mark.parametrize("era", ERAS)
async def test_unprefixed_and_unknown_names_are_refused(era: str) -> None:
    parent = parent_with(weather())
    async with connect(parent, era=era) as client:  # type: ignore[arg-type]
        for name in ("forecast", "weather_nope", "weather_"):
            with pytest.raises(McpError) as info:
                await client.call_tool(name, {"city": "x"})
            assert info.value.code == -32602
            assert name in info.value.message
        with pytest.raises(McpError):
            await client.read_resource("file:///stations.csv")
        with pytest.raises(McpError):
            await client.get_prompt("brief", {"city": "x"})


async def test_without_a_prefix_names_are_kept_and_the_parent_wins_a_clash() -> None:
    child = weather()

    @child.tool()
    async def ping() -> str:
        return "child pong"

    parent = parent_with(child, prefix=None)
    async with connect(parent) as client:
        names = [t["name"] for t in await client.list_tools()]
        assert names == ["ping", "forecast", "ping"]  # listed as each server lists them
        assert text(await client.call_tool("ping")) == "pong"
        assert text(await client.call_tool("forecast", {"city": "Rome"})) == "sunny in Rome"


@pytest.mark.parametrize("era", ERAS)
async def test_mounting_is_live_and_list_changed_propagates(era: str) -> None:
    child = weather()
    parent = parent_with(child)
    async with connect(parent, era=era) as client:  # type: ignore[arg-type]
        if era == "modern":
            listen = await client.start_request(
                "subscriptions/listen", {"notifications": {"toolsListChanged": True}}
            )
            await client.wait_notification("notifications/subscriptions/acknowledged")

        @child.tool()
        async def alerts(region: str) -> str:
            return f"no alerts in {region}"

        await client.wait_notification("notifications/tools/list_changed")
        if era == "modern":
            await client.cancel(listen)
        assert "weather_alerts" in [t["name"] for t in await client.list_tools()]
        assert text(await client.call_tool("weather_alerts", {"region": "north"})) == (
            "no alerts in north"
        )
        child.remove_tool("alerts")
        assert "weather_alerts" not in [t["name"] for t in await client.list_tools()]


async def test_resource_updates_of_the_child_reach_subscribers_renamed() -> None:
    child = weather()
    parent = parent_with(child)
    async with connect(parent) as client:
        await client.request("resources/subscribe", {"uri": "weather+file:///stations.csv"})
        assert child.notify_resource_updated("file:///stations.csv") == 0  # the child has no peer
        note = await client.wait_notification("notifications/resources/updated")
        assert note["params"]["uri"] == "weather+file:///stations.csv"


async def test_the_child_middleware_wraps_its_own_components_only() -> None:
    seen: list[str] = []

    class Audit(Middleware):
        def __init__(self, label: str) -> None:
            self.label = label

        async def on_call_tool(self, ctx: Context, call_next: CallNext) -> dict[str, Any]:
            seen.append(f"{self.label}:{ctx.params['name']}:{ctx.server.name}")
            return await call_next(ctx)

    child = weather()
    child.add_middleware(Audit("child"))
    parent = parent_with(child)
    parent.add_middleware(Audit("parent"))
    async with connect(parent) as client:
        await client.call_tool("ping")
        await client.call_tool("weather_forecast", {"city": "Oslo"})
    assert seen == [
        "parent:ping:main",
        "parent:weather_forecast:main",
        "child:forecast:weather",  # inside the parent's, with the child's own name and server
    ]


async def test_child_lifespan_and_background_run_while_the_parent_serves() -> None:
    events: list[str] = []
    stopped = trio.Event()

    @asynccontextmanager
    async def lifespan(server: Server) -> AsyncIterator[dict[str, str]]:
        events.append("child up")
        try:
            yield {"db": "connected"}
        finally:
            await trio.sleep(0)  # the exit is not cancelled: it may still await
            events.append("child down")

    child = Server("weather", lifespan=lifespan)

    @child.tool()
    async def db(ctx: Context) -> str:
        return str(ctx.state["db"])

    @child.background
    async def poller() -> None:
        try:
            await trio.sleep_forever()
        finally:
            stopped.set()

    parent = parent_with(child)
    before = all_tasks()
    async with connect(parent) as client:
        assert events == ["child up"]
        assert text(await client.call_tool("weather_db")) == "connected"
        assert len(all_tasks()) > len(before)
    assert events == ["child up", "child down"]
    assert stopped.is_set()
    assert child.state is None
    assert all_tasks() == before  # nothing the parent or the child started is left running


async def test_a_server_mounted_while_serving_starts_at_once() -> None:
    events: list[str] = []

    @asynccontextmanager
    async def lifespan(server: Server) -> AsyncIterator[None]:
        events.append("up")
        yield
        events.append("down")

    child = Server("late", lifespan=lifespan)

    @child.tool()
    async def hi() -> str:
        return "hi"

    parent = Server("main")
    async with connect(parent) as client:
        parent.mount(child, prefix="late")
        await client.wait_notification("notifications/tools/list_changed")
        assert text(await client.call_tool("late_hi")) == "hi"
        assert events == ["up"]
    assert events == ["up", "down"]


def gated_child(gate: trio.Event, entered: trio.Event, events: list[str]) -> Server:
    """A child whose lifespan waits for ``gate`` before its state is ready."""

    @asynccontextmanager
    async def lifespan(server: Server) -> AsyncIterator[dict[str, str]]:
        entered.set()
        try:
            await gate.wait()
        except trio.Cancelled:
            events.append("start cancelled")
            raise
        events.append("up")
        yield {"db": "connected"}
        events.append("down")

    child = Server("late", lifespan=lifespan)

    @child.tool()
    async def db(ctx: Context) -> str:
        return str(ctx.state["db"])

    return child


@pytest.mark.parametrize("era", ERAS)
async def test_a_server_mounted_while_serving_shows_once_its_lifespan_is_ready(
    era: str, autojump_clock: trio.testing.MockClock
) -> None:
    gate, entered, events = trio.Event(), trio.Event(), []
    child = gated_child(gate, entered, events)
    parent = Server("main")
    with trio.fail_after(60):  # a hang guard (the clock jumps), not a timing assertion
        async with connect(parent, era=era) as client:  # type: ignore[arg-type]
            if era == "modern":
                listen = await client.start_request(
                    "subscriptions/listen", {"notifications": {"toolsListChanged": True}}
                )
                await client.wait_notification("notifications/subscriptions/acknowledged")
            parent.mount(child, prefix="late")
            await entered.wait()  # the child's lifespan is entering, not ready
            assert [t["name"] for t in await client.list_tools()] == []
            with pytest.raises(McpError):
                await client.call_tool("late_db")
            assert "notifications/tools/list_changed" not in [
                n["method"] for n in client.notifications
            ]
            gate.set()
            await client.wait_notification("notifications/tools/list_changed")
            if era == "modern":
                await client.cancel(listen)
            assert [t["name"] for t in await client.list_tools()] == ["late_db"]
            assert text(await client.call_tool("late_db")) == "connected"
    assert events == ["up", "down"]


async def test_a_mount_still_starting_when_the_parent_stops_is_cancelled_and_kept(
    autojump_clock: trio.testing.MockClock,
) -> None:
    gate, entered, events = trio.Event(), trio.Event(), []
    child = gated_child(gate, entered, events)
    parent = Server("main")
    before = all_tasks()
    with trio.fail_after(60):  # a hang guard (the clock jumps), not a timing assertion
        async with connect(parent) as client:
            parent.mount(child, prefix="late")
            await entered.wait()
        assert events == ["start cancelled"]  # the parent's shutdown did not wait for it
        assert child.state is None
        assert all_tasks() == before
        gate.set()
        async with connect(parent) as client:  # still mounted: it starts with the next run
            assert [t["name"] for t in await client.list_tools()] == ["late_db"]
            assert text(await client.call_tool("late_db")) == "connected"
    assert events == ["start cancelled", "up", "down"]


def all_tasks() -> set[trio.lowlevel.Task]:
    """Every task of this Trio run."""
    found: set[trio.lowlevel.Task] = set()
    pending = [trio.lowlevel.current_root_task()]
    while pending:
        task = pending.pop()
        if task is None:
            continue
        found.add(task)
        for nursery in task.child_nurseries:
            pending.extend(nursery.child_tasks)
    return found


async def test_a_mounted_tool_keeps_its_own_timeout(
    autojump_clock: trio.testing.MockClock,
) -> None:
    child = Server("slow")

    @child.tool(timeout=0.5)
    async def nap() -> str:
        await trio.sleep(10)
        return "never"

    parent = parent_with(child, prefix="slow")
    async with connect(parent) as client:
        result = await client.call_tool("slow_nap")
    assert result["isError"] is True
    assert "timed out after 0.5s" in text(result)


async def test_nested_mounts_and_completion_are_routed() -> None:
    leaf = Server("leaf")

    @leaf.tool()
    async def deep() -> str:
        return "deep"

    @leaf.prompt()
    async def pick(colour: str) -> str:
        return colour

    @leaf.completer
    async def complete(request: Any) -> list[str]:
        return [f"{request.ref}:{request.argument}"]

    middle = Server("middle")
    middle.mount(leaf, prefix="leaf")
    top = Server("top")
    top.mount(middle, prefix="mid")
    async with connect(top) as client:
        assert [t["name"] for t in await client.list_tools()] == ["mid_leaf_deep"]
        assert text(await client.call_tool("mid_leaf_deep")) == "deep"
        completion = await client.complete(
            {"type": "ref/prompt", "name": "mid_leaf_pick"}, "colour"
        )
        assert completion["values"] == ["pick:colour"]


def test_bad_mounts_are_refused() -> None:
    a, b = Server("a"), Server("b")
    with pytest.raises(ValueError, match="prefix"):
        a.mount(b, prefix="has space")
    with pytest.raises(ValueError, match="prefix"):
        a.mount(b, prefix="under_score")
    with pytest.raises(ValueError, match="itself"):
        a.mount(a, prefix="x")
    a.mount(b, prefix="b")
    with pytest.raises(ValueError, match="already mounted"):
        Server("c").mount(b, prefix="b")
    with pytest.raises(ValueError, match="itself"):
        b.mount(a, prefix="a")


async def test_mounted_task_tools_run_as_tasks_of_the_parent() -> None:
    child = Server("jobs")
    release = trio.Event()

    @child.tool(task="optional")
    async def job() -> str:
        await release.wait()
        return "done"

    parent = parent_with(child, prefix="jobs")
    async with connect(parent, version="2025-11-25") as client:
        assert "tasks" in (client.initialize_result or {})["capabilities"]
        created = await client.request(
            "tools/call", {"name": "jobs_job", "arguments": {}, "task": {}}
        )
        task_id = created["task"]["taskId"]
        got = await client.request("tasks/get", {"taskId": task_id})
        assert got["status"] == "working"
        release.set()
        result = await client.request("tasks/result", {"taskId": task_id})
        assert text(result) == "done"


async def test_the_parents_error_masking_masks_a_mounted_tools_failure() -> None:
    child = Server("child")

    @child.tool()
    async def fails() -> str:
        raise RuntimeError("db password is hunter2")

    parent = Server("parent", middleware=[ErrorMasking(tool_message="{name} failed")])
    parent.mount(child, prefix="c")
    async with connect(parent) as client:
        result = await client.call_tool("c_fails")
    assert result["isError"] is True
    assert result["content"][0]["text"] == "c_fails failed"  # as for a tool of its own
    async with connect(child) as client:  # the child served alone: unmasked, as before
        result = await client.call_tool("fails")
    assert "hunter2" in result["content"][0]["text"]
