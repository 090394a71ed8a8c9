"""The settings of the Streamable HTTP transport (both eras)."""

from __future__ import annotations

from collections.abc import Collection

import attrs

from .._wire import DEFAULT_MAX_LINE
from ._eventstore import EventStore
from ._routes import Routes
from ._security import BearerAuth

__all__ = ["HttpOptions"]


@attrs.frozen(kw_only=True)
class HttpOptions:
    """Settings of the HTTP transport.

    Args:
        path: The MCP endpoint (``None``: any path, e.g. when mounted under a prefix).
        allowed_hosts: ``Host`` values accepted; ``None``: loopback names only;
            include ``"*"`` to accept any (a public server behind a proxy).
        allowed_origins: Origins accepted besides loopback and same-origin.
        auth: Bearer-token authentication (``None``: none).
        event_store: Where legacy SSE events are kept for resumption
            (default: an :class:`InMemoryEventStore`).
        legacy: Serve the legacy era (sessions, GET, DELETE). ``False``: modern only.
        max_body_size: Largest request body, in bytes (413 beyond).
        body_timeout: Seconds a client has to send its whole body (408 after).
        write_timeout: Seconds one write to a client may take; a slower client
            is dropped (legacy streams can be resumed).
        session_idle_timeout: Seconds after which an idle legacy session ends (404 after).
        max_sessions: Legacy sessions at once (503 beyond).
        max_requests: Handlers running at once over all clients (503 beyond).
        max_sessions_per_identity: Legacy sessions one bearer-token subject may
            have open at once (429 beyond).
        max_requests_per_identity: Handlers one bearer-token subject may have
            running at once, both eras (429 beyond). Without ``auth`` there is
            no identity, and only the endpoint's limits apply.
        sse_retry_ms: The ``retry`` sent with each priming event.
        keepalive: Seconds between SSE keep-alive comments on quiet streams.
        write_buffer_bytes: The bound on the messages waiting for one
            response's writer (a modern POST's stream, a legacy stream's live
            response, a legacy session's outbox). At the bound a modern handler's
            notifications wait, and a legacy live response is detached (its
            client resumes from the event store). 1 MiB.
        routes: Custom routes beside the endpoint (``@server.route``), by exact path;
            see :mod:`._routes`.
        redis_url: Share legacy sessions through this Redis (``TRIO_MCP_REDIS_URL``):
            any worker then serves any request of any session (:mod:`._redis_sessions`).
        worker_lease: With ``redis_url``: seconds after a worker's last heartbeat when
            the requests of its POST streams count as lost (``TRIO_MCP_TASK_LEASE``).
        json_response: How a legacy POST of one request is answered
            (``TRIO_MCP_HTTP_JSON_RESPONSE``). ``"auto"``: as ``application/json``
            when its answer is the first message the handler sends within a
            second (not resumable: there is no event id), else as an SSE stream
            primed with an event id; ``"never"``: always that SSE stream. A
            client whose ``Accept`` lacks ``application/json`` always gets SSE.
    """

    path: str | None = "/mcp"
    allowed_hosts: Collection[str] | None = None
    allowed_origins: Collection[str] = ()
    auth: BearerAuth | None = None
    event_store: EventStore | None = None
    legacy: bool = True
    max_body_size: int = DEFAULT_MAX_LINE
    body_timeout: float = 30.0
    write_timeout: float = 30.0
    session_idle_timeout: float = 1800.0
    max_sessions: int = 10_000
    max_requests: int = 10_000
    max_sessions_per_identity: int = 100
    max_requests_per_identity: int = 1000
    sse_retry_ms: int = 1000
    keepalive: float | None = 15.0
    write_buffer_bytes: int = 1 << 20
    routes: Routes | None = None
    redis_url: str | None = None
    worker_lease: float = 10.0
    json_response: str = attrs.field(
        default="auto", validator=attrs.validators.in_(("auto", "never"))
    )
