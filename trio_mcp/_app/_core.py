"""What every method handler receives: the server's parts, composed once.

:class:`ServerCore` holds the registry, the protocol-facing :class:`ServerInfo`,
the hub of connected peers and listen streams, the task store, the MRTR state
signer, the shared cache and the services nursery. It is built by
:class:`~trio_mcp.Server` and handed to :mod:`._methods` and the dispatcher;
handlers never reach into ``Server``. It contains no dispatch logic of its own.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from functools import partial
from typing import TYPE_CHECKING, Any

import attrs
import trio

from .._errors import InternalError
from .._protocol import ServerInfo
from ._cache import TTLCache
from ._hub import Hub
from ._middleware import CallNext, NotifyNext, compile_chain, compile_notification_chain
from ._mrtr import RequestState
from ._registry import ListKind, Registry
from ._task_store import TaskStore, TaskView
from ._task_wire import modern_task
from ._tasks import TASK_CAPABILITIES

if TYPE_CHECKING:
    from ._tracing import Tracing

__all__ = ["ServerCore"]

log = logging.getLogger("trio_mcp")


@attrs.define(eq=False)
class ServerCore:
    """The server's state as the method handlers and the runtime glue see it.

    Attributes:
        owner: The user's :class:`~trio_mcp.Server` (what ``ctx.server`` returns).
        info: What the protocol session announces (capabilities, methods, name).
        registry: Tools, resources, templates, prompts, the completer.
        tasks: The task store (``@server.tool(task=...)``).
        request_state: Signs and checks modern ``requestState`` (MRTR).
        timeout: The default per-request deadline in seconds (``None``: none).
        hub: Connected peers and listen streams (notifications fan out here).
        cache: The server's shared TTL cache.
        state: What the lifespan yielded, while running.
        services: The services nursery while running (task runs live there).
        middleware: The server's middleware, outermost first (see :mod:`._middleware`).
        watchers: Called with ``(kind, uri)`` on every change clients hear of:
            ``("tools" | "resources" | "prompts", None)`` for a list change,
            ``("resource", uri)`` for an updated resource (a response cache
            drops what it kept).
        tracing: The OpenTelemetry spans of this run, or ``None`` (see :mod:`._tracing`).
        trace_with: What ``enable_tracing`` asked for: ``None``, ``True`` (the global
            tracer provider) or a tracer provider.
    """

    owner: Any
    info: ServerInfo
    registry: Registry
    tasks: TaskStore
    request_state: RequestState
    timeout: float | None
    hub: Hub = attrs.field(factory=Hub)
    cache: TTLCache[Any, Any] = attrs.field(factory=TTLCache)
    state: Any = None
    services: trio.Nursery | None = None
    #: Every request carries a Context (for the ``logging`` bridge): set by ``forward_logging``.
    bridged: bool = False
    middleware: list[Any] = attrs.field(factory=list)
    watchers: list[Callable[[str, str | None], None]] = attrs.field(factory=list)
    tracing: Tracing | None = None
    trace_with: Any = None
    _chains: dict[str, CallNext] = attrs.field(factory=dict, init=False)
    _note_chain: tuple[NotifyNext | None] | None = attrs.field(default=None, init=False)

    def __attrs_post_init__(self) -> None:
        self.registry.on_change = self._list_changed
        self.tasks.on_change = self._task_changed

    def list_changed(self, kind: ListKind) -> None:
        """The ``kind`` list changed (here, or at a provider): watchers, then clients, hear it."""
        self._list_changed(kind)

    def use_tasks(self, store: TaskStore) -> None:
        """Keep tasks in ``store`` from now on (before serving: ``Server.running``)."""
        self.tasks = store
        store.on_change = self._task_changed

    def _list_changed(self, kind: ListKind) -> None:
        if kind == "tools":  # advertise tasks (per era) exactly while some tool supports them
            self.info.extra_capabilities = (
                TASK_CAPABILITIES if self.registry.tasks_supported else {}
            )
        for watch in self.watchers:
            watch(kind, None)
        self.hub.list_changed(kind)

    def resource_updated(self, uri: str) -> int:
        """``uri`` changed: watchers hear it, then subscribed clients; returns how many."""
        for watch in self.watchers:
            watch("resource", uri)
        return self.hub.resource_updated(uri)

    def add_middleware(self, middleware: Any) -> None:
        """Append ``middleware`` (innermost so far); the compiled chains are rebuilt."""
        self.middleware.append(middleware)
        self._chains.clear()
        self._note_chain = None

    def set_tracing(self, tracing: Tracing | None) -> None:
        """Trace with ``tracing`` from now on (``None``: stop); the chains are rebuilt."""
        self.tracing = tracing
        self._chains.clear()
        self._note_chain = None

    def chain(self, name: str, method: Any) -> CallNext:
        """The middleware chain around method handler ``method`` (of MCP method ``name``)."""
        chain = self._chains.get(name)
        if chain is None:
            terminal: CallNext = partial(_call_method, method, self)
            chain = self._chains[name] = compile_chain(
                self.middleware, name, terminal, self.tracing
            )
        return chain

    def notification_chain(self) -> NotifyNext | None:
        """The ``on_notification`` chain, or ``None`` when no middleware has that hook."""
        if self._note_chain is None:
            self._note_chain = (
                compile_notification_chain(self.middleware, _ignore_note, self.tracing),
            )
        return self._note_chain[0]

    def _task_changed(self, task: TaskView) -> None:
        """A modern task changed status: listen streams that follow it hear it."""
        self.hub.task_changed(task.id, modern_task(task, detailed=True))

    def running_services(self) -> trio.Nursery:
        """The services nursery.

        Raises:
            InternalError: the server is not running (``Server.running()`` not entered).
        """
        if self.services is None:
            raise InternalError(message="Internal error: the server is not running")
        return self.services


def _call_method(method: Any, core: ServerCore, ctx: Any) -> Any:
    """The innermost link: the method handler, with the request as the chain left it."""
    return method(core, ctx.request, ctx._conn, ctx)


async def _ignore_note(note: Any) -> None:
    log.debug("trio_mcp: notification %s ignored", note.method)
