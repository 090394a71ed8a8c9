"""The client's answers to the server: sampling, elicitation and roots, in either era.

One :class:`Handlers` answers both a legacy server request
(``elicitation/create`` on the wire) and a modern ``input_required`` round
(the same request inside ``inputRequests``): the user's handler is called the
same way and never sees the difference.

An elicitation answer is checked against the ``requestedSchema`` before it is
sent (:func:`check_elicitation`): the action is ``accept``, ``decline`` or
``cancel``; an accepted form answers every required field, only known fields,
each of its declared type (and in its ``enum``/``oneOf``, within
``minimum``/``maximum``); an accepted URL elicitation carries no content.
A field the answer leaves out takes the schema's ``default`` (SEP-1034).
A wrong answer is :class:`~trio_mcp.client.InvalidAnswer`: a bug in the
handler, reported here rather than by the server.
"""

from __future__ import annotations

import inspect
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, TypeAlias

import attrs

from .._errors import InvalidParams, MethodNotFound
from ._errors import InvalidAnswer
from ._types import ElicitationRequest, SamplingRequest, parse

__all__ = ["Handlers", "Root", "check_elicitation"]


@attrs.frozen
class Root:
    """A root the client exposes to the server (``roots/list``)."""

    uri: str
    name: str | None = None

    def to_wire(self) -> dict[str, Any]:
        return {"uri": self.uri} if self.name is None else {"uri": self.uri, "name": self.name}


RootsLike: TypeAlias = Sequence[Root | str | dict[str, Any]]
SamplingHandler: TypeAlias = Callable[[SamplingRequest], Awaitable[Any]]
ElicitationHandler: TypeAlias = Callable[[ElicitationRequest], Awaitable[Any]]
RootsHandler: TypeAlias = Callable[[], Awaitable[RootsLike]]

_ACTIONS = ("accept", "decline", "cancel")
_JSON_TYPES: dict[str, tuple[type, ...]] = {
    "string": (str,),
    "integer": (int,),
    "number": (int, float),
    "boolean": (bool,),
    "array": (list,),
}


def check_elicitation(request: ElicitationRequest, answer: Any) -> dict[str, Any]:
    """The wire ``ElicitResult`` for ``answer`` (a dict, or an object with ``action``/``content``).

    Raises:
        InvalidAnswer: the answer breaks the rules of the module docstring.
    """
    if isinstance(answer, dict):
        action, content = answer.get("action"), answer.get("content")
    else:
        action, content = getattr(answer, "action", None), getattr(answer, "content", None)
    if action not in _ACTIONS:
        raise InvalidAnswer(f"elicitation answer: action must be one of {_ACTIONS}, got {action!r}")
    if action != "accept":
        return {"action": action}
    if request.mode == "url":
        if content:
            raise InvalidAnswer("elicitation answer: a URL elicitation is accepted without content")
        return {"action": "accept"}
    if not isinstance(content, dict):
        raise InvalidAnswer("elicitation answer: accept needs content, an object")
    schema = request.requested_schema
    found = schema.get("properties")
    props: dict[str, Any] = found if isinstance(found, dict) else {}
    defaults = {
        name: prop["default"]
        for name, prop in props.items()
        if isinstance(prop, dict) and "default" in prop and name not in content
    }
    content = {**defaults, **content}
    problems = [
        f"missing required field {name!r}"
        for name in schema.get("required", [])
        if name not in content
    ]
    for name, value in content.items():
        prop = props.get(name)
        if not isinstance(prop, dict):
            problems.append(f"field {name!r} is not in the requested schema")
            continue
        problems.extend(_check_value(name, prop, value))
    if problems:
        raise InvalidAnswer("elicitation answer: " + "; ".join(problems))
    return {"action": "accept", "content": content}


def _check_value(name: str, prop: dict[str, Any], value: Any) -> list[str]:
    kind = prop.get("type")
    allowed = _JSON_TYPES.get(kind) if isinstance(kind, str) else None
    if allowed is not None and (
        not isinstance(value, allowed) or (kind != "boolean" and isinstance(value, bool))
    ):
        return [f"field {name!r} must be {kind}, got {type(value).__name__}"]
    choices = _choices(prop)
    if choices is not None and kind != "array" and value not in choices:
        return [f"field {name!r} must be one of {choices}, got {value!r}"]
    if kind == "array":
        items = prop.get("items")
        options = _choices(items if isinstance(items, dict) else {})
        bad = [v for v in value if options is not None and v not in options]
        if bad:
            return [f"field {name!r}: {bad!r} not among {options}"]
    if isinstance(value, int | float):
        low, high = prop.get("minimum"), prop.get("maximum")
        if isinstance(low, int | float) and value < low:
            return [f"field {name!r} must be at least {low}, got {value!r}"]
        if isinstance(high, int | float) and value > high:
            return [f"field {name!r} must be at most {high}, got {value!r}"]
    return []


def _choices(prop: dict[str, Any]) -> list[Any] | None:
    if isinstance(prop.get("enum"), list):
        return list(prop["enum"])
    for key in ("oneOf", "anyOf"):
        if isinstance(prop.get(key), list):
            return [o.get("const") for o in prop[key] if isinstance(o, dict) and "const" in o]
    return None


def _roots_to_wire(roots: RootsLike) -> dict[str, Any]:
    out = []
    for root in roots:
        if isinstance(root, str):
            out.append({"uri": root})
        elif isinstance(root, Root):
            out.append(root.to_wire())
        else:
            out.append(dict(root))
    return {"roots": out}


def _sampling_to_wire(answer: Any) -> dict[str, Any]:
    if isinstance(answer, str):
        return {
            "role": "assistant",
            "content": {"type": "text", "text": answer},
            "model": "unknown",
            "stopReason": "endTurn",
        }
    if not isinstance(answer, dict) or "content" not in answer:
        raise InvalidAnswer("sampling answer: return a str, or a dict with content and model")
    return {"role": "assistant", "model": "unknown", **answer}


@attrs.define(eq=False)
class Handlers:
    """What the client answers to server input (see the module docstring)."""

    sampling: SamplingHandler | None = None
    elicitation: ElicitationHandler | None = None
    roots: RootsLike | RootsHandler | None = None
    url_elicitation: bool = False

    def capabilities(self) -> dict[str, Any]:
        """The client capabilities these handlers provide (same shape in both eras)."""
        caps: dict[str, Any] = {}
        if self.roots is not None:
            caps["roots"] = {"listChanged": True}
        if self.sampling is not None:
            caps["sampling"] = {}
        if self.elicitation is not None:
            caps["elicitation"] = {"form": {}, **({"url": {}} if self.url_elicitation else {})}
        return caps

    async def answer(self, method: str, params: Any) -> dict[str, Any]:
        """The result for one server request / input request.

        Raises:
            MethodNotFound: this client has no handler for ``method``.
            InvalidParams: the server's params are malformed.
            InvalidAnswer: the handler's answer is not valid.
        """
        params = params if isinstance(params, dict) else {}
        if method == "ping":
            return {}
        if method == "roots/list" and self.roots is not None:
            roots = self.roots
            if callable(roots):
                value = roots()
                roots = await value if inspect.isawaitable(value) else value
            return _roots_to_wire(roots)
        if method == "sampling/createMessage" and self.sampling is not None:
            request = _parse_params(SamplingRequest, params, "sampling request")
            return _sampling_to_wire(await self.sampling(request))
        if method == "elicitation/create" and self.elicitation is not None:
            request = _parse_params(ElicitationRequest, params, "elicitation request")
            return check_elicitation(request, await self.elicitation(request))
        raise MethodNotFound(f"Method not found: this client does not handle {method}")


def _parse_params(cls: type[Any], params: dict[str, Any], what: str) -> Any:
    try:
        return parse(cls, params, what)
    except Exception as exc:
        raise InvalidParams(f"Invalid params: {exc}") from None
