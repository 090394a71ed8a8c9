"""The per-request context a handler receives by annotating a parameter ``Context``."""

from __future__ import annotations

import contextvars
import logging
from collections.abc import Awaitable
from typing import TYPE_CHECKING, Any, TypeVar

import attrs
import trio

from .._errors import CAPABILITY_NOT_SUPPORTED, McpError
from .._protocol import Era, IncomingRequest, log_enabled
from .._schema import schema_for
from .._wire import Id
from ._answers import check_elicitation, check_roots, check_sampling
from ._messages import messages_of
from ._mrtr import InputRequired
from ._request_view import RequestView

if TYPE_CHECKING:
    from .._runtime import AccessToken, HttpRequestInfo, Peer
    from ._cache import TTLCache
    from ._core import ServerCore
    from ._server import Server
    from ._tasks import TaskRun

__all__ = ["ClientCapabilityMissing", "Context", "ElicitResult", "current_context"]

T = TypeVar("T")


class ClientCapabilityMissing(McpError):
    """The handler needs a client capability the client did not declare (``-32021``).

    Raised by ``ctx.elicit``/``ctx.sample``/``ctx.list_roots``. Uncaught, it
    reaches the client as the spec's MissingRequiredClientCapability error.
    """

    default_code = CAPABILITY_NOT_SUPPORTED

    def __init__(self, capability: str, required: dict[str, Any]) -> None:
        super().__init__(
            None,
            f"This request needs the client capability {capability!r}, which the client did not declare",
            {"requiredCapabilities": required},
        )


@attrs.frozen
class ElicitResult:
    """The user's answer to ``ctx.elicit``: ``action`` is accept, decline or cancel."""

    action: str
    content: dict[str, Any] | None = None


log = logging.getLogger("trio_mcp")

#: The Context of the request the current task is handling (for the logging bridge).
current_context: contextvars.ContextVar[Context | None] = contextvars.ContextVar(
    "trio_mcp_context", default=None
)


@attrs.define(eq=False)
class Context(RequestView):
    """What a handler knows about its request and can do with it.

    Declare it by annotation and the runtime injects it::

        @server.tool()
        async def slow(n: int, ctx: Context) -> str:
            for i in range(n):
                await ctx.report_progress(i, n)
                await trio.sleep(1)
            return "done"

    A context is valid only while its request is being handled; after the
    response, progress and log calls are ignored.
    """

    request: IncomingRequest
    _conn: Peer
    _core: ServerCore
    _last_progress: float | None = attrs.field(default=None, init=False)
    _done: bool = attrs.field(default=False, init=False)
    #: Modern era: answers to input requests, by key (from this request and earlier rounds).
    input_responses: dict[str, Any] = attrs.field(factory=dict, init=False)
    _input_count: int = attrs.field(default=0, init=False)
    pending_input: InputRequired | None = attrs.field(default=None, init=False)
    _run: TaskRun | None = attrs.field(default=None, init=False)
    #: The exception the handler raised, when it became a result (a tool's ``isError``).
    exception: Exception | None = attrs.field(default=None, init=False)
    _timings: dict[str, float] | None = attrs.field(default=None, init=False)
    _dependency_cache: dict[Any, Any] | None = attrs.field(default=None, init=False)
    _http: HttpRequestInfo | None = attrs.field(default=None, init=False)

    @property
    def server(self) -> Server:
        """The :class:`~trio_mcp.Server` handling this request."""
        server: Server = self._core.owner
        return server

    @property
    def request_id(self) -> Id:
        """The JSON-RPC id of this request."""
        return self.request.id

    @property
    def era(self) -> Era:
        """The protocol era this request was made in."""
        return self.request.era

    @property
    def protocol_version(self) -> str:
        return self.request.version

    @property
    def client_info(self) -> dict[str, Any] | None:
        """The client's ``Implementation`` (name, version...), if it sent one."""
        return self.request.client_info

    @property
    def client_capabilities(self) -> dict[str, Any]:
        return self.request.client_capabilities

    @property
    def task_id(self) -> str | None:
        """The id of the task this call runs as, once it is one (see :meth:`start_task`)."""
        run = self._run
        return run.task.id if run is not None and run.task is not None else None

    async def start_task(self) -> str | None:
        """Become a task now; return its id (``None`` when this call is not run as a task).

        Only meaningful in a tool registered with ``task_start="explicit"``: the
        handler runs on behalf of the request until this call, so input it asks
        for before (``elicit``, ``sample``...) is resolved synchronously (MRTR
        rounds in the modern era), and the request is then answered with the
        task's ``CreateTaskResult`` while the handler goes on. Elsewhere (the
        task already started, or the call is not a task) it does nothing.
        """
        await trio.lowlevel.checkpoint()
        run = self._run
        if run is None:
            return None
        return (await run.start()).id

    def _enter_task(self, run: TaskRun, peer: Peer) -> None:
        self.http  # noqa: B018  (kept: the request that carried it ends before the task)
        self._run = run
        self._conn = peer

    @property
    def access_token(self) -> AccessToken | None:
        """The client's verified bearer token (Streamable HTTP with ``auth=``), else ``None``.

        Its ``subject``, ``scopes`` and ``claims`` are what the verifier returned.
        """
        return self._conn.token

    @property
    def cancel_scope(self) -> trio.CancelScope:
        """This request's cancel scope (its deadline is the request's timeout)."""
        scope = self._conn.scope_of(self.request.id)
        if scope is None:
            raise RuntimeError("this request is no longer running")
        return scope

    @property
    def cancel_requested(self) -> bool:
        """True once the client cancelled, the deadline passed or shutdown began."""
        scope = self._conn.scope_of(self.request.id)
        return scope is None or scope.cancel_called

    @property
    def cache(self) -> TTLCache[Any, Any]:
        """The server's shared TTL cache."""
        return self._core.cache

    @property
    def state(self) -> Any:
        """What the server's lifespan yielded (``None`` without a lifespan)."""
        return self._core.state

    async def report_progress(
        self, progress: float, total: float | None = None, message: str | None = None
    ) -> None:
        """Send ``notifications/progress`` if the client asked for it (a progressToken).

        ``progress`` must increase with each call; a value that does not is
        dropped (and logged), as the spec requires progress to increase.
        """
        token = self.request.progress_token
        if token is None or self._done:
            return
        if self._last_progress is not None and progress <= self._last_progress:
            log.warning(
                "trio_mcp: progress must increase (%s after %s); dropped",
                progress,
                self._last_progress,
            )
            return
        self._last_progress = progress
        params: dict[str, Any] = {"progressToken": token, "progress": progress}
        if total is not None:
            params["total"] = total
        if message is not None:
            params["message"] = message
        await self._conn.notify("notifications/progress", params, related=self.request.id)

    async def log(self, level: str, data: Any, *, logger: str | None = None) -> None:
        """Send a ``notifications/message`` log entry, if the client's level lets it through.

        Legacy: the threshold is what ``logging/setLevel`` chose (nothing is sent
        before it). Modern: the request's ``_meta`` logLevel (nothing without it).
        """
        if self._done or not self._log_enabled(level):
            return
        params: dict[str, Any] = {"level": level, "data": data}
        if logger is not None:
            params["logger"] = logger
        await self._conn.notify("notifications/message", params, related=self.request.id)

    async def debug(self, data: Any, **kw: Any) -> None:
        await self.log("debug", data, **kw)

    async def info(self, data: Any, **kw: Any) -> None:
        await self.log("info", data, **kw)

    async def warning(self, data: Any, **kw: Any) -> None:
        await self.log("warning", data, **kw)

    async def error(self, data: Any, **kw: Any) -> None:
        await self.log("error", data, **kw)

    def log_nowait(self, level: str, data: Any, *, logger: str | None = None) -> bool:
        """Like :meth:`log`, without waiting (for the ``logging`` bridge)."""
        if self._done or not self._log_enabled(level):
            return False
        params: dict[str, Any] = {"level": level, "data": data}
        if logger is not None:
            params["logger"] = logger
        return self._conn.notify_nowait("notifications/message", params)

    def _log_enabled(self, level: str) -> bool:
        threshold = self.request.log_level
        if self.request.features.set_level:  # legacy: logging/setLevel sets the session's
            threshold = self._conn.session.legacy_log_level
        return log_enabled(threshold, level)

    def close_sse_stream(self) -> bool:
        """Legacy HTTP only: end this request's SSE connection now; the client resumes.

        The request goes on; what it sends meanwhile is kept and replayed when the
        client reconnects with ``Last-Event-ID`` (SSE polling, SEP-1699). Returns
        False where there is no such stream (stdio, the modern era, JSON answers).
        """
        return self._conn.close_stream(self.request.id)

    # ------------------------------------------------- input from the client

    async def elicit(
        self,
        message: str,
        schema: type | dict[str, Any] | None = None,
        *,
        key: str | None = None,
    ) -> ElicitResult:
        """Ask the user for structured input (form mode).

        ``schema`` is an attrs class, a ``TypedDict`` or a JSON Schema object
        with flat primitive properties. Legacy: an ``elicitation/create``
        request to the client. Modern: an ``input_required`` round trip.

        ``key`` names the request in the modern era's ``inputRequests`` (and the
        client's ``inputResponses``); by default it is positional (``elicit-0``,
        ``sample-1``...). Name it when a client or spec expects a given key. The
        same holds for :meth:`elicit_url`, :meth:`sample` and :meth:`list_roots`.

        Raises:
            ClientCapabilityMissing: the client did not declare ``elicitation``.
            AnswerInvalid: the answer's ``action`` is unknown, or an accepted
                ``content`` does not match ``schema`` (``-32602``, paths in ``errors``).
            McpError: the client answered with an error (legacy).
        """
        caps = self.client_capabilities.get("elicitation")
        if not isinstance(caps, dict) or (caps and "form" not in caps):
            raise ClientCapabilityMissing("elicitation", {"elicitation": {"form": {}}})
        requested = schema if isinstance(schema, dict) else schema_for(schema) if schema else {}
        requested = {k: v for k, v in requested.items() if k != "additionalProperties"}
        requested.setdefault("type", "object")
        requested.setdefault("properties", {})
        params: dict[str, Any] = {"message": message, "requestedSchema": requested}
        params["mode"] = "form"  # the session drops it where the version has no mode
        result = await self._input("elicit", "elicitation/create", params, key)
        return ElicitResult(*check_elicitation(requested, result))

    async def elicit_url(
        self, message: str, url: str, elicitation_id: str, *, key: str | None = None
    ) -> ElicitResult:
        """Send the user to ``url`` (URL-mode elicitation, 2025-11-25 and modern).

        Raises:
            ClientCapabilityMissing: the client did not declare ``elicitation.url``.
            AnswerInvalid: the answer's ``action`` is unknown.
        """
        caps = self.client_capabilities.get("elicitation")
        if not isinstance(caps, dict) or "url" not in caps:
            raise ClientCapabilityMissing("elicitation.url", {"elicitation": {"url": {}}})
        params = {"mode": "url", "message": message, "url": url, "elicitationId": elicitation_id}
        result = await self._input("elicit", "elicitation/create", params, key)
        return ElicitResult(*check_elicitation({}, result))

    async def sample(
        self,
        messages: str | list[Any],
        *,
        max_tokens: int = 1000,
        system_prompt: str | None = None,
        temperature: float | None = None,
        model_preferences: dict[str, Any] | None = None,
        key: str | None = None,
    ) -> dict[str, Any]:
        """Ask the client's model for a completion (``sampling/createMessage``).

        ``messages`` is a string (one user message) or a list of
        :class:`~trio_mcp.Message` / wire dicts. Returns the ``CreateMessageResult``.

        Raises:
            ClientCapabilityMissing: the client did not declare ``sampling``.
            AnswerInvalid: the result is not a well-formed ``CreateMessageResult``.
        """
        if not isinstance(self.client_capabilities.get("sampling"), dict):
            raise ClientCapabilityMissing("sampling", {"sampling": {}})
        wire = [
            m if isinstance(m, dict) else messages_of(m)[0]
            for m in (messages if isinstance(messages, list) else [messages])
        ]
        params: dict[str, Any] = {"messages": wire, "maxTokens": max_tokens}
        if system_prompt is not None:
            params["systemPrompt"] = system_prompt
        if temperature is not None:
            params["temperature"] = temperature
        if model_preferences is not None:
            params["modelPreferences"] = model_preferences
        return check_sampling(await self._input("sample", "sampling/createMessage", params, key))

    async def list_roots(self, *, key: str | None = None) -> list[dict[str, Any]]:
        """The client's roots (``roots/list``): a list of ``{"uri", "name"}``.

        Raises:
            ClientCapabilityMissing: the client did not declare ``roots``.
            AnswerInvalid: the result is not an array of ``file://`` roots.
        """
        if not isinstance(self.client_capabilities.get("roots"), dict):
            raise ClientCapabilityMissing("roots", {"roots": {}})
        return check_roots(await self._input("roots", "roots/list", {}, key))

    async def gather_input(self, *calls: Awaitable[T]) -> list[T]:
        """Await several input calls as one round; return their results in order.

        ::

            name, roots = await ctx.gather_input(
                ctx.elicit("Your name?", NameForm), ctx.list_roots()
            )

        Modern era: every call whose answer is missing goes into the same
        ``input_required`` result, so the client answers them all in one retry
        (awaited one by one, the handler would need one round per call). Legacy:
        the requests are sent one after another. An exception from a call (e.g.
        :class:`ClientCapabilityMissing`) propagates; the calls after it are not made.
        Inside a modern task, the calls wait together: the task's ``inputRequests``
        hold them all at once.
        """
        if self._in_modern_task():
            return await _concurrently(calls)
        results: list[T] = []
        missing: dict[str, dict[str, Any]] = {}
        pending = list(calls)
        try:
            while pending:
                call = pending.pop(0)
                try:
                    results.append(await call)
                except InputRequired as exc:
                    missing.update(exc.requests)
        finally:
            for call in pending:  # not awaited: close them (no "never awaited" warning)
                close = getattr(call, "close", None)
                if close is not None:
                    close()
        if missing:
            self.pending_input = InputRequired(missing)
            raise self.pending_input
        return results

    async def _input(
        self, kind: str, method: str, params: dict[str, Any], key: str | None = None
    ) -> dict[str, Any]:
        if self.request.features.server_requests:  # legacy: a real request to the client
            return await self._conn.request(method, params, related=self.request.id)
        if key is None:
            key = f"{kind}-{self._input_count}"
        self._input_count += 1
        answer = self.input_responses.get(key)
        if isinstance(answer, dict):
            return answer
        if self._run is not None and self._run.task is not None:
            return await self._run.task.ask(key, method, params)  # tasks/update answers it
        self.pending_input = InputRequired.one(key, method, params)
        raise self.pending_input

    def _in_modern_task(self) -> bool:
        return (
            self.request.features.tasks == "extension"
            and self._run is not None
            and self._run.task is not None
        )

    def _finish(self) -> None:
        self._done = True


async def _concurrently(calls: tuple[Awaitable[T], ...]) -> list[T]:
    """Await ``calls`` together; results in order; the first exception propagates."""
    results: list[Any] = [None] * len(calls)
    errors: list[Exception] = []

    async def one(i: int, call: Awaitable[T]) -> None:
        try:
            results[i] = await call
        except Exception as exc:
            errors.append(exc)
            nursery.cancel_scope.cancel()

    async with trio.open_nursery() as nursery:
        for i, call in enumerate(calls):
            nursery.start_soon(one, i, call)
    if errors:
        raise errors[0]
    return results
