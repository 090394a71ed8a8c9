"""Test a server in memory: ``async with connect(server) as client: ...``.

The client speaks real JSON-RPC lines to the real runtime over Trio memory
streams: no subprocess, no mocks. It works under pytest-trio and
``trio.testing.MockClock(autojump_threshold=0)``, so a 60-second timeout is
tested in zero wall time::

    from trio_mcp.testing import connect

    async def test_add():
        async with connect(server) as client:
            result = await client.call_tool("add", {"a": 1, "b": 2})
            assert result["content"][0]["text"] == "3"

For end-to-end tests, :func:`connect_process` spawns the server as a
subprocess and speaks to it over real stdio. Nothing in ``trio_mcp`` imports
this module.

Both yield a :class:`RawClient`: results are the wire's dicts, and the wire
is in reach (send a malformed line, start a request and cancel it, read every
notification), which is what a test of a *server* wants. For typed results,
handlers and both eras negotiated for you, use :class:`trio_mcp.Client`
(``Client(server)`` serves in memory too).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Mapping
from contextlib import asynccontextmanager
from typing import Any, Literal

import attrs
import trio

from ._app import Server
from ._client import InMemory, LineTransport, Session, Subprocess, Waiter, unwrap_group
from ._client._session import result_of
from ._errors import MethodNotFound
from ._protocol import LATEST_LEGACY, LATEST_MODERN
from ._protocol._versions import META_CLIENT_CAPABILITIES, META_CLIENT_INFO, META_PROTOCOL_VERSION
from ._wire import Id

__all__ = ["RawClient", "connect", "connect_process"]

Responder = Callable[[dict[str, Any]], dict[str, Any]]


@attrs.define(eq=False)
class RawClient:
    """A wire-level MCP client for tests: raw requests and dict results.

    Attributes:
        era: ``"legacy"`` (``initialize`` first) or ``"modern"`` (``_meta`` on every request).
        notifications: Every notification the server sent, in order.
        server_requests: Every request the server sent (legacy era).
        unmatched: Responses that matched no request (e.g. ``id: null`` errors).
        responders: Answers to server requests, by method: ``fn(params) -> result``.
        answer_server_requests: False: server requests get no answer at all.
        initialize_result: The ``initialize`` result, once done.
    """

    transport: LineTransport
    era: Literal["legacy", "modern"] = "legacy"
    version: str = LATEST_LEGACY
    capabilities: dict[str, Any] = attrs.field(factory=dict)
    notifications: list[dict[str, Any]] = attrs.field(factory=list)
    server_requests: list[dict[str, Any]] = attrs.field(factory=list)
    unmatched: list[dict[str, Any]] = attrs.field(factory=list)
    responders: dict[str, Responder] = attrs.field(factory=dict)
    answer_server_requests: bool = True
    initialize_result: dict[str, Any] | None = None
    session: Session = attrs.field(init=False)
    _notified: trio.Event = attrs.field(factory=trio.Event, init=False)

    def __attrs_post_init__(self) -> None:
        self.session = Session(
            self.transport,
            on_request=self._on_request,
            on_notification=self._on_notification,
            on_unmatched=self.unmatched.append,
        )

    @property
    def connection(self) -> Any:
        """The server side's :class:`~trio_mcp.Connection` (in memory only, else ``None``)."""
        return getattr(self.transport, "connection", None)

    @property
    def _waiters(self) -> dict[Id, Waiter]:
        return self.session.waiters

    # ------------------------------------------------------------ raw access

    async def send_line(self, line: bytes) -> None:
        """Write raw bytes plus a newline (for malformed-input tests)."""
        await self.transport.send_raw(line + b"\n")

    async def send(self, message: Any) -> None:
        await self.transport.send(message)

    def meta(self, extra: dict[str, Any] | None = None) -> dict[str, Any]:
        """The ``_meta`` a request carries in this client's era."""
        meta: dict[str, Any] = {}
        if self.era == "modern":
            meta = {
                META_PROTOCOL_VERSION: self.version,
                META_CLIENT_CAPABILITIES: self.capabilities,
                META_CLIENT_INFO: {"name": "trio_mcp.testing", "version": "0"},
            }
        if extra:
            meta.update(extra)
        return meta

    async def start_request(
        self,
        method: str,
        params: dict[str, Any] | None = None,
        *,
        meta: dict[str, Any] | None = None,
    ) -> Id:
        """Send a request and return its id without waiting for the answer."""
        params = dict(params or {})
        full_meta = self.meta(meta)
        if full_meta:
            params["_meta"] = full_meta
        return await self.session.start(method, params)

    async def response(self, rid: Id) -> dict[str, Any]:
        """Wait for the whole response message to request ``rid``.

        Raises:
            ConnectionClosed: the server went away first (its exit code and stderr tail said).
        """
        message = await self.session.wait(rid)
        del self.session.waiters[rid]
        return message

    async def request(
        self,
        method: str,
        params: dict[str, Any] | None = None,
        *,
        meta: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        """Send a request and return its result.

        Raises:
            McpError: the server answered with a JSON-RPC error.
        """
        return result_of(await self.response(await self.start_request(method, params, meta=meta)))

    async def notify(self, method: str, params: dict[str, Any] | None = None) -> None:
        await self.session.notify(method, params)

    async def cancel(self, rid: Id, reason: str = "cancelled by test") -> None:
        """Send ``notifications/cancelled`` for request ``rid``."""
        await self.notify("notifications/cancelled", {"requestId": rid, "reason": reason})

    async def wait_notification(self, method: str) -> dict[str, Any]:
        """Wait until a notification with ``method`` has arrived; return the first."""
        while True:
            for note in self.notifications:
                if note["method"] == method:
                    return note
            await self._notified.wait()

    # ------------------------------------------------------------ MCP helpers

    async def initialize(self) -> dict[str, Any]:
        result = await self.request(
            "initialize",
            {
                "protocolVersion": self.version,
                "capabilities": self.capabilities,
                "clientInfo": {"name": "trio_mcp.testing", "version": "0"},
            },
        )
        await self.notify("notifications/initialized")
        self.initialize_result = result
        return result

    async def ping(self) -> dict[str, Any]:
        return await self.request("ping")

    async def discover(self) -> dict[str, Any]:
        return await self.request("server/discover")

    async def list_tools(self) -> list[dict[str, Any]]:
        """Every tool, following ``nextCursor`` pages."""
        return await self._list("tools/list", "tools")

    async def call_tool(
        self,
        name: str,
        arguments: dict[str, Any] | None = None,
        *,
        meta: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        """Call a tool and return its ``CallToolResult`` (``isError`` results included)."""
        return await self.request(
            "tools/call", {"name": name, "arguments": arguments or {}}, meta=meta
        )

    async def read_resource(self, uri: str) -> dict[str, Any]:
        """``resources/read``: the ``ReadResourceResult`` (``contents``...)."""
        return await self.request("resources/read", {"uri": uri})

    async def list_resources(self) -> list[dict[str, Any]]:
        return await self._list("resources/list", "resources")

    async def list_prompts(self) -> list[dict[str, Any]]:
        return await self._list("prompts/list", "prompts")

    async def get_prompt(
        self, name: str, arguments: dict[str, str] | None = None
    ) -> dict[str, Any]:
        """``prompts/get``: the ``GetPromptResult`` (``messages``...)."""
        return await self.request("prompts/get", {"name": name, "arguments": arguments or {}})

    async def complete(
        self,
        ref: dict[str, Any],
        argument: str,
        value: str = "",
        context: dict[str, str] | None = None,
    ) -> dict[str, Any]:
        """``completion/complete``; ``ref`` is ``{"type": "ref/prompt", "name": ...}`` or
        ``{"type": "ref/resource", "uri": ...}``. Returns the ``completion`` object."""
        params: dict[str, Any] = {"ref": ref, "argument": {"name": argument, "value": value}}
        if context is not None:
            params["context"] = {"arguments": context}
        result = await self.request("completion/complete", params)
        completion: dict[str, Any] = result["completion"]
        return completion

    async def _list(self, method: str, key: str) -> list[dict[str, Any]]:
        items: list[dict[str, Any]] = []
        cursor: str | None = None
        while True:
            result = await self.request(method, {"cursor": cursor} if cursor else None)
            items.extend(result[key])
            cursor = result.get("nextCursor")
            if not cursor:
                return items

    # ------------------------------------------------------------ incoming

    async def _on_request(self, message: dict[str, Any]) -> dict[str, Any] | None:
        self.server_requests.append(message)
        if not self.answer_server_requests:
            return None
        responder = self.responders.get(message["method"])
        if responder is None:
            raise MethodNotFound(f"no responder for {message['method']}")
        return responder(message.get("params", {}))

    async def _on_notification(self, message: dict[str, Any]) -> None:
        self.notifications.append(message)
        self._notified.set()
        self._notified = trio.Event()


@asynccontextmanager
async def _open(client: RawClient, handshake: bool) -> AsyncIterator[RawClient]:
    try:
        async with trio.open_nursery() as nursery:
            await nursery.start(client.session.run)
            try:
                if handshake:
                    await client.initialize()
                yield client
            finally:
                with trio.CancelScope(shield=True):
                    await client.transport.aclose()  # EOF: the server drains and returns
                    grace = getattr(client.transport, "grace", None)
                    if grace is not None:  # a process: bounded (then terminated, killed)
                        with trio.move_on_after(grace + 3):
                            await client.session.closed.wait()
                        nursery.cancel_scope.cancel()
    except BaseExceptionGroup as group:
        inner = unwrap_group(group)
        if inner is group:
            raise
        raise inner from None


def _default_version(era: str, version: str | None) -> str:
    return version or (LATEST_MODERN if era == "modern" else LATEST_LEGACY)


@asynccontextmanager
async def connect(
    server: Server,
    *,
    era: Literal["legacy", "modern"] = "legacy",
    version: str | None = None,
    capabilities: dict[str, Any] | None = None,
    initialize: bool = True,
    responders: dict[str, Responder] | None = None,
) -> AsyncIterator[RawClient]:
    """Serve ``server`` over in-memory streams and yield a connected :class:`RawClient`.

    In the legacy era the ``initialize`` handshake is done first (unless
    ``initialize=False``). On exit the client closes its side (EOF) and waits
    for the server to drain and return, as a real client would.
    """
    client = RawClient(
        InMemory(server),
        era=era,
        version=_default_version(era, version),
        capabilities=capabilities or {},
        responders=responders or {},
    )
    async with _open(client, era == "legacy" and initialize) as connected:
        yield connected


@asynccontextmanager
async def connect_process(
    command: list[str],
    *,
    era: Literal["legacy", "modern"] = "legacy",
    version: str | None = None,
    capabilities: dict[str, Any] | None = None,
    env: Mapping[str, str] | None = None,
) -> AsyncIterator[RawClient]:
    """Spawn an MCP server over stdio and yield a connected :class:`RawClient`.

    In the legacy era the ``initialize`` handshake is done first. On exit,
    stdin is closed (the server's cue to exit) and the process is waited for
    (terminated after 5 s, then killed). If the server cannot start or exits,
    requests raise :class:`~trio_mcp.client.ConnectionClosed` with its exit
    code and the tail of its stderr.
    """
    client = RawClient(
        Subprocess(command, env=env),
        era=era,
        version=_default_version(era, version),
        capabilities=capabilities or {},
    )
    async with _open(client, era == "legacy") as connected:
        yield connected
