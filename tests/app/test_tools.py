"""Typed tools: schemas from signatures, strict validation, structured output."""

from __future__ import annotations

import enum
from typing import Annotated, Any, Literal, TypedDict

import attrs
import pytest
import trio

from trio_mcp import Context, ImageContent, McpHeader, Server, TextContent, ToolResult
from trio_mcp.testing import connect


class Color(enum.Enum):
    RED = "red"
    BLUE = "blue"


@attrs.frozen
class Point:
    x: float
    y: float
    label: str = ""


@attrs.frozen
class SearchArgs:
    query: str
    limit: int = 10


class Weather(TypedDict):
    city: str
    celsius: float


def build() -> Server:
    server = Server("tools")

    @server.tool()
    async def kitchen_sink(
        name: Annotated[str, "Who to greet"],
        count: int,
        ratio: float = 0.5,
        flag: bool = False,
        tags: list[str] | None = None,
        mode: Literal["a", "b"] = "a",
        color: Color = Color.RED,
        where: Point | None = None,
        extra: dict[str, int] | None = None,
        ctx: Context | None = None,
    ) -> str:
        """Exercise every kind of parameter."""
        return f"{name}:{count}:{ratio}:{flag}:{tags}:{mode}:{color.value}:{where}:{extra}"

    @server.tool()
    async def search(args: SearchArgs) -> list[str]:
        """Search (arguments as one attrs class)."""
        return [args.query] * min(args.limit, 2)

    @server.tool()
    async def where(city: str) -> Point:
        return Point(1.0, 2.0, city)

    @server.tool()
    async def weather(city: str) -> Weather:
        return {"city": city, "celsius": 21.5}

    @server.tool()
    async def picture() -> list[Any]:
        return [TextContent("a cat"), ImageContent(b"\x89PNG", "image/png")]

    @server.tool()
    async def custom() -> ToolResult:
        return ToolResult([TextContent("bad")], is_error=True, meta={"k": 1})

    return server


def test_schema_from_signature() -> None:
    tool = build().tools["kitchen_sink"]
    schema = tool.input_schema
    assert schema["required"] == ["name", "count"]
    assert schema["additionalProperties"] is False
    props = schema["properties"]
    assert "ctx" not in props
    assert props["name"] == {"type": "string", "description": "Who to greet"}
    assert props["count"] == {"type": "integer"}
    assert props["ratio"] == {"type": "number", "default": 0.5}
    assert props["flag"] == {"type": "boolean", "default": False}
    assert props["tags"]["anyOf"] == [
        {"type": "array", "items": {"type": "string"}},
        {"type": "null"},
    ]
    assert props["mode"] == {"enum": ["a", "b"], "default": "a"}
    assert props["color"]["enum"] == ["red", "blue"]
    point = props["where"]["anyOf"][0]
    assert point["required"] == ["x", "y"] and point["properties"]["label"] == {"type": "string"}
    assert props["extra"]["anyOf"][0] == {
        "type": "object",
        "additionalProperties": {"type": "integer"},
    }
    assert tool.description == "Exercise every kind of parameter."
    assert tool.output_schema is None


def test_mcp_header_annotation() -> None:
    server = Server("t")

    @server.tool()
    def routed(
        region: Annotated[str, "Where", McpHeader("Region")],
        tier: Annotated[int, McpHeader("Tier")] = 1,
    ) -> str:
        return region

    props = server.tools["routed"].input_schema["properties"]
    assert props["region"] == {"type": "string", "description": "Where", "x-mcp-header": "Region"}
    assert props["tier"] == {"type": "integer", "default": 1, "x-mcp-header": "Tier"}
    for bad in ("", "Two words", "a:b", "Région", "tab\t"):
        with pytest.raises(ValueError, match="not a valid HTTP header name"):
            McpHeader(bad)
    with pytest.raises(TypeError, match="same McpHeader name"):

        @server.tool()
        def clash(
            a: Annotated[str, McpHeader("Region")], b: Annotated[str, McpHeader("region")]
        ) -> str:
            return a


def test_schema_from_attrs_class_argument() -> None:
    schema = build().tools["search"].input_schema
    assert schema["properties"] == {"query": {"type": "string"}, "limit": {"type": "integer"}}
    assert schema["required"] == ["query"]


def test_output_schemas() -> None:
    tools = build().tools
    assert tools["where"].output_schema is not None
    assert tools["where"].output_schema["required"] == ["x", "y"]
    assert tools["weather"].output_schema == {
        "type": "object",
        "properties": {"city": {"type": "string"}, "celsius": {"type": "number"}},
        "required": ["city", "celsius"],
    }


def test_unsupported_annotation_fails_at_decoration() -> None:
    server = Server("x")
    with pytest.raises(TypeError):

        @server.tool()
        async def bad(x: trio.Event) -> None: ...


async def test_valid_call_structures_types() -> None:
    async with connect(build()) as client:
        result = await client.call_tool(
            "kitchen_sink",
            {
                "name": "n",
                "count": 2,
                "ratio": 1,
                "tags": ["t"],
                "mode": "b",
                "color": "blue",
                "where": {"x": 1, "y": 2},
                "extra": {"k": 3},
            },
        )
    text = result["content"][0]["text"]
    assert text == "n:2:1.0:False:['t']:b:blue:Point(x=1.0, y=2.0, label=''):{'k': 3}"


@pytest.mark.parametrize(
    ("arguments", "expected"),
    [
        ({"count": 1}, ["$.name: required field missing"]),
        ({"name": "n", "count": "1"}, ["$.count: expected integer, got string"]),
        ({"name": "n", "count": True}, ["$.count: expected integer, got boolean"]),
        ({"name": "n", "count": 1.5}, ["$.count: expected integer, got number"]),
        ({"name": "n", "count": 1, "flag": "yes"}, ["$.flag: expected boolean, got string"]),
        ({"name": "n", "count": 1, "tags": "abc"}, ["$.tags: expected array, got string"]),
        ({"name": "n", "count": 1, "tags": ["a", 2]}, ["$.tags[1]: expected string, got integer"]),
        ({"name": "n", "count": 1, "mode": "c"}, None),
        ({"name": "n", "count": 1, "where": {"x": 1}}, ["$.where.y: required field missing"]),
        ({"name": "n", "count": 1, "surprise": 1}, ["$: unexpected field(s): surprise"]),
    ],
)
async def test_validation_failures_are_is_error_with_paths(
    arguments: dict[str, Any], expected: list[str] | None
) -> None:
    async with connect(build()) as client:  # 2025-11-25: validation failure is a tool error
        result = await client.call_tool("kitchen_sink", arguments)
    assert result["isError"] is True
    text = result["content"][0]["text"]
    assert text.startswith("Invalid arguments for tool kitchen_sink: ")
    for line in expected or ["$.mode"]:
        assert line in text


async def test_validation_failure_is_protocol_error_before_2025_11_25() -> None:
    from trio_mcp import McpError

    async with connect(build(), version="2025-06-18") as client:
        with pytest.raises(McpError) as info:
            await client.call_tool("kitchen_sink", {"count": "x"})
    assert info.value.code == -32602
    assert "$.name: required field missing" in info.value.data["errors"]


async def test_unknown_tool_and_bad_arguments_are_invalid_params() -> None:
    from trio_mcp import McpError

    async with connect(build()) as client:
        for params in ({"name": "nope"}, {"name": "search", "arguments": [1]}, {"arguments": {}}):
            with pytest.raises(McpError) as info:
                await client.request("tools/call", params)
            assert info.value.code == -32602


async def test_structured_output_in_both_eras() -> None:
    for era in ("legacy", "modern"):
        async with connect(build(), era=era) as client:  # type: ignore[arg-type]
            result = await client.call_tool("where", {"city": "Paris"})
            assert result["structuredContent"] == {"x": 1.0, "y": 2.0, "label": "Paris"}
            assert result["content"] == [
                {"type": "text", "text": '{"x":1.0,"y":2.0,"label":"Paris"}'}
            ]
            weather = await client.call_tool("weather", {"city": "Oslo"})
            assert weather["structuredContent"] == {"city": "Oslo", "celsius": 21.5}


async def test_no_structured_content_before_2025_06_18() -> None:
    async with connect(build(), version="2025-03-26") as client:
        result = await client.call_tool("where", {"city": "Paris"})
    assert "structuredContent" not in result
    assert result["content"][0]["type"] == "text"


async def test_attrs_argument_model_and_content_blocks() -> None:
    async with connect(build()) as client:
        search = await client.call_tool("search", {"query": "q", "limit": 5})
        assert search["content"] == [{"type": "text", "text": '["q","q"]'}]
        bad = await client.call_tool("search", {"limit": 5})
        assert (
            bad["isError"] is True
            and "$.query: required field missing" in bad["content"][0]["text"]
        )
        pic = await client.call_tool("picture")
        assert pic["content"] == [
            {"type": "text", "text": "a cat"},
            {"type": "image", "data": "iVBORw==", "mimeType": "image/png"},
        ]
        custom = await client.call_tool("custom")
        assert custom == {
            "content": [{"type": "text", "text": "bad"}],
            "isError": True,
            "_meta": {"k": 1},
        }


@attrs.frozen
class Booking:
    days: int = attrs.field(validator=attrs.validators.in_(range(1, 8)))


async def test_attrs_validator_failures_are_readable() -> None:
    server = Server("v")

    @server.tool()
    async def book(booking: Booking) -> str:
        return str(booking.days)

    async with connect(server) as client:
        result = await client.call_tool("book", {"days": 9})
    assert result["isError"] is True
    assert "'days' must be in range(1, 8)" in result["content"][0]["text"]


async def test_client_helpers_for_resources_prompts_completion() -> None:
    server = Server("h")

    @server.resource("mem://a")
    async def a() -> str:
        return "A"

    @server.prompt()
    async def greet(who: str) -> str:
        return f"hi {who}"

    async with connect(server) as client:
        assert [r["uri"] for r in await client.list_resources()] == ["mem://a"]
        assert (await client.read_resource("mem://a"))["contents"][0]["text"] == "A"
        assert [p["name"] for p in await client.list_prompts()] == ["greet"]
        got = await client.get_prompt("greet", {"who": "bob"})
        assert got["messages"][0]["content"]["text"] == "hi bob"
        completion = await client.complete({"type": "ref/prompt", "name": "greet"}, "who", "b")
        assert completion == {"values": [], "total": 0, "hasMore": False}
