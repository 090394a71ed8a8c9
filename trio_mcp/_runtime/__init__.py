"""The Trio runtime: one nursery per connection, one task and cancel scope per request."""

from ._connection import Connection, serve_connection
from ._dispatch import Application, EventSink, dispatch, encode_outcome, run_handler
from ._outqueue import DEFAULT_WRITE_BYTES, OutQueue
from ._peer import AccessToken, ClientRequests, Outbound, Peer
from ._shutdown import Shutdown

__all__ = [
    "DEFAULT_WRITE_BYTES",
    "AccessToken",
    "Application",
    "ClientRequests",
    "Connection",
    "EventSink",
    "OutQueue",
    "Outbound",
    "Peer",
    "Shutdown",
    "dispatch",
    "encode_outcome",
    "run_handler",
    "serve_connection",
]
