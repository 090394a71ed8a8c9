"""The private cattrs converter: strict JSON -> Python structuring.

cattrs is lenient by default (``"1"`` structures to ``1.0`` as a float, a string
structures to a list of its characters). Tool arguments come from an untrusted
peer, so this converter checks JSON types exactly, the way JSON Schema would:

* ``str`` takes only strings; ``bool`` only booleans; ``int`` only integers
  (never booleans); ``float`` takes integers and floats (JSON has one number type);
* sequences take only arrays, mappings only objects, attrs classes only objects,
  and extra keys in an object are refused.

Failures are collected by cattrs' detailed validation and rendered by
:func:`error_paths` as one readable line per field, e.g. ``$.b: expected number,
got string``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import attrs
import cattrs
from cattrs.cols import (
    is_mapping,
    is_sequence,
    list_structure_factory,
    mapping_structure_factory,
)
from cattrs.gen import make_dict_structure_fn
from cattrs.strategies import configure_union_passthrough

__all__ = ["TypeMismatch", "error_paths", "make_converter"]

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


class TypeMismatch(ValueError):
    """A value of the wrong JSON type. Its message is the readable reason."""


def _mismatch(expected: str, value: Any) -> TypeMismatch:
    return TypeMismatch(f"expected {expected}, got {json_type_name(value)}")


def _structure_str(value: Any, _: Any) -> str:
    if type(value) is not str:
        raise _mismatch("string", value)
    return value


def _structure_int(value: Any, _: Any) -> int:
    if type(value) is not int:
        raise _mismatch("integer", value)
    return value


def _structure_float(value: Any, _: Any) -> float:
    t = type(value)
    if t is float:
        return value  # type: ignore[no-any-return]
    if t is int:
        return float(value)
    raise _mismatch("number", value)


def _structure_bool(value: Any, _: Any) -> bool:
    if type(value) is not bool:
        raise _mismatch("boolean", value)
    return bool(value)


def _checked(
    check: type, expected: str, base: Callable[[Any, Any], Any]
) -> Callable[[Any, Any], Any]:
    def hook(value: Any, tp: Any) -> Any:
        if type(value) is not check:
            raise _mismatch(expected, value)
        return base(value, tp)

    return hook


def make_converter() -> cattrs.Converter:
    """Build the strict converter. One per process is enough; it is cached by callers."""
    conv = cattrs.Converter(forbid_extra_keys=True, detailed_validation=True)
    conv.register_structure_hook(str, _structure_str)
    conv.register_structure_hook(int, _structure_int)
    conv.register_structure_hook(float, _structure_float)
    conv.register_structure_hook(bool, _structure_bool)
    conv.register_structure_hook(Any, lambda v, _: v)

    def seq_factory(tp: Any, c: cattrs.Converter) -> Callable[[Any, Any], Any]:
        base = list_structure_factory(tp, c)
        return _checked(list, "array", base)

    def map_factory(tp: Any, c: cattrs.Converter) -> Callable[[Any, Any], Any]:
        base = mapping_structure_factory(tp, c)
        return _checked(dict, "object", base)

    def attrs_factory(tp: Any, c: cattrs.Converter) -> Callable[[Any, Any], Any]:
        base = make_dict_structure_fn(tp, c, _cattrs_forbid_extra_keys=True)
        return _checked(dict, "object", base)

    conv.register_structure_hook_factory(is_sequence, seq_factory)
    conv.register_structure_hook_factory(is_mapping, map_factory)
    conv.register_structure_hook_factory(attrs.has, attrs_factory)
    configure_union_passthrough(str | int | float | bool | None, conv)
    return conv


def _format(exc: BaseException, tp: type | None) -> str:
    if isinstance(exc, TypeMismatch):
        return str(exc)
    if isinstance(exc, KeyError):
        return "required field missing"
    if isinstance(exc, cattrs.ForbiddenExtraKeysError):
        return f"unexpected field(s): {', '.join(sorted(exc.extra_fields))}"
    if isinstance(exc, ValueError) and str(exc):
        return f"invalid value: {exc}"  # e.g. an attrs validator: "'days' must be <= 7: 9"
    if isinstance(exc, ValueError | TypeError):
        name = getattr(tp, "__name__", None) or (repr(tp) if tp is not None else "value")
        return f"invalid value, expected {name}"
    return cattrs.v.format_exception(exc, tp)


def error_paths(exc: BaseException) -> list[str]:
    """Render a structuring failure as one ``"$.path: reason"`` line per field."""
    lines = cattrs.transform_error(exc, path="$", format_exception=_format)
    out = []
    for line in lines:
        reason, sep, path = line.rpartition(" @ ")
        out.append(f"{path}: {reason}" if sep else line)
    return out
