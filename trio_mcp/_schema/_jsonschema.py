"""Python type annotations -> JSON Schema (draft 2020-12).

Covers what tool signatures use: ``str``, ``int``, ``float``, ``bool``,
``None``, ``Any``, ``list[T]`` and other sequences, ``tuple[A, B]``,
``dict[str, T]``, ``Literal[...]``, ``enum.Enum``, unions (``T | None``), attrs
classes, dataclasses, ``NamedTuple`` (an object of its fields), ``TypedDict``,
pydantic models and dataclasses (their own schema, when pydantic is in use),
the string-formed scalars of :mod:`._scalars` (dates and times, ``UUID``,
``Decimal``, ``Path``, ``bytes``), and ``Annotated[T, ...]`` carrying a
description (the first string), constraints (:mod:`._constraints`) or
:class:`McpHeader`, which marks a tool argument to be mirrored in an HTTP
header (``x-mcp-header``). Nested types are inlined, except pydantic's
``$defs``, which are gathered for the root of the document.
"""

from __future__ import annotations

import collections.abc
import dataclasses
import enum
import re
import types
import typing
from typing import Any, Literal, Union, get_args, get_origin

import attrs

from ._constraints import constraints_of
from ._invalid import UnsupportedType
from ._pydantic import is_pydantic, json_schema
from ._scalars import scalar_for

__all__ = [
    "McpHeader",
    "UnsupportedType",
    "describe",
    "is_model_class",
    "is_named_tuple",
    "schema_for",
]

JsonSchema = dict[str, Any]
Mode = Literal["validation", "serialization"]

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
    """The description in ``Annotated[T, ...]`` metadata: its first string, else a
    pydantic ``Field(description=...)``."""
    if get_origin(annotation) is typing.Annotated:
        for meta in annotation.__metadata__:
            if isinstance(meta, str):
                return meta
        try:
            found = constraints_of(annotation.__metadata__)
        except UnsupportedType:  # reported where constraints matter (schema_for)
            return None
        if found is not None:
            return found.description
    return None


def is_named_tuple(tp: Any) -> bool:
    """True for a ``typing.NamedTuple`` (or ``collections.namedtuple``) class."""
    return isinstance(tp, type) and issubclass(tp, tuple) and hasattr(tp, "_fields")


def is_model_class(tp: Any) -> bool:
    """An attrs class, a dataclass or a pydantic model: a class of named fields.

    A tool whose only parameter is one of these takes the class's fields as its
    arguments.
    """
    return isinstance(tp, type) and (
        attrs.has(tp) or dataclasses.is_dataclass(tp) or is_pydantic(tp)
    )


def schema_for(tp: Any, defs: JsonSchema | None = None, *, mode: Mode = "validation") -> JsonSchema:
    """Return the JSON Schema for one annotation.

    Args:
        tp: The annotation.
        defs: Where to gather ``$defs`` (pydantic's), for the caller to put at
            the root of the document it builds. ``None``: the returned schema
            carries them itself.
        mode: ``"validation"`` for what a client sends, ``"serialization"`` for
            what a tool returns (only pydantic's schemas differ).

    Raises:
        UnsupportedType: the annotation cannot be expressed.
    """
    walk = _Walk({} if defs is None else defs, mode)
    schema = walk.schema(tp)
    if defs is None and walk.defs:
        schema["$defs"] = walk.defs
    return schema


@attrs.define
class _Walk:
    defs: JsonSchema
    mode: Mode
    active: list[Any] = attrs.field(factory=list)

    def schema(self, tp: Any) -> JsonSchema:
        if tp is Any or tp is object:
            return {}
        prim = _PRIMITIVES.get(tp)
        if prim is not None:
            return dict(prim)
        origin = get_origin(tp)
        if origin is typing.Annotated:
            return self.annotated(tp)
        if origin is Literal:
            return {"enum": list(get_args(tp))}
        if origin is Union or origin is types.UnionType:
            args = get_args(tp)
            non_null = [a for a in args if a is not type(None)]
            if len(non_null) == 1 and len(args) == 2:
                return {"anyOf": [self.schema(non_null[0]), {"type": "null"}]}
            return {"anyOf": [self.schema(a) for a in args]}
        if isinstance(tp, type) and issubclass(tp, enum.Enum):
            return {"enum": [m.value for m in tp]}
        scalar = scalar_for(tp)
        if scalar is not None:
            return dict(scalar.schema)
        if is_pydantic(tp):
            return self.pydantic(tp)
        if is_named_tuple(tp) or is_model_class(tp):
            return self.nested(tp, self.fields)
        if tp in _SEQUENCES or origin in _SEQUENCES:
            return self.sequence(tp, origin)
        if tp in _MAPPINGS or origin in _MAPPINGS:
            args = get_args(tp)
            schema: JsonSchema = {"type": "object"}
            if args:
                schema["additionalProperties"] = self.schema(args[1])
            return schema
        if typing.is_typeddict(tp):
            return self.nested(tp, self.typed_dict)
        raise UnsupportedType(f"no JSON Schema for annotation {tp!r}")

    def annotated(self, tp: Any) -> JsonSchema:
        inner = self.schema(get_args(tp)[0])
        found = constraints_of(tp.__metadata__)
        if found is not None:
            inner.update(found.keywords(inner))
        desc = describe(tp)
        if desc:
            inner["description"] = desc
        for meta in tp.__metadata__:
            if isinstance(meta, McpHeader):
                inner["x-mcp-header"] = meta.name
        return inner

    def sequence(self, tp: Any, origin: Any) -> JsonSchema:
        args = get_args(tp)
        if origin is tuple and args and not (len(args) == 2 and args[1] is Ellipsis):
            return {
                "type": "array",
                "prefixItems": [self.schema(a) for a in args],
                "minItems": len(args),
                "maxItems": len(args),
            }
        schema: JsonSchema = {"type": "array"}
        if args:
            schema["items"] = self.schema(args[0])
        if origin in (set, frozenset, collections.abc.Set):
            schema["uniqueItems"] = True
        return schema

    def nested(self, cls: Any, build: typing.Callable[[Any], JsonSchema]) -> JsonSchema:
        if cls in self.active:
            raise UnsupportedType(f"{cls!r} contains itself: recursive types have no schema here")
        self.active.append(cls)
        try:
            return build(cls)
        finally:
            self.active.pop()

    def fields(self, cls: Any) -> JsonSchema:
        """An attrs class, dataclass or NamedTuple: its fields, required where no default."""
        hints = _hints(cls)
        props: dict[str, JsonSchema] = {}
        required: list[str] = []
        for name, attr, has_default in _fields(cls):
            props[name] = self.schema(hints.get(attr, Any))
            if not has_default:
                required.append(name)
        schema: JsonSchema = {"type": "object", "properties": props}
        if required:
            schema["required"] = required
        schema["additionalProperties"] = False
        return schema

    def typed_dict(self, cls: Any) -> JsonSchema:
        hints = _hints(cls)
        props = {name: self.schema(hint) for name, hint in hints.items()}
        schema: JsonSchema = {"type": "object", "properties": props}
        if cls.__required_keys__:
            schema["required"] = [n for n in hints if n in cls.__required_keys__]
        return schema

    def pydantic(self, tp: Any) -> JsonSchema:
        schema = json_schema(tp, self.mode)
        merge_defs(self.defs, schema)
        return schema


def _fields(cls: Any) -> list[tuple[str, str, bool]]:
    """``(wire name, attribute, has a default)`` for each field a caller may pass."""
    if is_named_tuple(cls):
        return [(n, n, n in cls._field_defaults) for n in cls._fields]
    if attrs.has(cls):
        return [
            (f.alias or f.name, f.name, f.default is not attrs.NOTHING)
            for f in attrs.fields(cls)
            if f.init
        ]
    return [
        (
            f.name,
            f.name,
            f.default is not dataclasses.MISSING or f.default_factory is not dataclasses.MISSING,
        )
        for f in dataclasses.fields(cls)
        if f.init
    ]


def _hints(cls: Any) -> dict[str, Any]:
    try:
        return typing.get_type_hints(cls, include_extras=True)
    except Exception as exc:  # NameError, TypeError...: unresolvable annotations
        raise UnsupportedType(f"cannot resolve the annotations of {cls!r}: {exc}") from None


def merge_defs(defs: JsonSchema, schema: JsonSchema) -> None:
    """Move ``schema``'s ``$defs`` into ``defs``, renaming a name already taken by another.

    ``$ref``s (``#/$defs/Name``) inside ``schema`` and its definitions follow the renames.
    """
    own = schema.pop("$defs", None)
    if not own:
        return
    renames: dict[str, str] = {}
    for name, definition in own.items():
        if name in defs and defs[name] != definition:
            n = 2
            while f"{name}_{n}" in defs and defs[f"{name}_{n}"] != definition:
                n += 1
            renames[name] = f"{name}_{n}"
    if renames:
        own = _renamed(own, renames)
        schema.update(_renamed({k: v for k, v in schema.items()}, renames))
    for name, definition in own.items():
        defs[renames.get(name, name)] = definition


def _renamed(node: Any, renames: dict[str, str]) -> Any:
    if isinstance(node, dict):
        out = {}
        for key, value in node.items():
            if key == "$ref" and isinstance(value, str) and value.startswith("#/$defs/"):
                name = value[len("#/$defs/") :]
                value = f"#/$defs/{renames.get(name, name)}"
            out[key] = _renamed(value, renames)
        return out
    if isinstance(node, list):
        return [_renamed(v, renames) for v in node]
    return node
