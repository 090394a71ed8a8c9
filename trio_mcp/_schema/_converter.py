"""The private cattrs converter: strict JSON -> Python structuring, Python -> JSON back.

cattrs is lenient by default (``"1"`` structures to ``1.0`` as a float, a string
structures to a list of its characters). Tool arguments come from an untrusted
peer, so this converter checks JSON values exactly, the way the schema of
:func:`~._jsonschema.schema_for` describes them:

* ``str`` takes only strings; ``bool`` only booleans; ``int`` only integers
  (never booleans); ``float`` takes integers and floats (JSON has one number type);
* sequences take only arrays, mappings only objects; attrs classes, dataclasses,
  NamedTuples and TypedDicts only objects, and extra keys are refused (except by
  a TypedDict, whose schema allows them);
* ``Literal`` and ``Enum`` take their values, of the same JSON type (``true`` is
  not ``1``); a union takes what one of its members takes;
* dates, times, ``UUID``, ``Decimal``, paths and ``bytes`` take the strings of
  :mod:`._scalars`; ``Annotated`` constraints (:mod:`._constraints`) are checked
  after the value is built; pydantic models are validated by pydantic.

Failures are collected by cattrs' detailed validation and rendered by
:func:`error_paths` as one readable line per field, e.g. ``$.b: expected number,
got string`` or ``$.when: expected an RFC 3339 date-time, got 'tomorrow'``.
"""

from __future__ import annotations

import enum
import pathlib
import types
import typing
from collections.abc import Callable
from typing import Any

import cattrs
from cattrs.cols import (
    is_mapping,
    is_namedtuple,
    is_sequence,
    list_structure_factory,
    mapping_structure_factory,
    namedtuple_dict_structure_factory,
    namedtuple_dict_unstructure_factory,
)
from cattrs.gen import make_dict_structure_fn
from cattrs.gen.typeddicts import make_dict_structure_fn as make_typeddict_structure_fn

from ._constraints import constraints_of
from ._invalid import InvalidValue, NestedErrors, TypeMismatch, json_type_name, shown
from ._jsonschema import is_model_class
from ._pydantic import dump, is_pydantic, validate
from ._scalars import SCALARS, scalar_for

__all__ = ["TypeMismatch", "error_paths", "json_type_name", "make_converter"]

Hook = Callable[[Any, Any], Any]


def _structure_str(value: Any, _: Any) -> str:
    if type(value) is not str:
        raise TypeMismatch("string", value)
    return value


def _structure_int(value: Any, _: Any) -> int:
    if type(value) is not int:
        raise TypeMismatch("integer", value)
    return value


def _structure_float(value: Any, _: Any) -> float:
    t = type(value)
    if t is float:
        return value  # type: ignore[no-any-return]
    if t is int:
        return float(value)
    raise TypeMismatch("number", value)


def _structure_bool(value: Any, _: Any) -> bool:
    if type(value) is not bool:
        raise TypeMismatch("boolean", value)
    return bool(value)


def _checked(check: type, expected: str, base: Hook) -> Hook:
    def hook(value: Any, tp: Any) -> Any:
        if type(value) is not check:
            raise TypeMismatch(expected, value)
        return base(value, tp)

    return hook


def _same_json_value(value: Any, choice: Any) -> bool:
    """``value == choice`` with the same JSON type (an integer may stand for a float)."""
    if type(value) is type(choice) or (type(choice) is float and type(value) is int):
        return bool(value == choice)
    return False


def _choices(values: list[Any], pick: Callable[[int], Any]) -> Hook:
    listed = ", ".join(shown(v) for v in values)

    def hook(value: Any, _: Any) -> Any:
        for i, choice in enumerate(values):
            if _same_json_value(value, choice):
                return pick(i)
        raise InvalidValue(f"expected one of {listed}, got {shown(value)}")

    return hook


def _is_literal(tp: Any) -> bool:
    return typing.get_origin(tp) is typing.Literal


def _literal_factory(tp: Any) -> Hook:
    values = list(typing.get_args(tp))
    return _choices(values, values.__getitem__)


def _enum_factory(tp: Any) -> Hook:
    members = list(tp)
    return _choices([m.value for m in members], members.__getitem__)


def _structure_path(value: Any, tp: Any) -> Any:
    scalar = scalar_for(tp)
    assert scalar is not None
    return scalar.structure(value, tp)


def _is_fixed_tuple(tp: Any) -> bool:
    args = typing.get_args(tp)
    return typing.get_origin(tp) is tuple and bool(args) and args[-1] is not Ellipsis


def _is_union(tp: Any) -> bool:
    return typing.get_origin(tp) in (typing.Union, types.UnionType)


def _union_factory(tp: Any, conv: cattrs.Converter) -> Hook:
    """A member's value, trying the members in order; an exact JSON primitive passes as is.

    When every member fails, the error is the one member's whose JSON type fit
    (so its inner paths survive), else ``expected string or null, got integer``.
    """
    args = typing.get_args(tp)
    members = [a for a in args if a is not type(None)]
    nullable = len(members) < len(args)
    if len(members) == 1:
        only, inner = members[0], conv.get_structure_hook(members[0])

        def optional(value: Any, _: Any) -> Any:
            return None if value is None else inner(value, only)

        return optional
    exact = {t for t in members if t in (str, int, float, bool)}
    hooks = [(m, conv.get_structure_hook(m)) for m in members]

    def union(value: Any, _: Any) -> Any:
        if (value is None and nullable) or type(value) in exact:
            return value
        failures: list[Exception] = []
        for member, hook in hooks:
            try:
                return hook(value, member)
            except Exception as exc:  # one member's refusal; the next may accept it
                failures.append(exc)
        fitting = [f for f in failures if type(f) is not TypeMismatch]
        if len(fitting) == 1:
            raise fitting[0]
        expected = [f.expected for f in failures if isinstance(f, TypeMismatch)]
        if fitting or not expected:
            raise InvalidValue(f"matches none of the types allowed, got {shown(value)}")
        raise TypeMismatch(" or ".join([*expected, *(["null"] if nullable else [])]), value)

    return union


def _constrained(tp: Any) -> bool:
    if typing.get_origin(tp) is not typing.Annotated:
        return False
    found = constraints_of(tp.__metadata__)
    return found is not None and found.checks


def _constrained_factory(tp: Any, conv: cattrs.Converter) -> Hook:
    inner_type = typing.get_args(tp)[0]
    inner = conv.get_structure_hook(inner_type)
    found = constraints_of(tp.__metadata__)
    assert found is not None
    check = found.check

    def hook(value: Any, _: Any) -> Any:
        return check(inner(value, inner_type))

    return hook


def _is_plain_class_model(tp: Any) -> bool:
    return is_model_class(tp) and not is_pydantic(tp)


def make_converter() -> cattrs.Converter:
    """Build the strict converter. One per process is enough; it is cached by callers."""
    conv = cattrs.Converter(forbid_extra_keys=True, detailed_validation=True)
    conv.register_structure_hook(str, _structure_str)
    conv.register_structure_hook(int, _structure_int)
    conv.register_structure_hook(float, _structure_float)
    conv.register_structure_hook(bool, _structure_bool)
    conv.register_structure_hook(Any, lambda v, _: v)

    def seq_factory(tp: Any, c: cattrs.Converter) -> Hook:
        return _checked(list, "array", list_structure_factory(tp, c))

    def map_factory(tp: Any, c: cattrs.Converter) -> Hook:
        return _checked(dict, "object", mapping_structure_factory(tp, c))

    def class_factory(tp: Any, c: cattrs.Converter) -> Hook:
        return _checked(
            dict, "object", make_dict_structure_fn(tp, c, _cattrs_forbid_extra_keys=True)
        )

    def named_tuple_factory(tp: Any, c: cattrs.Converter) -> Hook:
        return _checked(
            dict, "object", namedtuple_dict_structure_factory(tp, c, "from_converter", True)
        )

    def typed_dict_factory(tp: Any, c: cattrs.Converter) -> Hook:
        return _checked(dict, "object", make_typeddict_structure_fn(tp, c, False))

    def tuple_factory(tp: Any, c: cattrs.Converter) -> Hook:
        return _checked(list, "array", c.gen_structure_hetero_tuple(tp))

    # Later factories take precedence over earlier ones (and over cattrs' own).
    conv.register_structure_hook_factory(is_sequence, seq_factory)
    conv.register_structure_hook_factory(_is_fixed_tuple, tuple_factory)
    conv.register_structure_hook_factory(is_mapping, map_factory)
    conv.register_structure_hook_factory(typing.is_typeddict, typed_dict_factory)
    conv.register_structure_hook_factory(_is_plain_class_model, class_factory)
    conv.register_structure_hook_factory(is_namedtuple, named_tuple_factory)
    conv.register_structure_hook_factory(is_pydantic, lambda t: validate)
    conv.register_structure_hook_factory(
        lambda t: isinstance(t, type) and issubclass(t, enum.Enum), _enum_factory
    )
    conv.register_structure_hook_factory(_is_literal, _literal_factory)
    conv.register_structure_hook_factory(_is_union, _union_factory)
    conv.register_structure_hook_factory(_constrained, _constrained_factory)

    for tp, scalar in SCALARS.items():
        conv.register_structure_hook(tp, scalar.structure)  # over cattrs' own (bytes...)
        conv.register_unstructure_hook(tp, scalar.dump)
    for path_type in (pathlib.PurePath, pathlib.Path):  # subclasses follow (singledispatch)
        conv.register_structure_hook(path_type, _structure_path)
    conv.register_unstructure_hook(pathlib.PurePath, str)
    conv.register_unstructure_hook_factory(is_namedtuple, namedtuple_dict_unstructure_factory)
    conv.register_unstructure_hook_factory(is_pydantic, lambda t: dump)
    return conv


def _format(exc: BaseException, tp: Any) -> str:
    if isinstance(exc, InvalidValue):
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


def _walk(exc: BaseException, path: str, tp: Any, out: list[str]) -> None:
    if isinstance(exc, cattrs.IterableValidationError):
        with_index, without = exc.group_exceptions()
        for inner, index_note in with_index:
            _walk(inner, f"{path}[{index_note.index!r}]", index_note.type, out)
        for inner in without:
            _walk(inner, path, None, out)
    elif isinstance(exc, cattrs.ClassValidationError):
        with_name, without = exc.group_exceptions()
        for inner, name_note in with_name:
            _walk(inner, f"{path}.{name_note.name}", name_note.type, out)
        for inner in without:
            _walk(inner, path, None, out)
    elif isinstance(exc, NestedErrors):
        out.extend(f"{path}{sub}: {reason}" for sub, reason in exc.lines)
    else:
        out.append(f"{path}: {_format(exc, tp)}")


def error_paths(exc: BaseException) -> list[str]:
    """Render a structuring failure as one ``"$.path: reason"`` line per field."""
    out: list[str] = []
    _walk(exc, "$", None, out)
    return out
