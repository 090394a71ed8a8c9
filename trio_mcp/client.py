"""A small MCP client over any byte stream: in-memory, or a subprocess's pipes.

It is what ``trio_mcp.testing.connect`` and the ``trio-mcp list``/``call``
commands use. It speaks either era and talks to any MCP server, not only
trio_mcp's. It is deliberately small: raw ``request()`` plus helpers, no
schema validation of its own.
"""

from __future__ import annotations

import itertools
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager
from typing import Any, Literal

import attrs
import trio

from ._errors import McpError
from ._protocol import LATEST_LEGACY, LATEST_MODERN
from ._protocol._versions import META_CLIENT_CAPABILITIES, META_CLIENT_INFO, META_PROTOCOL_VERSION
from ._runtime import Connection
from ._wire import Id, LineBuffer, OversizedLine, decode, encode_line

__all__ = ["Client", "open_process_client"]


@attrs.define(eq=False)
class _Waiter:
    event: trio.Event = attrs.field(factory=trio.Event)
    message: dict[str, Any] | None = None


@attrs.define(eq=False)
class Client:
    """A minimal MCP client over a byte stream, for tests.

    Attributes:
        era: ``"legacy"`` (``initialize`` first) or ``"modern"`` (``_meta`` on every request).
        notifications: Every notification the server sent, in order.
        server_requests: Every request the server sent (legacy era).
        unmatched: Responses that matched no request (e.g. ``id: null`` errors).
        connection: The server-side :class:`Connection` (in-memory only).
    """

    stream: trio.abc.Stream
    era: Literal["legacy", "modern"] = "legacy"
    version: str = LATEST_LEGACY
    capabilities: dict[str, Any] = attrs.field(factory=dict)
    notifications: list[dict[str, Any]] = attrs.field(factory=list)
    server_requests: list[dict[str, Any]] = attrs.field(factory=list)
    unmatched: list[dict[str, Any]] = attrs.field(factory=list)
    connection: Connection | None = None
    initialize_result: dict[str, Any] | None = None
    #: Answers to server-to-client requests, by method: ``fn(params) -> result``.
    responders: dict[str, Callable[[dict[str, Any]], dict[str, Any]]] = attrs.field(factory=dict)
    _nursery: trio.Nursery | None = attrs.field(default=None, init=False)
    _ids: Iterator[int] = attrs.field(factory=lambda: itertools.count(1), init=False)
    _waiters: dict[Id, _Waiter] = attrs.field(factory=dict, init=False)
    _notified: trio.Event = attrs.field(factory=trio.Event, init=False)
    _send_lock: trio.StrictFIFOLock = attrs.field(factory=trio.StrictFIFOLock, init=False)

    # ------------------------------------------------------------ raw access

    async def send_line(self, line: bytes) -> None:
        """Write raw bytes plus a newline (for malformed-input tests)."""
        async with self._send_lock:
            await self.stream.send_all(line + b"\n")

    async def send(self, message: Any) -> None:
        async with self._send_lock:
            await self.stream.send_all(encode_line(message))

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
        rid = next(self._ids)
        params = dict(params or {})
        full_meta = self.meta(meta)
        if full_meta:
            params["_meta"] = full_meta
        self._waiters[rid] = _Waiter()
        await self.send({"jsonrpc": "2.0", "id": rid, "method": method, "params": params})
        return rid

    async def response(self, rid: Id) -> dict[str, Any]:
        """Wait for the whole response message to request ``rid``."""
        waiter = self._waiters[rid]
        await waiter.event.wait()
        del self._waiters[rid]
        assert waiter.message is not None
        return waiter.message

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
        msg = await self.response(await self.start_request(method, params, meta=meta))
        if "error" in msg:
            err = msg["error"]
            raise McpError(err["code"], err["message"], err.get("data"))
        result: dict[str, Any] = msg["result"]
        return result

    async def notify(self, method: str, params: dict[str, Any] | None = None) -> None:
        msg: dict[str, Any] = {"jsonrpc": "2.0", "method": method}
        if params is not None:
            msg["params"] = params
        await self.send(msg)

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

    # ---------------------------------------------------------------- reading

    async def _read(self) -> None:
        buffer = LineBuffer(1 << 30)
        while True:
            data = await self.stream.receive_some(65536)
            if not data:
                break
            for line in buffer.feed(bytes(data)):
                assert not isinstance(line, OversizedLine)
                msg = decode(line)
                for item in msg if isinstance(msg, list) else [msg]:
                    self._dispatch(item)
        for waiter in self._waiters.values():
            waiter.event.set()  # EOF: wake everyone; their message stays None

    async def _answer(self, msg: dict[str, Any]) -> None:
        responder = self.responders.get(msg["method"])
        if responder is None:
            reply: dict[str, Any] = {
                "jsonrpc": "2.0",
                "id": msg["id"],
                "error": {"code": -32601, "message": f"no responder for {msg['method']}"},
            }
        else:
            reply = {"jsonrpc": "2.0", "id": msg["id"], "result": responder(msg.get("params", {}))}
        await self.send(reply)

    def _dispatch(self, msg: dict[str, Any]) -> None:
        if "method" in msg:
            if "id" in msg:
                self.server_requests.append(msg)
                if self._nursery is not None:
                    self._nursery.start_soon(self._answer, msg)
            else:
                self.notifications.append(msg)
                self._notified.set()
                self._notified = trio.Event()
            return
        waiter = self._waiters.get(msg.get("id"))  # type: ignore[arg-type]
        if waiter is None or waiter.message is not None:
            self.unmatched.append(msg)
            return
        waiter.message = msg
        waiter.event.set()


@asynccontextmanager
async def open_process_client(
    command: list[str],
    *,
    era: Literal["legacy", "modern"] = "legacy",
    version: str | None = None,
    capabilities: dict[str, Any] | None = None,
    env: dict[str, str] | None = None,
) -> AsyncIterator[Client]:
    """Spawn an MCP server over stdio and yield a connected :class:`Client`.

    In the legacy era the ``initialize`` handshake is done first. On exit,
    stdin is closed (the server's cue to exit) and the process is waited for.
    """
    import subprocess

    proc = await trio.lowlevel.open_process(
        command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, env=env
    )
    assert proc.stdin is not None and proc.stdout is not None
    stream = trio.StapledStream(proc.stdin, proc.stdout)
    default_version = LATEST_MODERN if era == "modern" else LATEST_LEGACY
    client = Client(
        stream, era=era, version=version or default_version, capabilities=capabilities or {}
    )
    try:
        async with trio.open_nursery() as nursery:
            client._nursery = nursery
            nursery.start_soon(client._read)
            try:
                if era == "legacy":
                    await client.initialize()
                yield client
            finally:
                with trio.CancelScope(shield=True):
                    await proc.stdin.aclose()
                    with trio.move_on_after(5):
                        await proc.wait()
                    if proc.returncode is None:
                        proc.kill()
                        await proc.wait()
    finally:
        if proc.returncode is None:
            proc.kill()
