"""Typed tools: a Python function becomes a schema, a validator and a caller.

At decoration time, :func:`make_tool` reads the signature once and builds:

* ``input_schema`` (JSON Schema 2020-12) from the parameters' annotations, or
  from the class when the function takes exactly one argument whose type is a
  class of named fields (attrs, dataclass, pydantic model): its fields are the
  arguments;
* a model of the arguments (that class, or an attrs class made of the
  parameters) that the private strict converter structures the client's
  ``arguments`` into (validated once, on the way in);
* ``output_schema`` when the return annotation is structured: an object type
  as is, any other type with a schema (a list, a ``datetime``, a union...)
  wrapped as ``{"result": ...}``. Plain ``str``/``int``/``float``/``bool``
  returns and content stay unstructured text/content.

A parameter annotated with :class:`~trio_mcp.Context` is injected, not exposed;
so is one marked ``Depends(fn)`` (solved per call, see :mod:`._depends`).
"""

from __future__ import annotations

import collections.abc
import inspect
import math
import types
import typing
from collections.abc import Awaitable, Callable, Iterable
from typing import Any

import attrs
import cattrs

from .._errors import McpError
from .._schema import (
    ToolResult,
    UnsupportedType,
    describe,
    error_paths,
    is_model_class,
    make_converter,
    schema_for,
)
from .._schema._content import CONTENT_TYPES
from .._wire import encode
from ._context import Context
from ._depends import Depends, dependency_of, with_dependencies
from ._functions import docstring, run_function
from ._visibility import names

__all__ = ["Tool", "ToolArgumentsError", "converter", "make_tool", "to_call_result"]

converter = make_converter()


class ToolArgumentsError(Exception):
    """The client's arguments did not validate; ``lines`` are ``$.path: reason``."""

    def __init__(self, tool: str, lines: list[str]) -> None:
        self.lines = lines
        super().__init__(f"Invalid arguments for tool {tool}: " + "; ".join(lines))


@attrs.define(eq=False)
class Tool:
    """A registered tool. Built by :func:`make_tool`; see ``Server.tool``."""

    name: str
    fn: Callable[..., Any]
    description: str | None
    input_schema: dict[str, Any]
    output_schema: dict[str, Any] | None
    title: str | None = None
    timeout: float | None = None
    annotations: dict[str, Any] | None = None
    icons: list[dict[str, Any]] | None = None
    meta: dict[str, Any] | None = None
    _model: type | None = None
    _model_param: str | None = None
    _context_param: str | None = None
    _is_async: bool = True
    _fields: tuple[str, ...] = ()
    _wrapped: bool = False
    """The output schema is ``{"result": ...}`` around the return type's own."""
    asyncio: bool = False
    """Run on the asyncio loop (trio-asyncio): for asyncio-only libraries."""
    task_support: str = "forbidden"
    """``"forbidden"``, ``"optional"`` or ``"required"``: may a call run as a task."""
    task_start: str = "immediate"
    """``"immediate"`` or ``"explicit"`` (the handler calls ``ctx.start_task()``)."""
    tags: frozenset[str] = attrs.field(default=frozenset(), converter=names)
    """Labels for ``server.enable(tags=...)`` / ``server.disable(tags=...)``."""
    scopes: frozenset[str] = attrs.field(default=frozenset(), converter=names)
    """Token scopes a caller needs to see and use it (HTTP; see ``_visibility``)."""
    enabled: bool = True
    """Set by the registry from the enable/disable rules."""

    def definition(self, *, task_support: bool = False) -> dict[str, Any]:
        """The ``Tool`` object of ``tools/list``; ``task_support`` adds ``execution`` (2025-11-25)."""
        out: dict[str, Any] = {"name": self.name, "inputSchema": self.input_schema}
        if self.title:
            out["title"] = self.title
        if self.description:
            out["description"] = self.description
        if self.output_schema is not None:
            out["outputSchema"] = self.output_schema
        if self.annotations:
            out["annotations"] = self.annotations
        if self.icons:
            out["icons"] = self.icons
        if self.meta:
            out["_meta"] = self.meta
        if task_support and self.task_support != "forbidden":
            out["execution"] = {"taskSupport": self.task_support}
        return out

    def bind(self, arguments: dict[str, Any], context: Any) -> dict[str, Any]:
        """Validate and structure ``arguments`` into keyword arguments for ``fn``.

        Raises:
            ToolArgumentsError: with one readable line per failing field.
        """
        kwargs: dict[str, Any]
        if self._model is None:
            kwargs = {}
        else:
            try:
                obj: Any = converter.structure(arguments, self._model)
            except (cattrs.BaseValidationError, ValueError, TypeError) as exc:
                raise ToolArgumentsError(self.name, error_paths(exc)) from None
            if self._model_param is not None:
                kwargs = {self._model_param: obj}
            else:
                kwargs = {f: getattr(obj, f) for f in self._fields}
        if self._context_param is not None:
            kwargs[self._context_param] = context
        return kwargs

    def invoke(self, kwargs: dict[str, Any]) -> Awaitable[Any]:
        """Run the function (await the result): directly if async, in a worker thread if sync.

        A sync function runs with ``abandon_on_cancel=True``: when the request is
        cancelled or times out, the caller stops waiting for the thread at once.
        Not itself a coroutine, so an async tool adds no frame of ours to every
        in-flight call.
        """
        if self.asyncio:
            from ._asyncio import call_asyncio

            return call_asyncio(self.fn, kwargs)
        return run_function(self.fn, kwargs, is_async=self._is_async, name=f"tool {self.name}")


def _is_context(annotation: Any) -> bool:
    if typing.get_origin(annotation) in (typing.Union, types.UnionType):
        return any(_is_context(arg) for arg in typing.get_args(annotation))
    return isinstance(annotation, type) and issubclass(annotation, Context)


def make_tool(
    fn: Callable[..., Any],
    *,
    name: str | None = None,
    title: str | None = None,
    description: str | None = None,
    timeout: float | None = None,
    annotations: dict[str, Any] | None = None,
    icons: list[dict[str, Any]] | None = None,
    meta: dict[str, Any] | None = None,
    asyncio: bool = False,
    task: str = "forbidden",
    task_start: str = "immediate",
    tags: Iterable[str] = (),
    scopes: Iterable[str] = (),
) -> Tool:
    """Build a :class:`Tool` from a function's signature. Raises ``TypeError`` if it cannot."""
    if asyncio and not inspect.iscoroutinefunction(fn):
        raise TypeError(f"tool {fn.__name__!r}: asyncio=True needs an async def function")
    if task not in ("forbidden", "optional", "required"):
        raise TypeError(f"tool {fn.__name__!r}: task must be 'forbidden', 'optional' or 'required'")
    if task_start not in ("immediate", "explicit"):
        raise TypeError(f"tool {fn.__name__!r}: task_start must be 'immediate' or 'explicit'")
    sig = inspect.signature(fn)
    hints = typing.get_type_hints(fn, include_extras=True)
    context_param: str | None = None
    params: list[inspect.Parameter] = []
    deps: dict[str, Depends] = {}
    for p in sig.parameters.values():
        if p.kind in (p.VAR_POSITIONAL, p.VAR_KEYWORD):
            raise TypeError(f"tool {fn.__name__!r}: *args/**kwargs cannot be described as a schema")
        ann = hints.get(p.name, Any)
        marker = dependency_of(ann, p.default)
        if marker is not None:
            deps[p.name] = marker  # solved per call, never an argument
            continue
        if _is_context(ann):
            context_param = p.name
            continue
        params.append(p)

    model: type | None = None
    model_param: str | None = None
    fields: tuple[str, ...] = ()
    defs: dict[str, Any] = {}
    lone = _lone_model_schema(params, hints)
    if lone is not None:
        model, input_schema = hints[params[0].name], lone
        model_param = params[0].name
    else:
        props: dict[str, Any] = {}
        required: list[str] = []
        model_fields: dict[str, Any] = {}
        for p in params:
            ann = hints.get(p.name, Any)
            prop = schema_for(ann, defs)
            if p.default is not p.empty:
                try:
                    default = converter.unstructure(p.default)
                    encode(default)
                    prop["default"] = default
                except TypeError:
                    pass
            else:
                required.append(p.name)
            desc = describe(ann)
            if desc:
                prop["description"] = desc
            props[p.name] = prop
            default = attrs.NOTHING if p.default is p.empty else p.default
            model_fields[p.name] = attrs.field(type=ann, default=default)
        headers = [p["x-mcp-header"].lower() for p in props.values() if "x-mcp-header" in p]
        if len(set(headers)) < len(headers):
            raise TypeError(f"tool {fn.__name__!r}: two arguments use the same McpHeader name")
        input_schema = {"type": "object", "properties": props}
        if required:
            input_schema["required"] = required
        input_schema["additionalProperties"] = False
        if params:
            model = attrs.make_class(
                f"{fn.__name__}_arguments", model_fields, kw_only=True, slots=True
            )
            fields = tuple(model_fields)
    if defs:
        input_schema["$defs"] = defs
    if model is not None:
        try:  # build the structuring function now: a type cattrs cannot handle fails here
            converter.get_structure_hook(model)
        except cattrs.StructureHandlerNotFoundError as exc:
            raise TypeError(f"tool {fn.__name__!r}: cannot validate arguments: {exc}") from None

    output_schema, wrapped = output_schema_for(hints.get("return"))

    is_async = inspect.iscoroutinefunction(fn)
    if deps:
        if asyncio:
            raise TypeError(
                f"tool {fn.__name__!r}: Depends(...) is not supported with asyncio=True"
            )
        fn, context_param = with_dependencies(
            fn, deps, context_param, is_async=is_async, name=f"tool {name or fn.__name__}"
        )
        is_async = True
    return Tool(
        name=name or fn.__name__,
        fn=fn,
        description=description if description is not None else docstring(fn),
        input_schema=input_schema,
        output_schema=output_schema,
        title=title,
        timeout=timeout,
        annotations=annotations,
        icons=icons,
        meta=meta,
        model=model,
        model_param=model_param,
        context_param=context_param,
        is_async=is_async,
        fields=fields,
        wrapped=wrapped,
        asyncio=asyncio,
        task_support=task,
        task_start=task_start,
        tags=names(tags),
        scopes=names(scopes),
    )


def _lone_model_schema(params: list[inspect.Parameter], hints: dict[str, Any]) -> Any:
    """The object schema of the only parameter's class, if it is a class of fields."""
    if len(params) != 1 or not is_model_class(hints.get(params[0].name)):
        return None
    schema = schema_for(hints[params[0].name])
    return schema if schema.get("type") == "object" else None  # e.g. a pydantic RootModel


_PLAIN = (str, int, float, bool, type(None))


def _unstructured(tp: Any) -> bool:
    """Returns sent as text or content, with no output schema.

    ``None``/``Any``/``object``, plain JSON scalars (and unions or ``Annotated`` of
    them), content blocks and :class:`ToolResult`, and a list or union that may
    hold any of these (``list[Any]`` may be a list of content blocks).
    """
    if tp is None or tp is Any or tp is object or tp in _PLAIN:
        return True
    if isinstance(tp, type) and issubclass(tp, (ToolResult, *CONTENT_TYPES)):
        return True
    origin = typing.get_origin(tp)
    args = typing.get_args(tp)
    if origin is typing.Annotated:
        return _unstructured(args[0])
    if origin in (typing.Union, types.UnionType):
        return all(a in _PLAIN for a in args) or any(_may_hold_content(a) for a in args)
    return _may_hold_content(tp)


def _may_hold_content(tp: Any) -> bool:
    if tp is Any or tp is object:
        return True
    if isinstance(tp, type) and issubclass(tp, (ToolResult, *CONTENT_TYPES)):
        return True
    origin = typing.get_origin(tp)
    if origin is typing.Annotated:
        return _may_hold_content(typing.get_args(tp)[0])
    if origin in (typing.Union, types.UnionType, list, tuple, collections.abc.Sequence):
        return any(_may_hold_content(a) for a in typing.get_args(tp) if a is not Ellipsis)
    return tp in (list, tuple)


def output_schema_for(ret: Any) -> tuple[dict[str, Any] | None, bool]:
    """The output schema of a return annotation, and whether it wraps as ``{"result": ...}``.

    ``(None, False)`` for unstructured returns and for types without a schema
    (those are sent as JSON text, as before).
    """
    if _unstructured(ret):
        return None, False
    defs: dict[str, Any] = {}
    try:
        schema = schema_for(ret, defs, mode="serialization")
    except UnsupportedType:
        return None, False
    wrapped = schema.get("type") != "object"
    if wrapped:
        schema = {"type": "object", "properties": {"result": schema}, "required": ["result"]}
    if defs:
        schema["$defs"] = defs
    return schema, wrapped


def to_call_result(tool: Tool, value: Any, *, structured_ok: bool) -> dict[str, Any]:
    """Turn a tool's return value into a ``CallToolResult`` object.

    ``structured_ok`` is false for protocol versions before 2025-06-18, which
    have no ``structuredContent``.
    """
    if isinstance(value, ToolResult):
        out: dict[str, Any] = {"content": [c.to_wire() for c in value.content]}
        if value.structured is not None and structured_ok:
            out["structuredContent"] = converter.unstructure(value.structured)
        if value.is_error:
            out["isError"] = True
        if value.meta:
            out["_meta"] = value.meta
        return out
    if tool.output_schema is not None and (value is not None or tool._wrapped):
        structured = converter.unstructure(value)
        try:
            text = structured if type(structured) is str else encode(structured).decode()
        except TypeError as exc:
            raise _unserialisable(exc) from None
        out = {"content": [{"type": "text", "text": text}]}
        if structured_ok:
            out["structuredContent"] = {"result": structured} if tool._wrapped else structured
        return out
    return {"content": to_content(value)}


def to_content(value: Any) -> list[dict[str, Any]]:
    """Content blocks for a plain return value."""
    if value is None:
        return []
    if type(value) is str:
        return [{"type": "text", "text": value}]
    if type(value) is float and not math.isfinite(value):
        return [{"type": "text", "text": repr(value)}]  # JSON has no inf/nan: say it in text
    if isinstance(value, CONTENT_TYPES):
        return [value.to_wire()]
    if (
        isinstance(value, list | tuple)
        and value
        and all(isinstance(v, CONTENT_TYPES) for v in value)
    ):
        return [v.to_wire() for v in value]
    try:
        text = encode(converter.unstructure(value)).decode()
    except TypeError as exc:
        raise _unserialisable(exc) from None
    return [{"type": "text", "text": text}]


def _unserialisable(exc: TypeError) -> McpError:
    return McpError(-32603, f"Internal error: tool returned an unserialisable value ({exc})")
