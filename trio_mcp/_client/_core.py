"""The core of ``trio_mcp.Client``: connect, agree on an era, and make requests in either era alike.

The life of a client is one ``async with``: its nursery runs the transport's
reader (and the subprocess, the HTTP streams...) and the handlers of server
requests. On the way out the server is told (stdin closed, HTTP ``DELETE``),
given its grace, and whatever is left is cancelled (a subprocess is then
terminated, then killed). Nothing outlives the block.

Errors come out as one exception, the cause: an :class:`~trio_mcp.McpError`
for a JSON-RPC error, a :class:`~trio_mcp.client.ClientError` for the rest;
the nursery's exception group is unwrapped when it holds a single exception
(``Cancelled`` included, which is never swallowed).

Era (``era=``):

* ``"auto"`` (default): probe with ``server/discover`` in the modern era
  (2026-07-28). A result means modern. ``-32022`` (unsupported version)
  means modern with another version, or legacy if it only lists legacy ones.
  Any other error, an HTTP status without a JSON-RPC body, or no answer
  within ``probe_timeout`` means legacy: the ``initialize`` handshake follows.
  A server that was only slow (a process still starting: the probe was read,
  and answered, after its timeout) then refuses ``initialize`` with ``-32022``:
  the probe is made again, with the request deadline.
* ``"legacy"``: ``initialize`` at ``version`` (default the newest legacy one).
* ``"modern"``: ``server/discover`` at ``version``; every request carries its ``_meta``.
  A ``-32022`` whose ``supported`` list names ``version`` is retried once.
"""

from __future__ import annotations

import contextlib
import functools
import logging
import shlex
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from typing import Any, Literal, Self

import trio

from .._errors import McpError, MethodNotFound, UnsupportedProtocolVersion
from .._protocol._versions import (
    LATEST_LEGACY,
    LATEST_MODERN,
    LEGACY_VERSIONS,
    META_CLIENT_CAPABILITIES,
    META_CLIENT_INFO,
    META_LOG_LEVEL,
    META_PROTOCOL_VERSION,
    META_SERVER_INFO,
    MODERN_VERSIONS,
)
from ._errors import ClientError, HttpError, RequestTimeout, ServerMisbehaved, unwrap_group
from ._handlers import ElicitationHandler, Handlers, RootsHandler, RootsLike, SamplingHandler
from ._process import Subprocess
from ._session import Session
from ._transport import ByteStream, InMemory, Transport
from ._types import Implementation, LogMessage, parse

__all__ = ["DEFAULT", "ClientCore", "transport_for"]

log = logging.getLogger("trio_mcp.client")


class _Default:
    def __repr__(self) -> str:
        return "DEFAULT"


#: "the client's default" for ``timeout=`` arguments (``None`` means no deadline).
DEFAULT: Any = _Default()

Era = Literal["auto", "legacy", "modern"]


ProgressHandler = Callable[[float, float | None, str | None], Awaitable[None]]


def transport_for(target: Any, **options: Any) -> Transport:
    """The transport a target names (see :class:`Client`)."""
    if isinstance(target, Transport):
        return target
    if isinstance(target, str) and target.startswith(("http://", "https://")):
        from ._http import StreamableHttp  # httpx is imported only here

        return StreamableHttp(target, headers=options.get("headers"), auth=options.get("auth"))
    if isinstance(target, trio.abc.Stream):
        return ByteStream(target)
    if isinstance(target, str | list | tuple):
        command = shlex.split(target) if isinstance(target, str) else [str(a) for a in target]
        if not command:
            raise ValueError("an empty command line")
        return Subprocess(command, env=options.get("env"), cwd=options.get("cwd"))
    if callable(getattr(target, "serve", None)):
        return InMemory(target)
    raise TypeError(
        f"cannot connect to {target!r}: expected a Server, a command, a URL or a stream"
    )


class ClientCore:
    """The connection, the handshake and the request machinery of :class:`~trio_mcp.Client`."""

    def __init__(
        self,
        target: Any,
        *,
        era: Era = "auto",
        version: str | None = None,
        timeout: float | None = 60.0,
        probe_timeout: float = 10.0,
        sampling: SamplingHandler | None = None,
        elicitation: ElicitationHandler | None = None,
        url_elicitation: bool = False,
        roots: RootsLike | RootsHandler | None = None,
        on_log: Callable[[LogMessage], Awaitable[None]] | None = None,
        log_level: str | None = None,
        on_notification: Callable[[dict[str, Any]], Awaitable[None]] | None = None,
        client_info: dict[str, Any] | None = None,
        env: dict[str, str] | None = None,
        cwd: str | None = None,
        headers: dict[str, str] | None = None,
        auth: Any = None,
        max_input_rounds: int = 8,
    ) -> None:
        if era not in ("auto", "legacy", "modern"):
            raise ValueError(f"era must be 'auto', 'legacy' or 'modern', not {era!r}")
        self.transport = transport_for(target, env=env, cwd=cwd, headers=headers, auth=auth)
        self.handlers = Handlers(sampling, elicitation, roots, url_elicitation)
        self.session = Session(
            self.transport, on_request=self._on_request, on_notification=self._on_notification
        )
        self._wanted_era = era
        self._wanted_version = version
        self.timeout = timeout
        self.probe_timeout = probe_timeout
        self.on_log = on_log
        self.log_level = log_level
        self.on_notification = on_notification
        self.client_info = client_info or {"name": "trio_mcp", "version": _version()}
        self.max_input_rounds = max_input_rounds
        self.era: Literal["legacy", "modern"] | None = None
        self.protocol_version: str | None = None
        self.server_info: Implementation | None = None
        self.server_capabilities: dict[str, Any] = {}
        self.instructions: str | None = None
        self._progress: dict[str, ProgressHandler] = {}
        self._tool_schemas: dict[str, dict[str, Any]] = {}
        self._stack: contextlib.AsyncExitStack | None = None
        if hasattr(self.transport, "tool_schema"):  # HTTP: Mcp-Param-* headers need the schemas
            self.transport.tool_schema = self._tool_schemas.get

    # ------------------------------------------------------------ lifetime

    async def __aenter__(self) -> Self:
        if self._stack is not None:
            raise RuntimeError("this Client is already open; make a new one")
        self._stack = contextlib.AsyncExitStack()
        try:
            await self._stack.enter_async_context(self._running())
        except BaseException as exc:
            raise unwrap_group(exc) from None
        return self

    async def __aexit__(self, *exc_info: Any) -> None:
        assert self._stack is not None
        try:
            await self._stack.__aexit__(*exc_info)
        except BaseException as exc:
            inner = unwrap_group(exc)
            if inner is exc_info[1]:
                return  # the body's own exception: let it go on as it was
            raise inner from None

    @contextlib.asynccontextmanager
    async def _running(self) -> AsyncIterator[None]:
        async with trio.open_nursery() as nursery:
            await nursery.start(self.session.run)
            try:
                try:
                    await self._handshake()
                except RequestTimeout:
                    self.transport.unresponsive()
                    raise
                yield
            finally:
                with trio.CancelScope(shield=True):
                    await self._close()
                nursery.cancel_scope.cancel()

    async def _close(self) -> None:
        """Tell the server we are leaving; give it its grace to go."""
        if self.session.failure is None:
            with trio.move_on_after(2.0):
                try:
                    await self.transport.aclose()
                except ClientError:
                    pass
        grace = getattr(self.transport, "grace", 5.0) + 1.0
        with trio.move_on_after(grace):
            await self.session.closed.wait()

    # ------------------------------------------------------------ handshake

    async def _handshake(self) -> None:
        if self._wanted_era == "legacy":
            await self._initialize(self._wanted_version or LATEST_LEGACY)
        elif self._wanted_era == "modern":
            version = self._wanted_version or LATEST_MODERN
            try:
                await self._discover(version, self.timeout)
            except UnsupportedProtocolVersion as exc:
                # Refused, yet listed as supported (a server that restarted onto another
                # build, a proxy): the same version once more; a pinned version never changes.
                data = exc.data if isinstance(exc.data, dict) else {}
                supported = data.get("supported")
                if not isinstance(supported, list) or version not in supported:
                    raise
                await self._discover(version, self.timeout)
        else:
            await self._negotiate()

    async def _negotiate(self) -> None:
        try:
            await self._discover(LATEST_MODERN, self.probe_timeout)
        except UnsupportedProtocolVersion as exc:
            supported = (exc.data or {}).get("supported") if isinstance(exc.data, dict) else None
            supported = supported if isinstance(supported, list) else []
            modern = [v for v in MODERN_VERSIONS if v in supported]
            legacy = [v for v in LEGACY_VERSIONS if v in supported]
            if modern:
                await self._discover(modern[0], self.timeout)
            elif legacy:
                await self._initialize(legacy[0])
            else:
                raise ServerMisbehaved(
                    f"the server speaks none of this client's protocol versions: {supported}"
                ) from None
        except (McpError, HttpError, RequestTimeout) as exc:
            log.debug("trio_mcp.client: server/discover failed (%s); trying initialize", exc)
            try:
                await self._initialize(LATEST_LEGACY)
            except RequestTimeout as again:
                if not isinstance(exc, RequestTimeout):
                    raise
                raise RequestTimeout("server/discover or initialize", again.timeout) from None
            except UnsupportedProtocolVersion:
                if not isinstance(exc, RequestTimeout):
                    raise
                # The probe came through late (a slow start) and the server took the
                # modern era on it: ask again, as a request, not a probe.
                log.debug("trio_mcp.client: initialize refused after a late probe; discovering")
                await self._discover(LATEST_MODERN, self.timeout)

    async def _discover(self, version: str, timeout: float | None) -> None:
        self.era, self.protocol_version = "modern", version
        self.transport.negotiated(version, modern=True)
        result = await self.session.call("server/discover", self._params(None), timeout=timeout)
        supported = result.get("supportedVersions")
        if isinstance(supported, list) and version not in supported:
            modern = [v for v in MODERN_VERSIONS if v in supported]
            if not modern:
                raise UnsupportedProtocolVersion(
                    f"the server does not speak {version}", {"supported": supported}
                )
            self.protocol_version = modern[0]
        meta = result.get("_meta")
        self._server(result, meta.get(META_SERVER_INFO) if isinstance(meta, dict) else None)

    async def _initialize(self, version: str) -> None:
        self.era, self.protocol_version = "legacy", version
        params = {
            "protocolVersion": version,
            "capabilities": self.handlers.capabilities(),
            "clientInfo": self.client_info,
        }
        result = await self.session.call("initialize", params, timeout=self.timeout)
        chosen = result.get("protocolVersion")
        if chosen not in LEGACY_VERSIONS:
            raise ServerMisbehaved(
                f"the server chose protocol version {chosen!r}, which this client does not speak"
            )
        self.protocol_version = chosen
        self._server(result, result.get("serverInfo"))
        self.transport.negotiated(chosen, modern=False)
        await self.session.notify("notifications/initialized")
        if self.log_level is not None and "logging" in self.server_capabilities:
            await self.request("logging/setLevel", {"level": self.log_level})

    def _server(self, result: dict[str, Any], info: Any) -> None:
        self.server_info = parse(Implementation, info or {"name": ""}, "serverInfo")
        caps = result.get("capabilities")
        self.server_capabilities = caps if isinstance(caps, dict) else {}
        instructions = result.get("instructions")
        self.instructions = instructions if isinstance(instructions, str) else None

    # ------------------------------------------------------------ requests

    def _params(
        self,
        params: dict[str, Any] | None,
        meta: dict[str, Any] | None = None,
        extensions: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        out = dict(params or {})
        full = dict(out.get("_meta") or {})
        if self.era == "modern":
            caps = self.handlers.capabilities()
            if extensions:
                caps["extensions"] = extensions
            full[META_PROTOCOL_VERSION] = self.protocol_version
            full[META_CLIENT_INFO] = self.client_info
            full[META_CLIENT_CAPABILITIES] = caps
            if self.log_level is not None:
                full[META_LOG_LEVEL] = self.log_level
        full.update(meta or {})
        if full:
            out["_meta"] = full
        return out

    def _deadline(self, timeout: Any) -> float | None:
        return self.timeout if timeout is DEFAULT else timeout

    async def request(
        self,
        method: str,
        params: dict[str, Any] | None = None,
        *,
        timeout: Any = DEFAULT,
        meta: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        """Any method, raw: the ``result`` dict (``_meta`` is added in the modern era).

        Raises:
            McpError: the server answered with an error.
            RequestTimeout: no answer within ``timeout`` s (the request is cancelled).
            ClientError: the connection ended or the server misbehaved.
        """
        return await self.session.call(
            method, self._params(params, meta), timeout=self._deadline(timeout)
        )

    async def notify(self, method: str, params: dict[str, Any] | None = None) -> None:
        """Send a notification."""
        await self.session.notify(method, params)

    async def request_with_input(
        self,
        method: str,
        params: dict[str, Any],
        *,
        timeout: Any = DEFAULT,
        meta: dict[str, Any] | None = None,
        extensions: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        """A request that may need client input: the modern ``input_required`` rounds.

        Each round's ``inputRequests`` are answered by the same handlers that
        answer legacy server requests, then the request is retried with
        ``inputResponses`` and the ``requestState`` echoed as it came.

        Raises:
            ServerMisbehaved: more than ``max_input_rounds`` rounds, or input
                this client did not declare.
        """
        params = dict(params)
        for _ in range(self.max_input_rounds + 1):
            result = await self.session.call(
                method, self._params(params, meta, extensions), timeout=self._deadline(timeout)
            )
            if result.get("resultType") != "input_required":
                return result
            params.pop("inputResponses", None)
            params.pop("requestState", None)
            requests = result.get("inputRequests")
            if isinstance(requests, dict) and requests:
                params["inputResponses"] = await self.answer_input(requests)
            if "requestState" in result:
                params["requestState"] = result["requestState"]
        raise ServerMisbehaved(
            f"the server asked for input more than {self.max_input_rounds} times for one {method}"
        )

    async def answer_input(self, requests: dict[str, Any]) -> dict[str, Any]:
        """Answer an ``inputRequests`` map with this client's handlers."""
        responses: dict[str, Any] = {}
        for key, request in requests.items():
            request = request if isinstance(request, dict) else {}
            method = str(request.get("method"))
            try:
                responses[key] = await self.handlers.answer(method, request.get("params"))
            except MethodNotFound:
                raise ServerMisbehaved(
                    f"the server asked for {method} input, which this client did not declare"
                ) from None
        return responses

    # ------------------------------------------------------- from the server

    async def _on_request(self, message: dict[str, Any]) -> dict[str, Any]:
        return await self.handlers.answer(message["method"], message.get("params"))

    async def _on_notification(self, message: dict[str, Any]) -> None:
        method, params = message["method"], message.get("params")
        params = params if isinstance(params, dict) else {}
        if method == "notifications/progress":
            handler = self._progress.get(str(params.get("progressToken")))
            if handler is not None:
                await handler(params.get("progress", 0), params.get("total"), params.get("message"))
                return
        elif method == "notifications/message" and self.on_log is not None:
            await self.on_log(parse(LogMessage, params, "log message"))
            return
        if self.on_notification is not None:
            await self.on_notification(message)

    async def set_roots(self, roots: Sequence[Any]) -> None:
        """Change the roots; a legacy server is told (``notifications/roots/list_changed``)."""
        self.handlers.roots = list(roots)
        if self.era == "legacy":
            await self.notify("notifications/roots/list_changed")


@functools.cache
def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("trio_mcp")
    except PackageNotFoundError:  # pragma: no cover - running from a source tree
        return "0"
