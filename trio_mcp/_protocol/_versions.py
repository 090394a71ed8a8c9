"""Protocol versions, eras, and the per-request ``_meta`` keys of the modern era."""

from __future__ import annotations

import enum
from typing import Any, Final, TypeGuard

__all__ = [
    "LATEST_LEGACY",
    "LATEST_MODERN",
    "LEGACY_VERSIONS",
    "MCP_NAME_PARAM",
    "META_CLIENT_CAPABILITIES",
    "META_CLIENT_INFO",
    "META_LOG_LEVEL",
    "META_PROTOCOL_VERSION",
    "META_SERVER_INFO",
    "META_SUBSCRIPTION_ID",
    "MODERN_VERSIONS",
    "SUPPORTED_VERSIONS",
    "Era",
    "era_of",
    "names_version",
]


class Era(enum.Enum):
    """Which generation of the protocol a request was made in."""

    LEGACY = "legacy"
    """2024-11-05 .. 2025-11-25: a stateful session opened by ``initialize``."""
    MODERN = "modern"
    """2026-07-28 and later: stateless, every request carries its own ``_meta``."""


LEGACY_VERSIONS: Final = ("2025-11-25", "2025-06-18", "2025-03-26", "2024-11-05")
"""Legacy versions, newest first."""
MODERN_VERSIONS: Final = ("2026-07-28",)
"""Modern versions, newest first."""
SUPPORTED_VERSIONS: Final = MODERN_VERSIONS + LEGACY_VERSIONS
LATEST_LEGACY: Final = LEGACY_VERSIONS[0]
LATEST_MODERN: Final = MODERN_VERSIONS[0]

META_PROTOCOL_VERSION: Final = "io.modelcontextprotocol/protocolVersion"
META_CLIENT_CAPABILITIES: Final = "io.modelcontextprotocol/clientCapabilities"
META_CLIENT_INFO: Final = "io.modelcontextprotocol/clientInfo"
META_LOG_LEVEL: Final = "io.modelcontextprotocol/logLevel"
META_SERVER_INFO: Final = "io.modelcontextprotocol/serverInfo"
META_SUBSCRIPTION_ID: Final = "io.modelcontextprotocol/subscriptionId"

MCP_NAME_PARAM: Final = {
    "tools/call": "name",
    "prompts/get": "name",
    "resources/read": "uri",
    # the tasks extension (SEP-2663): Mcp-Name carries params.taskId
    "tasks/get": "taskId",
    "tasks/update": "taskId",
    "tasks/cancel": "taskId",
}
"""Modern Streamable HTTP: the param each method's ``Mcp-Name`` header carries."""


def names_version(meta: Any) -> TypeGuard[dict[str, Any]]:
    """True if a ``_meta`` value names a protocol version: the mark of a modern message."""
    return type(meta) is dict and META_PROTOCOL_VERSION in meta


def era_of(msg: Any) -> Era | None:
    """The era one decoded message chooses by its own body, or ``None`` if it does not say.

    The session's rule, for a transport that must route a message before it
    has a session for it (Streamable HTTP): ``params._meta`` naming a protocol
    version is :attr:`Era.MODERN`; ``initialize`` is :attr:`Era.LEGACY`.
    Anything else (a request of an initialized legacy session, a notification
    or response without modern ``_meta``, a batch) names no era.
    """
    if type(msg) is not dict:
        return None
    params = msg.get("params")
    if type(params) is dict and names_version(params.get("_meta")):
        return Era.MODERN
    if msg.get("method") == "initialize":
        return Era.LEGACY
    return None
