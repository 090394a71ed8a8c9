"""Python type annotations -> JSON Schema (draft 2020-12).

Covers what tool signatures use in practice: ``str``, ``int``, ``float``,
``bool``, ``None``, ``Any``, ``list[T]`` and other sequences, ``dict[str, T]``,
``Literal[...]``, ``enum.Enum``, unions (``T | None``), attrs classes,
``TypedDict`` and ``Annotated[T, "description"]``. ``Annotated[T, McpHeader("Name")]``
marks a tool argument to be mirrored in an HTTP header (``x-mcp-header``).
"""

from __future__ import annotations

import collections.abc
import enum
import re
import types
import typing
from typing import Any, Literal, Union, get_args, get_origin

import attrs

__all__ = ["McpHeader", "UnsupportedType", "describe", "schema_for", "typed_dict_schema"]

JsonSchema = dict[str, Any]


class UnsupportedType(TypeError):
    """The annotation has no JSON Schema mapping. Raised at decoration time."""


_PRIMITIVES: dict[Any, JsonSchema] = {
    str: {"type": "string"},
    int: {"type": "integer"},
    float: {"type": "number"},
    bool: {"type": "boolean"},
    type(None): {"type": "null"},
    None: {"type": "null"},
}

_SEQUENCES = {list, tuple, set, frozenset, collections.abc.Sequence, collections.abc.Set}
_MAPPINGS = {dict, collections.abc.Mapping, collections.abc.MutableMapping}


# An HTTP header field name (RFC 9110 token): visible ASCII, no separators.
_TOKEN = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")


@attrs.frozen
class McpHeader:
    """Mirror a tool argument into the ``Mcp-Param-{name}`` HTTP header (``x-mcp-header``).

    ::

        @server.tool()
        def forecast(region: Annotated[str, McpHeader("Region")], days: int) -> str: ...

    puts ``"x-mcp-header": "Region"`` into the argument's property schema. Over
    Streamable HTTP (2026-07-28) clients then send the value in an
    ``Mcp-Param-Region`` header too, so proxies can route on it without reading
    the body; the server rejects a call whose header does not match the
    argument (400, ``-32020``). Use it on ``str``, ``int``, ``float`` or ``bool``
    arguments.

    Raises:
        ValueError: ``name`` is empty or not a valid header name (ASCII letters,
            digits and ``!#$%&'*+-.^_`|~`` only: no spaces, colons or controls).
    """

    name: str

    def __attrs_post_init__(self) -> None:
        if not _TOKEN.fullmatch(self.name):
            raise ValueError(f"McpHeader: {self.name!r} is not a valid HTTP header name")


def describe(annotation: Any) -> str | None:
    """The first string in ``Annotated[T, ...]`` metadata, used as a description."""
    if get_origin(annotation) is typing.Annotated:
        for meta in annotation.__metadata__:
            if isinstance(meta, str):
                return meta
    return None


def schema_for(tp: Any) -> JsonSchema:
    """Return the JSON Schema for one annotation.

    Raises:
        UnsupportedType: the annotation cannot be expressed.
    """
    if tp is Any or tp is object:
        return {}
    prim = _PRIMITIVES.get(tp)
    if prim is not None:
        return dict(prim)
    origin = get_origin(tp)
    if origin is typing.Annotated:
        inner = schema_for(get_args(tp)[0])
        desc = describe(tp)
        if desc:
            inner["description"] = desc
        for meta in tp.__metadata__:
            if isinstance(meta, McpHeader):
                inner["x-mcp-header"] = meta.name
        return inner
    if origin is Literal:
        values = list(get_args(tp))
        return {"enum": values}
    if origin is Union or origin is types.UnionType:
        args = get_args(tp)
        non_null = [a for a in args if a is not type(None)]
        if len(non_null) == 1 and len(args) == 2:
            inner = schema_for(non_null[0])
            return {"anyOf": [inner, {"type": "null"}]}
        return {"anyOf": [schema_for(a) for a in args]}
    if isinstance(tp, type) and issubclass(tp, enum.Enum):
        return {"enum": [m.value for m in tp]}
    if tp in _SEQUENCES or origin in _SEQUENCES:
        args = get_args(tp)
        if origin is tuple and args and not (len(args) == 2 and args[1] is Ellipsis):
            return {
                "type": "array",
                "prefixItems": [schema_for(a) for a in args],
                "minItems": len(args),
                "maxItems": len(args),
            }
        schema: JsonSchema = {"type": "array"}
        if args:
            schema["items"] = schema_for(args[0])
        if origin in (set, frozenset, collections.abc.Set):
            schema["uniqueItems"] = True
        return schema
    if tp in _MAPPINGS or origin in _MAPPINGS:
        args = get_args(tp)
        schema = {"type": "object"}
        if args:
            schema["additionalProperties"] = schema_for(args[1])
        return schema
    if isinstance(tp, type) and attrs.has(tp):
        return attrs_schema(tp)
    if typing.is_typeddict(tp):
        return typed_dict_schema(tp)
    raise UnsupportedType(f"no JSON Schema for annotation {tp!r}")


def _hints(cls: Any) -> dict[str, Any]:
    try:
        return typing.get_type_hints(cls, include_extras=True)
    except Exception as exc:  # NameError, TypeError...: unresolvable annotations
        raise UnsupportedType(f"cannot resolve the annotations of {cls!r}: {exc}") from None


def attrs_schema(cls: type) -> JsonSchema:
    """The object schema of an attrs class: its fields, required where no default."""
    hints = _hints(cls)
    props: dict[str, JsonSchema] = {}
    required: list[str] = []
    for field in attrs.fields(cls):
        name = field.alias or field.name
        props[name] = schema_for(hints.get(field.name, Any))
        if field.default is attrs.NOTHING:
            required.append(name)
    schema: JsonSchema = {"type": "object", "properties": props}
    if required:
        schema["required"] = required
    schema["additionalProperties"] = False
    return schema


def typed_dict_schema(cls: Any) -> JsonSchema:
    """The object schema of a ``TypedDict``."""
    hints = _hints(cls)
    props = {name: schema_for(hint) for name, hint in hints.items()}
    schema: JsonSchema = {"type": "object", "properties": props}
    required = sorted(cls.__required_keys__)
    if required:
        schema["required"] = [n for n in hints if n in cls.__required_keys__]
    return schema
