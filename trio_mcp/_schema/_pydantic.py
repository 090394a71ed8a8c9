"""Pydantic v2 models and pydantic dataclasses, when the user's code uses them.

Never imports pydantic: a class can only be a pydantic model if pydantic is
already in ``sys.modules``, so :func:`is_pydantic` looks there first. Pydantic
does the work for its own types, as it would in the user's code:

* the JSON Schema is ``TypeAdapter(tp).json_schema()`` (``mode="validation"``
  for parameters, ``"serialization"`` for returns; aliases used), with its
  ``$defs`` handed to the caller to keep at the root of the document;
* validation is ``validate_json`` of the arguments (pydantic's JSON mode,
  the rules its schema describes), its errors turned into ``$.path: reason``;
* the wire form is ``dump_python(mode="json", by_alias=True)``.
"""

from __future__ import annotations

import functools
import sys
from typing import Any

import orjson

from ._invalid import NestedErrors

__all__ = ["dump", "is_pydantic", "json_schema", "validate"]


def is_pydantic(tp: Any) -> bool:
    """True if ``tp`` is a pydantic ``BaseModel`` subclass or a pydantic dataclass."""
    pydantic = sys.modules.get("pydantic")
    if pydantic is None or not isinstance(tp, type):
        return False
    if issubclass(tp, pydantic.BaseModel):
        return True
    return "__pydantic_validator__" in getattr(tp, "__dict__", {})


@functools.cache
def _adapter(tp: Any) -> Any:
    return sys.modules["pydantic"].TypeAdapter(tp)


def json_schema(tp: Any, mode: str) -> dict[str, Any]:
    """Pydantic's JSON Schema for ``tp`` (``$defs`` included, at its root)."""
    return _adapter(tp).json_schema(mode=mode, by_alias=True)  # type: ignore[no-any-return]


def _path(loc: tuple[Any, ...]) -> str:
    return "".join(f"[{part}]" if isinstance(part, int) else f".{part}" for part in loc)


def validate(value: Any, tp: Any) -> Any:
    """Validate a decoded JSON value as ``tp`` (a cattrs structure hook).

    Raises:
        NestedErrors: pydantic's errors, one ``(".field", message)`` line each.
    """
    try:
        return _adapter(tp).validate_json(orjson.dumps(value))
    except sys.modules["pydantic"].ValidationError as exc:
        lines = [(_path(e["loc"]), e["msg"]) for e in exc.errors(include_url=False)]
        raise NestedErrors(lines) from None


def dump(value: Any) -> Any:
    """The JSON form of a pydantic model or dataclass instance (a cattrs unstructure hook)."""
    cls: Any = type(value)
    return _adapter(cls).dump_python(value, mode="json", by_alias=True)
