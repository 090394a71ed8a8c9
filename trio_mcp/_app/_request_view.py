"""What middleware reads and changes of a request through its :class:`~trio_mcp.Context`.

A mixin of :class:`~trio_mcp.Context` (which holds the fields): the method and
params (replaceable), the timings middleware records, and the HTTP request a
call came in.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import attrs

if TYPE_CHECKING:
    from .._protocol import IncomingRequest
    from .._runtime import HttpRequestInfo, Peer

__all__ = ["RequestView"]


class RequestView:
    """The request as middleware sees it (a mixin of :class:`~trio_mcp.Context`)."""

    request: IncomingRequest
    _conn: Peer
    _timings: dict[str, float] | None
    _http: HttpRequestInfo | None

    @property
    def method(self) -> str:
        """The MCP method of this request (``"tools/call"``...)."""
        return self.request.method

    @property
    def params(self) -> dict[str, Any]:
        """The request's params (``_meta`` included).

        A middleware may replace them before calling the next one
        (``ctx.params = {...}``); what follows, the handler included, sees the
        new params. Mutate a copy, not the dict itself: the original is also
        what the request's deadline and MRTR state were computed from.
        """
        return self.request.params

    @params.setter
    def params(self, params: dict[str, Any]) -> None:
        self.request = attrs.evolve(self.request, params=params)

    @property
    def timings(self) -> dict[str, float]:
        """Seconds spent, by name, as middleware recorded them (see ``Timing``)."""
        if self._timings is None:
            self._timings = {}
        return self._timings

    @property
    def http(self) -> HttpRequestInfo | None:
        """The HTTP request this request came in (method, path, headers, client, token).

        ``None`` over stdio and other streams.
        """
        if self._http is None:
            self._http = self._conn.http_request(self.request.id)
        return self._http
