"""``examples/everything.py``, the whole server surface, end to end through the official ``mcp`` client.

The client (``mcp`` 2.3.0) runs inside the trio test and spawns ``examples/everything.py``
as a subprocess, speaking newline-delimited JSON-RPC over its pipes, in both eras:
``mode="legacy"`` (the initialize handshake, 2025-11-25) and ``mode="2026-07-28"``
(the modern era, ``_meta`` envelope on every request); and once over Streamable HTTP.

What the SDK client cannot express (a raw ``subscriptions/listen`` ack and its
tags on the wire) is checked with raw JSON lines over the subprocess's pipes.
The README's "Spec coverage" table points at the tests here.
"""

from __future__ import annotations

import json
import subprocess
import sys
from typing import Any

import pytest
import trio
from _support.paths import EVERYTHING, ROOT

mcp = pytest.importorskip("mcp")

import mcp_types as types  # noqa: E402
from _support.sdk_client import LIMIT, MODES, Inbox, connect, text  # noqa: E402
from mcp import Client, MCPError  # noqa: E402
from mcp.client.subscriptions import (  # noqa: E402
    ListenNotSupportedError,
    PromptsListChanged,
    ResourcesListChanged,
    ResourceUpdated,
    ToolsListChanged,
)

MODERN = "2026-07-28"


TEST_IMAGE_BASE64 = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8DwHwAFBQIAX8jx0gAAAABJRU5ErkJggg=="


TEST_AUDIO_BASE64 = "UklGRiYAAABXQVZFZm10IBAAAAABAAEAQB8AAAB9AAACABAAZGF0YQIAAAA="


REFERENCE_TOOLS = {
    "test_simple_text",
    "test_image_content",
    "test_audio_content",
    "test_embedded_resource",
    "test_multiple_content_types",
    "test_tool_with_logging",
    "test_error_handling",
    "test_tool_with_progress",
    "test_sampling",
    "test_elicitation",
    "test_elicitation_sep1034_defaults",
    "test_elicitation_sep1330_enums",
}


REFERENCE_RESOURCES = {"test://static-text", "test://static-binary", "test://watched-resource"}


REFERENCE_PROMPTS = {
    "test_simple_prompt",
    "test_prompt_with_arguments",
    "test_prompt_with_embedded_resource",
    "test_prompt_with_image",
}


pytestmark = [
    pytest.mark.filterwarnings("ignore::DeprecationWarning"),
    pytest.mark.filterwarnings("ignore::mcp.MCPDeprecationWarning"),
]


@pytest.mark.parametrize("mode", MODES)
async def test_fixture_set_is_listed(mode: str) -> None:
    with trio.fail_after(LIMIT):
        async with connect(mode) as client:
            assert client.protocol_version == ("2025-11-25" if mode == "legacy" else MODERN)
            tools = {t.name: t for t in (await client.list_tools()).tools}
            assert set(tools) >= REFERENCE_TOOLS
            assert tools["test_simple_text"].description == "Tests simple text content response"
            assert tools["test_sampling"].input_schema["required"] == ["prompt"]
            assert tools["test_elicitation"].input_schema["required"] == ["message"]
            resources = {r.uri: r for r in (await client.list_resources()).resources}
            assert set(resources) >= REFERENCE_RESOURCES
            templates = (await client.list_resource_templates()).resource_templates
            assert "test://template/{id}/data" in {t.uri_template for t in templates}
            prompts = {p.name: p for p in (await client.list_prompts()).prompts}
            assert set(prompts) == REFERENCE_PROMPTS | {"test_input_required_result_prompt"}
            args = prompts["test_prompt_with_arguments"].arguments or []
            assert [(a.name, a.required) for a in args] == [("arg1", True), ("arg2", True)]
            if mode == MODERN:  # a pinned client skips discovery: send server/discover now
                raw = await client.session.send_discover(MODERN)
                discovered = types.DiscoverResult.model_validate(raw)
                assert discovered.supported_versions == [MODERN]
                caps = discovered.capabilities
            else:
                caps = client.server_capabilities
            assert caps.tools is not None and caps.resources is not None
            assert caps.prompts is not None and caps.completions is not None
            assert caps.logging is not None


@pytest.mark.parametrize("mode", MODES)
async def test_content_types(mode: str) -> None:
    with trio.fail_after(LIMIT):
        async with connect(mode) as client:
            r = await client.call_tool("test_simple_text", {})
            assert not r.is_error
            assert text(r) == "This is a simple text response for testing."

            [image] = (await client.call_tool("test_image_content", {})).content
            assert isinstance(image, types.ImageContent)
            assert (image.data, image.mime_type) == (TEST_IMAGE_BASE64, "image/png")

            [audio] = (await client.call_tool("test_audio_content", {})).content
            assert isinstance(audio, types.AudioContent)
            assert (audio.data, audio.mime_type) == (TEST_AUDIO_BASE64, "audio/wav")

            [embedded] = (await client.call_tool("test_embedded_resource", {})).content
            assert isinstance(embedded, types.EmbeddedResource)
            assert isinstance(embedded.resource, types.TextResourceContents)
            assert embedded.resource.uri == "test://embedded-resource"
            assert embedded.resource.mime_type == "text/plain"
            assert embedded.resource.text == "This is an embedded resource content."

            many = (await client.call_tool("test_multiple_content_types", {})).content
            assert [c.type for c in many] == ["text", "image", "resource"]
            assert many[0].text == "Multiple content types test:"  # type: ignore[union-attr]
            assert many[1].data == TEST_IMAGE_BASE64  # type: ignore[union-attr]
            res = many[2].resource  # type: ignore[union-attr]
            assert (res.uri, res.mime_type) == ("test://mixed-content-resource", "application/json")
            assert json.loads(res.text) == {"test": "data", "value": 123}


@pytest.mark.parametrize("mode", MODES)
async def test_resource_link_title_icons_annotations_meta(mode: str) -> None:
    with trio.fail_after(LIMIT):
        async with connect(mode) as client:
            tools = {t.name: t for t in (await client.list_tools()).tools}
            showcase = tools["extra_content_showcase"]
            assert showcase.title == "Content showcase"
            assert showcase.annotations is not None
            assert showcase.annotations.read_only_hint is True
            assert showcase.annotations.destructive_hint is False
            assert showcase.annotations.idempotent_hint is True
            assert showcase.annotations.open_world_hint is False
            assert showcase.icons is not None and showcase.icons[0].src.endswith("icon.png")
            assert showcase.meta == {"example.com/owner": "conformance"}

            result = await client.call_tool("extra_content_showcase", {})
            link, annotated = result.content
            assert isinstance(link, types.ResourceLink)
            assert (link.uri, link.name, link.title) == (
                "test://static-text",
                "static_text_resource",
                "Static text",
            )
            assert isinstance(annotated, types.TextContent)
            assert annotated.annotations is not None
            assert annotated.annotations.audience == ["user"]
            assert annotated.annotations.priority == 0.5
            assert result.meta is not None
            assert result.meta["example.com/trace"] == "t-1"  # (modern adds serverInfo)


@pytest.mark.parametrize("mode", MODES)
async def test_error_handling(mode: str) -> None:
    with trio.fail_after(LIMIT):
        async with connect(mode) as client:
            r = await client.call_tool("test_error_handling", {})
            assert r.is_error
            assert text(r) == (
                "Error executing tool test_error_handling: "
                "This tool intentionally returns an error for testing"
            )
            with pytest.raises(MCPError) as info:  # an unknown tool is a protocol error
                await client.call_tool("no_such_tool", {})
            assert info.value.code == -32602


@pytest.mark.parametrize("mode", MODES)
async def test_resources_list_and_read(mode: str) -> None:
    with trio.fail_after(LIMIT):
        async with connect(mode) as client:
            listed = {r.uri: r for r in (await client.list_resources()).resources}
            static = listed["test://static-text"]
            assert static.name == "static_text_resource"
            assert static.description == "A static text resource for testing"
            assert static.mime_type == "text/plain"

            [templ] = [
                t
                for t in (await client.list_resource_templates()).resource_templates
                if t.uri_template == "test://template/{id}/data"
            ]
            assert templ.description == "A resource template with parameter substitution"

            [c] = (await client.read_resource("test://static-text")).contents
            assert isinstance(c, types.TextResourceContents)
            assert c.text == "This is the content of the static text resource."

            [b] = (await client.read_resource("test://static-binary")).contents
            assert isinstance(b, types.BlobResourceContents)
            assert b.blob == TEST_IMAGE_BASE64
            assert b.mime_type == "image/png"

            [t] = (await client.read_resource("test://template/42/data")).contents
            assert isinstance(t, types.TextResourceContents)
            assert json.loads(t.text) == {
                "id": "42",
                "templateTest": True,
                "data": "Data for ID: 42",
            }
            # Template variables are percent-decoded.
            [t] = (await client.read_resource("test://template/a%20b/data")).contents
            assert json.loads(t.text)["id"] == "a b"  # type: ignore[union-attr]

            [w] = (await client.read_resource("test://watched-resource")).contents
            assert w.text == "Watched resource content"  # type: ignore[union-attr]


@pytest.mark.parametrize("mode", MODES)
async def test_resource_not_found_code(mode: str) -> None:
    expected = -32002 if mode == "legacy" else -32602
    with trio.fail_after(LIMIT):
        async with connect(mode) as client:
            for uri in ("test://nope", "test://template/1/other"):
                with pytest.raises(MCPError) as info:
                    await client.read_resource(uri)
                assert info.value.code == expected, info.value
                assert info.value.error.data == {"uri": uri}


async def test_legacy_subscribe_and_updated() -> None:
    inbox = Inbox()
    with trio.fail_after(LIMIT):
        async with connect("legacy", message_handler=inbox) as client:
            assert client.server_capabilities.resources is not None
            assert client.server_capabilities.resources.subscribe is True
            await client.subscribe_resource("test://watched-resource")
            r = await client.call_tool("extra_update_watched_resource", {"content": "v2"})
            assert text(r) == "notified 1"
            [note] = await inbox.wait_for(types.ResourceUpdatedNotification)
            assert note.params.uri == "test://watched-resource"
            [c] = (await client.read_resource("test://watched-resource")).contents
            assert c.text == "v2"  # type: ignore[union-attr]

            await client.unsubscribe_resource("test://watched-resource")
            r = await client.call_tool("extra_update_watched_resource", {"content": "v3"})
            assert text(r) == "notified 0"
            await trio.sleep(0.2)
            assert len(inbox.of(types.ResourceUpdatedNotification)) == 1

            with pytest.raises(ListenNotSupportedError):
                async with client.listen(tools_list_changed=True):
                    pass


async def test_modern_listen_resource_updated() -> None:
    with trio.fail_after(LIMIT):
        async with connect(MODERN) as client:
            async with client.listen(resource_subscriptions=["test://watched-resource"]) as sub:
                assert sub.honored is not None
                assert sub.honored.resource_subscriptions == ["test://watched-resource"]
                r = await client.call_tool("extra_update_watched_resource", {"content": "m2"})
                assert text(r) == "notified 1"
                event = await sub.__aiter__().__anext__()
                assert event == ResourceUpdated("test://watched-resource")
            # The stream closed: nobody is listening any more. (The SDK sends the
            # listen's notifications/cancelled lazily, after our next request may be.)
            while text(await client.call_tool("extra_update_watched_resource", {})) != (
                "notified 0"
            ):
                await trio.sleep(0.05)
            # resources/subscribe does not exist in the modern era.
            with pytest.raises(MCPError) as info:
                await client.session.send_request(  # type: ignore[call-arg]
                    types.SubscribeRequest(
                        params=types.SubscribeRequestParams(uri="test://watched-resource")
                    ),
                    types.EmptyResult,
                )
            assert info.value.code == -32601


class RawPipe:
    """The everything server over raw JSON lines (what the SDK does not show)."""

    def __init__(self, proc: trio.Process) -> None:
        self.proc = proc
        self.buffer = b""
        self.seen: list[dict[str, Any]] = []

    async def send(self, message: dict[str, Any]) -> None:
        assert self.proc.stdin is not None
        await self.proc.stdin.send_all(json.dumps(message).encode() + b"\n")

    async def receive(self) -> dict[str, Any]:
        assert self.proc.stdout is not None
        while b"\n" not in self.buffer:
            chunk = await self.proc.stdout.receive_some()
            assert chunk, "server closed stdout"
            self.buffer += chunk
        line, _, self.buffer = self.buffer.partition(b"\n")
        message: dict[str, Any] = json.loads(line)
        self.seen.append(message)
        return message

    async def response(self, id: Any) -> dict[str, Any]:
        while True:
            message = await self.receive()
            if message.get("id") == id and "method" not in message:
                return message


MODERN_META = {
    "io.modelcontextprotocol/protocolVersion": MODERN,
    "io.modelcontextprotocol/clientInfo": {"name": "raw", "version": "0"},
    "io.modelcontextprotocol/clientCapabilities": {},
}


async def test_modern_listen_wire_ack_first_and_tagged() -> None:
    with trio.fail_after(LIMIT):
        async with trio.open_nursery() as nursery:
            proc = await nursery.start(
                lambda task_status: trio.run_process(
                    [sys.executable, str(EVERYTHING)],
                    stdin=subprocess.PIPE,
                    stdout=subprocess.PIPE,
                    stderr=subprocess.DEVNULL,
                    cwd=str(ROOT),
                    check=False,
                    task_status=task_status,
                )
            )
            pipe = RawPipe(proc)
            await pipe.send(
                {
                    "jsonrpc": "2.0",
                    "id": "listen-1",
                    "method": "subscriptions/listen",
                    "params": {
                        "_meta": MODERN_META,
                        "notifications": {
                            "toolsListChanged": True,
                            "promptsListChanged": True,
                            "resourcesListChanged": True,
                            "resourceSubscriptions": ["test://watched-resource"],
                        },
                    },
                }
            )
            ack = await pipe.receive()
            assert ack["method"] == "notifications/subscriptions/acknowledged"
            assert ack["params"]["_meta"]["io.modelcontextprotocol/subscriptionId"] == "listen-1"
            assert ack["params"]["notifications"]["resourceSubscriptions"] == [
                "test://watched-resource"
            ]
            for i, (name, args) in enumerate(
                [
                    ("extra_update_watched_resource", {}),
                    ("extra_toggle", {"kind": "tool", "present": True}),
                    ("extra_toggle", {"kind": "prompt", "present": True}),
                    ("extra_toggle", {"kind": "resource", "present": True}),
                ]
            ):
                await pipe.send(
                    {
                        "jsonrpc": "2.0",
                        "id": i,
                        "method": "tools/call",
                        "params": {"name": name, "arguments": args, "_meta": MODERN_META},
                    }
                )
                reply = await pipe.response(i)
                assert reply["result"]["resultType"] == "complete"
            notes = [m for m in pipe.seen if m.get("method", "").startswith("notifications/")]
            while len(notes) < 5:
                notes.append(await pipe.receive())
            assert [n["method"] for n in notes] == [
                "notifications/subscriptions/acknowledged",
                "notifications/resources/updated",
                "notifications/tools/list_changed",
                "notifications/prompts/list_changed",
                "notifications/resources/list_changed",
            ]
            for note in notes:
                assert note["params"]["_meta"]["io.modelcontextprotocol/subscriptionId"] == (
                    "listen-1"
                )
            assert notes[1]["params"]["uri"] == "test://watched-resource"
            assert proc.stdin is not None
            await proc.stdin.aclose()  # EOF: the server drains and the listen stream ends
            final = await pipe.response("listen-1")
            tag = final["result"]["_meta"]["io.modelcontextprotocol/subscriptionId"]
            assert tag == "listen-1"


async def test_legacy_list_changed_notifications() -> None:
    inbox = Inbox()
    with trio.fail_after(LIMIT):
        async with connect("legacy", message_handler=inbox) as client:
            caps = client.server_capabilities
            assert caps.tools and caps.tools.list_changed is True
            assert caps.prompts and caps.prompts.list_changed is True
            assert caps.resources and caps.resources.list_changed is True
            await client.call_tool("extra_toggle", {"kind": "tool", "present": True})
            await inbox.wait_for(types.ToolListChangedNotification)
            names = {t.name for t in (await client.list_tools()).tools}
            assert "extra_dynamic_tool" in names
            assert text(await client.call_tool("extra_dynamic_tool", {})) == "dynamic"
            await client.call_tool("extra_toggle", {"kind": "tool", "present": False})
            await inbox.wait_for(types.ToolListChangedNotification, 2)
            assert "extra_dynamic_tool" not in {t.name for t in (await client.list_tools()).tools}

            await client.call_tool("extra_toggle", {"kind": "prompt", "present": True})
            await inbox.wait_for(types.PromptListChangedNotification)
            got = await client.get_prompt("extra_dynamic_prompt")
            assert got.messages[0].content.text == "dynamic prompt"  # type: ignore[union-attr]

            await client.call_tool("extra_toggle", {"kind": "resource", "present": True})
            await inbox.wait_for(types.ResourceListChangedNotification)
            assert "extra://dynamic" in {r.uri for r in (await client.list_resources()).resources}
            await client.call_tool("extra_toggle", {"kind": "resource", "present": False})
            await inbox.wait_for(types.ResourceListChangedNotification, 2)
            assert "extra://dynamic" not in {
                r.uri for r in (await client.list_resources()).resources
            }


async def test_modern_list_changed_on_listen_stream() -> None:
    with trio.fail_after(LIMIT):
        async with (
            connect(MODERN) as client,
            client.listen(
                tools_list_changed=True, prompts_list_changed=True, resources_list_changed=True
            ) as sub,
        ):
            events = sub.__aiter__()
            await client.call_tool("extra_toggle", {"kind": "tool", "present": True})
            assert await events.__anext__() == ToolsListChanged()
            assert "extra_dynamic_tool" in {t.name for t in (await client.list_tools()).tools}
            await client.call_tool("extra_toggle", {"kind": "prompt", "present": True})
            assert await events.__anext__() == PromptsListChanged()
            await client.call_tool("extra_toggle", {"kind": "resource", "present": True})
            assert await events.__anext__() == ResourcesListChanged()
            assert "extra://dynamic" in {r.uri for r in (await client.list_resources()).resources}


@pytest.mark.parametrize("mode", MODES)
async def test_prompts(mode: str) -> None:
    with trio.fail_after(LIMIT):
        async with connect(mode) as client:
            simple = await client.get_prompt("test_simple_prompt")
            [m] = simple.messages
            assert m.role == "user"
            assert m.content.text == "This is a simple prompt for testing."  # type: ignore[union-attr]

            with_args = await client.get_prompt(
                "test_prompt_with_arguments", {"arg1": "hello", "arg2": "world"}
            )
            assert with_args.messages[0].content.text == (  # type: ignore[union-attr]
                "Prompt with arguments: arg1='hello', arg2='world'"
            )

            embedded = await client.get_prompt(
                "test_prompt_with_embedded_resource", {"resourceUri": "test://example-resource"}
            )
            first, second = embedded.messages
            assert isinstance(first.content, types.EmbeddedResource)
            assert first.content.resource.uri == "test://example-resource"
            assert first.content.resource.text == "Embedded resource content for testing."  # type: ignore[union-attr]
            assert second.content.text == "Please process the embedded resource above."  # type: ignore[union-attr]

            image = await client.get_prompt("test_prompt_with_image")
            first, second = image.messages
            assert isinstance(first.content, types.ImageContent)
            assert (first.content.data, first.content.mime_type) == (
                TEST_IMAGE_BASE64,
                "image/png",
            )
            assert second.content.text == "Please analyze the image above."  # type: ignore[union-attr]

            for name, args in (
                ("test_prompt_with_arguments", {"arg1": "only one"}),
                ("no_such_prompt", {}),
            ):
                with pytest.raises(MCPError) as info:
                    await client.get_prompt(name, args)
                assert info.value.code == -32602


@pytest.mark.parametrize("mode", MODES)
async def test_completion(mode: str) -> None:
    with trio.fail_after(LIMIT):
        async with connect(mode) as client:
            # The reference fixtures: an empty completion, as the reference answers.
            empty = await client.complete(
                types.PromptReference(type="ref/prompt", name="test_prompt_with_arguments"),
                {"name": "arg1", "value": "x"},
            )
            assert (empty.completion.values, empty.completion.total) == ([], 0)
            assert empty.completion.has_more is False
            ref = types.ResourceTemplateReference(
                type="ref/resource", uri="extra://items/{category}/{item}"
            )
            fruit = await client.complete(ref, {"name": "category", "value": "ap"})
            assert fruit.completion.values == ["apple", "apricot"]
            # At most 100 values, with total and hasMore; context.arguments reaches the completer.
            items = await client.complete(
                ref, {"name": "item", "value": ""}, context_arguments={"category": "cherry"}
            )
            assert len(items.completion.values) == 100
            assert items.completion.values[0] == "cherry-0"
            assert (items.completion.total, items.completion.has_more) == (150, True)
            with pytest.raises(MCPError) as info:
                await client.complete(
                    types.PromptReference(type="ref/prompt", name="no_such_prompt"),
                    {"name": "a", "value": ""},
                )
            assert info.value.code == -32602


@pytest.mark.parametrize("mode", MODES)
async def test_pagination(mode: str) -> None:
    with trio.fail_after(LIMIT):
        async with (
            connect(mode) as whole,
            connect(mode, EVERYTHING, "--page-size", "3") as paged,
        ):
            for method in ("list_tools", "list_prompts", "list_resources"):
                expected = await getattr(whole, method)()
                key = {"list_tools": "tools", "list_prompts": "prompts"}.get(method, "resources")
                pages, cursor = [], None
                while True:
                    page = await getattr(paged, method)(cursor=cursor)
                    assert len(getattr(page, key)) <= 3
                    pages.extend(getattr(page, key))
                    cursor = page.next_cursor
                    if cursor is None:
                        break
                # Deterministic order: the same items in the same order, page after page.
                assert [x.name for x in pages] == [x.name for x in getattr(expected, key)]
            with pytest.raises(MCPError) as info:
                await paged.list_tools(cursor="not-a-cursor")
            assert info.value.code == -32602


@pytest.mark.parametrize("mode", MODES)
async def test_progress(mode: str) -> None:
    updates: list[tuple[float, float | None, str | None]] = []

    async def on_progress(progress: float, total: float | None, message: str | None) -> None:
        updates.append((progress, total, message))

    with trio.fail_after(LIMIT):
        async with connect(mode) as client:
            r = await client.call_tool("test_tool_with_progress", {}, progress_callback=on_progress)
            assert updates == [
                (0, 100, "Completed step 0 of 100"),
                (50, 100, "Completed step 50 of 100"),
                (100, 100, "Completed step 100 of 100"),
            ]
            # The tool echoes the request's progress token.
            assert text(r) not in ("0", "None")
            r = await client.call_tool(
                "test_tool_with_progress", {}, meta={"progressToken": "tok-7"}
            )
            assert text(r) == "tok-7"
            r = await client.call_tool("test_tool_with_progress", {})
            assert text(r) == "0"  # no token: the reference's fallback


async def test_logging_legacy_set_level() -> None:
    got: list[types.LoggingMessageNotificationParams] = []

    async def on_log(params: types.LoggingMessageNotificationParams) -> None:
        got.append(params)

    with trio.fail_after(LIMIT):
        async with connect("legacy", logging_callback=on_log) as client:
            assert client.server_capabilities.logging is not None
            r = await client.call_tool("test_tool_with_logging", {})
            assert text(r) == "Tool with logging executed successfully"
            assert got == []  # no logging/setLevel yet: nothing is sent
            await client.set_logging_level("info")
            await client.call_tool("test_tool_with_logging", {})
            assert [(p.level, p.data) for p in got] == [
                ("info", "Tool execution started"),
                ("info", "Tool processing data"),
                ("info", "Tool execution completed"),
            ]
            got.clear()
            await client.set_logging_level("warning")
            await client.call_tool("test_tool_with_logging", {})
            assert got == []


async def test_logging_modern_per_request_level() -> None:
    got: list[types.LoggingMessageNotificationParams] = []

    async def on_log(params: types.LoggingMessageNotificationParams) -> None:
        got.append(params)

    with trio.fail_after(LIMIT):
        async with connect(MODERN, logging_callback=on_log) as client:
            await client.call_tool("test_tool_with_logging", {})
            assert got == []  # no logLevel in _meta: nothing is sent
        async with connect(MODERN, logging_callback=on_log, log_level="info") as client:
            await client.call_tool("test_tool_with_logging", {})
            assert [p.data for p in got] == [
                "Tool execution started",
                "Tool processing data",
                "Tool execution completed",
            ]
            got.clear()
            await client.call_tool(
                "test_tool_with_logging", {}, meta={"io.modelcontextprotocol/logLevel": "error"}
            )
            assert got == []
            with pytest.raises(MCPError) as info:  # logging/setLevel is legacy only
                await client.set_logging_level("info")
            assert info.value.code == -32601


@pytest.mark.parametrize("mode", MODES)
async def test_logging_bridge(mode: str) -> None:
    got: list[types.LoggingMessageNotificationParams] = []

    async def on_log(params: types.LoggingMessageNotificationParams) -> None:
        got.append(params)

    with trio.fail_after(LIMIT):
        async with connect(mode, logging_callback=on_log, log_level="debug") as client:
            if mode == "legacy":
                await client.set_logging_level("debug")
            assert text(await client.call_tool("extra_stdlib_logging", {})) == "logged"
            assert [(p.level, p.logger, p.data) for p in got] == [
                ("warning", "everything.app", "from the logging module")
            ]


@pytest.mark.parametrize("mode", MODES)
async def test_context(mode: str) -> None:
    info = types.Implementation(name="surface-test", version="1.2")
    with trio.fail_after(LIMIT):
        async with connect(mode, client_info=info) as client:
            got = json.loads(text(await client.call_tool("extra_context", {})))
            assert got["era"] == ("legacy" if mode == "legacy" else "modern")
            assert got["protocol_version"] == client.protocol_version
            assert got["client_name"] == "surface-test"
            assert isinstance(got["request_id"], int)
            assert got["cancel_requested"] is False
            assert got["cache_is_shared"] is True


@pytest.mark.parametrize("version", ["2024-11-05", "2025-03-26", "2025-06-18"])
async def test_older_legacy_versions(version: str, monkeypatch: pytest.MonkeyPatch) -> None:
    # The SDK client always offers 2025-11-25; its private constant is the only way
    # to offer an older version. The server accepts it and answers in that version.
    import mcp.client.session as client_session

    monkeypatch.setattr(client_session, "LATEST_HANDSHAKE_VERSION", version)
    seen: list[Any] = []

    async def elicit(ctx: Any, params: Any) -> types.ElicitResult:
        seen.append(params)
        return types.ElicitResult(action="accept", content={"response": "old"})

    with trio.fail_after(LIMIT):
        async with connect("legacy", elicitation_callback=elicit) as client:
            assert client.protocol_version == version
            assert text(await client.call_tool("test_simple_text", {})) == (
                "This is a simple text response for testing."
            )
            [c] = (await client.read_resource("test://static-text")).contents
            assert c.text == "This is the content of the static text resource."  # type: ignore[union-attr]
            with pytest.raises(MCPError) as info:
                await client.read_resource("test://nope")
            assert info.value.code == -32002
            got = await client.get_prompt("test_prompt_with_arguments", {"arg1": "a", "arg2": "b"})
            assert got.messages[0].content.text == "Prompt with arguments: arg1='a', arg2='b'"  # type: ignore[union-attr]
            if version == "2025-06-18":  # elicitation arrived in 2025-06-18
                r = await client.call_tool("test_elicitation", {"message": "m"})
                assert text(r) == 'User response: action=accept, content={"response":"old"}'
                assert len(seen) == 1


@pytest.mark.parametrize("mode", MODES)
async def test_sampling(mode: str) -> None:
    seen: list[types.CreateMessageRequestParams] = []

    async def sample(
        ctx: Any, params: types.CreateMessageRequestParams
    ) -> types.CreateMessageResult:
        seen.append(params)
        return types.CreateMessageResult(
            role="assistant",
            content=types.TextContent(type="text", text="Paris"),
            model="test-model",
            stop_reason="endTurn",
        )

    with trio.fail_after(LIMIT):
        async with connect(mode, sampling_callback=sample) as client:
            r = await client.call_tool("test_sampling", {"prompt": "Capital of France?"})
            assert text(r) == "LLM response: Paris"
            [params] = seen
            assert params.max_tokens == 100
            assert params.messages[0].content.text == "Capital of France?"  # type: ignore[union-attr]
        async with connect(mode) as client:  # no sampling capability declared
            r = await client.call_tool("test_sampling", {"prompt": "x"})
            assert text(r).startswith("Sampling not supported or error: ")
            assert "sampling" in text(r)


@pytest.mark.parametrize("mode", MODES)
async def test_elicitation(mode: str) -> None:
    answers: list[types.ElicitResult] = []
    seen: list[Any] = []
    ids: list[Any] = []

    async def elicit(ctx: Any, params: Any) -> types.ElicitResult:
        seen.append(params)
        ids.append(ctx.request_id)
        return answers.pop(0)

    with trio.fail_after(LIMIT):
        async with connect(mode, elicitation_callback=elicit) as client:
            answers.append(types.ElicitResult(action="accept", content={"response": "hello"}))
            r = await client.call_tool("test_elicitation", {"message": "Say something"})
            assert text(r) == 'User response: action=accept, content={"response":"hello"}'
            assert seen[-1].message == "Say something"
            schema = seen[-1].requested_schema
            assert schema["properties"]["response"]["type"] == "string"
            assert schema["required"] == ["response"]
            # Legacy: a real JSON-RPC request (an integer id). Modern: an MRTR input
            # request the SDK resolved transparently (its key is the server's).
            assert isinstance(ids[-1], int) if mode == "legacy" else ids[-1] == "elicit-0"

            answers.append(types.ElicitResult(action="decline"))
            r = await client.call_tool("test_elicitation", {"message": "again"})
            assert text(r) == "User response: action=decline, content={}"

            # SEP-1034: defaults for every primitive type, filled in when not answered.
            answers.append(types.ElicitResult(action="accept", content={"name": "Ada"}))
            r = await client.call_tool("test_elicitation_sep1034_defaults", {})
            assert text(r) == (
                "Elicitation result: action=accept, content="
                '{"name":"Ada","age":30,"score":95.5,"status":"active","verified":true}'
            )
            props = seen[-1].requested_schema["properties"]
            assert props["age"]["default"] == 30 and props["verified"]["default"] is True
            assert props["status"]["enum"] == ["active", "inactive", "pending"]

            # SEP-1330: enum schema variations.
            chosen = {
                "untitledSingle": "active",
                "titledSingle": "high",
                "untitledMulti": ["read", "write"],
                "titledMulti": ["bug"],
                "legacyEnum": "small",
            }
            answers.append(types.ElicitResult(action="accept", content=chosen))
            r = await client.call_tool("test_elicitation_sep1330_enums", {})
            assert text(r) == (
                "Elicitation completed: action=accept, content="
                + json.dumps(chosen, separators=(",", ":"))
            )
            props = seen[-1].requested_schema["properties"]
            assert props["titledSingle"]["oneOf"][0] == {"const": "low", "title": "Low Priority"}
            assert props["titledMulti"]["items"]["anyOf"][1]["const"] == "bug"
            assert props["legacyEnum"]["enumNames"][0] == "Small Size"

        async with connect(mode) as client:  # no elicitation capability declared
            r = await client.call_tool("test_elicitation", {"message": "x"})
            assert text(r).startswith("Elicitation not supported or error: ")


async def test_modern_mrtr_input_required_and_signed_state() -> None:
    async def elicit(ctx: Any, params: Any) -> types.ElicitResult:
        return types.ElicitResult(action="accept", content={"response": "manual"})

    with trio.fail_after(LIMIT):
        async with connect(MODERN, elicitation_callback=elicit) as client:
            first = await client.session.call_tool(
                "test_elicitation", {"message": "m"}, allow_input_required=True
            )
            assert isinstance(first, types.InputRequiredResult)
            assert first.input_requests is not None and first.request_state
            [(key, request)] = first.input_requests.items()
            assert request.method == "elicitation/create"
            answer = {key: types.ElicitResult(action="accept", content={"response": "manual"})}
            done = await client.session.call_tool(
                "test_elicitation",
                {"message": "m"},
                input_responses=answer,  # type: ignore[arg-type]
                request_state=first.request_state,
                allow_input_required=True,
            )
            assert isinstance(done, types.CallToolResult)
            assert text(done) == 'User response: action=accept, content={"response":"manual"}'
            # requestState is HMAC-signed: a forged one, or one bound to other arguments, is refused.
            state = first.request_state
            for forged, args in ((state[:-3] + "abc", {"message": "m"}), (state, {"message": "x"})):
                with pytest.raises(MCPError) as info:
                    await client.session.call_tool(
                        "test_elicitation",
                        args,
                        request_state=forged,
                        allow_input_required=True,
                    )
                assert info.value.code == -32602


@pytest.mark.parametrize("mode", MODES)
async def test_input_required_fixtures_named_keys_one_round(mode: str) -> None:
    """The SEP-2322 fixtures: named keys, three input requests in one round, a prompt."""

    async def elicit(ctx: Any, params: Any) -> types.ElicitResult:
        return types.ElicitResult(
            action="accept", content={"name": "Ada", "color": "blue", "context": "c"}
        )

    async def sample(ctx: Any, params: Any) -> types.CreateMessageResult:
        return types.CreateMessageResult(
            role="assistant", content=types.TextContent(type="text", text="hi"), model="m"
        )

    async def roots(ctx: Any) -> types.ListRootsResult:
        return types.ListRootsResult(roots=[types.Root(uri="file:///r")])  # type: ignore[arg-type]

    callbacks = {"elicitation_callback": elicit, "sampling_callback": sample}
    with trio.fail_after(LIMIT):
        async with connect(mode, list_roots_callback=roots, **callbacks) as client:
            if mode == MODERN:
                first = await client.session.call_tool(
                    "test_input_required_result_multiple_inputs", {}, allow_input_required=True
                )
                assert isinstance(first, types.InputRequiredResult)
                assert first.input_requests is not None and first.request_state
                assert list(first.input_requests) == ["user_name", "greeting", "client_roots"]
            # The client answers (legacy: three requests; modern: one retry) and gets:
            r = await client.call_tool("test_input_required_result_multiple_inputs", {})
            assert text(r) == "All inputs received: name=Ada, greeting=hi, roots=1"
            r = await client.call_tool("test_input_required_result_multi_round", {})
            assert text(r) == "Ada likes blue."
            got = await client.get_prompt("test_input_required_result_prompt")
            [message] = got.messages
            assert isinstance(message.content, types.TextContent)
            assert message.content.text == "Use the following context: c"


@pytest.mark.parametrize("mode", MODES)
async def test_elicitation_url_mode(mode: str) -> None:
    seen: list[Any] = []

    async def elicit(ctx: Any, params: Any) -> types.ElicitResult:
        seen.append(params)
        return types.ElicitResult(action="accept")

    with trio.fail_after(LIMIT):
        async with connect(mode, elicitation_callback=elicit) as client:
            r = await client.call_tool("extra_elicit_url", {})
            assert text(r) == "action=accept"
            [params] = seen
            assert isinstance(params, types.ElicitRequestURLParams)
            assert params.url == "https://example.com/authorize?id=e-1"
            # elicitationId exists in 2025-11-25 only; 2026-07-28 does not define it
            assert params.elicitation_id == ("e-1" if mode == "legacy" else None)


@pytest.mark.parametrize("mode", MODES)
async def test_roots(mode: str) -> None:
    async def roots(ctx: Any) -> types.ListRootsResult:
        return types.ListRootsResult(
            roots=[types.Root(uri="file:///work/project", name="project")]  # type: ignore[arg-type]
        )

    with trio.fail_after(LIMIT):
        async with connect(mode, list_roots_callback=roots) as client:
            r = await client.call_tool("extra_list_roots", {})
            assert json.loads(text(r)) == ["file:///work/project"]
        async with connect(mode) as client:  # no roots capability: a clear error
            with pytest.raises(MCPError) as info:
                await client.call_tool("extra_list_roots", {})
            assert info.value.code == -32021
            assert "roots" in info.value.error.message


def _http_available() -> bool:
    import inspect

    from trio_mcp import Server

    return "port" in inspect.signature(Server.run).parameters


async def test_everything_cli_http_flag() -> None:
    if _http_available():
        pytest.skip("trio_mcp has an HTTP transport: see test_everything_over_http")
    result = await trio.run_process(
        [sys.executable, str(EVERYTHING), "--transport", "http", "--port", "0"],
        capture_stdout=True,
        capture_stderr=True,
        check=False,
        cwd=str(ROOT),
    )
    assert result.returncode != 0
    assert b"--transport http needs trio_mcp's HTTP transport" in result.stderr


@pytest.mark.parametrize("mode", MODES)
async def test_everything_over_http(mode: str) -> None:
    if not _http_available():
        pytest.skip("trio_mcp has no HTTP transport yet")
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    url = f"http://127.0.0.1:{port}/mcp"
    with trio.fail_after(LIMIT):
        async with trio.open_nursery() as nursery:
            proc = await nursery.start(
                lambda task_status: trio.run_process(
                    [sys.executable, str(EVERYTHING), "--transport", "http", "--port", str(port)],
                    stdin=subprocess.DEVNULL,
                    stdout=subprocess.DEVNULL,
                    stderr=subprocess.DEVNULL,
                    cwd=str(ROOT),
                    check=False,
                    task_status=task_status,
                )
            )
            try:
                while True:  # wait until it listens
                    try:
                        stream = await trio.open_tcp_stream("127.0.0.1", port)
                    except OSError:
                        await trio.sleep(0.05)
                        continue
                    await stream.aclose()
                    break
                async with Client(url, mode=mode, read_timeout_seconds=LIMIT, cache=None) as client:  # type: ignore[arg-type]
                    assert {t.name for t in (await client.list_tools()).tools} >= REFERENCE_TOOLS
                    r = await client.call_tool("test_simple_text", {})
                    assert text(r) == "This is a simple text response for testing."
            finally:
                proc.terminate()
