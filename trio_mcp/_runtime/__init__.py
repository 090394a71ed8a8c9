"""The Trio runtime: one nursery per connection, one task and cancel scope per request."""

from ._connection import Connection, serve_connection
from ._dispatch import Application, EventSink, dispatch, encode_outcome, run_handler
from ._outqueue import DEFAULT_WRITE_BYTES, OutQueue
from ._peer import (
    AccessToken,
    ClientRequests,
    HttpRequestInfo,
    Outbound,
    Peer,
    SubjectFilter,
    current_subject,
)
from ._shutdown import Shutdown

__all__ = [
    "DEFAULT_WRITE_BYTES",
    "AccessToken",
    "Application",
    "ClientRequests",
    "Connection",
    "EventSink",
    "HttpRequestInfo",
    "OutQueue",
    "Outbound",
    "Peer",
    "Shutdown",
    "SubjectFilter",
    "current_subject",
    "dispatch",
    "encode_outcome",
    "run_handler",
    "serve_connection",
]
