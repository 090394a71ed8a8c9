"""The Trio runtime: one nursery per connection, one task and cancel scope per request."""

from ._connection import (
    Application,
    ClientRequests,
    Connection,
    Peer,
    run_handler,
    serve_connection,
)
from ._identity import AccessToken, HttpRequestInfo

__all__ = [
    "AccessToken",
    "Application",
    "ClientRequests",
    "Connection",
    "HttpRequestInfo",
    "Peer",
    "run_handler",
    "serve_connection",
]
