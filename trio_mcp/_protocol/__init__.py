"""The sans-IO MCP session: no trio, no I/O, no await."""

from ._events import (
    CancelRequest,
    ClientResponse,
    Event,
    IncomingRequest,
    Notified,
    Outgoing,
    Send,
)
from ._session import LOG_LEVELS, ServerInfo, ServerSession, log_enabled
from ._versions import (
    LATEST_LEGACY,
    LATEST_MODERN,
    LEGACY_VERSIONS,
    MODERN_VERSIONS,
    SUPPORTED_VERSIONS,
    Era,
    era_of,
)

__all__ = [
    "LATEST_LEGACY",
    "LATEST_MODERN",
    "LEGACY_VERSIONS",
    "LOG_LEVELS",
    "MODERN_VERSIONS",
    "SUPPORTED_VERSIONS",
    "CancelRequest",
    "ClientResponse",
    "Era",
    "Event",
    "IncomingRequest",
    "Notified",
    "Outgoing",
    "Send",
    "ServerInfo",
    "ServerSession",
    "era_of",
    "log_enabled",
]
