"""Streamable HTTP, the client side, in both eras.

Why httpx: it is the best kept async HTTP client for Python, it runs on Trio
natively (through anyio and httpcore's Trio backend: no asyncio loop, no
thread), it streams response bodies (which server-sent events need), it
cancels cleanly (leaving a stream early closes the connection, which is how a
modern request is cancelled), and its ``httpx.Auth`` flows are the hook an
OAuth client plugs into (authlib ships one). It is the optional extra
``trio_mcp[client-http]``: ``import trio_mcp`` never imports it.

Each message is one POST. What differs by era is read from the message itself:

* **modern** (``_meta`` carries the protocol version): no session. Headers
  ``MCP-Protocol-Version``, ``Mcp-Method``, ``Mcp-Name`` (``name``/``uri``/
  ``taskId``) and ``Mcp-Param-*`` (``x-mcp-header`` arguments). Cancelling a
  request closes its response stream; nothing else is sent.
* **legacy**: the ``Mcp-Session-Id`` of the ``initialize`` response and the
  negotiated ``MCP-Protocol-Version`` go on every later POST; a ``GET``
  stream carries what the server sends unprompted (requests included); a
  response stream that breaks before its answer is resumed with ``GET`` +
  ``Last-Event-ID``; a cancelled request is also sent ``notifications/cancelled``;
  the session is ended with ``DELETE`` on close.

A JSON-RPC error in an HTTP error response (400, 404...) is that request's
answer. A status with no JSON-RPC body fails the request with
:class:`~trio_mcp.client.HttpError`; a connection failure with
:class:`~trio_mcp.client.ConnectionClosed`.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Callable
from typing import Any

import attrs
import httpx
import trio

from .._errors import ParseError
from .._protocol._versions import MCP_NAME_PARAM as _NAMED
from .._protocol._versions import META_PROTOCOL_VERSION
from .._wire import Id, decode, encode
from ._errors import ClientError, ConnectionClosed, HttpError, ServerMisbehaved
from ._sse import sse_events
from ._transport import Sink, Transport, snippet
from ._xheaders import encode_header_value, param_headers

__all__ = ["StreamableHttp"]

log = logging.getLogger("trio_mcp.client")

_RESUME_ATTEMPTS = 5
_LISTEN_FAILURES = 5


def _modern_version(message: dict[str, Any]) -> str | None:
    params = message.get("params")
    meta = params.get("_meta") if isinstance(params, dict) else None
    version = meta.get(META_PROTOCOL_VERSION) if isinstance(meta, dict) else None
    return version if isinstance(version, str) else None


def _answers(value: Any, rid: Id) -> bool:
    return isinstance(value, dict) and value.get("id") == rid and "method" not in value


@attrs.define(eq=False)
class StreamableHttp(Transport):
    """An MCP server at an ``http(s)://`` URL (see the module docstring).

    Args:
        url: The MCP endpoint.
        headers: Extra headers on every request.
        auth: A bearer token (``str``) or any ``httpx.Auth`` (OAuth flows plug in here).
        http_client: An ``httpx.AsyncClient`` to use (it is not closed here).
        connect_timeout: Seconds to connect; reads have no timeout of their own
            (each request has its deadline).
    """

    url: str = attrs.field(kw_only=False)
    headers: dict[str, str] | None = None
    auth: Any = None
    http_client: httpx.AsyncClient | None = None
    connect_timeout: float = 10.0
    #: The input schema of a tool by name (the Client fills it from tools/list).
    tool_schema: Callable[[str], dict[str, Any] | None] = lambda name: None
    session_id: str | None = attrs.field(default=None, init=False)
    grace: float = 2.0
    _version: str | None = attrs.field(default=None, init=False)
    _client: httpx.AsyncClient | None = attrs.field(default=None, init=False)
    _sink: Sink | None = attrs.field(default=None, init=False)
    _nursery: trio.Nursery | None = attrs.field(default=None, init=False)
    _posts: dict[Id, tuple[trio.CancelScope, bool]] = attrs.field(factory=dict, init=False)
    _stopped: trio.Event = attrs.field(factory=trio.Event, init=False)
    _initialized: trio.Event = attrs.field(factory=trio.Event, init=False)
    #: Set once the legacy GET stream is open (or refused, or failed).
    _listening: trio.Event = attrs.field(factory=trio.Event, init=False)
    _retry: float = attrs.field(default=1.0, init=False)
    kind = "http"

    def describe(self) -> str:
        return f"the server at {self.url}"

    async def run(
        self, sink: Sink, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED
    ) -> None:
        self._sink = sink
        timeout = httpx.Timeout(self.connect_timeout, read=None, write=30.0, pool=None)
        owned = self.http_client is None
        client = self.http_client or httpx.AsyncClient(timeout=timeout)
        auth = None if self.auth is None or isinstance(self.auth, str) else self.auth
        if auth is not None:
            client.auth = auth
        self._client = client
        try:
            async with trio.open_nursery() as nursery:
                self._nursery = nursery
                task_status.started()
                await self._stopped.wait()
                nursery.cancel_scope.cancel()
        finally:
            self._nursery = None
            if owned:
                with trio.CancelScope(shield=True):
                    await client.aclose()
            sink.fail(ConnectionClosed(f"the connection to {self.url} was closed"))

    def negotiated(self, version: str, modern: bool) -> None:
        if not modern:
            self._version = version
            if self._nursery is not None:
                self._nursery.start_soon(self._listen)

    # --------------------------------------------------------------- sending

    def _headers(self, message: dict[str, Any]) -> dict[str, str]:
        headers = {"Accept": "application/json, text/event-stream"}
        headers["Content-Type"] = "application/json"
        headers.update(self.headers or {})
        if isinstance(self.auth, str):
            headers["Authorization"] = f"Bearer {self.auth}"
        version = _modern_version(message)
        if version is None:
            if self.session_id is not None:
                headers["Mcp-Session-Id"] = self.session_id
            if self._version is not None:
                headers["MCP-Protocol-Version"] = self._version
            return headers
        headers["MCP-Protocol-Version"] = version
        method, params = message.get("method"), message.get("params") or {}
        if "id" in message and isinstance(method, str):
            headers["Mcp-Method"] = method
            key = _NAMED.get(method)
            if key is not None and isinstance(params.get(key), str):
                headers["Mcp-Name"] = encode_header_value(params[key])
            if method == "tools/call" and isinstance(params.get("name"), str):
                schema = self.tool_schema(params["name"])
                if schema is not None:
                    headers.update(param_headers(schema, params.get("arguments")))
        return headers

    async def send(self, message: dict[str, Any]) -> None:
        if self._stopped.is_set() or self._nursery is None or self._client is None:
            raise ConnectionClosed(f"the connection to {self.url} is closed")
        if "id" in message and "method" in message:
            scope = trio.CancelScope()
            self._posts[message["id"]] = (scope, _modern_version(message) is not None)
            self._nursery.start_soon(self._request, message, scope)
            return
        try:
            response = await self._client.post(
                self.url, content=encode(message), headers=self._headers(message)
            )
        except httpx.HTTPError as exc:
            raise ConnectionClosed(f"cannot reach {self.url}: {_why(exc)}") from exc
        if response.status_code >= 400:
            raise HttpError(
                f"HTTP {response.status_code} from {self.url}: {snippet(response.text)}",
                response.status_code,
                response.text[:500],
            )
        if message.get("method") == "notifications/initialized":
            self._initialized.set()
            # A server may send its requests only on the GET stream, and drop them while
            # none is open: the handshake ends once the stream is open (or refused).
            with trio.move_on_after(self.connect_timeout):
                await self._listening.wait()

    async def cancel(self, rid: Id, reason: str) -> None:
        scope, modern = self._posts.get(rid, (None, False))
        if scope is not None:
            scope.cancel()  # closes the response stream: a modern server's cancellation
        if not modern:
            await super().cancel(rid, reason)

    async def _request(self, message: dict[str, Any], scope: trio.CancelScope) -> None:
        rid = message["id"]
        assert self._sink is not None
        try:
            with scope:
                await self._exchange(message, rid)
        except httpx.HTTPError as exc:
            self._sink.request_failed(
                rid, ConnectionClosed(f"cannot reach {self.url}: {_why(exc)}")
            )
        except ClientError as exc:
            self._sink.request_failed(rid, exc)
        finally:
            self._posts.pop(rid, None)

    async def _exchange(self, message: dict[str, Any], rid: Id) -> None:
        assert self._client is not None and self._sink is not None
        request = self._client.build_request(
            "POST", self.url, content=encode(message), headers=self._headers(message)
        )
        response = await self._client.send(request, stream=True)
        try:
            status = response.status_code
            if message.get("method") == "initialize" and status < 300:
                self.session_id = response.headers.get("mcp-session-id") or None
            ctype = response.headers.get("content-type", "").split(";")[0].strip().lower()
            if ctype == "text/event-stream" and status < 300:
                answered, last_id = await self._read_events(response, rid)
                if not answered:
                    await self._resume(rid, last_id)
                return
            body = await response.aread()
        finally:
            await response.aclose()
        if ctype == "application/json" and body.strip():
            value = self._decode(body)
            if (
                isinstance(value, dict)
                and value.get("jsonrpc") == "2.0"
                and "error" in value
                and value.get("id") is None
            ):
                value = {**value, "id": rid}  # an HTTP error answering this POST
            if _answers(value, rid) or status < 300:
                await self._sink.receive(value)
                return
        if status == 404 and self.session_id is not None and _modern_version(message) is None:
            self._sink.fail(ConnectionClosed(f"{self.url} ended the session (HTTP 404)"))
            return
        if status >= 400:
            text = body.decode("utf-8", "replace")
            raise HttpError(f"HTTP {status} from {self.url}: {snippet(text)}", status, text[:500])
        raise ServerMisbehaved(
            f"{self.url} answered a request with HTTP {status} and no JSON-RPC message"
        )

    def _decode(self, data: bytes | str) -> Any:
        try:
            return decode(data)
        except ParseError:
            raise ServerMisbehaved(
                f"{self.url} sent something that is not JSON: {snippet(data)}", snippet(data)
            ) from None

    async def _read_events(
        self, response: httpx.Response, rid: Id | None
    ) -> tuple[bool, str | None]:
        """Deliver a stream's events: whether ``rid`` was answered, and the last event id."""
        assert self._sink is not None
        last_id: str | None = None
        async with contextlib.aclosing(sse_events(response.aiter_lines())) as events:
            async for event in events:
                if event.retry is not None:
                    self._retry = event.retry / 1000
                if event.id is not None:
                    last_id = event.id
                if not event.data.strip():
                    continue  # a priming event
                value = self._decode(event.data)
                await self._sink.receive(value)
                if rid is not None and _answers(value, rid):
                    return True, last_id
        return False, last_id

    async def _resume(self, rid: Id, last_id: str | None) -> None:
        """The response stream ended before its answer: resume it (legacy) or give up."""
        for _ in range(_RESUME_ATTEMPTS):
            if last_id is None or self.session_id is None:
                break
            await trio.sleep(self._retry)
            outcome = await self._get(last_id, rid)
            if outcome is None:
                break
            answered, last_id = outcome[0], outcome[1] or last_id
            if answered:
                return
        raise ConnectionClosed(f"{self.url} closed the response stream before answering")

    async def _get(self, last_id: str | None, rid: Id | None) -> tuple[bool, str | None] | None:
        """One GET stream (resuming after ``last_id``); ``None`` if the server offers none."""
        assert self._client is not None
        headers = {"Accept": "text/event-stream", **(self.headers or {})}
        if isinstance(self.auth, str):
            headers["Authorization"] = f"Bearer {self.auth}"
        if self.session_id is not None:
            headers["Mcp-Session-Id"] = self.session_id
        if self._version is not None:
            headers["MCP-Protocol-Version"] = self._version
        if last_id is not None:
            headers["Last-Event-ID"] = last_id
        async with self._client.stream("GET", self.url, headers=headers) as response:
            if rid is None:
                self._listening.set()
            if response.status_code == 405:
                return None  # no standalone stream offered
            if response.status_code >= 400:
                raise HttpError(
                    f"HTTP {response.status_code} for GET {self.url}", response.status_code
                )
            answered, new_id = await self._read_events(response, rid)
            return answered, new_id or last_id

    async def _listen(self) -> None:
        """The legacy standalone GET stream, reconnected (with ``Last-Event-ID``) when it drops."""
        with trio.move_on_after(30):
            await self._initialized.wait()
        try:
            await self._listen_loop()
        finally:
            self._listening.set()

    async def _listen_loop(self) -> None:
        last_id: str | None = None
        failures = 0
        while not self._stopped.is_set() and failures < _LISTEN_FAILURES:
            try:
                outcome = await self._get(last_id, None)
            except (httpx.HTTPError, ClientError) as exc:
                self._listening.set()
                failures += 1
                log.debug("trio_mcp.client: the GET stream failed: %s", exc)
            else:
                if outcome is None:
                    return
                last_id = outcome[1] or last_id
                failures = 0
            await trio.sleep(self._retry)

    async def aclose(self) -> None:
        """End the legacy session (``DELETE``), then stop."""
        try:
            if self.session_id is not None and self._client is not None:
                headers = {"Mcp-Session-Id": self.session_id, **(self.headers or {})}
                if self._version is not None:
                    headers["MCP-Protocol-Version"] = self._version
                if isinstance(self.auth, str):
                    headers["Authorization"] = f"Bearer {self.auth}"
                with trio.move_on_after(self.grace):
                    await self._client.delete(self.url, headers=headers)
        except httpx.HTTPError as exc:
            log.debug("trio_mcp.client: DELETE failed: %s", exc)
        finally:
            self._stopped.set()


def _why(exc: httpx.HTTPError) -> str:
    cause = exc.__cause__ or exc.__context__
    text = str(exc) or str(cause or "") or type(exc).__name__
    return text
