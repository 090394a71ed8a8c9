"""The Trio runtime: one nursery per connection, one task and cancel scope per request."""

from ._connection import (
    Application,
    ClientRequests,
    Connection,
    Peer,
    run_handler,
    serve_connection,
)

__all__ = [
    "Application",
    "ClientRequests",
    "Connection",
    "Peer",
    "run_handler",
    "serve_connection",
]
