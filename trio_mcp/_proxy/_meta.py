"""What of a message's ``_meta`` crosses the proxy, and what belongs to one hop only."""

from __future__ import annotations

from typing import Any

from .._protocol._versions import (
    META_CLIENT_CAPABILITIES,
    META_CLIENT_INFO,
    META_LOG_LEVEL,
    META_PROTOCOL_VERSION,
    META_SERVER_INFO,
    META_SUBSCRIPTION_ID,
)

__all__ = ["PER_HOP", "forward_meta"]

PER_HOP: frozenset[str] = frozenset(
    {
        META_PROTOCOL_VERSION,  # each side speaks its own era and version
        META_CLIENT_CAPABILITIES,  # the proxy's client declares its own
        META_CLIENT_INFO,
        META_LOG_LEVEL,  # the proxy asks for every record and filters for its client
        META_SERVER_INFO,
        META_SUBSCRIPTION_ID,
        "io.modelcontextprotocol/related-task",  # a task of one side is not one of the other
        "progressToken",  # mapped: the proxy's own token upstream, the client's downstream
    }
)
"""``_meta`` keys that describe one connection, not the request: never forwarded."""


def forward_meta(meta: Any) -> dict[str, Any]:
    """The entries of ``meta`` that travel on to the next hop (``traceparent``, ``tracestate``,
    anything of the application's), without the per-hop ones (:data:`PER_HOP`).

    The one place the proxy decides this, both ways (requests upstream, results
    downstream). Upstream, :func:`~trio_mcp._app._tracing.inject_meta` then puts the
    proxy's own span in ``traceparent`` when tracing is on.
    """
    if not isinstance(meta, dict):
        return {}
    return {k: v for k, v in meta.items() if k not in PER_HOP}
