"""Prompts: typed arguments in, messages (text, image, embedded resources) out."""

from __future__ import annotations

import inspect
import typing
from collections.abc import Awaitable, Callable, Iterable
from typing import Any

import attrs

from .._errors import InvalidParams
from .._schema import describe
from ._context import Context
from ._depends import Depends, dependency_of, with_dependencies
from ._functions import docstring, run_function
from ._resources import parse_scalar
from ._visibility import names

__all__ = ["Prompt", "make_prompt"]


@attrs.define(eq=False)
class Prompt:
    """A registered prompt. Built by :func:`make_prompt`; see ``Server.prompt``."""

    name: str
    fn: Callable[..., Any]
    arguments: list[dict[str, Any]]
    params: dict[str, Any]
    title: str | None = None
    description: str | None = None
    icons: list[dict[str, Any]] | None = None
    meta: dict[str, Any] | None = None
    context_param: str | None = None
    is_async: bool = True
    tags: frozenset[str] = attrs.field(default=frozenset(), converter=names)
    """Labels for ``server.enable(tags=...)`` / ``server.disable(tags=...)``."""
    scopes: frozenset[str] = attrs.field(default=frozenset(), converter=names)
    """Token scopes a caller needs to see and use it (HTTP; see ``_visibility``)."""
    enabled: bool = True
    """Set by the registry from the enable/disable rules."""

    def invoke(self, kwargs: dict[str, Any]) -> Awaitable[Any]:
        """Run the prompt function (await the result); a sync one runs in a worker thread."""
        return run_function(self.fn, kwargs, is_async=self.is_async, name=f"prompt {self.name}")

    def definition(self) -> dict[str, Any]:
        out: dict[str, Any] = {"name": self.name}
        if self.title:
            out["title"] = self.title
        if self.description:
            out["description"] = self.description
        if self.arguments:
            out["arguments"] = self.arguments
        if self.icons:
            out["icons"] = self.icons
        if self.meta:
            out["_meta"] = self.meta
        return out

    def bind(self, arguments: dict[str, Any], ctx: Context | None) -> dict[str, Any]:
        """Check required arguments and convert strings to the annotated types.

        Raises:
            InvalidParams: a required argument is missing or one does not convert.
        """
        missing = [
            a["name"] for a in self.arguments if a.get("required") and a["name"] not in arguments
        ]
        if missing:
            raise InvalidParams(
                f"Invalid params: missing required argument(s) {missing} for prompt {self.name}"
            )
        unknown = sorted(set(arguments) - set(self.params))
        if unknown:
            raise InvalidParams(
                f"Invalid params: unknown argument(s) {unknown} for prompt {self.name}"
            )
        kwargs: dict[str, Any] = {}
        for key, value in arguments.items():
            if not isinstance(value, str):
                raise InvalidParams(f"Invalid params: prompt argument {key!r} must be a string")
            kwargs[key] = parse_scalar(value, self.params[key], f"argument {key!r}")
        if self.context_param is not None:
            kwargs[self.context_param] = ctx
        return kwargs


def make_prompt(
    fn: Callable[..., Any],
    *,
    name: str | None = None,
    title: str | None = None,
    description: str | None = None,
    icons: list[dict[str, Any]] | None = None,
    meta: dict[str, Any] | None = None,
    tags: Iterable[str] = (),
    scopes: Iterable[str] = (),
) -> Prompt:
    """Build a :class:`Prompt` from a function's signature."""
    hints = typing.get_type_hints(fn, include_extras=True)
    arguments: list[dict[str, Any]] = []
    params: dict[str, Any] = {}
    context_param = None
    deps: dict[str, Depends] = {}
    for p in inspect.signature(fn).parameters.values():
        ann = hints.get(p.name, str)
        marker = dependency_of(ann, p.default)
        if marker is not None:
            deps[p.name] = marker
            continue
        base = typing.get_args(ann)[0] if typing.get_origin(ann) is typing.Annotated else ann
        if isinstance(base, type) and issubclass(base, Context):
            context_param = p.name
            continue
        params[p.name] = base
        arg: dict[str, Any] = {"name": p.name, "required": p.default is p.empty}
        desc = describe(ann)
        if desc:
            arg["description"] = desc
        arguments.append(arg)
    is_async = inspect.iscoroutinefunction(fn)
    if deps:
        fn, context_param = with_dependencies(
            fn, deps, context_param, is_async=is_async, name=f"prompt {name or fn.__name__}"
        )
        is_async = True
    return Prompt(
        name=name or fn.__name__,
        fn=fn,
        arguments=arguments,
        params=params,
        title=title,
        description=description if description is not None else docstring(fn),
        icons=icons,
        meta=meta,
        context_param=context_param,
        is_async=is_async,
        tags=names(tags),
        scopes=names(scopes),
    )
