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
from ._features import FEATURES, Features, features_for
from ._info import ServerInfo
from ._levels import LOG_LEVELS, log_enabled
from ._session import ServerSession
from ._shared import SharedServerSession
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
    "FEATURES",
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
    "Features",
    "IncomingRequest",
    "Notified",
    "Outgoing",
    "Send",
    "ServerInfo",
    "ServerSession",
    "SharedServerSession",
    "era_of",
    "features_for",
    "log_enabled",
]
