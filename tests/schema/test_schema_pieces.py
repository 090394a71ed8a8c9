"""The pieces under the types table: $defs gathering, constraint metadata, error rendering."""

from __future__ import annotations

from typing import Annotated, Any

import annotated_types as at
import pytest

from trio_mcp import Pattern
from trio_mcp._schema import describe, error_paths, make_converter, schema_for
from trio_mcp._schema._constraints import constraints_of
from trio_mcp._schema._invalid import NestedErrors
from trio_mcp._schema._jsonschema import merge_defs


def test_merge_defs_renames_a_clash_and_follows_refs() -> None:
    defs: dict[str, Any] = {"A": {"type": "integer"}}
    schema = {
        "$defs": {"A": {"type": "string"}, "B": {"items": {"$ref": "#/$defs/A"}}},
        "properties": {"a": {"$ref": "#/$defs/A"}, "b": {"$ref": "#/$defs/B"}},
    }
    merge_defs(defs, schema)
    assert defs == {
        "A": {"type": "integer"},
        "A_2": {"type": "string"},
        "B": {"items": {"$ref": "#/$defs/A_2"}},
    }
    assert schema == {"properties": {"a": {"$ref": "#/$defs/A_2"}, "b": {"$ref": "#/$defs/B"}}}
    same = {"$defs": {"A": {"type": "integer"}}, "$ref": "#/$defs/A"}
    merge_defs(defs, same)  # an identical definition is shared, not renamed
    assert same == {"$ref": "#/$defs/A"} and len(defs) == 3


def test_schema_for_alone_keeps_defs_at_its_root() -> None:
    pydantic = pytest.importorskip("pydantic")

    class Inner(pydantic.BaseModel):
        n: int

    class Outer(pydantic.BaseModel):
        inner: Inner

    schema = schema_for(list[Outer])
    assert schema["items"]["properties"]["inner"] == {"$ref": "#/$defs/Inner"}
    assert set(schema["$defs"]) == {"Inner"}


def test_pattern_must_compile() -> None:
    assert Pattern(r"^\w+$").pattern == r"^\w+$"
    with pytest.raises(ValueError, match="not a valid regular expression"):
        Pattern("(")


def test_constraints_and_descriptions_from_metadata() -> None:
    assert constraints_of(["just a description", 42]) is None
    found = constraints_of([at.Interval(gt=0, le=9), at.Len(1, 3), Pattern("x")])
    assert found is not None
    assert (found.gt, found.le, found.min_length, found.max_length, found.pattern) == (
        0,
        9,
        1,
        3,
        "x",
    )
    assert describe(Annotated[int, at.Ge(0), "Count"]) == "Count"
    assert describe(Annotated[int, at.Predicate(bool)]) is None  # refused by schema_for, not here


def test_nested_errors_render_under_their_path() -> None:
    conv = make_converter()

    def refuse(value: Any, _: Any) -> Any:
        raise NestedErrors([(".a", "bad a"), ("[0]", "bad first")])

    conv.register_structure_hook(bytes, refuse)
    with pytest.raises(Exception) as info:
        conv.structure({"k": b""}, dict[str, bytes])
    assert error_paths(info.value) == ["$['k'].a: bad a", "$['k'][0]: bad first"]
