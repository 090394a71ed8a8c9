"""``server.mount(child, prefix=...)``: another server's components, live, in this one's namespace.

A :class:`Mount` is a :class:`~._registry.Provider`: nothing is copied at mount
time. A list asks the child's dispatcher for its list (through the child's
middleware) and renames the items; a request about a child's component is
renamed back and handed to the child's dispatcher, the very path the child
serves its own clients by (its middleware, visibility, scopes, deadlines of
its tools, MRTR state signed with its key). So a tool added to the child later
is there at once, and the child's middleware wraps its own components only
(the parent's wraps everything, outside it).

The namespace (``prefix="weather"``):

* tools and prompts: ``weather_forecast`` (``prefix`` + ``_`` + name, as fastmcp);
* resources and templates: ``weather+file:///data.csv``, ``weather+users://{id}``:
  the prefix joins the URI's scheme with ``+``. The result is still an RFC 3986
  URI (a scheme may contain ``+``), the authority and path stay the child's
  (so a template matches the same way), and taking the prefix off is a string
  test, never a guess.

The child's changes reach the parent's clients: its ``list_changed`` and
``resources/updated`` (with the URI renamed) go through the parent's core to
its sessions and listen streams. Its lifespan and background tasks run while
the parent serves, in the parent's services (:meth:`Mount.run`), and end when
it stops, after the parent's own tasks. Task-augmented calls of a mounted tool
live in the parent's task store, which the child shares from the mount on.
"""

from __future__ import annotations

import contextvars
import re
from typing import TYPE_CHECKING, Any

import attrs
import trio

from ._middleware import CallNext, Middleware
from ._registry import Kind

if TYPE_CHECKING:
    from .._protocol import IncomingRequest
    from .._runtime import Peer
    from ._core import ServerCore
    from ._server import Server
    from ._tools import Tool

__all__ = ["Mount", "check_prefix"]

#: A prefix must make a valid tool name and URI scheme once joined: a letter, then letters,
#: digits, ``-`` or ``.``.
PREFIX = re.compile(r"[A-Za-z][A-Za-z0-9.-]*")

#: Methods whose ``params.name`` is a component name, and whose ``params.uri`` is a URI.
_BY_NAME = frozenset({"tools/call", "prompts/get"})
_BY_URI = frozenset({"resources/read", "resources/subscribe", "resources/unsubscribe"})
_LISTS = {
    "tools/list": ("tools", "name"),
    "prompts/list": ("prompts", "name"),
    "resources/list": ("resources", "uri"),
    "resources/templates/list": ("resourceTemplates", "uriTemplate"),
}


#: The parent's Context of the request a mount is forwarding (for :class:`_ToParent`).
_outer: contextvars.ContextVar[Any] = contextvars.ContextVar("trio_mcp_mount_outer", default=None)


class _ToParent(Middleware):
    """The child's outermost link: what its tool raised is the parent's ``ctx.exception`` too.

    So the parent's middleware sees a mounted tool's failure as it sees one of its
    own (``ErrorMasking`` masks it, ``RequestLogging`` reports it).
    """

    async def on_call_tool(self, ctx: Any, call_next: CallNext) -> dict[str, Any]:
        result = await call_next(ctx)
        outer = _outer.get()
        if outer is not None and ctx.exception is not None:
            outer.exception = ctx.exception
        return result


def check_prefix(prefix: str | None) -> None:
    """Raises ``ValueError`` for a prefix that would not make valid names and URIs."""
    if prefix is not None and (not isinstance(prefix, str) or not PREFIX.fullmatch(prefix)):
        raise ValueError(
            f"mount prefix {prefix!r}: expected a letter, then letters, digits, '-' or '.'"
        )


@attrs.define(eq=False)
class Mount:
    """``child`` mounted in ``parent`` under ``prefix`` (``None``: names unchanged)."""

    parent: ServerCore
    child: Server
    prefix: str | None
    _stop: trio.Event | None = attrs.field(default=None, init=False)

    def __attrs_post_init__(self) -> None:
        core = self.child._core
        core.watchers.append(self._child_changed)
        core.tasks = self.parent.tasks  # tasks/get, tasks/cancel... are the parent's to answer
        core.middleware.insert(0, _ToParent())
        core._chains.clear()

    # -------------------------------------------------------------- names

    def outward_name(self, name: str) -> str:
        return name if self.prefix is None else f"{self.prefix}_{name}"

    def outward_uri(self, uri: str) -> str:
        return uri if self.prefix is None else f"{self.prefix}+{uri}"

    def inward(self, kind: Kind, key: str) -> str | None:
        """The child's own name for ``key``; ``None`` if ``key`` is not in its namespace."""
        if self.prefix is None:
            return key
        sep = "_" if kind in ("tool", "prompt") else "+"
        head = self.prefix + sep
        return key[len(head) :] if key.startswith(head) else None

    # ----------------------------------------------------------- provider

    def knows(self, kind: Kind, key: str) -> bool:
        inner = self.inward(kind, key)
        return inner is not None and self.child._core.registry.knows(kind, inner)

    def tool(self, name: str) -> Tool | None:
        inner = self.inward("tool", name)
        return None if inner is None else self.child._core.registry.tool(inner)

    @property
    def tasks_supported(self) -> bool:
        return self.child._core.registry.tasks_supported

    async def items(self, req: IncomingRequest, peer: Peer, ctx: Any) -> list[dict[str, Any]]:
        key, field = _LISTS[req.method]
        rename = self.outward_name if field == "name" else self.outward_uri
        out: list[dict[str, Any]] = []
        params = {k: v for k, v in req.params.items() if k != "cursor"}
        while True:
            result = await self.child._dispatcher.handle(attrs.evolve(req, params=params), peer)
            for item in result.get(key, ()):
                out.append(dict(item, **{field: rename(item[field])}))
            cursor = result.get("nextCursor")
            if not cursor:
                return out
            params = dict(params, cursor=cursor)

    async def forward(self, req: IncomingRequest, peer: Peer, ctx: Any) -> dict[str, Any]:
        params = dict(req.params)
        method = req.method
        if method in _BY_NAME:
            kind: Kind = "tool" if method == "tools/call" else "prompt"
            params["name"] = self.inward(kind, params["name"])
        elif method in _BY_URI:
            params["uri"] = self.inward("resource", params["uri"])
            if method != "resources/read":
                return {}  # the parent's sessions hold subscriptions; updates come renamed
        elif method == "completion/complete":
            ref = dict(params["ref"])
            if "name" in ref:
                ref["name"] = self.inward("prompt", ref["name"])
            if "uri" in ref:
                ref["uri"] = self.inward("template", ref["uri"])
            params["ref"] = ref
        outer = _outer.set(ctx)
        try:
            result = await self.child._dispatcher.handle(attrs.evolve(req, params=params), peer)
        finally:
            _outer.reset(outer)
        if method == "resources/read" and self.prefix is not None:
            result = dict(result)
            result["contents"] = [
                dict(c, uri=self.outward_uri(c["uri"])) if isinstance(c.get("uri"), str) else c
                for c in result.get("contents", ())
            ]
        return result

    async def run(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        """The child's lifespan, background tasks and task runs, until :meth:`stop`."""
        self._stop = stop = trio.Event()
        child = self.child._core
        child.tasks = self.parent.tasks  # the store serving chose (in memory, or Redis)
        if child.trace_with is None:  # the parent's enable_tracing(...) covers its children
            child.trace_with = self.parent.trace_with
        async with self.child.running():
            task_status.started()
            await stop.wait()

    def stop(self) -> None:
        if self._stop is not None:
            self._stop.set()

    # ------------------------------------------------------------ changes

    def _child_changed(self, kind: str, uri: str | None) -> None:
        if uri is None:
            self.parent.list_changed(kind)  # type: ignore[arg-type]  # one of ListKind
        else:
            self.parent.resource_updated(self.outward_uri(uri))
