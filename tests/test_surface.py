"""The whole server surface, in both eras, through the in-memory client."""

from __future__ import annotations

import logging
from typing import Any

import attrs
import pytest
import trio
import trio.testing

from trio_mcp import (
    AudioContent,
    Completion,
    CompletionRequest,
    Context,
    EmbeddedResource,
    ImageContent,
    McpError,
    Message,
    ResourceContents,
    ResourceLink,
    Server,
)
from trio_mcp.testing import connect

ERAS = ["legacy", "modern"]


@attrs.frozen
class Answer:
    name: str


def build(**kw: Any) -> Server:
    server = Server("surface", version="2.0", **kw)

    @server.resource("config://settings", mime_type="application/json", annotations={"priority": 1})
    async def settings() -> dict[str, Any]:
        """App settings."""
        return {"debug": True}

    @server.resource("test://binary")
    async def binary() -> bytes:
        return b"\x00\x01"

    @server.resource("users://{user_id}/age")
    async def age(user_id: int) -> str:
        return f"user {user_id + 1}"

    @server.resource("files://{+path}")
    async def files(path: str) -> ResourceContents:
        if path == "missing":
            raise FileNotFoundError(path)
        return ResourceContents(f"files://{path}", text=path.upper(), mime_type="text/x-test")

    @server.prompt(title="Code review")
    async def review(code: str, strict: bool = False) -> list[Message]:
        """Review code."""
        return [
            Message("user", f"review {code} strict={strict}"),
            Message("user", ImageContent(b"img", "image/png")),
            Message(
                "assistant",
                EmbeddedResource("config://settings", text="{}", mime_type="application/json"),
            ),
        ]

    @server.completer
    async def complete(req: CompletionRequest) -> list[str] | Completion:
        if req.argument == "code":
            return [f"{req.value}{i}" for i in range(150)]
        return Completion([f"{req.ref}:{req.context}"], total=1, has_more=False)

    @server.tool()
    async def contents() -> list[Any]:
        return [
            AudioContent(b"wav", "audio/wav"),
            ResourceLink("config://settings", "settings", mime_type="application/json"),
        ]

    @server.tool()
    async def progress(ctx: Context) -> str:
        await ctx.report_progress(1, 3, "one")
        await ctx.report_progress(1, 3, "again")  # not increasing: dropped
        await ctx.report_progress(2, 3)
        return "done"

    @server.tool()
    async def logs(ctx: Context) -> str:
        await ctx.debug("d")
        await ctx.info("i", logger="app")
        await ctx.error({"code": 7})
        logging.getLogger("bridge.test").warning("from logging")
        return "logged"

    @server.tool()
    async def ask(ctx: Context) -> str:
        first = await ctx.elicit("Your name?", Answer)
        second = await ctx.elicit(
            "Again?", {"type": "object", "properties": {"n": {"type": "integer"}}}
        )
        return f"{first.action}:{first.content}:{second.content}"

    @server.tool()
    async def think(ctx: Context) -> str:
        result = await ctx.sample("2+2?", max_tokens=5)
        return str(result["content"]["text"])

    @server.tool()
    async def roots(ctx: Context) -> list[str]:
        return [r["uri"] for r in await ctx.list_roots()]

    @server.tool()
    async def swallow(ctx: Context) -> str:
        try:
            await ctx.elicit("name?")
        except Exception as exc:  # a handler that catches everything must not break MRTR
            return f"caught {exc}"
        return "answered"

    return server


@pytest.mark.parametrize("era", ERAS)
async def test_resources(era: str) -> None:
    async with connect(build(), era=era) as client:  # type: ignore[arg-type]
        listed = await client.request("resources/list")
        assert [r["uri"] for r in listed["resources"]] == ["config://settings", "test://binary"]
        assert listed["resources"][0] == {
            "uri": "config://settings",
            "name": "settings",
            "description": "App settings.",
            "mimeType": "application/json",
            "annotations": {"priority": 1},
        }
        templates = await client.request("resources/templates/list")
        assert [t["uriTemplate"] for t in templates["resourceTemplates"]] == [
            "users://{user_id}/age",
            "files://{+path}",
        ]
        text = await client.request("resources/read", {"uri": "config://settings"})
        assert text["contents"] == [
            {"uri": "config://settings", "mimeType": "application/json", "text": '{"debug":true}'}
        ]
        blob = await client.request("resources/read", {"uri": "test://binary"})
        assert blob["contents"][0]["blob"] == "AAE="
        typed = await client.request("resources/read", {"uri": "users://41/age"})
        assert typed["contents"][0]["text"] == "user 42"
        nested = await client.request("resources/read", {"uri": "files://a/b"})
        assert nested["contents"][0] == {
            "uri": "files://a/b",
            "mimeType": "text/x-test",
            "text": "A/B",
        }
        expected = -32002 if era == "legacy" else -32602
        for uri in ("nope://x", "files://missing"):
            with pytest.raises(McpError) as info:
                await client.request("resources/read", {"uri": uri})
            assert info.value.code == expected
            assert info.value.data == {"uri": uri}
        with pytest.raises(McpError) as info:
            await client.request("resources/read", {"uri": "users://abc/age"})
        assert info.value.code == -32602


@pytest.mark.parametrize("era", ERAS)
async def test_prompts(era: str) -> None:
    async with connect(build(), era=era) as client:  # type: ignore[arg-type]
        listed = await client.request("prompts/list")
        assert listed["prompts"] == [
            {
                "name": "review",
                "title": "Code review",
                "description": "Review code.",
                "arguments": [
                    {"name": "code", "required": True},
                    {"name": "strict", "required": False},
                ],
            }
        ]
        got = await client.request(
            "prompts/get", {"name": "review", "arguments": {"code": "x", "strict": "true"}}
        )
        assert got["messages"][0] == {
            "role": "user",
            "content": {"type": "text", "text": "review x strict=True"},
        }
        assert got["messages"][1]["content"]["type"] == "image"
        assert got["messages"][2]["content"]["resource"]["uri"] == "config://settings"
        for params in (
            {"name": "review"},
            {"name": "nope"},
            {"name": "review", "arguments": {"code": 1}},
        ):
            with pytest.raises(McpError) as info:
                await client.request("prompts/get", params)
            assert info.value.code == -32602


@pytest.mark.parametrize("era", ERAS)
async def test_completion(era: str) -> None:
    async with connect(build(), era=era) as client:  # type: ignore[arg-type]
        many = await client.request(
            "completion/complete",
            {
                "ref": {"type": "ref/prompt", "name": "review"},
                "argument": {"name": "code", "value": "v"},
            },
        )
        assert many["completion"]["values"][:2] == ["v0", "v1"]
        assert len(many["completion"]["values"]) == 100
        assert (many["completion"]["total"], many["completion"]["hasMore"]) == (150, True)
        ctx = await client.request(
            "completion/complete",
            {
                "ref": {"type": "ref/resource", "uri": "users://{user_id}/age"},
                "argument": {"name": "user_id", "value": ""},
                "context": {"arguments": {"other": "1"}},
            },
        )
        assert ctx["completion"] == {
            "values": ["users://{user_id}/age:{'other': '1'}"],
            "total": 1,
            "hasMore": False,
        }
        with pytest.raises(McpError):
            await client.request(
                "completion/complete",
                {
                    "ref": {"type": "ref/prompt", "name": "x"},
                    "argument": {"name": "a", "value": ""},
                },
            )


@pytest.mark.parametrize("era", ERAS)
async def test_pagination(era: str) -> None:
    server = build(page_size=2)
    for i in range(5):
        server.tool(name=f"extra{i}")(lambda: None)
    async with connect(server, era=era) as client:  # type: ignore[arg-type]
        first = await client.request("tools/list")
        assert len(first["tools"]) == 2 and "nextCursor" in first
        names = [t["name"] for t in await client.list_tools()]
        assert names == [t.name for t in server.tools.values()]  # deterministic: registration order
        assert names == [t["name"] for t in await client.list_tools()]
        for method in ("tools/list", "prompts/list", "resources/list", "resources/templates/list"):
            with pytest.raises(McpError) as info:
                await client.request(method, {"cursor": "not-a-cursor"})
            assert info.value.code == -32602


@pytest.mark.parametrize("era", ERAS)
async def test_content_types(era: str) -> None:
    async with connect(build(), era=era) as client:  # type: ignore[arg-type]
        result = await client.call_tool("contents")
        assert result["content"] == [
            {"type": "audio", "data": "d2F2", "mimeType": "audio/wav"},
            {
                "type": "resource_link",
                "uri": "config://settings",
                "name": "settings",
                "mimeType": "application/json",
            },
        ]


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


async def test_legacy_subscribe_and_dynamic_changes() -> None:
    server = build()
    async with connect(server) as client:
        await client.request("resources/subscribe", {"uri": "config://settings"})
        assert server.notify_resource_updated("config://settings") == 1
        assert server.notify_resource_updated("test://binary") == 0
        note = await client.wait_notification("notifications/resources/updated")
        assert note["params"] == {"uri": "config://settings"}
        await client.request("resources/unsubscribe", {"uri": "config://settings"})
        assert server.notify_resource_updated("config://settings") == 0

        server.tool(name="late")(lambda: "late")
        await client.wait_notification("notifications/tools/list_changed")
        server.remove_prompt("review")
        await client.wait_notification("notifications/prompts/list_changed")
        server.remove_resource("test://binary")
        await client.wait_notification("notifications/resources/list_changed")
        assert "late" in [t["name"] for t in await client.list_tools()]
        with pytest.raises(McpError) as info:
            await client.request("subscriptions/listen", {"notifications": {}})
        assert info.value.code == -32601


async def test_modern_listen_stream() -> None:
    server = build()
    async with connect(server, era="modern") as client:
        rid = await client.start_request(
            "subscriptions/listen",
            {
                "notifications": {
                    "toolsListChanged": True,
                    "resourceSubscriptions": ["config://settings"],
                }
            },
        )
        ack = await client.wait_notification("notifications/subscriptions/acknowledged")
        assert ack["params"] == {
            "_meta": {"io.modelcontextprotocol/subscriptionId": rid},
            "notifications": {
                "toolsListChanged": True,
                "resourceSubscriptions": ["config://settings"],
            },
        }
        server.tool(name="late")(lambda: "late")
        changed = await client.wait_notification("notifications/tools/list_changed")
        assert changed["params"]["_meta"] == {"io.modelcontextprotocol/subscriptionId": rid}
        server.remove_prompt("review")  # not asked for: not sent
        assert server.notify_resource_updated("config://settings") == 1
        updated = await client.wait_notification("notifications/resources/updated")
        assert updated["params"]["uri"] == "config://settings"
        assert not [
            n for n in client.notifications if n["method"] == "notifications/prompts/list_changed"
        ]
        with pytest.raises(McpError) as info:
            await client.request("resources/subscribe", {"uri": "config://settings"})
        assert info.value.code == -32601
        # Client cancels: the stream ends with no response.
        await client.cancel(rid)
        await trio.sleep(0.01)
        assert server.notify_resource_updated("config://settings") == 0
    assert client._waiters[rid].message is None


async def test_modern_listen_ends_with_result_on_shutdown() -> None:
    server = build()
    async with connect(server, era="modern") as client:
        rid = await client.start_request(
            "subscriptions/listen", {"notifications": {"toolsListChanged": True}}
        )
        await client.wait_notification("notifications/subscriptions/acknowledged")
    message = client._waiters[rid].message
    assert message is not None
    assert message["result"]["_meta"]["io.modelcontextprotocol/subscriptionId"] == rid
    assert message["result"]["resultType"] == "complete"
