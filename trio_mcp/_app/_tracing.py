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
span). Any other exception is ``-32603`` (recorded); the deadline is
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
from collections.abc import Awaitable, Callable, Iterator, Mapping
from contextlib import contextmanager
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

    __slots__ = ("_error", "_extract", "_internal", "_server", "_trace", "tracer")

    def __init__(self, provider: Any = None) -> None:
        from opentelemetry import propagate, trace

        self._trace = trace
        self._extract = propagate.extract
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
        if self._trace.get_current_span().get_span_context().is_valid:
            return None  # e.g. an ASGI server span around this POST
        carrier = _carrier(http.headers) if http is not None else None
        return self._extract(carrier) if carrier is not None else None

    async def request(
        self,
        request: IncomingRequest,
        peer: Peer,
        handle: Callable[[IncomingRequest, Peer], Awaitable[dict[str, Any]]],
    ) -> dict[str, Any]:
        """``await handle(request, peer)`` inside the request's SERVER span."""
        http = peer.http_request(request.id)
        name, attributes = describe(request, peer, http)
        with self.tracer.start_as_current_span(
            name,
            context=self._parent(request.params.get("_meta"), http),
            kind=self._server,
            attributes=attributes,
            record_exception=False,
            set_status_on_exception=False,
        ) as span:
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
        with self.tracer.start_as_current_span(
            method,
            context=self._parent(params.get("_meta"), None),
            kind=self._server,
            attributes=attributes,
            record_exception=False,
            set_status_on_exception=False,
        ) as span:
            try:
                await handle(method, params, peer)
            except Exception as exc:
                span.record_exception(exc)
                span.set_attribute("error.type", _qualname(exc))
                span.set_status(self._error, str(exc))
                raise

    def record(self, exc: BaseException) -> None:
        """Record ``exc`` (handled by the application, e.g. a tool's) on the current span."""
        self._trace.get_current_span().record_exception(exc)

    @contextmanager
    def child(self, name: str) -> Iterator[Span]:
        """An INTERNAL span, current for the block; an exception leaving it marks it failed."""
        with self.tracer.start_as_current_span(
            name, kind=self._internal, record_exception=False, set_status_on_exception=False
        ) as span:
            try:
                yield span
            except McpError as exc:
                self._failed(span, exc.code, exc.message)
                raise
            except Exception as exc:
                span.record_exception(exc)
                span.set_attribute("error.type", _qualname(exc))
                span.set_status(self._error, str(exc))
                raise
