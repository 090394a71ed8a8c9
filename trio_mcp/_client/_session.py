"""The client's JSON-RPC session: ids, waiters, server requests and cancellation.

One :class:`Session` per connection, over one transport. It knows JSON-RPC,
not MCP: the :class:`~trio_mcp.Client` (``_client.py``) builds the methods on
top, and the test client of :mod:`trio_mcp.testing` uses it directly.

Rules:

* Every request gets a waiter keyed by its id. The answer, or the reason the
  connection ended (:class:`ConnectionClosed`, :class:`ServerMisbehaved`), is
  delivered to the waiter, so errors surface in the task that made the
  request, never as an exception from a background task.
* A request abandoned before its answer (a deadline, or the caller's cancel
  scope) is cancelled on the server with ``transport.cancel`` (shielded,
  bounded by :data:`CANCEL_WAIT`).
* Notifications are handled in the order they arrive, in the reading task,
  before any answer read after them is delivered: a progress callback runs
  before the result it precedes. A notification handler must therefore not
  wait for an answer from the server itself (start a task for that).
* Server-to-client requests each run in a task of the session's nursery;
  ``notifications/cancelled`` from the server cancels its scope. A handler
  that raises :class:`~trio_mcp.McpError` answers that error, any other
  ``Exception`` answers ``-32603`` (and is logged); returning ``None`` sends
  no answer at all (tests use it to play a silent client).
"""

from __future__ import annotations

import itertools
import logging
from collections.abc import Awaitable, Callable, Iterator
from typing import Any

import attrs
import trio

from .._errors import (
    INTERNAL_ERROR,
    InternalError,
    InvalidParams,
    InvalidRequest,
    McpError,
    MethodNotFound,
    ParseError,
    ProtocolError,
    ResourceNotFound,
    UnsupportedProtocolVersion,
)
from .._wire import Id, encode
from ._errors import ClientError, ConnectionClosed, RequestTimeout, ServerMisbehaved
from ._transport import Transport, snippet

__all__ = ["CANCEL_WAIT", "Session", "Waiter", "error_from_wire"]

log = logging.getLogger("trio_mcp.client")

#: How long sending ``notifications/cancelled`` for an abandoned request may take.
CANCEL_WAIT = 2.0

RequestHandler = Callable[[dict[str, Any]], Awaitable[dict[str, Any] | None]]
NotificationHandler = Callable[[dict[str, Any]], Awaitable[None]]

_BY_CODE: dict[int, type[ProtocolError]] = {
    -32700: ParseError,
    -32600: InvalidRequest,
    -32601: MethodNotFound,
    -32602: InvalidParams,
    -32002: ResourceNotFound,
    -32022: UnsupportedProtocolVersion,
}


def error_from_wire(error: Any) -> McpError:
    """The :class:`McpError` (subclass by code, where one exists) for a JSON-RPC ``error``.

    Raises:
        ServerMisbehaved: ``error`` is not an object with an integer code and a message.
    """
    if type(error) is not dict or type(error.get("code")) is not int:
        raise ServerMisbehaved(f"the server sent a malformed error: {snippet(repr(error))}")
    code, message, data = error["code"], str(error.get("message", "")), error.get("data")
    cls = _BY_CODE.get(code)
    if cls is not None:
        return cls(message, data, code=code)
    if code == INTERNAL_ERROR:
        return InternalError(code, message, data)
    return McpError(code, message, data)


@attrs.define(eq=False)
class Waiter:
    """One request in flight: its answer (``message``) or why none will come (``failure``)."""

    method: str
    event: trio.Event = attrs.field(factory=trio.Event)
    message: dict[str, Any] | None = None
    failure: ClientError | None = None


@attrs.define(eq=False)
class Session:
    """A JSON-RPC conversation with one server over ``transport`` (see the module docstring).

    Attributes:
        failure: Why the connection ended, once it has (else ``None``).
        waiters: Requests sent and not yet collected, by id.
    """

    transport: Transport
    on_request: RequestHandler | None = None
    on_notification: NotificationHandler | None = None
    on_unmatched: Callable[[dict[str, Any]], None] | None = None
    failure: ClientError | None = attrs.field(default=None, init=False)
    waiters: dict[Id, Waiter] = attrs.field(factory=dict, init=False)
    closed: trio.Event = attrs.field(factory=trio.Event, init=False)
    _ids: Iterator[int] = attrs.field(factory=lambda: itertools.count(1), init=False)
    _incoming: dict[Id, trio.CancelScope] = attrs.field(factory=dict, init=False)
    _nursery: trio.Nursery | None = attrs.field(default=None, init=False)

    # ------------------------------------------------------------------ life

    async def run(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        """Run the transport and the server-request handlers until the connection ends.

        Raises only what the transport raises while connecting (before ``started``).
        """
        try:
            async with trio.open_nursery() as nursery:
                self._nursery = nursery
                await nursery.start(self.transport.run, self)
                task_status.started()
        finally:
            self._nursery = None
            self.fail(ConnectionClosed(f"{self.transport.describe()} closed the connection"))
            self.closed.set()

    def fail(self, exc: ClientError) -> None:
        """The connection is over: every waiter, present and future, gets ``exc``."""
        if self.failure is not None:
            return
        self.failure = exc
        for waiter in self.waiters.values():
            if waiter.message is None and waiter.failure is None:
                waiter.failure = exc
                waiter.event.set()

    def request_failed(self, rid: Id, exc: ClientError) -> None:
        waiter = self.waiters.get(rid)
        if waiter is not None and waiter.message is None and waiter.failure is None:
            waiter.failure = exc
            waiter.event.set()

    # ------------------------------------------------------------- outgoing

    def next_id(self) -> int:
        return next(self._ids)

    async def start(self, method: str, params: dict[str, Any] | None = None) -> Id:
        """Send a request; return its id (collect the answer with :meth:`wait`).

        Raises:
            ClientError: the connection is already over.
        """
        if self.failure is not None:
            raise self.failure
        rid = self.next_id()
        message: dict[str, Any] = {"jsonrpc": "2.0", "id": rid, "method": method}
        if params is not None:
            message["params"] = params
        self.waiters[rid] = Waiter(method)
        try:
            await self.transport.send(message)
        except BaseException:
            del self.waiters[rid]
            raise
        return rid

    async def wait(self, rid: Id) -> dict[str, Any]:
        """The whole response message to request ``rid`` (its waiter stays until collected).

        Raises:
            ClientError: the connection ended, or this request failed, before an answer.
        """
        waiter = self.waiters[rid]
        await waiter.event.wait()
        if waiter.message is None:
            assert waiter.failure is not None
            raise waiter.failure
        return waiter.message

    async def call(
        self, method: str, params: dict[str, Any] | None = None, *, timeout: float | None = None
    ) -> dict[str, Any]:
        """Send a request and return its ``result``.

        If the deadline passes, or the caller's cancel scope is cancelled, first
        the request is cancelled on the server (``notifications/cancelled``).

        Raises:
            McpError: the server answered with a JSON-RPC error.
            RequestTimeout: no answer within ``timeout`` seconds.
            ConnectionClosed, ServerMisbehaved, HttpError: no answer can come.
        """
        rid = await self.start(method, params)
        message: dict[str, Any] | None = None
        deadline = trio.move_on_after(timeout if timeout is not None else float("inf"))
        try:
            with deadline:
                message = await self.wait(rid)
        finally:
            self.waiters.pop(rid, None)
            if message is None and self.failure is None:
                reason = "timed out" if deadline.cancel_called else "cancelled by the client"
                with trio.CancelScope(shield=True), trio.move_on_after(CANCEL_WAIT):
                    try:
                        await self.transport.cancel(rid, reason)
                    except ClientError:
                        pass
        if message is None:
            assert timeout is not None
            raise RequestTimeout(method, timeout)
        return result_of(message)

    async def notify(self, method: str, params: dict[str, Any] | None = None) -> None:
        if self.failure is not None:
            raise self.failure
        message: dict[str, Any] = {"jsonrpc": "2.0", "method": method}
        if params is not None:
            message["params"] = params
        await self.transport.send(message)

    # ------------------------------------------------------------- incoming

    async def receive(self, value: Any) -> None:
        """One JSON document from the server: a message, or a batch of them."""
        if type(value) is list and value:
            for item in value:
                await self._receive_one(item)
                if self.failure is not None:
                    return
        else:
            await self._receive_one(value)

    async def _receive_one(self, msg: Any) -> None:
        who = self.transport.describe()
        if type(msg) is not dict:
            self.fail(_not_a_message(who, msg))
            return
        method = msg.get("method")
        if type(method) is str:
            if "id" in msg:
                self._start_handler(msg)
            elif method == "notifications/cancelled":
                params = msg.get("params")
                target = params.get("requestId") if isinstance(params, dict) else None
                scope = self._incoming.get(target) if isinstance(target, int | str) else None
                if scope is not None:
                    scope.cancel()
                if self.on_notification is not None:
                    await self.on_notification(msg)
            elif self.on_notification is not None:
                await self.on_notification(msg)
            return
        if "id" in msg and ("result" in msg or "error" in msg):
            waiter = self.waiters.get(msg["id"])
            if waiter is None or waiter.event.is_set():
                if self.on_unmatched is not None:
                    self.on_unmatched(msg)
                else:
                    log.debug("trio_mcp.client: an answer that matches no request: %r", msg)
                return
            waiter.message = msg
            waiter.event.set()
            return
        self.fail(_not_a_message(who, msg))

    def _start_handler(self, msg: dict[str, Any]) -> None:
        if self._nursery is None:
            return
        self._nursery.start_soon(self._handle, msg)

    async def _handle(self, msg: dict[str, Any]) -> None:
        rid = msg["id"]
        reply: dict[str, Any] | None = None
        with trio.CancelScope() as scope:
            self._incoming[rid] = scope
            try:
                if self.on_request is None:
                    raise MethodNotFound(f"Method not found: {msg['method']}")
                result = await self.on_request(msg)
                if result is not None:
                    reply = {"jsonrpc": "2.0", "id": rid, "result": result}
            except McpError as exc:
                reply = {"jsonrpc": "2.0", "id": rid, "error": exc.to_error()}
            except Exception as exc:
                log.exception("trio_mcp.client: the handler of %s raised", msg["method"])
                error = {"code": INTERNAL_ERROR, "message": f"Client handler failed: {exc}"}
                reply = {"jsonrpc": "2.0", "id": rid, "error": error}
            finally:
                self._incoming.pop(rid, None)
        if reply is None or scope.cancelled_caught or self.failure is not None:
            return
        try:
            await self.transport.send(reply)
        except ClientError:
            pass


def _not_a_message(who: str, value: Any) -> ServerMisbehaved:
    text = encode(value).decode("utf-8", "replace")
    text = text if len(text) <= 200 else text[:200] + "..."
    return ServerMisbehaved(f"{who} sent {text}, which is not a JSON-RPC message", text)


def result_of(message: dict[str, Any]) -> dict[str, Any]:
    """The ``result`` of a response message, or its error raised.

    Raises:
        McpError: an error response.
        ServerMisbehaved: a result that is not an object.
    """
    if "error" in message:
        raise error_from_wire(message["error"])
    result = message.get("result")
    if type(result) is not dict:
        raise ServerMisbehaved(
            f"the server answered with a result that is not an object: {snippet(repr(result))}"
        )
    return result
