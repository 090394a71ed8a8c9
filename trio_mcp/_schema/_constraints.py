"""``Annotated`` constraints: JSON Schema keywords, and the same rules checked on the value.

Understood in ``Annotated[T, ...]`` metadata, without importing anything
optional (``annotated_types`` and ``pydantic`` are looked up in
``sys.modules``: if they were never imported, no metadata can come from them):

* annotated-types: ``Gt``, ``Ge``, ``Lt``, ``Le``, ``MultipleOf``, ``MinLen``,
  ``MaxLen`` and the groups ``Interval`` and ``Len``;
* :class:`Pattern` (ours), and any metadata with a string ``pattern`` such as
  pydantic's ``StringConstraints(pattern=...)``;
* pydantic's ``Field(ge=..., max_length=..., pattern=..., description=...)``.

A bound becomes ``minimum`` / ``exclusiveMinimum`` / ``maximum`` /
``exclusiveMaximum`` / ``multipleOf``; a length becomes ``minLength`` /
``maxLength`` on strings, ``minItems`` / ``maxItems`` on arrays and
``minProperties`` / ``maxProperties`` on objects; a pattern is a ``re.search``
(unanchored, as in JSON Schema: write ``^...$`` to match the whole string).
Any other annotated-types or pydantic constraint (``Predicate``, ``Timezone``,
``strip_whitespace``...) is refused at decoration time rather than ignored.
"""

from __future__ import annotations

import dataclasses
import decimal
import re
import sys
from collections.abc import Iterable
from typing import Any

import attrs

from ._invalid import InvalidValue, UnsupportedType, shown

__all__ = ["Constraints", "Pattern", "constraints_of"]

_BOUNDS = {"gt": "exclusiveMinimum", "ge": "minimum", "lt": "exclusiveMaximum", "le": "maximum"}
_OPS = {"gt": ">", "ge": ">=", "lt": "<", "le": "<="}
_LENGTH_KEYWORDS = {
    "string": ("minLength", "maxLength"),
    "array": ("minItems", "maxItems"),
    "object": ("minProperties", "maxProperties"),
}


def _compiles(instance: Any, attribute: Any, value: str) -> None:
    try:
        re.compile(value)
    except re.error as exc:
        raise ValueError(f"Pattern: {value!r} is not a valid regular expression: {exc}") from None


@attrs.frozen
class Pattern:
    """``Annotated[str, Pattern(r"^[a-z]+$")]``: the string must match (``pattern`` in the schema).

    Matching is ``re.search``, unanchored as in JSON Schema. Keep to the syntax
    Python and ECMA-262 share, since clients check the schema with the latter.

    Raises:
        ValueError: ``pattern`` is not a valid regular expression.
    """

    pattern: str = attrs.field(validator=_compiles)


@attrs.frozen
class Constraints:
    """The constraints found on one ``Annotated`` type (``None``: not constrained)."""

    gt: Any = None
    ge: Any = None
    lt: Any = None
    le: Any = None
    multiple_of: Any = None
    min_length: int | None = None
    max_length: int | None = None
    pattern: str | None = None
    description: str | None = None

    @property
    def checks(self) -> bool:
        """True if a value has anything to satisfy (a description alone checks nothing)."""
        return attrs.evolve(self, description=None) != Constraints()

    def keywords(self, schema: dict[str, Any]) -> dict[str, Any]:
        """The JSON Schema keywords for a value whose own schema is ``schema``."""
        out: dict[str, Any] = {}
        for name, keyword in _BOUNDS.items():
            bound = getattr(self, name)
            if _is_number(bound):
                out[keyword] = _number(bound)
        if _is_number(self.multiple_of):
            out["multipleOf"] = _number(self.multiple_of)
        if "contentEncoding" not in schema:  # a base64 string's length is not the bytes' length
            for kind in _json_types(schema):
                low, high = _LENGTH_KEYWORDS.get(kind, (None, None))
                if low and self.min_length is not None:
                    out[low] = self.min_length
                if high and self.max_length is not None:
                    out[high] = self.max_length
        if self.pattern is not None:
            out["pattern"] = self.pattern
        return out

    def check(self, value: Any) -> Any:
        """Return ``value`` if it satisfies every constraint.

        Raises:
            InvalidValue: the first constraint it breaks, as a readable reason.
        """
        for name, op in _OPS.items():
            bound = getattr(self, name)
            if bound is not None and not _compare(name, value, bound):
                raise InvalidValue(f"expected a value {op} {bound}, got {shown(value)}")
        if self.multiple_of is not None and value % self.multiple_of != 0:
            raise InvalidValue(f"expected a multiple of {self.multiple_of}, got {shown(value)}")
        if self.min_length is not None or self.max_length is not None:
            size = len(value)
            if self.min_length is not None and size < self.min_length:
                raise InvalidValue(
                    f"expected at least {_count(self.min_length, value)}, got {size}"
                )
            if self.max_length is not None and size > self.max_length:
                raise InvalidValue(f"expected at most {_count(self.max_length, value)}, got {size}")
        if (
            self.pattern is not None
            and isinstance(value, str)
            and re.search(self.pattern, value) is None
        ):
            raise InvalidValue(f"expected a string matching {self.pattern!r}, got {shown(value)}")
        return value


def _compare(name: str, value: Any, bound: Any) -> bool:
    if name == "gt":
        return bool(value > bound)
    if name == "ge":
        return bool(value >= bound)
    if name == "lt":
        return bool(value < bound)
    return bool(value <= bound)


def _is_number(value: Any) -> bool:
    return type(value) in (int, float, decimal.Decimal)


def _number(value: Any) -> int | float:
    if isinstance(value, decimal.Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    return value  # type: ignore[no-any-return]


def _json_types(schema: dict[str, Any]) -> list[str]:
    kind = schema.get("type")
    if isinstance(kind, str):
        return [kind]
    return [t for s in schema.get("anyOf", ()) for t in _json_types(s)]


def _count(n: int, value: Any) -> str:
    noun = (
        "character"
        if isinstance(value, str)
        else "byte"
        if isinstance(value, bytes | bytearray)
        else "entry"
        if isinstance(value, dict)
        else "item"
    )
    if n != 1:
        noun = "entries" if noun == "entry" else noun + "s"
    return f"{n} {noun}"


_ANNOTATED_TYPES = {
    "Gt": "gt",
    "Ge": "ge",
    "Lt": "lt",
    "Le": "le",
    "MultipleOf": "multiple_of",
    "MinLen": "min_length",
    "MaxLen": "max_length",
}


def constraints_of(metadata: Iterable[Any]) -> Constraints | None:
    """The constraints in ``Annotated`` metadata; ``None`` when there are none.

    Raises:
        UnsupportedType: a constraint this module can neither express nor check.
    """
    found: dict[str, Any] = {}
    _collect(metadata, found)
    return Constraints(**found) if found else None


def _collect(metadata: Iterable[Any], found: dict[str, Any]) -> None:
    at = sys.modules.get("annotated_types")
    fields = sys.modules.get("pydantic.fields")
    for meta in metadata:
        if isinstance(meta, Pattern):
            found["pattern"] = meta.pattern
        elif fields is not None and isinstance(meta, fields.FieldInfo):
            if meta.description:
                found["description"] = meta.description
            _collect(meta.metadata, found)
        elif at is not None and isinstance(meta, at.GroupedMetadata):
            _collect(meta, found)
        elif at is not None and isinstance(meta, at.BaseMetadata):
            _collect_one(meta, found)


def _collect_one(meta: Any, found: dict[str, Any]) -> None:
    key = _ANNOTATED_TYPES.get(type(meta).__name__)
    if key is not None and type(meta).__module__ == "annotated_types":
        found[key] = getattr(meta, key)
        return
    for name, value in _attributes(meta).items():  # e.g. pydantic's: pattern=..., strict=...
        if name == "pattern" and value is not None:
            found["pattern"] = value if isinstance(value, str) else value.pattern
        elif value not in (None, False):
            raise UnsupportedType(
                f"the constraint {type(meta).__name__}({name}={value!r}) is not supported "
                "on a tool parameter (inside a pydantic model, pydantic applies it)"
            )


def _attributes(meta: Any) -> dict[str, Any]:
    if dataclasses.is_dataclass(meta):
        return {f.name: getattr(meta, f.name) for f in dataclasses.fields(meta)}
    return dict(getattr(meta, "__dict__", {}))
