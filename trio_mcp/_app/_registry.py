"""The server's components, in one place: tools, resources, templates, prompts, the completer.

The :class:`Registry` is what the method handlers read (``tools/list``,
``resources/read``...) and what the decorators of :class:`~trio_mcp.Server`
write. It knows nothing about sessions, transports or eras: a change is
reported through ``on_change(kind)`` and whoever composes the server (the
dispatcher) turns it into ``list_changed`` notifications. Pagination of list
results lives here too, since every list is a view of the registry.

Besides its own components, a registry has **providers** (:class:`Provider`):
other sources of components, in the parent's namespace, asked in the order
they were added after the registry's own components. A mounted server
(``server.mount``, :mod:`._mount`) and a proxied one (``trio_mcp.proxy``,
:mod:`._proxy`) are providers. Nothing is copied: lists ask the provider each
time and a call is forwarded to it, so a provider's later changes show at once.
"""

from __future__ import annotations

import base64
import inspect
from collections.abc import Awaitable, Callable, Iterable
from typing import TYPE_CHECKING, Any, Literal, Protocol

import attrs
import trio

from .._errors import InvalidParams
from ._prompts import Prompt
from ._resources import Resource, ResourceTemplate, _Handler
from ._tools import Tool
from ._visibility import Rules

if TYPE_CHECKING:
    from .._protocol import IncomingRequest
    from .._runtime import Peer

__all__ = ["Completer", "Completion", "CompletionRequest", "Provider", "Registry"]

ListKind = Literal["tools", "resources", "prompts"]
Kind = Literal["tool", "prompt", "resource", "template"]
"""What a provider may be asked about: a tool or prompt name, a resource URI, a template."""


class Provider(Protocol):
    """A source of components beside a registry's own (a mounted or a proxied server).

    Names and URIs are the parent's (already namespaced). The method handlers
    ask :meth:`knows` where a component lives, :meth:`items` for lists, and
    :meth:`forward` to answer a request about one of its components; the
    server runs :meth:`run` in its services while it serves.
    """

    def knows(self, kind: Kind, key: str) -> bool:
        """Whether a request about ``key`` (a ``kind``) is this provider's to answer."""
        ...

    def tool(self, name: str) -> Tool | None:
        """The :class:`Tool` behind ``name`` where there is one (deadlines, HTTP header checks)."""
        ...

    @property
    def tasks_supported(self) -> bool:
        """True while one of its tools may run as a task."""
        ...

    async def items(self, req: IncomingRequest, peer: Peer, ctx: Any) -> list[dict[str, Any]]:
        """Every item of the list ``req.method`` names (all pages), in wire form."""
        ...

    async def forward(self, req: IncomingRequest, peer: Peer, ctx: Any) -> dict[str, Any]:
        """Answer ``req`` (``tools/call``, ``prompts/get``, ``resources/read``...).

        Raises:
            McpError: the answer is an error.
        """
        ...

    async def run(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        """Run while the server serves (nursery start protocol) until :meth:`stop`."""
        ...

    def stop(self) -> None:
        """Make :meth:`run` return (the server stops serving)."""
        ...


@attrs.frozen
class CompletionRequest:
    """What ``completion/complete`` asks: complete ``argument`` of ``ref``, typed so far ``value``.

    Attributes:
        ref_type: ``"prompt"`` or ``"resource"`` (a resource template).
        ref: The prompt name, or the resource template's URI template.
        argument: The argument (or template variable) being completed.
        value: What the user typed so far.
        context: Values of the other arguments already chosen (``context.arguments``).
    """

    ref_type: str
    ref: str
    argument: str
    value: str
    context: dict[str, str]


@attrs.frozen
class Completion:
    """A completer's answer. ``total``/``has_more`` default to what ``values`` implies."""

    values: list[str]
    total: int | None = None
    has_more: bool | None = None


Completer = Callable[[CompletionRequest], Awaitable["list[str] | Completion"]]


def _ignore(kind: ListKind) -> None:
    return None


@attrs.define(eq=False)
class Registry:
    """Every component a server offers, by name or URI.

    Attributes:
        page_size: Items per page of list results (``None``: one page).
        on_change: Called with ``"tools"``, ``"resources"`` or ``"prompts"``
            after a registration or removal changed that list.
    """

    page_size: int | None = None
    on_change: Callable[[ListKind], None] = _ignore
    tools: dict[str, Tool] = attrs.field(factory=dict, init=False)
    resources: dict[str, Resource] = attrs.field(factory=dict, init=False)
    templates: dict[str, ResourceTemplate] = attrs.field(factory=dict, init=False)
    prompts: dict[str, Prompt] = attrs.field(factory=dict, init=False)
    completer: Completer | None = attrs.field(default=None, init=False)
    rules: Rules = attrs.field(factory=Rules, init=False)
    providers: list[Provider] = attrs.field(factory=list, init=False)

    # ----------------------------------------------------------------- tools

    def add_tool(self, tool: Tool, *, replace: bool = False) -> None:
        """Register ``tool``.

        Raises:
            ValueError: a tool of that name exists and ``replace`` is false.
        """
        _check_new("tool", tool.name, self.tools.get(tool.name), replace)
        tool.enabled = self.rules.allows((tool.name,), tool.tags)
        self.tools[tool.name] = tool
        self.on_change("tools")

    def remove_tool(self, name: str) -> None:
        """Unregister a tool. Raises ``KeyError`` if there is none by that name."""
        del self.tools[name]
        self.on_change("tools")

    def tool(self, name: object) -> Tool | None:
        """The tool called ``name``, here or at a provider; ``None`` for anything else
        (any JSON value may arrive)."""
        if type(name) is not str:
            return None
        tool = self.tools.get(name)
        if tool is None:
            for provider in self.providers:
                tool = provider.tool(name)
                if tool is not None:
                    break
        return tool

    @property
    def tasks_supported(self) -> bool:
        """True while some tool (here or at a provider) may run as a task."""
        return any(t.task_support != "forbidden" for t in self.tools.values()) or any(
            p.tasks_supported for p in self.providers
        )

    @property
    def needs_asyncio(self) -> bool:
        """True if a tool runs on asyncio (through trio-asyncio)."""
        return any(t.asyncio for t in self.tools.values())

    # ------------------------------------------------------------- resources

    def add_resource(self, item: Resource | ResourceTemplate, *, replace: bool = False) -> None:
        """Register a fixed resource or a URI template.

        Raises:
            ValueError: one is registered at that URI (template) and ``replace`` is false.
        """
        if isinstance(item, ResourceTemplate):
            uri = item.uri_template
            _check_new("resource template", uri, self.templates.get(uri), replace)
            item.enabled = self.rules.allows(_keys(item), item.tags)
            self.templates[uri] = item
        else:
            _check_new("resource", item.uri, self.resources.get(item.uri), replace)
            item.enabled = self.rules.allows(_keys(item), item.tags)
            self.resources[item.uri] = item
        self.on_change("resources")

    def remove_resource(self, uri: str) -> None:
        """Unregister a resource or template by its URI (template). Raises ``KeyError``."""
        if self.resources.pop(uri, None) is None:
            del self.templates[uri]
        self.on_change("resources")

    def find_resource(
        self, uri: str
    ) -> tuple[_Handler, dict[str, Any], str | None, Resource | ResourceTemplate] | None:
        """The handler for ``uri``, its template variables, MIME type and the component.

        ``None`` if no enabled resource or template serves ``uri``.
        """
        resource = self.resources.get(uri)
        if resource is not None and resource.enabled:
            return resource.handler, {}, resource.mime_type, resource
        for template in self.templates.values():
            if not template.enabled:
                continue
            matched = template.match(uri)
            if matched is not None:
                return template.handler, matched, template.mime_type, template
        return None

    # --------------------------------------------------------------- prompts

    def add_prompt(self, prompt: Prompt, *, replace: bool = False) -> None:
        """Register ``prompt``.

        Raises:
            ValueError: a prompt of that name exists and ``replace`` is false.
        """
        _check_new("prompt", prompt.name, self.prompts.get(prompt.name), replace)
        prompt.enabled = self.rules.allows((prompt.name,), prompt.tags)
        self.prompts[prompt.name] = prompt
        self.on_change("prompts")

    def remove_prompt(self, name: str) -> None:
        """Unregister a prompt. Raises ``KeyError``."""
        del self.prompts[name]
        self.on_change("prompts")

    def prompt(self, name: object) -> Prompt | None:
        """The enabled prompt called ``name``; ``None`` for anything else."""
        prompt = self.prompts.get(name) if type(name) is str else None
        return prompt if prompt is not None and prompt.enabled else None

    # ------------------------------------------------------------- providers

    def add_provider(self, provider: Provider) -> None:
        """Add a source of components (asked after this registry's own); every list changed."""
        self.providers.append(provider)
        for kind in ("tools", "resources", "prompts"):
            self.on_change(kind)

    def knows(self, kind: Kind, key: str) -> bool:
        """Whether ``key`` names an enabled component here or at a provider."""
        if kind == "tool":
            tool = self.tools.get(key)
            found = tool is not None and tool.enabled
        elif kind == "prompt":
            found = self.prompt(key) is not None
        elif kind == "resource":
            found = self.find_resource(key) is not None
        else:
            found = key in self.templates or key in self.resources
        return found or self.provider_for(kind, key) is not None

    def provider_for(self, kind: Kind, key: object) -> Provider | None:
        """The first provider that answers for ``key``, if any (``None`` for a non-string)."""
        if type(key) is not str:
            return None
        for provider in self.providers:
            if provider.knows(kind, key):
                return provider
        return None

    # ------------------------------------------------------------ visibility

    def enable(self, names: Iterable[str] = (), tags: Iterable[str] = ()) -> None:
        """Enable components by name (or URI) and tag; lists that changed are reported."""
        self._apply(self.rules.enable, names, tags)

    def disable(self, names: Iterable[str] = (), tags: Iterable[str] = ()) -> None:
        """Disable components by name (or URI) and tag; lists that changed are reported."""
        self._apply(self.rules.disable, names, tags)

    def _apply(
        self,
        change: Callable[[Iterable[str], Iterable[str]], None],
        names: Iterable[str],
        tags: Iterable[str],
    ) -> None:
        if isinstance(names, str) or isinstance(tags, str):
            raise TypeError("names and tags are collections of strings, not a string")
        change(list(names), list(tags))
        kinds: list[tuple[ListKind, list[Any]]] = [
            ("tools", list(self.tools.values())),
            ("resources", [*self.resources.values(), *self.templates.values()]),
            ("prompts", list(self.prompts.values())),
        ]
        for kind, items in kinds:
            changed = False
            for item in items:
                now = self.rules.allows(_keys(item), item.tags)
                if now != item.enabled:
                    item.enabled = now
                    changed = True
            if changed:
                self.on_change(kind)

    # ------------------------------------------------------------ pagination

    def page(self, key: str, items: list[Any], cursor: Any) -> dict[str, Any]:
        """One page of a list result: ``{key: items[...], "nextCursor"?: ...}``.

        Raises:
            InvalidParams: ``cursor`` is not one this server issued for this list.
        """
        start = 0 if cursor is None else _decode_cursor(cursor, len(items))
        size = self.page_size
        result: dict[str, Any] = {}
        if size is None:
            result[key] = items[start:]
            return result
        end = start + size
        result[key] = items[start:end]
        if end < len(items):
            result["nextCursor"] = _encode_cursor(end)
        return result


def _keys(item: Any) -> tuple[str, ...]:
    """What ``enable``/``disable`` may name a component by: its name, and its URI (template)."""
    if isinstance(item, Resource):
        return (item.name, item.uri)
    if isinstance(item, ResourceTemplate):
        return (item.name, item.uri_template)
    return (item.name,)


def _check_new(kind: str, key: str, existing: Any, replace: bool) -> None:
    if existing is None or replace:
        return
    fn = existing.handler.fn if hasattr(existing, "handler") else existing.fn
    raise ValueError(
        f"{kind} {key!r} is already registered (by {_origin(fn)}); pass replace=True to replace it"
    )


def _origin(fn: Callable[..., Any]) -> str:
    """``name at file:line`` of a function, as far as it can be told."""
    name = getattr(fn, "__qualname__", None) or repr(fn)
    code = getattr(inspect.unwrap(fn), "__code__", None)
    if code is None:
        return name
    return f"{name} at {code.co_filename}:{code.co_firstlineno}"


def _encode_cursor(offset: int) -> str:
    return base64.urlsafe_b64encode(f"o:{offset}".encode()).decode()


def _decode_cursor(cursor: Any, total: int) -> int:
    try:
        raw = base64.urlsafe_b64decode(cursor.encode()).decode()
        kind, _, value = raw.partition(":")
        offset = int(value)
        if kind != "o" or not 0 <= offset <= total:
            raise ValueError
    except (AttributeError, ValueError, UnicodeError):
        raise InvalidParams(f"Invalid params: invalid cursor {cursor!r}") from None
    return offset
