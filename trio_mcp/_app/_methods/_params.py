"""Every method's params, checked by type once, before any handler logic.

The rules are data: :data:`PARAMS` maps a method to the fields it reads, each
with its JSON type, whether it is required and, for objects, the fields inside.
:func:`check_params` walks a request's params against its method's row and
raises ``-32602`` naming the first offending path (``"ref.name" must be a
string``). Handlers may then index what they read without re-checking types;
what is left to them is meaning (an unknown tool, a bad cursor, an enum value).
Keys a row does not name are left alone (the spec lets params grow).
"""

from __future__ import annotations

from typing import Any

import attrs

from ..._errors import InvalidParams

__all__ = ["PARAMS", "check_params"]

_NAMES = {str: "a string", dict: "an object", list: "an array", bool: "a boolean"}


@attrs.frozen
class F:
    """One field: its JSON type, whether it must be present, and what it contains.

    Attributes:
        kind: ``str``, ``dict``, ``list`` or ``bool`` (``type(value) is kind``).
        required: Absent (or ``null``) is ``-32602``; else absent is fine.
        fields: For an object, the fields inside it.
        items: For an array, the type of every item; for an object without
            ``fields``, the type of every value.
    """

    kind: type
    required: bool = False
    fields: dict[str, F] | None = None
    items: type | None = None


_CURSOR = {"cursor": F(str)}
_TASK_ID = {"taskId": F(str, required=True)}
_URI = {"uri": F(str, required=True)}

PARAMS: dict[str, dict[str, F]] = {
    "tools/list": _CURSOR,
    "tools/call": {"name": F(str, True), "arguments": F(dict), "task": F(dict)},
    "resources/list": _CURSOR,
    "resources/templates/list": _CURSOR,
    "resources/read": _URI,
    "resources/subscribe": _URI,
    "resources/unsubscribe": _URI,
    "prompts/list": _CURSOR,
    "prompts/get": {"name": F(str, True), "arguments": F(dict, items=str)},
    "completion/complete": {
        "ref": F(dict, True, {"type": F(str, True), "name": F(str), "uri": F(str)}),
        "argument": F(dict, True, {"name": F(str, True), "value": F(str)}),
        "context": F(dict, fields={"arguments": F(dict, items=str)}),
    },
    "subscriptions/listen": {
        "notifications": F(
            dict,
            True,
            {
                "toolsListChanged": F(bool),
                "promptsListChanged": F(bool),
                "resourcesListChanged": F(bool),
                "resourceSubscriptions": F(list, items=str),
                "taskIds": F(list, items=str),
            },
        )
    },
    "tasks/get": _TASK_ID,
    "tasks/result": _TASK_ID,
    "tasks/list": _CURSOR,
    "tasks/cancel": _TASK_ID,
    "tasks/update": {**_TASK_ID, "inputResponses": F(dict, True)},
}
"""Method -> the fields of its params that the server reads, with their types."""

_EMPTY: dict[str, F] = {}


def check_params(method: str, params: dict[str, Any]) -> None:
    """Check ``params`` against ``method``'s row of :data:`PARAMS`.

    Raises:
        InvalidParams: a field has the wrong type or a required one is missing.
    """
    _check(PARAMS.get(method, _EMPTY), params, "")


def _check(fields: dict[str, F], obj: dict[str, Any], prefix: str) -> None:
    for key, field in fields.items():
        value: Any = obj.get(key)
        if value is None:
            if field.required:
                raise _wrong(prefix + key, field.kind)
            continue
        if type(value) is not field.kind:
            raise _wrong(prefix + key, field.kind)
        if field.fields is not None:
            _check(field.fields, obj[key], f"{prefix}{key}.")
        elif field.items is not None:
            values: Any = obj[key].values() if field.kind is dict else obj[key]
            if not all(type(v) is field.items for v in values):
                raise InvalidParams(
                    f'Invalid params: "{prefix}{key}" must be {_NAMES[field.kind]}'
                    f" of {_NAMES[field.items].split(' ', 1)[1]}s"
                )


def _wrong(path: str, kind: type) -> InvalidParams:
    return InvalidParams(f'Invalid params: "{path}" must be {_NAMES[kind]}')
