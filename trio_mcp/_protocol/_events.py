"""What the sans-IO session hands to its driver."""

from __future__ import annotations

from typing import Any, TypeAlias

import attrs

from .._wire import Id
from ._features import FEATURES, Features
from ._versions import Era

__all__ = [
    "CancelRequest",
    "ClientResponse",
    "Event",
    "IncomingRequest",
    "Notified",
    "Outgoing",
    "Send",
]

Outgoing: TypeAlias = dict[str, Any] | list[dict[str, Any]]
"""One message, or one batch of responses, ready to encode."""


@attrs.frozen(slots=True)
class Send:
    """Write this message now (an error reply, a handshake answer, a batch)."""

    message: Outgoing


@attrs.frozen(slots=True)
class IncomingRequest:
    """A request the application must answer, exactly once, via ``respond``.

    Attributes:
        id: The JSON-RPC id.
        method: The MCP method, e.g. ``"tools/call"``.
        params: The params object, ``_meta`` included.
        era: The era the request was made in.
        version: The protocol version in force for this request.
        client_capabilities: What the client declared (per request in modern,
            at ``initialize`` in legacy).
        client_info: The client's ``Implementation`` object, if known.
        progress_token: ``_meta.progressToken`` if the client asked for progress.
        log_level: The level below which log messages are not sent, or
            ``None`` when logging to the client is off for this request.
        features: The feature-table row of ``version``: what this request's
            version defines (read it instead of comparing version strings).
            Set by the session; defaults to the row of ``version``.
    """

    id: Id
    method: str
    params: dict[str, Any]
    era: Era
    version: str
    client_capabilities: dict[str, Any]
    client_info: dict[str, Any] | None
    progress_token: str | int | None
    log_level: str | None
    features: Features = attrs.field(
        default=attrs.Factory(lambda self: FEATURES[self.version], takes_self=True)
    )


@attrs.frozen(slots=True)
class CancelRequest:
    """The client cancelled request ``id``; stop its handler. Never for ``initialize``."""

    id: Id
    reason: str | None


@attrs.frozen(slots=True)
class ClientResponse:
    """The client answered a request this server sent (legacy era only)."""

    id: Id
    result: dict[str, Any] | None
    error: dict[str, Any] | None


@attrs.frozen(slots=True)
class Notified:
    """A client notification the session does not handle itself."""

    method: str
    params: dict[str, Any]


Event: TypeAlias = Send | IncomingRequest | CancelRequest | ClientResponse | Notified
