"""What every method handler receives: the server's parts, composed once.

:class:`ServerCore` holds the registry, the protocol-facing :class:`ServerInfo`,
the hub of connected peers and listen streams, the task store, the MRTR state
signer, the shared cache and the services nursery. It is built by
:class:`~trio_mcp.Server` and handed to :mod:`._methods` and the dispatcher;
handlers never reach into ``Server``. It contains no dispatch logic of its own.
"""

from __future__ import annotations

from typing import Any

import attrs
import trio

from .._errors import InternalError
from .._protocol import ServerInfo
from ._cache import TTLCache
from ._hub import Hub
from ._mrtr import RequestState
from ._registry import ListKind, Registry
from ._task_wire import modern_task
from ._tasks import TASK_CAPABILITIES, Task, TaskStore

__all__ = ["ServerCore"]


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

    def __attrs_post_init__(self) -> None:
        self.registry.on_change = self._list_changed
        self.tasks.on_change = self._task_changed

    def _list_changed(self, kind: ListKind) -> None:
        if kind == "tools":  # advertise tasks (per era) exactly while some tool supports them
            self.info.extra_capabilities = (
                TASK_CAPABILITIES if self.registry.tasks_supported else {}
            )
        self.hub.list_changed(kind)

    def _task_changed(self, task: Task) -> None:
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
