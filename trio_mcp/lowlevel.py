"""The plumbing under :class:`~trio_mcp.Server`: for embedding the protocol in your own loop.

Most servers never need this module: ``Server`` serves stdio, any Trio stream and
Streamable HTTP, and hands handlers a :class:`~trio_mcp.Context`. These are the parts
it is built from, public for code that drives them directly:

* the Trio runtime: :class:`Connection` (what ``server.serve`` starts and
  ``conn.stop()`` drains), :func:`serve_connection`, :func:`run_handler`, and the
  :class:`Application` / :class:`Peer` protocols between the runtime and an application;
* the sans-IO session: :class:`ServerSession` (lines in, events and messages out, no
  I/O), its :class:`ServerInfo`, the events it yields (:class:`IncomingRequest`,
  :class:`Notified`, :class:`CancelRequest`, :class:`ClientResponse`, :class:`Send`),
  the protocol :class:`Era`, and the framing (:class:`LineBuffer`, :class:`OversizedLine`);
* transports: :class:`HttpTransport` (the ASGI application ``server.asgi_app()``
  returns), :func:`serve_http`, :func:`stdio_streams`, and the :class:`EventStore`
  interface with :class:`InMemoryEventStore`.

They follow the project's semantic versioning like the top level, but they are
closer to the protocol, so they change when it does.
"""

from ._exports import fixup_module_metadata
from ._protocol import CancelRequest as CancelRequest
from ._protocol import ClientResponse as ClientResponse
from ._protocol import Era as Era
from ._protocol import IncomingRequest as IncomingRequest
from ._protocol import Notified as Notified
from ._protocol import Send as Send
from ._protocol import ServerInfo as ServerInfo
from ._protocol import ServerSession as ServerSession
from ._runtime import Application as Application
from ._runtime import Connection as Connection
from ._runtime import Peer as Peer
from ._runtime import run_handler as run_handler
from ._runtime import serve_connection as serve_connection
from ._transports import EventStore as EventStore
from ._transports import HttpTransport as HttpTransport
from ._transports import InMemoryEventStore as InMemoryEventStore
from ._transports import serve_http as serve_http
from ._transports import stdio_streams as stdio_streams
from ._wire import LineBuffer as LineBuffer
from ._wire import OversizedLine as OversizedLine

__all__ = [
    "Application",
    "CancelRequest",
    "ClientResponse",
    "Connection",
    "Era",
    "EventStore",
    "HttpTransport",
    "InMemoryEventStore",
    "IncomingRequest",
    "LineBuffer",
    "Notified",
    "OversizedLine",
    "Peer",
    "Send",
    "ServerInfo",
    "ServerSession",
    "run_handler",
    "serve_connection",
    "serve_http",
    "stdio_streams",
]

fixup_module_metadata(__name__, globals(), __all__)
del fixup_module_metadata
