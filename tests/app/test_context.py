"""What a handler does through its :class:`~trio_mcp.Context`, in both eras.

Progress and logging notifications; requests to the client (elicitation, sampling,
roots): real server-to-client requests in the legacy era, input-required round trips
(MRTR) in the modern era; a missing client capability is a clear error.
"""

from __future__ import annotations

import logging

import pytest
import trio
import trio.testing
from _support.app_server import ERAS, build

from trio_mcp import (
    Context,
    McpError,
    Server,
)
from trio_mcp.testing import connect


@pytest.mark.parametrize("era", ERAS)
async def test_progress(era: str) -> None:
    async with connect(build(), era=era) as client:  # type: ignore[arg-type]
        await client.call_tool("progress", meta={"progressToken": "tok"})
        got = [n["params"] for n in client.notifications if n["method"] == "notifications/progress"]
        assert got == [
            {"progressToken": "tok", "progress": 1, "total": 3, "message": "one"},
            {"progressToken": "tok", "progress": 2, "total": 3},
        ]
        client.notifications.clear()
        await client.call_tool("progress")  # no token: nothing sent
        assert client.notifications == []


async def test_logging_legacy_set_level_filters() -> None:
    server = build()
    handler = server.forward_logging("bridge")
    try:
        async with connect(server) as client:
            await client.call_tool("logs")
            assert client.notifications == []  # the client never asked for logs
            await client.request("logging/setLevel", {"level": "info"})
            await client.call_tool("logs")
            got = [(n["params"]["level"], n["params"]["data"]) for n in client.notifications]
            assert got == [("info", "i"), ("error", {"code": 7}), ("warning", "from logging")]
            assert client.notifications[0]["params"]["logger"] == "app"
    finally:
        logging.getLogger("bridge").removeHandler(handler)


async def test_logging_modern_per_request_level() -> None:
    async with connect(build(), era="modern") as client:
        await client.call_tool("logs")
        assert client.notifications == []  # no logLevel in _meta: nothing sent
        await client.call_tool("logs", meta={"io.modelcontextprotocol/logLevel": "error"})
        assert [n["params"]["level"] for n in client.notifications] == ["error"]
        with pytest.raises(McpError) as info:
            await client.request("logging/setLevel", {"level": "info"})
        assert info.value.code == -32601


async def test_elicit_sample_roots_legacy_are_real_requests() -> None:
    answers = iter(
        [
            {"action": "accept", "content": {"name": "Ada"}},
            {"action": "accept", "content": {"n": 2}},
        ]
    )
    responders = {
        "elicitation/create": lambda p: next(answers),
        "sampling/createMessage": lambda p: {
            "role": "assistant",
            "content": {"type": "text", "text": "4"},
            "model": "m",
        },
        "roots/list": lambda p: {"roots": [{"uri": "file:///r", "name": "r"}]},
    }
    caps = {"elicitation": {}, "sampling": {}, "roots": {"listChanged": True}}
    async with connect(build(), capabilities=caps, responders=responders) as client:
        asked = await client.call_tool("ask")
        assert asked["content"][0]["text"] == "accept:{'name': 'Ada'}:{'n': 2}"
        first = client.server_requests[0]
        assert first["method"] == "elicitation/create"
        assert first["params"]["requestedSchema"]["properties"] == {"name": {"type": "string"}}
        assert (await client.call_tool("think"))["content"][0]["text"] == "4"
        assert (await client.call_tool("roots"))["content"][0]["text"] == '["file:///r"]'
        assert len({r["id"] for r in client.server_requests}) == 4


@pytest.mark.parametrize("era", ERAS)
async def test_missing_capability_is_a_clear_error(era: str) -> None:
    async with connect(build(), era=era) as client:  # type: ignore[arg-type]
        for tool in ("ask", "think", "roots"):
            with pytest.raises(McpError) as info:
                await client.call_tool(tool)
            assert info.value.code == -32021
            assert "did not declare" in info.value.message
            assert "requiredCapabilities" in info.value.data


async def test_legacy_server_request_obeys_deadline(autojump_clock: trio.testing.MockClock) -> None:
    server = build(timeout=3)
    async with connect(
        server, capabilities={"elicitation": {}}
    ) as client:  # no responder answers...
        client.responders.clear()
        client.answer_server_requests = False  # ...and the client never replies at all
        result = await client.call_tool("ask")
        assert result["isError"] is True and "timed out" in result["content"][0]["text"]
        await trio.sleep(0.1)
        cancels = [n for n in client.notifications if n["method"] == "notifications/cancelled"]
        assert cancels and cancels[0]["params"]["requestId"] == client.server_requests[0]["id"]


async def test_mrtr_modern_round_trips() -> None:
    async with connect(build(), era="modern", capabilities={"elicitation": {}}) as client:
        first = await client.call_tool("ask")
        assert first["resultType"] == "input_required"
        [(key, req)] = first["inputRequests"].items()
        assert req["method"] == "elicitation/create" and req["params"]["message"] == "Your name?"
        state = first["requestState"]
        second = await client.request(
            "tools/call",
            {
                "name": "ask",
                "arguments": {},
                "inputResponses": {key: {"action": "accept", "content": {"name": "Ada"}}},
                "requestState": state,
            },
        )
        assert second["resultType"] == "input_required"
        [(key2, req2)] = second["inputRequests"].items()
        assert key2 != key and req2["params"]["message"] == "Again?"
        third = await client.request(
            "tools/call",
            {
                "name": "ask",
                "arguments": {},
                "inputResponses": {key2: {"action": "accept", "content": {"n": 5}}},
                "requestState": second["requestState"],
            },
        )
        assert third["resultType"] == "complete"
        assert third["content"][0]["text"] == "accept:{'name': 'Ada'}:{'n': 5}"
        # A forged or foreign state is refused.
        for bad in (state[:-2] + "xx", "garbage"):
            with pytest.raises(McpError) as info:
                await client.request(
                    "tools/call", {"name": "ask", "arguments": {}, "requestState": bad}
                )
            assert info.value.code == -32602
        with pytest.raises(McpError):
            await client.request(
                "tools/call", {"name": "think", "arguments": {}, "requestState": state}
            )
        swallowed = await client.call_tool("swallow")
        assert swallowed["resultType"] == "input_required"


def build_batch() -> Server:
    server = Server("batch")

    @server.tool()
    async def trio_of_inputs(ctx: Context) -> str:
        answer, sampled, roots = await ctx.gather_input(
            ctx.elicit("Name?", {"properties": {"name": {"type": "string"}}}, key="user_name"),
            ctx.sample("Greet", max_tokens=5, key="greeting"),
            ctx.list_roots(key="client_roots"),
        )
        return f"{(answer.content or {}).get('name')}|{sampled['content']['text']}|{len(roots)}"

    @server.tool()
    async def undeclared(ctx: Context) -> str:
        # sample fails at once (no capability): the elicit after it is closed, never run
        await ctx.gather_input(ctx.sample("x", key="b"), ctx.elicit("Name?", key="a"))
        return "unreachable"

    return server


BATCH_CAPS = {"elicitation": {}, "sampling": {}, "roots": {}}


async def test_mrtr_named_keys_and_gather_input_one_round() -> None:
    async with connect(build_batch(), era="modern", capabilities=BATCH_CAPS) as client:
        first = await client.call_tool("trio_of_inputs")
        assert first["resultType"] == "input_required"
        requests = first["inputRequests"]
        assert list(requests) == ["user_name", "greeting", "client_roots"]
        assert [r["method"] for r in requests.values()] == [
            "elicitation/create",
            "sampling/createMessage",
            "roots/list",
        ]
        answers = {
            "user_name": {"action": "accept", "content": {"name": "Ada"}},
            "greeting": {"role": "assistant", "content": {"type": "text", "text": "hi"}},
            "client_roots": {"roots": [{"uri": "file:///r"}]},
        }
        # Only part of the answers: the missing ones are asked for again, nothing else.
        partial = await client.request(
            "tools/call",
            {
                "name": "trio_of_inputs",
                "arguments": {},
                "inputResponses": {"user_name": answers["user_name"]},
                "requestState": first["requestState"],
            },
        )
        assert list(partial["inputRequests"]) == ["greeting", "client_roots"]
        done = await client.request(
            "tools/call",
            {
                "name": "trio_of_inputs",
                "arguments": {},
                "inputResponses": {k: answers[k] for k in ("greeting", "client_roots")},
                "requestState": partial["requestState"],
            },
        )
        assert done["content"][0]["text"] == "Ada|hi|1"
        # A named key is answered without any requestState too (state only carries answers).
        direct = await client.request(
            "tools/call", {"name": "trio_of_inputs", "arguments": {}, "inputResponses": answers}
        )
        assert direct["content"][0]["text"] == "Ada|hi|1"
        # inputResponses present but not an object (null included) is a protocol error.
        for bad in (None, [], "x"):
            with pytest.raises(McpError) as info:
                await client.request(
                    "tools/call",
                    {"name": "trio_of_inputs", "arguments": {}, "inputResponses": bad},
                )
            assert info.value.code == -32602


async def test_gather_input_capability_error_propagates() -> None:
    async with connect(build_batch(), era="modern", capabilities={"elicitation": {}}) as client:
        with pytest.raises(McpError) as info:
            await client.call_tool("undeclared")
        assert info.value.code == -32021


async def test_gather_input_legacy_sends_real_requests_in_order() -> None:
    responders = {
        "elicitation/create": lambda p: {"action": "accept", "content": {"name": "Ada"}},
        "sampling/createMessage": lambda p: {
            "role": "assistant",
            "content": {"type": "text", "text": "hi"},
            "model": "m",
        },
        "roots/list": lambda p: {"roots": [{"uri": "file:///r", "name": "r"}]},
    }
    async with connect(build_batch(), capabilities=BATCH_CAPS, responders=responders) as client:
        result = await client.call_tool("trio_of_inputs")
        assert result["content"][0]["text"] == "Ada|hi|1"
        assert [r["method"] for r in client.server_requests] == [
            "elicitation/create",
            "sampling/createMessage",
            "roots/list",
        ]
