"""The version feature table and the shaper, with no event loop.

The table (``trio_mcp/_protocol/_features.py``) is checked column by column
against the official schemas vendored in ``tests/schemas/``; the shaper
(``_shape.py``) through the session's own outputs: ``respond``,
``send_request``, ``notification`` and ``initialize``.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from trio_mcp._errors import InternalError
from trio_mcp._protocol import (
    FEATURES,
    Era,
    IncomingRequest,
    Send,
    ServerInfo,
    ServerSession,
    features_for,
)
from trio_mcp._protocol._features import ALL_CONTENT, TABLE, VERSIONS
from trio_mcp._wire import encode

SCHEMAS = Path(__file__).resolve().parent.parent / "schemas"
NEWEST = ("2025-11-25", "2026-07-28")


def defs(version: str) -> dict[str, Any]:
    root = json.loads((SCHEMAS / f"{version}.json").read_text())
    return root.get("$defs") or root["definitions"]  # type: ignore[no-any-return]


def props(version: str, name: str) -> set[str]:
    return set(defs(version).get(name, {}).get("properties", {}))


# ------------------------------------------------------------ the table


def test_one_row_per_version_and_every_column_filled() -> None:
    assert tuple(FEATURES) == VERSIONS
    for name, column in TABLE.items():
        assert len(column) == len(VERSIONS), name
    for version, row in FEATURES.items():
        assert row.version == version and features_for(version) is row
        assert row.era is (Era.MODERN if version == "2026-07-28" else Era.LEGACY)


@pytest.mark.parametrize("version", VERSIONS)
def test_the_table_says_what_the_official_schema_says(version: str) -> None:
    f, d = FEATURES[version], defs(version)
    items = d["CallToolResult"]["properties"]["content"]["items"]
    blocks = d[items["$ref"].rsplit("/", 1)[1]]["anyOf"] if "$ref" in items else items["anyOf"]
    types = {d[b["$ref"].rsplit("/", 1)[1]]["properties"]["type"]["const"] for b in blocks}
    assert f.content == types
    tool = props(version, "Tool")
    assert f.structured_content == ("outputSchema" in tool)
    assert f.structured_content == ("structuredContent" in props(version, "CallToolResult"))
    assert f.titles == ("title" in tool) == ("title" in props(version, "Implementation"))
    assert f.icons == ("icons" in tool) == ("icons" in props(version, "Prompt"))
    assert f.tool_annotations == ("annotations" in tool)
    assert f.definition_meta == ("_meta" in tool) == ("_meta" in props(version, "TextContent"))
    assert f.task_support == ("execution" in tool)
    assert f.annotations_last_modified == ("lastModified" in props(version, "Annotations"))
    progress = d["ProgressNotification"]["properties"]["params"]
    progress = d[progress["$ref"].rsplit("/", 1)[1]] if "$ref" in progress else progress
    assert f.progress_message == ("message" in progress["properties"])
    assert f.elicitation == ("ElicitRequest" in d)
    assert f.elicitation_url == ("ElicitRequestURLParams" in d)
    assert f.elicitation_mode == ("mode" in props(version, "ElicitRequestFormParams"))
    assert f.elicitation_id == ("elicitationId" in props(version, "ElicitRequestURLParams"))
    assert f.elicitation_defaults == ("default" in props(version, "StringSchema"))
    assert f.elicitation_titled_enums == ("TitledSingleSelectEnumSchema" in d)
    assert f.elicitation_multi_select == ("UntitledMultiSelectEnumSchema" in d)
    assert f.batches == ("JSONRPCBatchResponse" in d)
    assert f.server_requests == ("ServerRequest" in d)
    assert f.input_required == ("InputRequiredResult" in d)
    assert f.set_level == ("SetLevelRequest" in d)
    assert f.subscriptions_listen == ("SubscriptionsListenRequest" in d)
    assert (f.tasks == "core") == ("tasks" in props(version, "ServerCapabilities"))
    assert (f.tasks == "extension") == ("extensions" in props(version, "ServerCapabilities"))
    assert f.capabilities == props(version, "ServerCapabilities")
    init = "InitializeResult" if f.era is Era.LEGACY else "DiscoverResult"
    assert f.instructions == ("instructions" in props(version, init))


def test_the_newest_versions_need_no_shaping() -> None:
    for version in NEWEST:
        assert FEATURES[version].shaped == frozenset()
        assert not FEATURES[version].needs_shaping("tools/call")
    assert FEATURES["2024-11-05"].needs_shaping("tools/call")
    assert FEATURES["2025-06-18"].needs_shaping("elicitation/create")
    assert not FEATURES["2025-06-18"].needs_shaping("tools/call")


def test_invalid_arguments_rule_is_sep_1303() -> None:
    protocol = [v for v, f in FEATURES.items() if f.invalid_arguments_protocol_error]
    assert protocol == ["2024-11-05", "2025-03-26", "2025-06-18"]
    assert [v for v, f in FEATURES.items() if f.resource_not_found == -32602] == ["2026-07-28"]


# ------------------------------------------------------------ the session

INFO = ServerInfo(
    "srv",
    "1.0",
    title="Server",
    instructions="Hi.",
    capabilities={"tools": {}, "completions": {}, "logging": {}},
    methods=frozenset({"tools/list", "tools/call", "prompts/get", "resources/read"}),
)
MODERN_META = {
    "io.modelcontextprotocol/protocolVersion": "2026-07-28",
    "io.modelcontextprotocol/clientCapabilities": {},
}


def legacy(version: str) -> tuple[ServerSession, dict[str, Any]]:
    s = ServerSession(INFO)
    [sent] = s.receive_line(
        encode(
            {
                "jsonrpc": "2.0",
                "id": 0,
                "method": "initialize",
                "params": {"protocolVersion": version, "capabilities": {}},
            }
        )
    )
    assert type(sent) is Send
    return s, sent.message["result"]  # type: ignore[call-overload,index]


def incoming(s: ServerSession, method: str, meta: dict[str, Any] | None = None) -> IncomingRequest:
    params: dict[str, Any] = {"name": "t"}
    if meta:
        params["_meta"] = meta
    [event] = s.receive_line(
        encode({"jsonrpc": "2.0", "id": 1, "method": method, "params": params})
    )
    assert type(event) is IncomingRequest
    return event


def answer(version: str, method: str, result: dict[str, Any]) -> dict[str, Any]:
    if version == "2026-07-28":
        s = ServerSession(INFO)
        incoming(s, method, MODERN_META)
    else:
        s, _ = legacy(version)
        incoming(s, method)
    message = s.respond(1, result)
    assert isinstance(message, dict)
    return message["result"]  # type: ignore[no-any-return]


@pytest.mark.parametrize("version", VERSIONS)
def test_the_row_rides_on_the_request(version: str) -> None:
    if version == "2026-07-28":
        event = incoming(ServerSession(INFO), "tools/call", MODERN_META)
    else:
        event = incoming(legacy(version)[0], "tools/call")
    assert event.features is FEATURES[version]
    assert event.version == version


def test_incoming_request_defaults_its_row_from_the_version() -> None:
    event = IncomingRequest(1, "tools/call", {}, Era.LEGACY, "2025-03-26", {}, None, None, None)
    assert event.features is FEATURES["2025-03-26"]


def test_initialize_is_shaped() -> None:
    _, old = legacy("2024-11-05")
    assert old["capabilities"] == {"tools": {}, "logging": {}}  # no completions in 2024-11-05
    assert old["serverInfo"] == {"name": "srv", "version": "1.0"}  # no title before 2025-06-18
    assert old["instructions"] == "Hi."
    _, new = legacy("2025-11-25")
    assert "completions" in new["capabilities"] and new["serverInfo"]["title"] == "Server"


LINK = {
    "type": "resource_link",
    "uri": "test://a",
    "name": "a",
    "title": "A",
    "mimeType": "text/plain",
}
AUDIO = {"type": "audio", "data": "UklG", "mimeType": "audio/wav", "annotations": {"priority": 1}}
TEXT_META = {"type": "text", "text": "t", "_meta": {"k": 1}, "annotations": {"lastModified": "x"}}


def test_content_is_downgraded_where_the_version_lacks_it() -> None:
    result = {"content": [LINK, AUDIO, TEXT_META], "structuredContent": {"a": 1}}
    old = answer("2024-11-05", "tools/call", result)
    link, audio, text = old["content"]
    assert link == {"type": "text", "text": "Resource link: A <test://a> (text/plain)"}
    assert audio == {
        "type": "resource",
        "resource": {"uri": "data:audio/wav;base64,", "mimeType": "audio/wav", "blob": "UklG"},
        "annotations": {"priority": 1},
    }
    assert text == {"type": "text", "text": "t", "annotations": {}}
    assert "structuredContent" not in old
    mid = answer("2025-03-26", "tools/call", result)
    assert [b["type"] for b in mid["content"]] == ["text", "audio", "text"]
    assert result["content"] == [LINK, AUDIO, TEXT_META]  # the handler's result is not mutated


@pytest.mark.parametrize("version", NEWEST)
def test_the_newest_versions_get_the_result_as_written(version: str) -> None:
    result = {"content": [LINK, AUDIO, TEXT_META], "structuredContent": {"a": 1}}
    out = answer(version, "tools/call", result)
    assert out["content"] == [LINK, AUDIO, TEXT_META] and out["structuredContent"] == {"a": 1}
    assert out["content"][0] is LINK  # no copy was made


def test_definitions_lose_fields_the_version_does_not_name() -> None:
    tool = {
        "name": "t",
        "inputSchema": {"type": "object"},
        "title": "T",
        "icons": [{"src": "x"}],
        "annotations": {"readOnlyHint": True},
        "outputSchema": {"type": "object"},
        "_meta": {"k": 1},
        "execution": {"taskSupport": "optional"},
    }
    listed = {"tools": [tool]}
    assert answer("2024-11-05", "tools/list", listed)["tools"] == [
        {"name": "t", "inputSchema": {"type": "object"}}
    ]
    assert set(answer("2025-03-26", "tools/list", listed)["tools"][0]) == {
        "name",
        "inputSchema",
        "annotations",
    }
    assert "icons" not in answer("2025-06-18", "tools/list", listed)["tools"][0]
    assert answer("2025-11-25", "tools/list", listed)["tools"] == [tool]


def test_progress_message_only_where_defined() -> None:
    params = {"progressToken": "p", "progress": 1, "message": "half"}
    old, _ = legacy("2024-11-05")
    assert old.notification("notifications/progress", params)["params"] == {
        "progressToken": "p",
        "progress": 1,
    }
    new, _ = legacy("2025-03-26")
    assert new.notification("notifications/progress", params)["params"] == params


ENUMS = {
    "type": "object",
    "properties": {
        "name": {"type": "string", "default": "Ada"},
        "ok": {"type": "boolean", "default": True},
        "level": {
            "type": "string",
            "title": "Level",
            "oneOf": [{"const": "lo", "title": "Low"}, {"const": "hi", "title": "High"}],
        },
    },
}
MULTI = {
    "type": "object",
    "properties": {"tags": {"type": "array", "items": {"type": "string", "enum": ["a", "b"]}}},
}


def test_elicitation_is_converted_to_what_2025_06_18_can_express() -> None:
    s, _ = legacy("2025-06-18")
    params = {"mode": "form", "message": "?", "requestedSchema": ENUMS}
    _, msg = s.send_request("elicitation/create", params)
    shaped = msg["params"]
    assert "mode" not in shaped
    assert shaped["requestedSchema"]["properties"] == {
        "name": {"type": "string"},  # defaults: booleans only in 2025-06-18
        "ok": {"type": "boolean", "default": True},
        "level": {
            "type": "string",
            "title": "Level",
            "enum": ["lo", "hi"],
            "enumNames": ["Low", "High"],
        },
    }
    assert params["requestedSchema"] is ENUMS and "default" in ENUMS["properties"]["name"]
    same, _ = legacy("2025-11-25")
    _, msg = same.send_request("elicitation/create", params)
    assert msg["params"] is params


@pytest.mark.parametrize(
    ("version", "params", "says"),
    [
        (
            "2025-06-18",
            {"message": "?", "requestedSchema": MULTI},
            "multi-select properties (tags)",
        ),
        (
            "2025-06-18",
            {"mode": "url", "message": "?", "url": "https://x", "elicitationId": "e"},
            "URL-mode",
        ),
        (
            "2025-03-26",
            {"message": "?", "requestedSchema": ENUMS},
            "elicitation/create does not exist",
        ),
    ],
)
def test_elicitation_the_version_cannot_express_is_refused(
    version: str, params: dict[str, Any], says: str
) -> None:
    s, _ = legacy(version)
    with pytest.raises(InternalError) as info:
        s.send_request("elicitation/create", params)
    assert says in info.value.message and info.value.data["protocolVersion"] == version
    _, msg = s.send_request("roots/list")  # no id was spent on the refused request
    assert msg["id"] == 1


def test_modern_url_input_requests_lose_elicitation_id() -> None:
    ask = {
        "method": "elicitation/create",
        "params": {"mode": "url", "message": "?", "url": "https://x", "elicitationId": "e"},
    }
    form = {
        "method": "elicitation/create",
        "params": {"mode": "form", "message": "?", "requestedSchema": MULTI},
    }
    result = {
        "resultType": "input_required",
        "inputRequests": {"a": ask, "b": form},
        "requestState": "s",
    }
    out = answer("2026-07-28", "tools/call", result)
    assert out["inputRequests"]["a"]["params"] == {
        "mode": "url",
        "message": "?",
        "url": "https://x",
    }
    assert out["inputRequests"]["b"] is form  # multi-select exists in 2026-07-28
    assert "elicitationId" in ask["params"]


def test_resource_not_found_code_comes_from_the_row() -> None:
    from trio_mcp._errors import ResourceNotFound

    s = ServerSession(INFO)
    incoming(s, "resources/read", MODERN_META)
    message = s.respond_error(1, ResourceNotFound("Resource not found"))
    assert isinstance(message, dict) and message["error"]["code"] == -32602
    s, _ = legacy("2025-11-25")
    incoming(s, "resources/read")
    message = s.respond_error(1, ResourceNotFound("Resource not found"))
    assert isinstance(message, dict) and message["error"]["code"] == -32002


def test_all_content_is_what_the_newest_versions_have() -> None:
    assert FEATURES["2026-07-28"].content == ALL_CONTENT == FEATURES["2025-06-18"].content
