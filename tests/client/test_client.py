"""trio_mcp.Client against trio_mcp's own server, in memory, in both eras.

The same test code runs in the legacy era (``initialize``, server requests)
and the modern one (``_meta`` on every request, ``input_required`` rounds):
what the client promises is that nothing above it can tell the difference.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import pytest
import trio
import trio.testing

import trio_mcp
from trio_mcp import Client, Context, ImageContent, InvalidParams, McpError, Server, TextContent
from trio_mcp.client import (
    ElicitationRequest,
    InvalidAnswer,
    LogMessage,
    RequestTimeout,
    Root,
    SamplingRequest,
    Tool,
)

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "examples"))
import everything

ERAS = ["legacy", "modern"]


async def sample(request: SamplingRequest) -> str:
    return f"sampled {len(request.messages)} message(s)"


async def elicit(request: ElicitationRequest) -> dict[str, Any]:
    schema = request.requested_schema
    content: dict[str, Any] = {}
    for name, prop in schema.get("properties", {}).items():
        if name in schema.get("required", []):
            content[name] = True if prop.get("type") == "boolean" else "Ada"
    return {"action": "accept", "content": content}


def tracked() -> tuple[Server, dict[str, int]]:
    """A server whose ``slow`` tool counts starts and cancellations (the server side's view)."""
    server = Server("tracked")
    seen = {"started": 0, "cancelled": 0, "finished": 0}

    @server.tool(timeout=None)
    async def slow(seconds: float = 3600) -> str:
        seen["started"] += 1
        try:
            await trio.sleep(seconds)
        except trio.Cancelled:
            seen["cancelled"] += 1
            raise
        seen["finished"] += 1
        return "done"

    return server, seen


@pytest.mark.parametrize("era", [*ERAS, "auto"])
async def test_handshake_and_typed_results(era: str) -> None:
    async with Client(everything.build(), era=era) as client:  # type: ignore[arg-type]
        assert client.era == ("legacy" if era == "legacy" else "modern")
        assert client.protocol_version == ("2025-11-25" if era == "legacy" else "2026-07-28")
        assert client.server_info is not None
        assert client.server_info.name == "mcp-conformance-test-server"
        assert "tools" in client.server_capabilities
        tools = await client.list_tools()
        assert all(isinstance(t, Tool) for t in tools)
        by_name = {t.name: t for t in tools}
        assert by_name["greet"].input_schema["properties"]["name"] == {"type": "string"}
        assert by_name["greet"].raw["name"] == "greet"
        result = await client.call_tool("greet", {"name": "Ada"})
        assert result.content == [TextContent("Hello, Ada!")]
        assert result.text == "Hello, Ada!" and not result.is_error
        image = await client.call_tool("test_image_content")
        assert isinstance(image.content[0], ImageContent)
        assert image.content[0].mime_type == "image/png"
        read = await client.read_resource("test://static-text")
        assert read.text == "This is the content of the static text resource."
        assert read.contents[0].mime_type == "text/plain"
        binary = await client.read_resource("test://static-binary")
        assert binary.contents[0].blob is not None and binary.contents[0].text is None
        prompt = await client.get_prompt("test_prompt_with_arguments", {"arg1": "a", "arg2": "b"})
        assert prompt.messages[0].role == "user"
        assert isinstance(prompt.messages[0].content, TextContent)
        templates = await client.list_resource_templates()
        assert any(t.uri_template == "test://template/{id}/data" for t in templates)
        await client.ping()


@pytest.mark.parametrize("era", ERAS)
async def test_pagination_is_an_async_iterator(era: str) -> None:
    async with Client(everything.build(page_size=3), era=era) as client:  # type: ignore[arg-type]
        names = [tool.name async for tool in client.iter_tools()]
        assert len(names) > 3 and len(set(names)) == len(names)  # several pages, none twice
        assert names == [t.name for t in await client.list_tools()]
        assert len(await client.list_prompts()) == 5


@pytest.mark.parametrize("era", ERAS)
async def test_handlers_answer_in_both_eras(era: str) -> None:
    roots = [Root("file:///work", "work"), "file:///tmp"]
    async with Client(
        everything.build(),
        era=era,  # type: ignore[arg-type]
        sampling=sample,
        elicitation=elicit,
        roots=roots,
    ) as client:
        sampled = await client.call_tool("test_sampling", {"prompt": "hi"})
        assert sampled.text == "LLM response: sampled 1 message(s)"
        elicited = await client.call_tool("test_elicitation", {"message": "who?"})
        assert elicited.text == 'User response: action=accept, content={"response":"Ada"}'
        listed = await client.call_tool("extra_list_roots")
        assert listed.text == '["file:///work","file:///tmp"]'
        # two questions in one round (modern: one input_required with two inputRequests)
        both = await client.call_tool("test_input_required_result_multiple_inputs")
        assert not both.is_error, both.text


async def test_elicitation_answers_are_checked_before_sending() -> None:
    async def bad(request: ElicitationRequest) -> dict[str, Any]:
        return {"action": "accept", "content": {"response": 42, "extra": "x"}}

    async with Client(everything.build(), era="modern", elicitation=bad) as client:
        with pytest.raises(InvalidAnswer) as info:
            await client.call_tool("test_elicitation", {"message": "who?"})
    assert "field 'response' must be string, got int" in str(info.value)
    assert "field 'extra' is not in the requested schema" in str(info.value)
    # legacy: the server is answered with an error, never with the bad content
    async with Client(everything.build(), era="legacy", elicitation=bad) as client:
        result = await client.call_tool("test_elicitation", {"message": "who?"})
    assert "Client handler failed: elicitation answer" in result.text


def test_check_elicitation_fills_in_defaults() -> None:
    from trio_mcp._client import check_elicitation

    schema = {
        "type": "object",
        "properties": {
            "name": {"type": "string", "default": "John Doe"},
            "age": {"type": "integer", "default": 30},
            "status": {"type": "string", "enum": ["active", "idle"], "default": "active"},
            "note": {"type": "string"},
        },
    }
    request = ElicitationRequest("?", schema)
    assert check_elicitation(request, {"action": "accept", "content": {"age": 41}}) == {
        "action": "accept",
        "content": {"name": "John Doe", "age": 41, "status": "active"},
    }
    assert check_elicitation(request, {"action": "decline"}) == {"action": "decline"}


@pytest.mark.parametrize(
    ("answer", "message"),
    [
        ({"action": "yes"}, "action must be one of"),
        ({"action": "accept"}, "accept needs content"),
        ({"action": "accept", "content": {}}, "missing required field 'n'"),
        ({"action": "accept", "content": {"n": True}}, "must be integer, got bool"),
        ({"action": "accept", "content": {"n": 11}}, "must be at most 10"),
        ({"action": "accept", "content": {"n": 1, "c": "blue"}}, "must be one of ['red']"),
    ],
)
def test_check_elicitation(answer: dict[str, Any], message: str) -> None:
    from trio_mcp._client import check_elicitation

    schema = {
        "type": "object",
        "properties": {
            "n": {"type": "integer", "maximum": 10},
            "c": {"type": "string", "enum": ["red"]},
        },
        "required": ["n"],
    }
    with pytest.raises(InvalidAnswer, match=message.replace("[", r"\[").replace("]", r"\]")):
        check_elicitation(ElicitationRequest("?", schema), answer)
    ok = check_elicitation(
        ElicitationRequest("?", schema), {"action": "accept", "content": {"n": 3}}
    )
    assert ok == {"action": "accept", "content": {"n": 3}}
    url = ElicitationRequest("?", mode="url", url="https://x")
    assert check_elicitation(url, {"action": "accept"}) == {"action": "accept"}
    assert check_elicitation(url, {"action": "decline", "content": {"a": 1}}) == {
        "action": "decline"
    }


@pytest.mark.parametrize("era", ERAS)
async def test_progress_and_log_callbacks(era: str) -> None:
    logs: list[LogMessage] = []
    progress: list[tuple[float, float | None, str | None]] = []

    async def on_log(message: LogMessage) -> None:
        logs.append(message)

    async def on_progress(done: float, total: float | None, text: str | None) -> None:
        progress.append((done, total, text))

    async with Client(
        everything.build(),
        era=era,  # type: ignore[arg-type]
        on_log=on_log,
        log_level="info",
    ) as client:
        await client.call_tool("test_tool_with_progress", on_progress=on_progress)
        assert [p[0] for p in progress] == [0, 50, 100]  # all before the result
        assert progress[-1] == (100, 100, "Completed step 100 of 100")
        await client.call_tool("test_tool_with_logging")
        assert [m.data for m in logs] == [
            "Tool execution started",
            "Tool processing data",
            "Tool execution completed",
        ]
        assert {m.level for m in logs} == {"info"}


@pytest.mark.parametrize("era", ERAS)
async def test_a_deadline_cancels_the_call_on_the_server(
    era: str, autojump_clock: trio.testing.MockClock
) -> None:
    server, seen = tracked()
    async with Client(server, era=era) as client:  # type: ignore[arg-type]
        with pytest.raises(RequestTimeout) as info:
            await client.call_tool("slow", timeout=5)
        assert str(info.value) == "no answer to tools/call within 5 s"
        await trio.sleep(1)
        assert seen == {"started": 1, "cancelled": 1, "finished": 0}
        assert (await client.call_tool("slow", {"seconds": 1})).text == "done"


@pytest.mark.parametrize("era", ERAS)
async def test_leaving_a_cancel_scope_cancels_the_call_on_the_server(
    era: str, autojump_clock: trio.testing.MockClock
) -> None:
    server, seen = tracked()
    async with Client(server, era=era) as client:  # type: ignore[arg-type]
        with trio.move_on_after(10) as scope:
            await client.call_tool("slow")
        assert scope.cancelled_caught
        await trio.sleep(1)
        assert seen["cancelled"] == 1 and seen["finished"] == 0


async def test_errors_are_one_exception() -> None:
    async with Client(everything.build()) as client:
        with pytest.raises(InvalidParams) as info:
            await client.call_tool("nosuch")
        assert isinstance(info.value, McpError) and info.value.code == -32602
        assert info.value.message == "Unknown tool: nosuch"
    with pytest.raises(KeyError):  # the body's exception, not an ExceptionGroup
        async with Client(everything.build()):
            raise KeyError("mine")
    with trio.move_on_after(0.01):  # a cancellation passes through as itself
        async with Client(everything.build()) as client:
            await trio.sleep_forever()


@pytest.mark.parametrize("era", ERAS)
async def test_tasks_start_poll_result_cancel(era: str) -> None:
    async with Client(
        everything.build(),
        era=era,  # type: ignore[arg-type]
        elicitation=elicit,
    ) as client:
        task = await client.start_tool_task("slow_compute", {"seconds": 0.05, "label": "x"})
        assert task.id and task.state.status == "working"
        assert (await task.result()).text == "Computed x after 0.05s"
        assert (await task.poll()).status == "completed"
        # input from inside a task: tasks/update (modern) or a request on tasks/result (legacy)
        confirm = await client.start_tool_task("confirm_delete", {"filename": "a.txt"})
        assert (await confirm.result()).text == "a.txt: deleted"
        long = await client.start_tool_task("slow_compute", {"seconds": 3600})
        await long.cancel()
        assert (await long.poll()).status == "cancelled"
        failing = await client.start_tool_task("protocol_error_job")
        with pytest.raises(McpError, match="Simulated protocol error"):
            await failing.result()


async def test_set_roots_notifies_a_legacy_server() -> None:
    server = Server("roots")

    @server.tool()
    async def roots(ctx: Context) -> list[str]:
        return [r["uri"] for r in await ctx.list_roots()]

    async with Client(server, era="legacy", roots=["file:///a"]) as client:
        assert (await client.call_tool("roots")).text == '["file:///a"]'
        await client.set_roots(["file:///b"])
        assert (await client.call_tool("roots")).text == '["file:///b"]'


def test_client_is_exported() -> None:
    assert trio_mcp.Client is Client
    assert "Client" in getattr(trio_mcp, "__all__", ["Client"])
