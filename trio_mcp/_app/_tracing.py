"""Tracing: an OpenTelemetry span per request (the ``otel`` extra); nothing at all without it.

Whether a server traces is decided once, when ``Server.running()`` is entered
(:func:`start_tracing`), from the ``tracing`` setting (``TRIO_MCP_TRACING``):

* ``"off"``: never;
* ``"on"``: always (OpenTelemetry must be installed: ``trio_mcp[otel]``);
* ``"auto"`` (the default): when ``server.enable_tracing(...)`` was called, or
  when the application has already imported ``opentelemetry.trace`` and set a
  global tracer provider (an SDK one, not the API's default proxy). trio_mcp
  never imports opentelemetry to find out.

When it is off the dispatcher tests one attribute per request and nothing of
this module runs. When it is on, every request that reaches the application
gets one ``SERVER`` span following the OpenTelemetry semantic conventions for
MCP (``gen-ai/mcp``): named ``"{mcp.method.name} {target}"`` (the target is
the tool or prompt name, else the span is named after the method), with
``mcp.method.name``, ``jsonrpc.request.id``, ``mcp.protocol.version``,
``gen_ai.tool.name`` + ``gen_ai.operation.name="execute_tool"`` (tools/call),
``gen_ai.prompt.name`` (prompts/get), ``mcp.resource.uri`` (resources/*),
``enduser.id`` (the bearer token's subject), and over HTTP
``network.transport="tcp"``, ``network.protocol.name="http"``,
``client.address``/``client.port`` and ``mcp.session.id`` (legacy sessions:
a SHA-256 digest of ``Mcp-Session-Id``, since the id itself is the session's
credential). Notifications that reach the application get a span too.

**The parent**, first that applies: W3C trace context in ``params._meta``
(``traceparent``, ``tracestate``, ``baggage``: SEP-414); the span current in
the handler's task (an ASGI instrumentation's server span around the POST);
the ``traceparent`` / ``tracestate`` headers of the HTTP request; none (a root).
The global propagator reads them, so a deployment that configured another
format gets it.

**Errors.** A JSON-RPC error sets ``rpc.response.status_code``; unless it is
one the conventions count as the caller's (``-32700``, ``-32600``, ``-32601``,
``-32602``, ``-32002``) it also sets ``error.type`` (the code) and an ERROR
status with the error's message. A tool result with ``isError`` is
``error.type="tool_error"`` (the exception the tool raised is recorded on the
span around the tool: the request's, or the innermost middleware's). Any other exception is ``-32603`` (recorded); the deadline is
``error.type="timeout"``; a cancelled request is ``error.type="cancelled"``.

**Children.** Each middleware hook (``middleware {name}``) and each
dependency (``dependency {name}``, and ``dependency {name} exit`` for one
that is a context manager) is an ``INTERNAL`` span, current while it runs;
the request span is current in the handler, so the application's own spans
nest under it, and :func:`inject_meta` passes it on to an upstream server.
"""

from __future__ import annotations

import hashlib
import sys
from collections.abc import Awaitable, Callable, Mapping
from types import TracebackType
from typing import TYPE_CHECKING, Any

import trio

from .._errors import INTERNAL_ERROR, McpError
from .._protocol import IncomingRequest
from .._runtime import HttpRequestInfo, Peer

if TYPE_CHECKING:
    from opentelemetry.context import Context as OtelContext
    from opentelemetry.trace import Span

__all__ = ["MODES", "Tracing", "inject_meta", "require_otel", "start_tracing"]

MODES = ("auto", "on", "off")
"""The values of the ``tracing`` setting."""

#: JSON-RPC codes the conventions count as the caller's doing, not the server's failure.
CALLER_CODES = frozenset({-32700, -32600, -32601, -32602, -32002})

_CARRIER_KEYS = ("traceparent", "tracestate", "baggage")


def require_otel() -> None:
    """Import the OpenTelemetry API, or say which extra installs it.

    Raises:
        RuntimeError: ``opentelemetry-api`` is not installed.
    """
    try:
        import opentelemetry.trace  # noqa: F401
    except ImportError as exc:  # pragma: no cover - depends on the install
        raise RuntimeError("tracing needs OpenTelemetry: pip install 'trio_mcp[otel]'") from exc


def start_tracing(mode: str, requested: Any = None) -> Tracing | None:
    """The server's :class:`Tracing` for this run, or ``None`` (see the module docstring).

    Args:
        mode: The ``tracing`` setting: ``"auto"``, ``"on"`` or ``"off"``.
        requested: What ``enable_tracing`` asked for: ``None`` (nothing),
            ``True`` (the global tracer provider) or a tracer provider.

    Raises:
        RuntimeError: tracing is on and OpenTelemetry is not installed.
    """
    mode = mode.lower()
    if mode == "off":
        return None
    if mode == "auto" and requested is None:
        trace = sys.modules.get("opentelemetry.trace")
        if trace is None or isinstance(
            trace.get_tracer_provider(), (trace.ProxyTracerProvider, trace.NoOpTracerProvider)
        ):
            return None
    require_otel()
    return Tracing(None if requested is True else requested)


def inject_meta(meta: dict[str, Any]) -> dict[str, Any]:
    """Write the current span's W3C trace context into ``meta`` (an outgoing ``_meta``).

    For a proxy (or any client inside a handler): the upstream server's span
    then joins this request's trace. Keys written are the global
    propagator's (``traceparent``, ``tracestate``, ``baggage`` by default);
    nothing is written when no span is current, and opentelemetry is never
    imported by this call (without it there is no span to pass on).

    Returns:
        ``meta`` itself.
    """
    if "opentelemetry.trace" in sys.modules:
        from opentelemetry import propagate

        propagate.inject(meta)
    return meta


def _digest(session_id: str) -> str:
    return hashlib.sha256(session_id.encode()).hexdigest()[:32]


def _qualname(exc: BaseException) -> str:
    kind = type(exc)
    return (
        kind.__qualname__
        if kind.__module__ == "builtins"
        else f"{kind.__module__}.{kind.__qualname__}"
    )


def describe(
    request: IncomingRequest, peer: Peer, http: HttpRequestInfo | None
) -> tuple[str, dict[str, Any]]:
    """The span name and attributes of ``request`` (the conventions' names)."""
    method = request.method
    params = request.params
    attributes: dict[str, Any] = {
        "mcp.method.name": method,
        "jsonrpc.request.id": str(request.id),
        "mcp.protocol.version": request.version,
    }
    name = method
    target = params.get("name")
    if method == "tools/call":
        attributes["gen_ai.operation.name"] = "execute_tool"
        if type(target) is str:
            attributes["gen_ai.tool.name"] = target
            name = f"{method} {target}"
    elif method == "prompts/get" and type(target) is str:
        attributes["gen_ai.prompt.name"] = target
        name = f"{method} {target}"
    uri = params.get("uri")
    if type(uri) is str and method.startswith("resources/"):
        attributes["mcp.resource.uri"] = uri
    _identity(attributes, peer, http)
    return name, attributes


def _identity(attributes: dict[str, Any], peer: Peer, http: HttpRequestInfo | None) -> None:
    subject = peer.subject
    if subject is not None:
        attributes["enduser.id"] = subject
    if http is not None:
        attributes["network.transport"] = "tcp"
        attributes["network.protocol.name"] = "http"
        if http.client is not None:
            attributes["client.address"], attributes["client.port"] = http.client
        session_id = http.headers.get("mcp-session-id")
        if session_id:
            attributes["mcp.session.id"] = _digest(session_id)


def _carrier(source: Mapping[str, Any] | None) -> dict[str, str] | None:
    """The trace-context entries of ``source`` (string values only), if it has a traceparent."""
    if not isinstance(source, Mapping) or type(source.get("traceparent")) is not str:
        return None
    return {k: v for k in _CARRIER_KEYS if type(v := source.get(k)) is str}


class Tracing:
    """A server's tracer, and the spans it makes (see the module docstring).

    Args:
        provider: The tracer provider (``None``: the global one).
    """

    __slots__ = (
        "_attach",
        "_current_span",
        "_detach",
        "_error",
        "_extract",
        "_in_context",
        "_internal",
        "_server",
        "tracer",
    )

    def __init__(self, provider: Any = None) -> None:
        from opentelemetry import context, propagate, trace

        self._extract = propagate.extract
        self._attach, self._detach = context.attach, context.detach
        self._in_context = trace.set_span_in_context
        self._current_span = trace.get_current_span
        self._server = trace.SpanKind.SERVER
        self._internal = trace.SpanKind.INTERNAL
        self._error = trace.StatusCode.ERROR
        source = provider if provider is not None else trace.get_tracer_provider()
        version = getattr(sys.modules.get("trio_mcp"), "__version__", None)
        self.tracer = source.get_tracer("trio_mcp", version)

    def _parent(self, meta: Any, http: HttpRequestInfo | None) -> OtelContext | None:
        """The parent context: ``_meta``, else the current span, else the HTTP headers."""
        carrier = _carrier(meta)
        if carrier is not None:
            return self._extract(carrier)
        if self._current_span().get_span_context().is_valid:
            return None  # e.g. an ASGI server span around this POST
        carrier = _carrier(http.headers) if http is not None else None
        return self._extract(carrier) if carrier is not None else None

    def _server_span(
        self,
        name: str,
        meta: Any,
        http: HttpRequestInfo | None,
        attributes: dict[str, Any],
        mark: bool,
    ) -> _Current:
        parent = self._parent(meta, http)
        span = self.tracer.start_span(name, parent, self._server, attributes)
        return _Current(self, span, parent, mark)

    async def request(
        self,
        request: IncomingRequest,
        peer: Peer,
        handle: Callable[[IncomingRequest, Peer], Awaitable[dict[str, Any]]],
    ) -> dict[str, Any]:
        """``await handle(request, peer)`` inside the request's SERVER span."""
        http = peer.http_request(request.id)
        name, attributes = describe(request, peer, http)
        with self._server_span(name, request.params.get("_meta"), http, attributes, False) as span:
            try:
                result = await handle(request, peer)
            except McpError as exc:
                self._failed(span, exc.code, exc.message)
                raise
            except trio.Cancelled:
                scope = peer.scope_of(request.id)
                if scope is not None and trio.current_time() >= scope.deadline:
                    span.set_attribute("error.type", "timeout")
                    span.set_status(self._error, "Request timed out")
                else:
                    span.set_attribute("error.type", "cancelled")
                raise
            except Exception as exc:
                span.record_exception(exc)
                self._failed(span, INTERNAL_ERROR, "Internal error")
                raise
            if type(result) is dict and result.get("isError") is True:
                span.set_attribute("error.type", "tool_error")
                span.set_status(self._error)
            return result

    def _failed(self, span: Span, code: int, message: str) -> None:
        span.set_attribute("rpc.response.status_code", str(code))
        if code not in CALLER_CODES:
            span.set_attribute("error.type", str(code))
            span.set_status(self._error, message)

    def _mark(self, span: Span, exc: BaseException) -> None:
        """``exc`` left the span's block: an McpError by its code, another Exception by type."""
        if isinstance(exc, McpError):
            self._failed(span, exc.code, exc.message)
        elif isinstance(exc, Exception):
            span.record_exception(exc)
            span.set_attribute("error.type", _qualname(exc))
            span.set_status(self._error, str(exc))

    async def notification(
        self,
        method: str,
        params: dict[str, Any],
        peer: Peer,
        handle: Callable[[str, dict[str, Any], Peer], Awaitable[None]],
    ) -> None:
        """``await handle(method, params, peer)`` inside the notification's SERVER span."""
        attributes: dict[str, Any] = {"mcp.method.name": method}
        _identity(attributes, peer, None)
        with self._server_span(method, params.get("_meta"), None, attributes, True):
            await handle(method, params, peer)

    def record(self, exc: BaseException) -> None:
        """Record ``exc`` (handled by the application, e.g. a tool's) on the current span."""
        self._current_span().record_exception(exc)

    def child(self, name: str) -> _Current:
        """An INTERNAL span, current for a ``with`` block; an exception leaving it marks it."""
        return _Current(self, self.tracer.start_span(name, None, self._internal), None, True)


class _Current:
    """A started span, current for a ``with`` block, ended after it.

    What ``start_as_current_span`` does, without its three generator frames per
    span. In the block the current context is ``parent`` (a remote client's, its
    baggage with it) or the task's, with the span set in it.
    """

    __slots__ = ("_mark", "_parent", "_span", "_token", "_tracing")

    def __init__(
        self, tracing: Tracing, span: Span, parent: OtelContext | None, mark: bool
    ) -> None:
        self._tracing = tracing
        self._span = span
        self._parent = parent
        self._mark = mark

    def __enter__(self) -> Span:
        tracing = self._tracing
        self._token = tracing._attach(tracing._in_context(self._span, self._parent))
        return self._span

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        try:
            if exc is not None and self._mark:
                self._tracing._mark(self._span, exc)
        finally:
            self._tracing._detach(self._token)
            self._span.end()
