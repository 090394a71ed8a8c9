"""The native HTTP/1.1 server (Trio sockets + httptools) for the Streamable HTTP transport."""

from ._server import NativeServer, ServerLimits, bind_sockets, serve_native
from ._wire import NativeResponder
from ._workers import run_workers

__all__ = [
    "NativeResponder",
    "NativeServer",
    "ServerLimits",
    "bind_sockets",
    "run_workers",
    "serve_native",
]
