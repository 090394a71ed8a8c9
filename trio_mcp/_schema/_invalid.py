"""The failures structuring hooks raise, each carrying its readable reason."""

from __future__ import annotations

from typing import Any

__all__ = [
    "InvalidValue",
    "NestedErrors",
    "TypeMismatch",
    "UnsupportedType",
    "json_type_name",
    "shown",
]

_JSON_NAMES = {
    str: "string",
    int: "integer",
    float: "number",
    bool: "boolean",
    type(None): "null",
    dict: "object",
    list: "array",
}


def json_type_name(value: Any) -> str:
    """The JSON type name of a decoded value (``"string"``, ``"object"``...)."""
    return _JSON_NAMES.get(type(value), type(value).__name__)


def shown(value: Any, limit: int = 60) -> str:
    """``repr(value)``, cut to about ``limit`` characters, for an error message."""
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


class UnsupportedType(TypeError):
    """The annotation has no JSON Schema mapping. Raised at decoration time."""


class InvalidValue(ValueError):
    """A value of the right JSON type that is still not acceptable. The message is the reason."""


class TypeMismatch(InvalidValue):
    """A value of the wrong JSON type. Its message is the readable reason.

    Attributes:
        expected: What was expected, e.g. ``"string"`` or ``"an RFC 3339 date-time"``.
    """

    def __init__(self, expected: str, value: Any) -> None:
        self.expected = expected
        super().__init__(f"expected {expected}, got {json_type_name(value)}")


class NestedErrors(InvalidValue):
    """Several failures inside one value, each at a sub-path (pydantic's errors, for one).

    Attributes:
        lines: ``(sub_path, reason)`` pairs; ``sub_path`` is ``""``, ``".name"`` or ``"[0]"``...
    """

    def __init__(self, lines: list[tuple[str, str]]) -> None:
        self.lines = lines
        super().__init__("; ".join(f"{path or '$'}: {reason}" for path, reason in lines))
