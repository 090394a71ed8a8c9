"""Every supported type as a tool parameter and as a return: schema, validation, error path.

One table: each row is a type, its JSON Schema, JSON values it accepts (and the
Python value each becomes), values it refuses (and the ``$.path: reason`` line),
and a value returned by a tool (and its wire form). Every schema is checked
against the JSON Schema 2020-12 meta-schema, and every accepted argument and
every ``structuredContent`` against the schema itself, with ``jsonschema``.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import decimal
import enum
import uuid
from pathlib import Path, PurePosixPath
from typing import Annotated, Any, Literal, NamedTuple, TypedDict

import annotated_types as at
import attrs
import pydantic
import pytest

from trio_mcp import Pattern, Server
from trio_mcp._app._tools import Tool, ToolArgumentsError, make_tool
from trio_mcp.testing import connect

jsonschema = pytest.importorskip("jsonschema")
META = jsonschema.Draft202012Validator
FORMATS = META.FORMAT_CHECKER

UTC = dt.UTC
U = uuid.UUID("12345678-1234-5678-1234-567812345678")


class Color(enum.Enum):
    RED = "red"
    BLUE = "blue"


class Pair(NamedTuple):
    a: int
    b: str = "z"


@dataclasses.dataclass
class Box:
    size: int
    tags: list[str] = dataclasses.field(default_factory=list)


@attrs.frozen
class Point:
    x: float
    y: float


class Weather(TypedDict):
    city: str
    celsius: float


class Item(pydantic.BaseModel):
    name: str = pydantic.Field(min_length=1)
    qty: int = 1


@attrs.frozen
class Case:
    id: str
    tp: Any
    schema: dict[str, Any]
    good: list[tuple[Any, Any]]
    bad: list[tuple[Any, str]]
    ret: tuple[Any, Any] | None = None


DT_SCHEMA = {"type": "string", "format": "date-time"}
BOX_SCHEMA = {
    "type": "object",
    "properties": {
        "size": {"type": "integer"},
        "tags": {"type": "array", "items": {"type": "string"}},
    },
    "required": ["size"],
    "additionalProperties": False,
}

CASES = [
    Case(
        "datetime",
        dt.datetime,
        DT_SCHEMA,
        [
            ("2024-01-02T03:04:05Z", dt.datetime(2024, 1, 2, 3, 4, 5, tzinfo=UTC)),
            (
                "2024-01-02t03:04:05.25+01:00",
                dt.datetime(2024, 1, 2, 3, 4, 5, 250000, dt.timezone(dt.timedelta(hours=1))),
            ),
        ],
        [
            ("tomorrow", "$.x: expected an RFC 3339 date-time, got 'tomorrow'"),
            (
                "2024-01-02T03:04:05",
                "$.x: expected an RFC 3339 date-time, got '2024-01-02T03:04:05'",
            ),
            ("2024-01-02", "$.x: expected an RFC 3339 date-time, got '2024-01-02'"),
            (
                "2024-13-02T03:04:05Z",
                "$.x: expected an RFC 3339 date-time, got '2024-13-02T03:04:05Z'",
            ),
            (1700000000, "$.x: expected an RFC 3339 date-time, got integer"),
        ],
        (dt.datetime(2024, 1, 2, 3, 4, 5, tzinfo=UTC), "2024-01-02T03:04:05+00:00"),
    ),
    Case(
        "date",
        dt.date,
        {"type": "string", "format": "date"},
        [("2024-02-29", dt.date(2024, 2, 29))],
        [
            ("2023-02-29", "$.x: expected an RFC 3339 date, got '2023-02-29'"),
            ("20240101", "$.x: expected an RFC 3339 date, got '20240101'"),
        ],
        (dt.date(2024, 2, 29), "2024-02-29"),
    ),
    Case(
        "time",
        dt.time,
        {"type": "string", "format": "time"},
        [
            ("10:30:00", dt.time(10, 30)),
            ("10:30:00.5Z", dt.time(10, 30, 0, 500000, tzinfo=UTC)),
        ],
        [("10:30", "$.x: expected an RFC 3339 time, got '10:30'")],
        (dt.time(23, 59, 1), "23:59:01"),
    ),
    Case(
        "uuid",
        uuid.UUID,
        {"type": "string", "format": "uuid"},
        [(str(U), U), (str(U).upper(), U)],
        [
            ("1234", "$.x: expected a UUID, got '1234'"),
            (U.hex, f"$.x: expected a UUID, got '{U.hex}'"),
            (12, "$.x: expected a UUID, got integer"),
        ],
        (U, str(U)),
    ),
    Case(
        "decimal",
        decimal.Decimal,
        {
            "anyOf": [
                {"type": "number"},
                {"type": "string", "pattern": r"^-?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?$"},
            ]
        },
        [
            ("0.10", decimal.Decimal("0.10")),
            (1.1, decimal.Decimal("1.1")),
            (3, decimal.Decimal(3)),
            ("-2e3", decimal.Decimal("-2e3")),
        ],
        [
            ("abc", "$.x: expected a decimal number, got 'abc'"),
            ("NaN", "$.x: expected a decimal number, got 'NaN'"),
            (True, "$.x: expected a decimal number, got boolean"),
        ],
        (decimal.Decimal("12.30"), "12.30"),
    ),
    Case(
        "path",
        Path,
        {"type": "string", "format": "path"},
        [("a/b.txt", Path("a/b.txt"))],
        [(["a"], "$.x: expected a path, got array")],
        (PurePosixPath("/srv/data"), "/srv/data"),
    ),
    Case(
        "bytes",
        bytes,
        {"type": "string", "contentEncoding": "base64"},
        [("aGk=", b"hi"), ("", b"")],
        [
            ("aGk", "$.x: expected a base64 string, got 'aGk'"),
            ("not base64!", "$.x: expected a base64 string, got 'not base64!'"),
        ],
        (b"\x00\xff", "AP8="),
    ),
    Case(
        "enum",
        Color,
        {"enum": ["red", "blue"]},
        [("blue", Color.BLUE)],
        [("green", "$.x: expected one of 'red', 'blue', got 'green'")],
        (Color.RED, "red"),
    ),
    Case(
        "literal",
        Literal["a", 1],
        {"enum": ["a", 1]},
        [("a", "a"), (1, 1)],
        [
            (True, "$.x: expected one of 'a', 1, got True"),
            ("1", "$.x: expected one of 'a', 1, got '1'"),
        ],
        ("a", "a"),
    ),
    Case(
        "optional",
        dt.datetime | None,
        {"anyOf": [DT_SCHEMA, {"type": "null"}]},
        [(None, None), ("2024-01-02T03:04:05Z", dt.datetime(2024, 1, 2, 3, 4, 5, tzinfo=UTC))],
        [("x", "$.x: expected an RFC 3339 date-time, got 'x'")],
        (None, None),
    ),
    Case(
        "union",
        int | uuid.UUID,
        {"anyOf": [{"type": "integer"}, {"type": "string", "format": "uuid"}]},
        [(5, 5), (str(U), U)],
        [
            ("x", "$.x: expected a UUID, got 'x'"),
            (True, "$.x: expected integer or a UUID, got boolean"),
        ],
        (U, str(U)),
    ),
    Case(
        "namedtuple",
        Pair,
        {
            "type": "object",
            "properties": {"a": {"type": "integer"}, "b": {"type": "string"}},
            "required": ["a"],
            "additionalProperties": False,
        },
        [({"a": 1}, Pair(1, "z")), ({"a": 1, "b": "q"}, Pair(1, "q"))],
        [
            ({"a": "1"}, "$.x.a: expected integer, got string"),
            ([1, "b"], "$.x: expected object, got array"),
        ],
        (Pair(2, "q"), {"a": 2, "b": "q"}),
    ),
    Case(
        "dataclass",
        Box,
        BOX_SCHEMA,
        [({"size": 1}, Box(1)), ({"size": 1, "tags": ["t"]}, Box(1, ["t"]))],
        [
            ({"size": 1, "extra": 1}, "$.x: unexpected field(s): extra"),
            ({}, "$.x.size: required field missing"),
            ("box", "$.x: expected object, got string"),
        ],
        (Box(2, ["t"]), {"size": 2, "tags": ["t"]}),
    ),
    Case(
        "attrs",
        Point,
        {
            "type": "object",
            "properties": {"x": {"type": "number"}, "y": {"type": "number"}},
            "required": ["x", "y"],
            "additionalProperties": False,
        },
        [({"x": 1, "y": 2.5}, Point(1.0, 2.5))],
        [({"x": 1}, "$.x.y: required field missing")],
        (Point(1.0, 2.0), {"x": 1.0, "y": 2.0}),
    ),
    Case(
        "typeddict",
        Weather,
        {
            "type": "object",
            "properties": {"city": {"type": "string"}, "celsius": {"type": "number"}},
            "required": ["city", "celsius"],
        },
        [({"city": "Oslo", "celsius": 1}, {"city": "Oslo", "celsius": 1.0})],
        [
            ({"city": 3, "celsius": 1}, "$.x.city: expected string, got integer"),
            ({"city": "Oslo"}, "$.x.celsius: required field missing"),
        ],
        ({"city": "Oslo", "celsius": 1.5}, {"city": "Oslo", "celsius": 1.5}),
    ),
    Case(
        "pydantic",
        Item,
        Item.model_json_schema(),
        [({"name": "a"}, Item(name="a")), ({"name": "a", "qty": 2}, Item(name="a", qty=2))],
        [
            ({"name": ""}, "$.x.name: String should have at least 1 character"),
            (
                {"name": "a", "qty": "many"},
                "$.x.qty: Input should be a valid integer, unable to parse string as an integer",
            ),
            ("item", "$.x: Input should be an object"),
        ],
        (Item(name="b", qty=3), {"name": "b", "qty": 3}),
    ),
    Case(
        "nested generics",
        dict[str, list[Box]],
        {"type": "object", "additionalProperties": {"type": "array", "items": BOX_SCHEMA}},
        [({"k": [{"size": 1}]}, {"k": [Box(1)]})],
        [({"k": [{"size": "1"}]}, "$.x['k'][0].size: expected integer, got string")],
        ({"k": [Box(1)]}, {"k": [{"size": 1, "tags": []}]}),
    ),
    Case(
        "list of datetimes",
        list[dt.datetime],
        {"type": "array", "items": DT_SCHEMA},
        [(["2024-01-02T03:04:05Z"], [dt.datetime(2024, 1, 2, 3, 4, 5, tzinfo=UTC)])],
        [(["2024-01-02T03:04:05Z", "noon"], "$.x[1]: expected an RFC 3339 date-time, got 'noon'")],
        ([dt.datetime(2024, 1, 2, tzinfo=UTC)], ["2024-01-02T00:00:00+00:00"]),
    ),
    Case(
        "fixed tuple",
        tuple[int, str],
        {
            "type": "array",
            "prefixItems": [{"type": "integer"}, {"type": "string"}],
            "minItems": 2,
            "maxItems": 2,
        },
        [([1, "a"], (1, "a"))],
        [
            ("ab", "$.x: expected array, got string"),
            ([1, 2], "$.x[1]: expected string, got integer"),
        ],
        ((1, "a"), [1, "a"]),
    ),
    Case(
        "ge le",
        Annotated[int, at.Ge(1), at.Le(10)],
        {"type": "integer", "minimum": 1, "maximum": 10},
        [(1, 1), (10, 10)],
        [(0, "$.x: expected a value >= 1, got 0"), (11, "$.x: expected a value <= 10, got 11")],
    ),
    Case(
        "gt lt",
        Annotated[float, at.Gt(0), at.Lt(1)],
        {"type": "number", "exclusiveMinimum": 0, "exclusiveMaximum": 1},
        [(0.5, 0.5)],
        [(0, "$.x: expected a value > 0, got 0.0"), (1, "$.x: expected a value < 1, got 1.0")],
    ),
    Case(
        "interval and multiple of",
        Annotated[int, at.Interval(ge=0, lt=50), at.MultipleOf(5)],
        {"type": "integer", "minimum": 0, "exclusiveMaximum": 50, "multipleOf": 5},
        [(45, 45)],
        [(50, "$.x: expected a value < 50, got 50"), (7, "$.x: expected a multiple of 5, got 7")],
    ),
    Case(
        "string length",
        Annotated[str, at.Len(2, 4)],
        {"type": "string", "minLength": 2, "maxLength": 4},
        [("ab", "ab")],
        [
            ("a", "$.x: expected at least 2 characters, got 1"),
            ("abcde", "$.x: expected at most 4 characters, got 5"),
        ],
    ),
    Case(
        "list length",
        Annotated[list[int], at.MinLen(1), at.MaxLen(2)],
        {"type": "array", "items": {"type": "integer"}, "minItems": 1, "maxItems": 2},
        [([1], [1])],
        [
            ([], "$.x: expected at least 1 item, got 0"),
            ([1, 2, 3], "$.x: expected at most 2 items, got 3"),
        ],
        ([1, 2], [1, 2]),
    ),
    Case(
        "pattern",
        Annotated[str, Pattern(r"^[a-z]+$")],
        {"type": "string", "pattern": "^[a-z]+$"},
        [("abc", "abc")],
        [("A1", "$.x: expected a string matching '^[a-z]+$', got 'A1'")],
    ),
    Case(
        "pydantic StringConstraints",
        Annotated[str, pydantic.StringConstraints(pattern=r"^\d+$", max_length=3)],
        {"type": "string", "maxLength": 3, "pattern": r"^\d+$"},
        [("123", "123")],
        [
            ("1234", "$.x: expected at most 3 characters, got 4"),
            ("12a", r"$.x: expected a string matching '^\\d+$', got '12a'"),
        ],
    ),
    Case(
        "pydantic Field",
        Annotated[int, pydantic.Field(ge=1, description="How many")],
        {"type": "integer", "minimum": 1, "description": "How many"},
        [(1, 1)],
        [(0, "$.x: expected a value >= 1, got 0")],
    ),
    Case(
        "optional constrained",
        Annotated[int, at.Ge(0)] | None,
        {"anyOf": [{"type": "integer", "minimum": 0}, {"type": "null"}]},
        [(None, None), (0, 0)],
        [(-1, "$.x: expected a value >= 0, got -1")],
    ),
]
IDS = [c.id for c in CASES]
RETURNS = [c for c in CASES if c.ret is not None]


def tool_taking(tp: Any) -> Tool:
    # A second parameter keeps class types nested (a lone class parameter is unwrapped).
    def f(x: tp, pad: int = 0) -> str:  # type: ignore[valid-type]
        return "ok"

    f.__annotations__ = {"x": tp, "pad": int, "return": str}
    return make_tool(f)


def tool_returning(tp: Any, value: Any) -> Tool:
    def g() -> tp:  # type: ignore[valid-type]
        return value

    g.__annotations__ = {"return": tp}
    return make_tool(g)


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_parameter_schema(case: Case) -> None:
    schema = tool_taking(case.tp).input_schema
    assert schema["properties"]["x"] == case.schema
    assert schema["type"] == "object"
    META.check_schema(schema)


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_accepted_values(case: Case) -> None:
    tool = tool_taking(case.tp)
    validator = META(tool.input_schema, format_checker=FORMATS)
    for raw, expected in case.good:
        validator.validate({"x": raw})  # the schema says yes too
        got = tool.bind({"x": raw}, None)["x"]
        assert got == expected and type(got) is type(expected), raw


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_refused_values_name_the_path(case: Case) -> None:
    tool = tool_taking(case.tp)
    validator = META(tool.input_schema, format_checker=FORMATS)
    for raw, line in case.bad:
        with pytest.raises(ToolArgumentsError) as info:
            tool.bind({"x": raw}, None)
        assert info.value.lines == [line], raw
        if checkable(case.schema):  # the schema says no as well
            assert not validator.is_valid({"x": raw}), raw


def checkable(schema: Any) -> bool:
    """False if ``jsonschema`` cannot check all of it (a format it lacks, contentEncoding)."""
    if isinstance(schema, dict):
        if "contentEncoding" in schema or schema.get("format", "uuid") not in FORMATS.checkers:
            return False
        return all(checkable(v) for v in schema.values())
    if isinstance(schema, list):
        return all(checkable(v) for v in schema)
    return True


@pytest.mark.parametrize("case", RETURNS, ids=[c.id for c in RETURNS])
async def test_returns_are_structured(case: Case) -> None:
    assert case.ret is not None
    value, wire = case.ret
    server = Server("returns")
    server.add_tool(tool_returning(case.tp, value))
    async with connect(server) as client:
        [listed] = await client.list_tools()
        result = await client.call_tool("g")
    schema = listed["outputSchema"]
    META.check_schema(schema)
    assert schema["type"] == "object"
    wrapped = schema.get("required") == ["result"] and list(schema["properties"]) == ["result"]
    if "pydantic" in case.id:
        assert schema == pydantic.TypeAdapter(case.tp).json_schema(mode="serialization")
    elif wrapped:
        assert schema == {
            "type": "object",
            "properties": {"result": case.schema},
            "required": ["result"],
        }
    else:
        assert schema == case.schema
    structured = result["structuredContent"]
    assert structured == ({"result": wire} if wrapped else wire)
    META(schema, format_checker=FORMATS).validate(structured)
    [text] = result["content"]
    assert text["type"] == "text"
    if isinstance(wire, str):
        assert text["text"] == wire
    else:
        import json

        assert json.loads(text["text"]) == wire


async def test_wrapped_results_only_in_versions_with_structured_content() -> None:
    server = Server("old")
    server.add_tool(tool_returning(dt.date, dt.date(2024, 1, 2)))
    async with connect(server, version="2025-03-26") as client:
        result = await client.call_tool("g")
    assert result == {"content": [{"type": "text", "text": "2024-01-02"}]}


@pytest.mark.parametrize("tp", [str, int, float, bool, str | None, Any, list[Any], None])
def test_plain_returns_have_no_output_schema(tp: Any) -> None:
    assert tool_returning(tp, None).output_schema is None


async def test_values_arrive_through_the_client() -> None:
    server = Server("types")
    seen: dict[str, Any] = {}

    @server.tool
    def schedule(
        when: dt.datetime, who: uuid.UUID, payload: bytes, price: decimal.Decimal, where: Path
    ) -> dt.datetime:
        seen.update(when=when, who=who, payload=payload, price=price, where=where)
        return when + dt.timedelta(days=1)

    arguments = {
        "when": "2024-01-02T03:04:05Z",
        "who": str(U),
        "payload": "aGk=",
        "price": "9.99",
        "where": "/tmp",
    }
    async with connect(server) as client:
        result = await client.call_tool("schedule", arguments)
        bad = await client.call_tool("schedule", {**arguments, "when": "tomorrow"})
    assert seen == {
        "when": dt.datetime(2024, 1, 2, 3, 4, 5, tzinfo=UTC),
        "who": U,
        "payload": b"hi",
        "price": decimal.Decimal("9.99"),
        "where": Path("/tmp"),
    }
    assert result["structuredContent"] == {"result": "2024-01-03T03:04:05+00:00"}
    assert bad["isError"] is True
    assert bad["content"][0]["text"] == (
        "Invalid arguments for tool schedule: $.when: expected an RFC 3339 date-time, got 'tomorrow'"
    )


# --------------------------------------------------- a lone class parameter


class Order(pydantic.BaseModel):
    item: Item
    notes: list[str] = []


@dataclasses.dataclass
class Window:
    start: dt.datetime
    end: dt.datetime | None = None


@pytest.mark.parametrize("cls", [Order, Window, Point])
def test_a_lone_class_parameter_gives_its_fields_as_arguments(cls: type) -> None:
    def f(arg: cls) -> str:  # type: ignore[valid-type]
        return "ok"

    f.__annotations__ = {"arg": cls, "return": str}
    schema = make_tool(f).input_schema
    META.check_schema(schema)
    assert schema["type"] == "object"
    assert "arg" not in schema["properties"]
    if cls is Order:
        assert schema == Order.model_json_schema()  # pydantic's own, $defs at the root
        assert schema["properties"]["item"] == {"$ref": "#/$defs/Item"}


async def test_pydantic_model_validated_by_pydantic_with_paths() -> None:
    server = Server("orders")

    @server.tool
    async def place(order: Order) -> Order:
        return order.model_copy(update={"notes": [*order.notes, "placed"]})

    async with connect(server) as client:
        ok = await client.call_tool("place", {"item": {"name": "tea", "qty": "2"}})
        bad = await client.call_tool("place", {"item": {"name": ""}, "notes": [1]})
    # pydantic's own (lax JSON) rules: "2" is an acceptable integer for it
    assert ok["structuredContent"] == {"item": {"name": "tea", "qty": 2}, "notes": ["placed"]}
    assert bad["isError"] is True
    assert bad["content"][0]["text"] == (
        "Invalid arguments for tool place: $.item.name: String should have at least 1 character; "
        "$.notes[0]: Input should be a valid string"
    )


class Other(pydantic.BaseModel):  # its Item is another model of the same name
    class Item(pydantic.BaseModel):
        label: str

    item: Item


@dataclasses.dataclass
class Node:
    value: int
    children: list[Node]


async def test_pydantic_defs_are_gathered_at_the_root() -> None:
    server = Server("defs")

    @server.tool
    def both(a: Order, b: Other, many: list[Order]) -> list[Order]:
        return [a, *many]

    tool = server.tools["both"]
    assert tool.output_schema is not None
    for schema in (tool.input_schema, tool.output_schema):
        META.check_schema(schema)
    assert set(tool.input_schema["$defs"]) == {"Item", "Item_2"}
    assert set(tool.output_schema["$defs"]) == {"Item"}
    props = tool.input_schema["properties"]
    assert props["a"]["properties"]["item"] == {"$ref": "#/$defs/Item"}
    assert props["b"]["properties"]["item"] == {"$ref": "#/$defs/Item_2"}
    assert tool.input_schema["$defs"]["Item_2"]["properties"] == {
        "label": {"title": "Label", "type": "string"}
    }
    validator = META(tool.input_schema)
    good = {"a": {"item": {"name": "x"}}, "b": {"item": {"label": "y"}}, "many": []}
    validator.validate(good)
    assert not validator.is_valid({**good, "b": {"item": {"name": "x"}}})
    async with connect(server) as client:
        result = await client.call_tool("both", good)
    assert result["structuredContent"] == {
        "result": [{"item": {"name": "x", "qty": 1}, "notes": []}]
    }


def test_defaults_are_given_in_wire_form() -> None:
    def f(
        when: dt.date = dt.date(2024, 1, 1), color: Color = Color.BLUE, where: Path = Path("/srv")
    ) -> str:
        return "ok"

    props = make_tool(f).input_schema["properties"]
    assert props["when"]["default"] == "2024-01-01"
    assert props["color"]["default"] == "blue"
    assert props["where"]["default"] == "/srv"


def test_unsupported_and_recursive_types_fail_at_decoration() -> None:
    def f(node: Node, pad: int = 0) -> str:
        return "ok"

    with pytest.raises(TypeError, match="recursive"):
        make_tool(f)

    def g(n: Annotated[int, at.Predicate(lambda v: v > 0)]) -> str:
        return "ok"

    with pytest.raises(TypeError, match="Predicate"):
        make_tool(g)

    def h(s: Annotated[str, pydantic.StringConstraints(strip_whitespace=True)]) -> str:
        return "ok"

    with pytest.raises(TypeError, match="strip_whitespace"):
        make_tool(h)


class Tags(pydantic.RootModel[list[str]]):
    pass


def test_a_lone_root_model_stays_a_named_argument() -> None:
    def f(tags: Tags) -> str:
        return "ok"

    tool = make_tool(f)
    assert tool.input_schema["properties"]["tags"]["type"] == "array"
    assert tool.bind({"tags": ["a"]}, None)["tags"] == Tags(["a"])
