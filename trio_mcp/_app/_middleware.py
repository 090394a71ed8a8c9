"""Middleware: the user's chain around every request, compiled once per method.

A middleware is either a plain function around every request::

    async def timing(ctx: Context, call_next: CallNext) -> dict[str, Any]:
        start = trio.current_time()
        try:
            return await call_next(ctx)
        finally:
            ctx.timings["total"] = trio.current_time() - start

or a :class:`Middleware` whose hooks (``on_request`` around every request,
then one per family: ``on_call_tool``, ``on_read_resource``...) default to
calling the next one. The first middleware added is the outermost.

It runs in the request's own task, inside its cancel scope: the deadline and
a client's cancel reach it, and what it raises goes through the runtime's one
exception-to-wire boundary (an :class:`~trio_mcp.McpError` is sent as is,
anything else becomes a generic ``-32603``). It may short-circuit (return a
result without calling next), rewrite the params (``ctx.params = ...``)
before calling next, or rewrite the result after.

:func:`compile_chain` turns the list into one callable per method: the hooks
a middleware does not override are skipped, and each link is a plain call (no
coroutine frame of its own), so a chain of *n* middlewares costs *n* coroutine
frames, those of the hooks themselves. The chain belongs to the server whose
registry holds the component (``ServerCore.middleware``), so a mounted
server's own chain can wrap its own components.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

import attrs

from ._context import Context

if TYPE_CHECKING:
    from ._server import Server
    from ._tracing import Tracing

__all__ = [
    "HOOKS",
    "CallNext",
    "Middleware",
    "MiddlewareFunction",
    "Notification",
    "NotifyNext",
    "compile_chain",
    "compile_notification_chain",
]

CallNext = Callable[[Context], Awaitable[dict[str, Any]]]
"""What a middleware calls to go on: ``await call_next(ctx)`` returns the result."""

MiddlewareFunction = Callable[[Context, CallNext], Awaitable[dict[str, Any]]]
"""A plain function middleware: ``async def mw(ctx, call_next) -> dict``."""

HOOKS: dict[str, str] = {
    "tools/call": "on_call_tool",
    "tools/list": "on_list_tools",
    "resources/read": "on_read_resource",
    "resources/list": "on_list_resources",
    "resources/templates/list": "on_list_resource_templates",
    "prompts/get": "on_get_prompt",
    "prompts/list": "on_list_prompts",
    "completion/complete": "on_complete",
}
"""Method -> the :class:`Middleware` hook of its family (every request also gets ``on_request``)."""


@attrs.frozen
class Notification:
    """A client notification that reached the application (``on_notification``).

    Attributes:
        method: e.g. ``"notifications/roots/list_changed"``.
        params: Its params (``_meta`` included).
    """

    method: str
    params: dict[str, Any]


NotifyNext = Callable[[Notification], Awaitable[None]]
"""What ``on_notification`` calls to go on."""


class Middleware:
    """A middleware with one hook per request family; each defaults to calling next.

    Override the hooks you need. Each takes the request's
    :class:`~trio_mcp.Context` and ``call_next``, and returns the result
    object (the wire form: ``{"content": [...]}`` for ``tools/call``,
    ``{"tools": [...]}`` for ``tools/list``...). For a request,
    ``on_request`` runs first and around the family hook. Requests the
    protocol session answers itself (``initialize``, ``ping``,
    ``logging/setLevel``, ``server/discover``) never reach middleware.
    """

    def attach(self, server: Server) -> None:
        """Called once when the middleware is added to ``server`` (a place for wiring)."""

    async def on_request(self, ctx: Context, call_next: CallNext) -> dict[str, Any]:
        """Around every request that reaches the application."""
        return await call_next(ctx)

    async def on_call_tool(self, ctx: Context, call_next: CallNext) -> dict[str, Any]:
        """Around ``tools/call`` (``ctx.params["name"]``, ``ctx.params.get("arguments")``)."""
        return await call_next(ctx)

    async def on_list_tools(self, ctx: Context, call_next: CallNext) -> dict[str, Any]:
        """Around ``tools/list``."""
        return await call_next(ctx)

    async def on_read_resource(self, ctx: Context, call_next: CallNext) -> dict[str, Any]:
        """Around ``resources/read`` (``ctx.params["uri"]``)."""
        return await call_next(ctx)

    async def on_list_resources(self, ctx: Context, call_next: CallNext) -> dict[str, Any]:
        """Around ``resources/list``."""
        return await call_next(ctx)

    async def on_list_resource_templates(self, ctx: Context, call_next: CallNext) -> dict[str, Any]:
        """Around ``resources/templates/list``."""
        return await call_next(ctx)

    async def on_get_prompt(self, ctx: Context, call_next: CallNext) -> dict[str, Any]:
        """Around ``prompts/get`` (``ctx.params["name"]``)."""
        return await call_next(ctx)

    async def on_list_prompts(self, ctx: Context, call_next: CallNext) -> dict[str, Any]:
        """Around ``prompts/list``."""
        return await call_next(ctx)

    async def on_complete(self, ctx: Context, call_next: CallNext) -> dict[str, Any]:
        """Around ``completion/complete``."""
        return await call_next(ctx)

    async def on_notification(self, note: Notification, call_next: NotifyNext) -> None:
        """Around a client notification that reached the application."""
        await call_next(note)


class _Link:
    """One link: ``hook(ctx, next)``, returned without a frame of its own."""

    __slots__ = ("hook", "next")

    def __init__(self, hook: Callable[[Any, Any], Awaitable[Any]], next: Any) -> None:
        self.hook = hook
        self.next = next

    def __call__(self, arg: Any) -> Awaitable[Any]:
        return self.hook(arg, self.next)


class _TracedLink(_Link):
    """A link inside its own span, ``middleware {name}`` (tracing on: :mod:`._tracing`)."""

    __slots__ = ("name", "tracing")

    def __init__(self, hook: Any, next: Any, tracing: Tracing, name: str) -> None:
        super().__init__(hook, next)
        self.tracing = tracing
        self.name = f"middleware {name}"

    async def __call__(self, arg: Any) -> Any:
        with self.tracing.child(self.name):
            return await self.hook(arg, self.next)


def _link(hook: Any, next: Any, tracing: Tracing | None, name: str) -> _Link:
    return _Link(hook, next) if tracing is None else _TracedLink(hook, next, tracing, name)


def _overrides(mw: Middleware, hook: str) -> bool:
    return getattr(type(mw), hook, None) is not getattr(Middleware, hook)


def compile_chain(
    middleware: list[Any], method: str, terminal: CallNext, tracing: Tracing | None = None
) -> CallNext:
    """The chain for ``method``: ``middleware[0]`` outermost, ``terminal`` innermost.

    With ``tracing``, each link runs in its own span (``middleware Class.hook``,
    or ``middleware function`` for a plain function).
    """
    chain: Any = terminal
    family = HOOKS.get(method)
    for mw in reversed(middleware):
        if not isinstance(mw, Middleware):  # a plain function: around every request
            chain = _link(mw, chain, tracing, getattr(mw, "__qualname__", type(mw).__name__))
            continue
        kind = type(mw).__name__
        if family is not None and _overrides(mw, family):
            chain = _link(getattr(mw, family), chain, tracing, f"{kind}.{family}")
        if _overrides(mw, "on_request"):
            chain = _link(mw.on_request, chain, tracing, f"{kind}.on_request")
    result: CallNext = chain
    return result


def compile_notification_chain(
    middleware: list[Any], terminal: NotifyNext, tracing: Tracing | None = None
) -> NotifyNext | None:
    """The ``on_notification`` chain, or ``None`` when no middleware has the hook."""
    chain: Any = terminal
    found = False
    for mw in reversed(middleware):
        if isinstance(mw, Middleware) and _overrides(mw, "on_notification"):
            name = f"{type(mw).__name__}.on_notification"
            chain = _link(mw.on_notification, chain, tracing, name)
            found = True
    return chain if found else None
