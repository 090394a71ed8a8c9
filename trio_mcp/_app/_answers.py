"""The client's answers to the server's questions, checked before a handler sees them.

An elicitation answer, a sampling result and a roots list come from the client
(a legacy server-to-client response, or a modern ``inputResponses`` entry). A
handler must never be handed an ``accept`` whose content does not match the
schema it asked for, nor a malformed result: each function here returns the
checked value or raises :class:`AnswerInvalid` (``-32602``) with the offending
paths, which reaches the client as the request's error unless the handler
catches it.

Elicitation content is checked against the flat ``requestedSchema`` the server
sent: property types (``string``, ``number``, ``integer``, ``boolean``, and
arrays of strings for multi-select), ``enum`` / ``oneOf`` ``const`` values,
``minimum``/``maximum``, ``minLength``/``maxLength``, ``minItems``/``maxItems``
and ``required``. Keys the schema does not name are dropped.
"""

from __future__ import annotations

from typing import Any

from .._errors import INVALID_PARAMS, McpError

__all__ = ["AnswerInvalid", "check_elicitation", "check_roots", "check_sampling"]

ACTIONS = frozenset({"accept", "decline", "cancel"})


class AnswerInvalid(McpError):
    """The client's answer to an elicitation, sampling or roots request is malformed.

    Attributes:
        errors: One ``$.path: reason`` line per problem (also in ``data.errors``).
    """

    default_code = INVALID_PARAMS

    def __init__(self, what: str, errors: list[str]) -> None:
        super().__init__(
            None, f"Invalid {what} from the client: " + "; ".join(errors), {"errors": errors}
        )
        self.errors = errors


def check_elicitation(schema: dict[str, Any], answer: Any) -> tuple[str, dict[str, Any] | None]:
    """Return ``(action, content)`` of a well-formed answer to an elicitation with ``schema``.

    ``content`` is ``None`` unless the action is ``accept``. URL-mode
    elicitations pass an empty schema: their accepted content is not checked.

    Raises:
        AnswerInvalid: an unknown ``action``, or content that violates ``schema``.
    """
    if type(answer) is not dict:
        raise AnswerInvalid("elicitation result", ["$: expected an object"])
    action = answer.get("action")
    if action not in ACTIONS:
        raise AnswerInvalid(
            "elicitation result", [f"$.action: expected accept, decline or cancel, got {action!r}"]
        )
    if action != "accept":
        return action, None
    content = answer.get("content")
    if content is None:
        content = {}
    if type(content) is not dict:
        raise AnswerInvalid("elicitation result", ["$.content: expected an object"])
    properties = schema.get("properties")
    if not isinstance(properties, dict):
        return action, dict(content)  # URL mode, or no schema to hold it to
    errors: list[str] = []
    checked: dict[str, Any] = {}
    for name in schema.get("required") or ():
        if name not in content:
            errors.append(f"$.content.{name}: required")
    for name, value in content.items():
        prop = properties.get(name)
        if not isinstance(prop, dict):
            continue  # not asked for: dropped
        problem = _check_property(prop, value)
        if problem is not None:
            errors.append(f"$.content.{name}: {problem}")
        else:
            checked[name] = value
    if errors:
        raise AnswerInvalid("elicitation result", errors)
    return action, checked


def _allowed(prop: dict[str, Any]) -> list[Any] | None:
    """The values an enum property allows (``enum``, or ``oneOf``/``anyOf`` consts)."""
    if isinstance(prop.get("enum"), list):
        return list(prop["enum"])
    for key in ("oneOf", "anyOf"):
        options = prop.get(key)
        if isinstance(options, list):
            return [o.get("const") for o in options if isinstance(o, dict)]
    return None


def _check_property(prop: dict[str, Any], value: Any) -> str | None:
    kind = prop.get("type")
    if kind == "string":
        if type(value) is not str:
            return f"expected a string, got {value!r}"
        if "minLength" in prop and len(value) < prop["minLength"]:
            return f"shorter than {prop['minLength']} characters"
        if "maxLength" in prop and len(value) > prop["maxLength"]:
            return f"longer than {prop['maxLength']} characters"
    elif kind in ("number", "integer"):
        if type(value) not in (int, float) or (kind == "integer" and type(value) is not int):
            return f"expected {'an integer' if kind == 'integer' else 'a number'}, got {value!r}"
        if "minimum" in prop and value < prop["minimum"]:
            return f"less than the minimum {prop['minimum']}"
        if "maximum" in prop and value > prop["maximum"]:
            return f"more than the maximum {prop['maximum']}"
    elif kind == "boolean":
        if type(value) is not bool:
            return f"expected a boolean, got {value!r}"
    elif kind == "array":
        if type(value) is not list or not all(type(v) is str for v in value):
            return f"expected an array of strings, got {value!r}"
        items = prop.get("items")
        allowed = _allowed(items) if isinstance(items, dict) else None
        if allowed is not None and any(v not in allowed for v in value):
            return f"{value!r} has values outside {allowed!r}"
        if "minItems" in prop and len(value) < prop["minItems"]:
            return f"fewer than {prop['minItems']} items"
        if "maxItems" in prop and len(value) > prop["maxItems"]:
            return f"more than {prop['maxItems']} items"
        return None
    allowed = _allowed(prop)
    if allowed is not None and value not in allowed:
        return f"{value!r} is not one of {allowed!r}"
    return None


_SAMPLED = frozenset({"text", "image", "audio", "tool_use", "tool_result"})


def check_sampling(result: Any) -> dict[str, Any]:
    """Return a well-formed ``CreateMessageResult``.

    Raises:
        AnswerInvalid: no ``role`` or ``content``, content of an unknown type, or a
            ``model`` that is not a string (an absent one is tolerated: some clients omit it).
    """
    errors: list[str] = []
    if type(result) is not dict:
        raise AnswerInvalid("sampling result", ["$: expected an object"])
    if result.get("role") not in ("user", "assistant"):
        errors.append(f"$.role: expected user or assistant, got {result.get('role')!r}")
    if "model" in result and type(result["model"]) is not str:
        errors.append("$.model: expected a string")
    content = result.get("content")
    blocks = content if type(content) is list else [content]
    for i, block in enumerate(blocks):
        where = f"$.content[{i}]" if type(content) is list else "$.content"
        if type(block) is not dict or block.get("type") not in _SAMPLED:
            errors.append(f"{where}: expected a content block (text, image, audio...)")
        elif block["type"] == "text" and type(block.get("text")) is not str:
            errors.append(f"{where}.text: expected a string")
    if errors:
        raise AnswerInvalid("sampling result", errors)
    return result


def check_roots(result: Any) -> list[dict[str, Any]]:
    """Return the roots of a well-formed ``ListRootsResult``.

    Raises:
        AnswerInvalid: ``roots`` is not an array of ``{"uri": "file://...", "name"?: str}``.
    """
    roots = result.get("roots") if type(result) is dict else None
    if type(roots) is not list:
        raise AnswerInvalid("roots list", ["$.roots: expected an array"])
    errors: list[str] = []
    for i, root in enumerate(roots):
        if type(root) is not dict:
            errors.append(f"$.roots[{i}]: expected an object")
            continue
        uri = root.get("uri")
        if type(uri) is not str or not uri.startswith("file://"):
            errors.append(f"$.roots[{i}].uri: expected a file:// URI, got {uri!r}")
        if "name" in root and type(root["name"]) is not str:
            errors.append(f"$.roots[{i}].name: expected a string")
    if errors:
        raise AnswerInvalid("roots list", errors)
    return roots
