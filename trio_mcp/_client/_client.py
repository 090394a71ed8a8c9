"""``trio_mcp.Client``: the MCP methods, typed, the same in both eras.

Lists are async iterators over every page (``async for tool in
client.iter_tools()``) or whole lists (``await client.list_tools()``).
``tools/call``, ``prompts/get`` and ``resources/read`` go through the modern
``input_required`` rounds when the server asks for input. Tasks:
:meth:`Client.start_tool_task` returns a :class:`ToolTask` to poll, wait for,
or cancel, in either era's design.
"""

from __future__ import annotations

import contextlib
import itertools
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import trio

from .._errors import HEADER_MISMATCH, McpError
from ._core import DEFAULT, ClientCore
from ._errors import ServerMisbehaved
from ._session import error_from_wire
from ._types import (
    CallToolResult,
    Completion,
    GetPromptResult,
    Prompt,
    ReadResourceResult,
    Resource,
    ResourceTemplate,
    TaskState,
    Tool,
    parse,
)
from ._xheaders import header_problem

__all__ = ["Client", "ToolTask"]

log = logging.getLogger("trio_mcp.client")

TASKS_EXTENSION = "io.modelcontextprotocol/tasks"
LEGACY_TASKS_VERSION = "2025-11-25"
_tokens = itertools.count(1)


_DEFAULT = DEFAULT


class Client(ClientCore):
    """An MCP client: ``async with Client(target) as client: ...``.

    Args:
        target: Where the server is: a :class:`~trio_mcp.Server` (served in
            memory), a command line (``"python server.py"`` or a list: started
            as a subprocess over stdio), an ``http(s)://`` URL (Streamable
            HTTP; needs ``trio_mcp[client-http]``), any ``trio.abc.Stream``, or
            a transport (``Subprocess``, ``StreamableHttp``, ``InMemory``, ``ByteStream``).
        era: ``"auto"``, ``"legacy"`` or ``"modern"`` (see the module docstring).
        version: The protocol version to speak (default: the era's newest).
        timeout: The default deadline of every request, in seconds (``None``: none).
        probe_timeout: How long ``"auto"`` waits for ``server/discover``.
        sampling: ``async (SamplingRequest) -> str | dict``: answers ``sampling/createMessage``.
        elicitation: ``async (ElicitationRequest) -> dict``: answers ``elicitation/create``;
            the answer is checked against the requested schema first.
        url_elicitation: Also declare URL-mode elicitation.
        roots: The roots to expose: a list, or ``async () -> list``.
        on_log: ``async (LogMessage) -> None`` for the server's log records.
        log_level: The level asked of the server (``logging/setLevel``, or per
            request ``_meta`` in the modern era).
        on_notification: ``async (message) -> None`` for every other notification.
        client_info: ``{"name", "version"}`` sent to the server.
        env, cwd: For a command line target.
        headers, auth: For an HTTP target: extra headers, and ``auth`` as a bearer
            token string or any ``httpx.Auth`` (the hook an OAuth flow plugs into).
        max_input_rounds: How many ``input_required`` rounds one request may take.

    Attributes:
        era: ``"legacy"`` or ``"modern"``, once connected.
        protocol_version: The version in use.
        server_info, server_capabilities, instructions: What the server said of itself.
    """

    # --------------------------------------------------------------- lists

    async def _pages(self, method: str, key: str, timeout: Any) -> AsyncIterator[dict[str, Any]]:
        cursor: str | None = None
        seen: set[str] = set()
        while True:
            params = {"cursor": cursor} if cursor else None
            result = await self.request(method, params, timeout=timeout)
            items = result.get(key)
            if not isinstance(items, list):
                raise ServerMisbehaved(f"the server's {method} result has no {key!r} list")
            for item in items:
                yield item
            cursor = result.get("nextCursor")
            if not isinstance(cursor, str) or not cursor:
                return
            if cursor in seen:
                raise ServerMisbehaved(f"the server's {method} pages loop (cursor {cursor!r})")
            seen.add(cursor)

    async def iter_tools(self, *, timeout: Any = _DEFAULT) -> AsyncIterator[Tool]:
        """Every tool, page by page. Over HTTP, a tool whose ``x-mcp-header``
        annotations break the rules is left out (and logged), as the spec requires."""
        async for item in self._pages("tools/list", "tools", self._deadline(timeout)):
            tool = parse(Tool, item, "tool")
            if self.transport.kind == "http":
                problem = header_problem(tool.input_schema)
                if problem is not None:
                    log.warning("trio_mcp.client: tool %r left out: %s", tool.name, problem)
                    continue
            self._tool_schemas[tool.name] = tool.input_schema
            yield tool

    async def list_tools(self, *, timeout: Any = _DEFAULT) -> list[Tool]:
        return [tool async for tool in self.iter_tools(timeout=timeout)]

    async def iter_resources(self, *, timeout: Any = _DEFAULT) -> AsyncIterator[Resource]:
        async for item in self._pages("resources/list", "resources", self._deadline(timeout)):
            yield parse(Resource, item, "resource")

    async def list_resources(self, *, timeout: Any = _DEFAULT) -> list[Resource]:
        return [r async for r in self.iter_resources(timeout=timeout)]

    async def iter_resource_templates(
        self, *, timeout: Any = _DEFAULT
    ) -> AsyncIterator[ResourceTemplate]:
        pages = self._pages(
            "resources/templates/list", "resourceTemplates", self._deadline(timeout)
        )
        async for item in pages:
            yield parse(ResourceTemplate, item, "resource template")

    async def list_resource_templates(self, *, timeout: Any = _DEFAULT) -> list[ResourceTemplate]:
        return [t async for t in self.iter_resource_templates(timeout=timeout)]

    async def iter_prompts(self, *, timeout: Any = _DEFAULT) -> AsyncIterator[Prompt]:
        async for item in self._pages("prompts/list", "prompts", self._deadline(timeout)):
            yield parse(Prompt, item, "prompt")

    async def list_prompts(self, *, timeout: Any = _DEFAULT) -> list[Prompt]:
        return [p async for p in self.iter_prompts(timeout=timeout)]

    # ------------------------------------------------------------- calls

    async def call_tool(
        self,
        name: str,
        arguments: dict[str, Any] | None = None,
        *,
        timeout: Any = _DEFAULT,
        on_progress: Callable[[float, float | None, str | None], Awaitable[None]] | None = None,
        meta: dict[str, Any] | None = None,
    ) -> CallToolResult:
        """Call a tool. A tool's own failure is a result with ``is_error``, not an exception.

        Args:
            on_progress: ``async (progress, total, message)`` for the call's progress.

        Raises:
            McpError: the server refused the call (unknown tool, bad arguments...).
        """
        params = {"name": name, "arguments": arguments or {}}
        meta = dict(meta or {})
        token = None
        if on_progress is not None:
            token = f"progress-{next(_tokens)}"
            meta["progressToken"] = token
            self._progress[token] = on_progress
        try:
            try:
                result = await self.request_with_input(
                    "tools/call", params, timeout=timeout, meta=meta
                )
            except McpError as exc:
                if exc.code != HEADER_MISMATCH or self.transport.kind != "http":
                    raise
                await self.list_tools()  # the schema changed: refresh the Mcp-Param headers
                result = await self.request_with_input(
                    "tools/call", params, timeout=timeout, meta=meta
                )
        finally:
            if token is not None:
                del self._progress[token]
        if result.get("resultType") == "task" or "task" in result:
            raise ServerMisbehaved("the server answered a plain tools/call with a task")
        return parse(CallToolResult, result, "tool result")

    async def read_resource(self, uri: str, *, timeout: Any = _DEFAULT) -> ReadResourceResult:
        result = await self.request_with_input("resources/read", {"uri": uri}, timeout=timeout)
        return parse(ReadResourceResult, result, "resources/read result")

    async def get_prompt(
        self,
        name: str,
        arguments: dict[str, str] | None = None,
        *,
        timeout: Any = _DEFAULT,
    ) -> GetPromptResult:
        params = {"name": name, "arguments": arguments or {}}
        result = await self.request_with_input("prompts/get", params, timeout=timeout)
        return parse(GetPromptResult, result, "prompts/get result")

    async def complete(
        self,
        ref: dict[str, Any],
        argument: str,
        value: str = "",
        *,
        context: dict[str, str] | None = None,
        timeout: Any = _DEFAULT,
    ) -> Completion:
        """``completion/complete``; ``ref`` is ``{"type": "ref/prompt", "name": ...}``
        or ``{"type": "ref/resource", "uri": ...}``."""
        params: dict[str, Any] = {"ref": ref, "argument": {"name": argument, "value": value}}
        if context is not None:
            params["context"] = {"arguments": context}
        result = await self.request("completion/complete", params, timeout=timeout)
        return parse(Completion, result.get("completion"), "completion")

    async def ping(self, *, timeout: Any = _DEFAULT) -> None:
        """Check the server answers: ``ping`` (legacy), ``server/discover`` (modern, which has no ping)."""
        await self.request("ping" if self.era == "legacy" else "server/discover", timeout=timeout)

    async def set_log_level(self, level: str) -> None:
        """The level of log records wanted (legacy: ``logging/setLevel``; modern: per request)."""
        self.log_level = level
        if self.era == "legacy":
            await self.request("logging/setLevel", {"level": level})

    async def subscribe_resource(self, uri: str) -> None:
        """``resources/subscribe`` (legacy era; updates arrive as notifications)."""
        await self.request("resources/subscribe", {"uri": uri})

    async def unsubscribe_resource(self, uri: str) -> None:
        await self.request("resources/unsubscribe", {"uri": uri})

    # ------------------------------------------------------------- tasks

    async def start_tool_task(
        self,
        name: str,
        arguments: dict[str, Any] | None = None,
        *,
        ttl: float | None = None,
        timeout: Any = _DEFAULT,
    ) -> ToolTask:
        """Call a tool as a task and return its handle at once.

        Legacy (2025-11-25): the call carries ``params.task``. Modern: the
        request declares the tasks extension, and the server decides: if it
        answers at once, the handle is already completed.

        Args:
            ttl: Seconds the server should keep the task (a wish; it may keep it less).
        """
        params: dict[str, Any] = {"name": name, "arguments": arguments or {}}
        if self.era == "legacy":
            if self.protocol_version != LEGACY_TASKS_VERSION:
                raise McpError(
                    -32601, f"tasks need protocol version 2025-11-25, not {self.protocol_version}"
                )
            params["task"] = {} if ttl is None else {"ttl": int(ttl * 1000)}
            result = await self.request("tools/call", params, timeout=timeout)
            if isinstance(result.get("task"), dict):
                return ToolTask(self, parse(TaskState, result["task"], "task"))
        else:
            result = await self.request_with_input(
                "tools/call", params, timeout=timeout, extensions={TASKS_EXTENSION: {}}
            )
            if result.get("resultType") == "task":
                return ToolTask(self, parse(TaskState, result, "task"))
        done = ToolTask(self, TaskState("", "completed"))
        done._result = parse(CallToolResult, result, "tool result")
        return done


class ToolTask:
    """A tool call running as a task on the server.

    Attributes:
        state: The last known :class:`TaskState` (``state.task_id``, ``state.status``).
    """

    def __init__(self, client: ClientCore, state: TaskState) -> None:
        self.client = client
        self.state = state
        self._result: CallToolResult | None = None
        self._detail: dict[str, Any] = {}

    @property
    def id(self) -> str:
        return self.state.task_id

    def _params(self) -> dict[str, Any]:
        return {"taskId": self.id}

    def _extensions(self) -> dict[str, Any] | None:
        return {TASKS_EXTENSION: {}} if self.client.era == "modern" else None

    async def poll(self) -> TaskState:
        """``tasks/get``: the task's current state."""
        if self._result is not None and not self.id:
            return self.state
        params = self.client._params(self._params(), extensions=self._extensions())
        result = await self.client.session.call("tasks/get", params, timeout=self.client.timeout)
        self.state = parse(TaskState, result, "task")
        self._detail = result
        return self.state

    async def result(self, *, timeout: float | None = None) -> CallToolResult:
        """Wait for the end; the call's result (input the task asks for is answered by the handlers).

        Raises:
            McpError: the task failed with a JSON-RPC error, or was cancelled.
        """
        if self._result is not None:
            return self._result
        if self.client.era == "legacy":
            result = await self.client.request("tasks/result", self._params(), timeout=timeout)
            self._result = parse(CallToolResult, result, "tool result")
            return self._result
        with trio.fail_after(timeout) if timeout is not None else contextlib.nullcontext():
            while True:
                state = await self.poll()
                if state.status == "input_required":
                    requests = self._detail.get("inputRequests")
                    if isinstance(requests, dict) and requests:
                        responses = await self.client.answer_input(requests)
                        params = {**self._params(), "inputResponses": responses}
                        await self.client.session.call(
                            "tasks/update",
                            self.client._params(params, extensions=self._extensions()),
                            timeout=self.client.timeout,
                        )
                        continue
                if state.status == "completed":
                    self._result = parse(CallToolResult, self._detail.get("result"), "tool result")
                    return self._result
                if state.status == "failed":
                    if isinstance(self._detail.get("error"), dict):
                        raise error_from_wire(self._detail["error"])
                    raise McpError(None, f"task failed: {state.status_message or 'no detail'}")
                if state.status == "cancelled":
                    raise McpError(None, f"task cancelled: {state.status_message or ''}".strip())
                interval = (state.poll_interval_ms or 1000) / 1000
                await trio.sleep(min(max(interval, 0.01), 5.0))

    async def cancel(self) -> None:
        """``tasks/cancel`` (cooperative: the server may still finish the task)."""
        params = self.client._params(self._params(), extensions=self._extensions())
        await self.client.session.call("tasks/cancel", params, timeout=self.client.timeout)
