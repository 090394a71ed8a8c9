"""Transports: stdio (file descriptors 0 and 1), any ``trio.abc.Stream``, Streamable HTTP."""

from .._runtime import AccessToken
from ._eventstore import EventStore, InMemoryEventStore
from ._http import HttpOptions, HttpTransport
from ._http_serve import run_http, serve_http
from ._routes import HttpRequest, HttpResponse
from ._security import BearerAuth, InvalidToken, VerifierUnavailable, is_loopback
from ._stdio import stdio_streams

__all__ = [
    "AccessToken",
    "BearerAuth",
    "EventStore",
    "HttpOptions",
    "HttpRequest",
    "HttpResponse",
    "HttpTransport",
    "InMemoryEventStore",
    "InvalidToken",
    "VerifierUnavailable",
    "is_loopback",
    "run_http",
    "serve_http",
    "stdio_streams",
]
