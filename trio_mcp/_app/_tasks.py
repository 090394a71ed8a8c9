"""Tasks: a ``tools/call`` that answers at once with a handle, and runs on.

Two wire designs share one implementation:

* **2025-11-25** (legacy, experimental core tasks): the client opts in per call
  with ``params.task``; ``CreateTaskResult`` nests the task (``{"task": ...}``);
  ``tasks/get``, ``tasks/result`` (blocks until the end, then answers exactly
  what the call would have), ``tasks/list``, ``tasks/cancel`` (``-32602`` once
  terminal); a tool's ``isError`` result makes the task ``failed``.
* **2026-07-28** (the ``io.modelcontextprotocol/tasks`` extension, SEP-2663):
  the client declares the extension in each request's capabilities and the
  *server* decides; ``CreateTaskResult`` is flat (``resultType: "task"``);
  ``tasks/get`` inlines the result, error or outstanding ``inputRequests``;
  ``tasks/update`` answers them; ``tasks/cancel`` is an empty ack; an
  ``isError`` result is ``completed``, only a JSON-RPC error is ``failed``.

A :class:`TaskRun` executes the tool in the server's services nursery (see
``Serving.running``) under its own cancel scope: ``tasks/cancel`` cancels it,
the server's shutdown cancels every run, and a legacy session's tasks end with
the session. A task store (:mod:`._task_store`: in memory, or Redis) keeps the
records, bound to who created them (the legacy session, or the modern request's
authenticated subject), until their ttl passes.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Literal

import attrs
import trio

from .._errors import CAPABILITY_NOT_SUPPORTED, McpError
from .._protocol import FEATURES, Era, IncomingRequest, ServerSession
from .._wire import Id
from ._context import Context, current_context
from ._functions import error_text
from ._mrtr import InputRequired
from ._task_wire import created_result, legacy_task
from ._tools import Tool, to_call_result

if TYPE_CHECKING:
    from .._runtime import AccessToken, HttpRequestInfo, Peer
    from ._task_store import TaskStore

__all__ = [
    "RELATED_TASK",
    "TASKS_EXTENSION",
    "Task",
    "TaskRun",
    "TaskSupport",
]

log = logging.getLogger("trio_mcp")

TaskSupport = Literal["forbidden", "optional", "required"]
TASKS_EXTENSION = "io.modelcontextprotocol/tasks"
RELATED_TASK = "io.modelcontextprotocol/related-task"
TERMINAL = frozenset({"completed", "failed", "cancelled"})
_DESIGN_CAPABILITIES: dict[str, dict[str, Any]] = {
    "core": {"tasks": {"list": {}, "cancel": {}, "requests": {"tools": {"call": {}}}}},
    "extension": {"extensions": {TASKS_EXTENSION: {}}},
}
#: What a server with task-capable tools adds to its capabilities, per protocol version
#: (from each version's task design in the feature table).
TASK_CAPABILITIES: dict[str, dict[str, Any]] = {
    version: _DESIGN_CAPABILITIES[row.tasks]
    for version, row in FEATURES.items()
    if row.tasks is not None
}


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def declares_extension(caps: dict[str, Any]) -> bool:
    """True if a modern request's client capabilities name the tasks extension."""
    ext = caps.get("extensions")
    return isinstance(ext, dict) and isinstance(ext.get(TASKS_EXTENSION), dict)


def missing_extension() -> McpError:
    return McpError(
        CAPABILITY_NOT_SUPPORTED,
        "Missing required client capability",
        {"requiredCapabilities": {"extensions": {TASKS_EXTENSION: {}}}},
    )


def owner_of(req: IncomingRequest, peer: Peer) -> object:
    """Who may see a task: the legacy session, or the modern request's auth subject."""
    if req.era is Era.LEGACY:
        return peer.session
    return peer.subject


@attrs.define(eq=False)
class _Ask:
    method: str
    params: dict[str, Any]
    answered: trio.Event = attrs.field(factory=trio.Event)
    answer: dict[str, Any] = attrs.field(factory=dict)


@attrs.define(eq=False)
class Task:
    """One task's record. Its status only moves forward: terminal states are final."""

    id: str
    owner: object
    era: Era
    ttl_ms: int | None
    poll_ms: int
    expires: float
    peer: Peer | None = None
    status: str = "working"
    message: str | None = None
    created: str = attrs.field(factory=_now)
    updated: str = attrs.field(init=False)
    result: dict[str, Any] | None = None
    error: dict[str, Any] | None = None
    scope: trio.CancelScope = attrs.field(factory=trio.CancelScope)
    asks: dict[str, _Ask] = attrs.field(factory=dict)
    legacy_asks: int = 0
    result_waiters: list[Id] = attrs.field(factory=list)
    #: A ``tasks/result`` waits on another worker (shared stores): input requests
    #: go out on the session's standalone stream instead of a local result stream.
    remote_waiting: bool = False
    #: Called on every status change (the store records it; listen streams hear of it).
    on_change: Callable[[Task], None] | None = None
    _changed: trio.Event = attrs.field(factory=trio.Event)

    def __attrs_post_init__(self) -> None:
        self.updated = self.created

    @property
    def terminal(self) -> bool:
        return self.status in TERMINAL

    def set_status(self, status: str, message: str | None = None) -> bool:
        """Move to ``status``; False (and nothing changes) once terminal."""
        if self.terminal:
            return False
        self.status, self.message, self.updated = status, message, _now()
        self.wake()
        if self.era is Era.LEGACY and self.peer is not None:
            self.peer.notify_nowait("notifications/tasks/status", legacy_task(self))
        if self.on_change is not None:
            self.on_change(self)
        return True

    def wake(self) -> None:
        self._changed.set()
        self._changed = trio.Event()

    async def changed(self) -> None:
        await self._changed.wait()

    def cancel(self, message: str) -> None:
        if self.set_status("cancelled", message):
            self.scope.cancel()

    def finish(self, outcome: dict[str, Any] | McpError | InputRequired) -> None:
        if self.terminal:
            return  # cancelled meanwhile: cancelled it stays
        if isinstance(outcome, dict):
            self.result = outcome
            if self.era is Era.LEGACY and outcome.get("isError"):
                self.set_status("failed", "The tool returned an error")
            else:
                self.set_status("completed")
            return
        if isinstance(outcome, InputRequired):
            outcome = McpError(None, "Internal error: InputRequired raised inside a task")
        self.error = outcome.to_error()
        self.set_status("failed", outcome.message)

    # ---------------------------------------------------- input inside a task

    def _after_input(self) -> None:
        if not self.asks and not self.legacy_asks and self.status == "input_required":
            self.set_status("working")

    async def ask(self, key: str, method: str, params: dict[str, Any]) -> dict[str, Any]:
        """Modern: park in ``input_required`` until ``tasks/update`` answers ``key``."""
        ask = self.asks[key] = _Ask(method, params)
        self.set_status("input_required", "Waiting for input")
        try:
            await ask.answered.wait()
        finally:
            if self.asks.get(key) is ask:
                del self.asks[key]
            self._after_input()
        return ask.answer

    def update(self, responses: dict[str, Any]) -> None:
        """Deliver ``tasks/update`` answers; keys not outstanding are ignored."""
        for key, answer in responses.items():
            ask = self.asks.get(key)
            if ask is not None and isinstance(answer, dict):
                del self.asks[key]
                ask.answer = answer
                ask.answered.set()
        self._after_input()

    async def ask_legacy(self, peer: Peer, method: str, params: dict[str, Any]) -> dict[str, Any]:
        """Legacy: ``input_required``, then the request goes out on a ``tasks/result`` stream."""
        meta = dict(params.get("_meta") or {}, **{RELATED_TASK: {"taskId": self.id}})
        self.legacy_asks += 1
        self.set_status("input_required", "Waiting for input: call tasks/result")
        try:
            while not self.result_waiters and not self.remote_waiting:
                await self.changed()
            related = self.result_waiters[0] if self.result_waiters else None
            return await peer.request(method, dict(params, _meta=meta), related=related)
        finally:
            self.legacy_asks -= 1
            self._after_input()


@attrs.define(eq=False)
class TaskRun:
    """One tool call executed in the server's services nursery.

    With ``task_start="immediate"`` the task exists before the handler starts.
    With ``"explicit"``, the handler runs on behalf of the request until it
    calls ``ctx.start_task()`` (input it asks for before that is resolved
    synchronously: MRTR rounds, or legacy requests on the call's stream), or
    until it ends: ``outcome`` is then the request's own answer.
    """

    store: TaskStore
    tool: Tool
    ctx: Context
    owner: object
    peer: Peer
    requested_ttl_ms: Any = None
    structured_ok: bool = True
    kwargs: dict[str, Any] = attrs.field(factory=dict)
    task: Task | None = None
    scope: trio.CancelScope = attrs.field(factory=trio.CancelScope)
    decided: trio.Event = attrs.field(factory=trio.Event)
    outcome: dict[str, Any] | McpError | InputRequired | None = None
    #: The ``CreateTaskResult``, as of creation (a task starts ``working``).
    created: dict[str, Any] = attrs.field(factory=dict)

    def __attrs_post_init__(self) -> None:
        self.ctx._run = self

    @property
    def started(self) -> bool:
        """True once the task exists (``start`` was called)."""
        return self.task is not None

    async def start(self) -> Task:
        """Create the task (now visible to ``tasks/get``); the handler goes on inside it.

        Raises:
            StoreUnavailable: a shared store did not answer (no task was started).
        """
        if self.task is None:
            req = self.ctx.request
            task = await self.store.create(self.owner, req.era, self.peer, self.requested_ttl_ms)
            task.scope = self.scope
            self.task = task
            self.created = created_result(task)
            self.ctx._enter_task(self, TaskPeer(self.peer.session, self.peer, task))
            self.decided.set()
        return self.task

    async def main(self) -> None:
        token = current_context.set(self.ctx)
        outcome: dict[str, Any] | McpError | InputRequired | None = None
        try:
            with self.scope:
                outcome = await self._invoke()
        finally:
            current_context.reset(token)
            self.ctx._finish()
            if self.task is None:
                self.outcome = outcome
                self.decided.set()
            elif outcome is None:
                self.task.cancel("Cancelled")  # by tasks/cancel, expiry or shutdown
            else:
                self.task.finish(outcome)

    async def _invoke(self) -> dict[str, Any] | McpError | InputRequired:
        ctx, name = self.ctx, self.tool.name
        try:
            value = await self.tool.invoke(self.kwargs)
        except InputRequired as exc:
            return exc
        except McpError as exc:
            return exc
        except Exception as exc:
            if self.task is None and ctx.pending_input is not None:
                return ctx.pending_input
            log.exception("trio_mcp: tool %r raised", name)
            text = f"Error executing tool {name}: {error_text(exc)}"
            return {"content": [{"type": "text", "text": text}], "isError": True}
        if self.task is None and ctx.pending_input is not None:
            return ctx.pending_input
        try:
            return to_call_result(self.tool, value, structured_ok=self.structured_ok)
        except McpError as exc:
            return exc


@attrs.define(eq=False)
class TaskPeer:
    """The peer a task's handler sees: its cancel scope is the task's.

    Legacy: notifications reach the session, tagged with the related-task
    ``_meta``. Modern: tasks carry no progress or log notifications (SEP-2663),
    so they are dropped.
    """

    session: ServerSession
    inner: Peer
    task: Task

    @property
    def token(self) -> AccessToken | None:
        return self.inner.token  # who started the task

    @property
    def subject(self) -> str | None:
        return self.inner.subject

    def scope_of(self, rid: Id) -> trio.CancelScope | None:
        return self.task.scope

    def close_stream(self, rid: Id) -> bool:
        return False  # the call was answered with the task: no stream of it is left

    def http_request(self, rid: Id) -> HttpRequestInfo | None:
        return self.inner.http_request(rid)

    def _params(self, params: dict[str, Any] | None) -> dict[str, Any]:
        params = dict(params or {})
        params["_meta"] = dict(
            params.get("_meta") or {}, **{RELATED_TASK: {"taskId": self.task.id}}
        )
        return params

    async def notify(
        self, method: str, params: dict[str, Any] | None = None, *, related: Id | None = None
    ) -> None:
        if self.task.era is Era.LEGACY and not self.task.terminal:
            await self.inner.notify(method, self._params(params))

    def notify_nowait(self, method: str, params: dict[str, Any] | None = None) -> bool:
        if self.task.era is Era.LEGACY and not self.task.terminal:
            return self.inner.notify_nowait(method, self._params(params))
        return False

    async def request(
        self, method: str, params: dict[str, Any] | None = None, *, related: Id | None = None
    ) -> dict[str, Any]:
        return await self.task.ask_legacy(self.inner, method, params or {})
