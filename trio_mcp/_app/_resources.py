"""Resources: static URIs and RFC 6570 URI templates, read through typed handlers.

Template syntax (RFC 6570, the matching subset):

* ``{var}`` — simple expansion: one value without ``/``, percent-decoded;
* ``{+var}`` and ``{#var}`` — reserved expansion: any characters, ``/`` included;
* ``{/var}`` — a path segment; ``{/var*}`` and ``{var*}`` — one or more segments;
* ``{?a,b}`` and ``{&a,b}`` — query parameters, each optional.

The template's variables are passed to the handler by name, converted to the
handler's annotated types (``int``, ``float``, ``bool``, ``str``...).
"""

from __future__ import annotations

import base64
import inspect
import re
import typing
import urllib.parse
from collections.abc import Callable
from typing import Any

import attrs

from .._errors import InvalidParams
from .._schema import EmbeddedResource
from .._wire import encode
from ._context import Context
from ._depends import Depends, dependency_of, with_dependencies
from ._functions import run_function
from ._visibility import names

__all__ = ["Resource", "ResourceContents", "ResourceTemplate", "contents_of", "parse_scalar"]

_EXPR = re.compile(r"\{([+#/?&]?)([A-Za-z0-9_.,*]+)\}")


@attrs.frozen
class ResourceContents:
    """One item of ``resources/read`` contents: ``text`` or binary ``blob``.

    Return it (or a list of them) from a resource handler for full control.
    """

    uri: str
    text: str | None = None
    blob: bytes | None = None
    mime_type: str | None = None
    meta: dict[str, Any] | None = None

    def to_wire(self) -> dict[str, Any]:
        out: dict[str, Any] = {"uri": self.uri}
        if self.mime_type:
            out["mimeType"] = self.mime_type
        if self.blob is not None:
            out["blob"] = base64.b64encode(self.blob).decode("ascii")
        else:
            out["text"] = self.text or ""
        if self.meta:
            out["_meta"] = self.meta
        return out


def contents_of(uri: str, value: Any, mime_type: str | None) -> list[dict[str, Any]]:
    """Turn what a resource handler returned into ``contents`` items."""
    if isinstance(value, ResourceContents):
        return [value.to_wire()]
    if isinstance(value, EmbeddedResource):
        return [value.to_wire()["resource"]]
    if isinstance(value, list) and value and all(isinstance(v, ResourceContents) for v in value):
        return [v.to_wire() for v in value]
    if isinstance(value, bytes | bytearray):
        return [
            ResourceContents(
                uri, blob=bytes(value), mime_type=mime_type or "application/octet-stream"
            ).to_wire()
        ]
    if isinstance(value, str):
        return [ResourceContents(uri, text=value, mime_type=mime_type or "text/plain").to_wire()]
    text = encode(value).decode()
    return [ResourceContents(uri, text=text, mime_type=mime_type or "application/json").to_wire()]


def parse_scalar(raw: str, annotation: Any, where: str) -> Any:
    """Convert a URI or prompt argument string to the annotated scalar type."""
    origin_args = (
        typing.get_args(annotation) if typing.get_origin(annotation) is typing.Union else ()
    )
    if origin_args:  # Optional[T]: use T
        non_null = [a for a in origin_args if a is not type(None)]
        annotation = non_null[0] if len(non_null) == 1 else str
    try:
        if annotation is int:
            return int(raw)
        if annotation is float:
            return float(raw)
        if annotation is bool:
            lowered = raw.lower()
            if lowered in ("true", "1", "yes"):
                return True
            if lowered in ("false", "0", "no"):
                return False
            raise ValueError(raw)
    except ValueError:
        name = getattr(annotation, "__name__", str(annotation))
        raise InvalidParams(f"Invalid params: {where}: expected {name}, got {raw!r}") from None
    return raw


@attrs.define(eq=False)
class _Handler:
    fn: Callable[..., Any]
    params: dict[str, Any]
    context_param: str | None
    is_async: bool

    @classmethod
    def of(cls, fn: Callable[..., Any]) -> _Handler:
        hints = typing.get_type_hints(fn, include_extras=True)
        params: dict[str, Any] = {}
        context_param = None
        deps: dict[str, Depends] = {}
        for p in inspect.signature(fn).parameters.values():
            ann = hints.get(p.name, str)
            marker = dependency_of(ann, p.default)
            if typing.get_origin(ann) is typing.Annotated:
                ann = typing.get_args(ann)[0]
            if marker is not None:
                deps[p.name] = marker
            elif isinstance(ann, type) and issubclass(ann, Context):
                context_param = p.name
            else:
                params[p.name] = ann
        is_async = inspect.iscoroutinefunction(fn)
        if deps:
            fn, context_param = with_dependencies(
                fn, deps, context_param, is_async=is_async, name="resource"
            )
            is_async = True
        return cls(fn, params, context_param, is_async)

    async def call(self, kwargs: dict[str, Any], ctx: Context | None) -> Any:

        if self.context_param is not None:
            kwargs[self.context_param] = ctx
        return await run_function(self.fn, kwargs, is_async=self.is_async, name="resource")


@attrs.define(eq=False)
class Resource:
    """A static resource at a fixed URI."""

    uri: str
    name: str
    handler: _Handler
    title: str | None = None
    description: str | None = None
    mime_type: str | None = None
    size: int | None = None
    annotations: dict[str, Any] | None = None
    icons: list[dict[str, Any]] | None = None
    meta: dict[str, Any] | None = None
    tags: frozenset[str] = attrs.field(default=frozenset(), converter=names)
    """Labels for ``server.enable(tags=...)`` / ``server.disable(tags=...)``."""
    scopes: frozenset[str] = attrs.field(default=frozenset(), converter=names)
    """Token scopes a caller needs to see and use it (HTTP; see ``_visibility``)."""
    enabled: bool = True
    """Set by the registry from the enable/disable rules."""

    def definition(self) -> dict[str, Any]:
        out: dict[str, Any] = {"uri": self.uri, "name": self.name}
        _describe(out, self)
        if self.size is not None:
            out["size"] = self.size
        return out


@attrs.define(eq=False)
class ResourceTemplate:
    """A family of resources described by an RFC 6570 URI template."""

    uri_template: str
    name: str
    handler: _Handler
    title: str | None = None
    description: str | None = None
    mime_type: str | None = None
    annotations: dict[str, Any] | None = None
    icons: list[dict[str, Any]] | None = None
    meta: dict[str, Any] | None = None
    tags: frozenset[str] = attrs.field(default=frozenset(), converter=names)
    """Labels for ``server.enable(tags=...)`` / ``server.disable(tags=...)``."""
    scopes: frozenset[str] = attrs.field(default=frozenset(), converter=names)
    """Token scopes a caller needs to see and use it (HTTP; see ``_visibility``)."""
    enabled: bool = True
    """Set by the registry from the enable/disable rules."""
    _regex: re.Pattern[str] = attrs.field(init=False)
    _query: list[str] = attrs.field(init=False)
    variables: list[str] = attrs.field(init=False)

    def __attrs_post_init__(self) -> None:
        self._regex, self._query, self.variables = _compile(self.uri_template)
        missing = [v for v in self.variables if v not in self.handler.params]
        if missing:
            raise TypeError(
                f"resource template {self.uri_template!r}: handler has no parameter for {missing}"
            )

    def match(self, uri: str) -> dict[str, Any] | None:
        """The typed handler arguments if ``uri`` matches, else ``None``."""
        base, _, query = uri.partition("?") if self._query else (uri, "", "")
        m = self._regex.fullmatch(base)
        if m is None:
            return None
        raw = {k: urllib.parse.unquote(v) for k, v in m.groupdict().items() if v is not None}
        if self._query:
            for key, value in urllib.parse.parse_qsl(query):
                if key in self._query:
                    raw[key] = value
        return {
            k: parse_scalar(v, self.handler.params.get(k, str), f"uri parameter {k!r}")
            for k, v in raw.items()
        }

    def definition(self) -> dict[str, Any]:
        out: dict[str, Any] = {"uriTemplate": self.uri_template, "name": self.name}
        _describe(out, self)
        return out


def _describe(out: dict[str, Any], item: Resource | ResourceTemplate) -> None:
    for key, value in (
        ("title", item.title),
        ("description", item.description),
        ("mimeType", item.mime_type),
        ("annotations", item.annotations),
        ("icons", item.icons),
        ("_meta", item.meta),
    ):
        if value is not None:
            out[key] = value


def _compile(template: str) -> tuple[re.Pattern[str], list[str], list[str]]:
    pattern = ""
    query: list[str] = []
    variables: list[str] = []
    pos = 0
    for m in _EXPR.finditer(template):
        pattern += re.escape(template[pos : m.start()])
        pos = m.end()
        op, names = m.group(1), m.group(2).split(",")
        if op in ("?", "&"):
            query.extend(n.rstrip("*") for n in names)
            variables.extend(n.rstrip("*") for n in names)
            continue
        for i, name in enumerate(names):
            explode = name.endswith("*")
            name = name.rstrip("*")
            variables.append(name)
            if op == "/":
                body = "[^?#]+" if explode else "[^/?#]+"
                pattern += f"/(?P<{name}>{body})"
            elif op in ("+", "#"):
                prefix = "#" if op == "#" and i == 0 else ("," if i else "")
                pattern += re.escape(prefix) + f"(?P<{name}>.+?)"
            else:
                sep = "," if i else ""
                body = "[^?#]+" if explode else "[^/?#,]+"
                pattern += re.escape(sep) + f"(?P<{name}>{body})"
    pattern += re.escape(template[pos:])
    return re.compile(pattern), query, variables
