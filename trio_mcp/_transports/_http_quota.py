"""Per-identity quotas: one bearer subject cannot take every session or every handler slot.

``max_sessions`` and ``max_requests`` bound the whole endpoint; without a
share per identity, one token could fill both and everyone else would get
503. :class:`IdentityQuotas` counts, per token subject, the legacy sessions
open and the handlers running (both eras), and refuses what goes over the
identity's share with **429** (the caller is at fault, not the server):

* ``max_sessions_per_identity`` (default 100): ``initialize`` over it is 429;
* ``max_requests_per_identity`` (default 1,000): a POST that would start a
  handler while the identity has that many running is 429.

Requests without a token (no ``auth=`` configured) have no identity and
are bound only by the endpoint's own limits.
"""

from __future__ import annotations

from collections import Counter

import attrs

from ._asgi import HttpError

__all__ = ["IdentityQuotas"]


@attrs.define(eq=False)
class IdentityQuotas:
    """Sessions and running handlers per token subject (see the module docstring)."""

    max_sessions: int
    max_requests: int
    sessions: Counter[str] = attrs.field(factory=Counter)
    requests: Counter[str] = attrs.field(factory=Counter)

    def check_request(self, subject: str | None, rid: object = None) -> None:
        """Refuse a new handler for ``subject`` at its quota.

        Raises:
            HttpError: 429.
        """
        if subject is not None and self.requests[subject] >= self.max_requests:
            raise HttpError(
                429, "Too Many Requests: this identity has too many requests in flight", -32603, rid
            )

    def check_session(self, subject: str | None, rid: object = None) -> None:
        """Refuse a new legacy session for ``subject`` at its quota.

        Raises:
            HttpError: 429.
        """
        if subject is not None and self.sessions[subject] >= self.max_sessions:
            raise HttpError(
                429, "Too Many Requests: this identity has too many open sessions", -32603, rid
            )

    def begin(self, subject: str | None) -> None:
        """A handler of ``subject`` started."""
        if subject is not None:
            self.requests[subject] += 1

    def end(self, subject: str | None) -> None:
        """A handler of ``subject`` ended."""
        if subject is not None:
            self._drop(self.requests, subject)

    def opened(self, subject: str | None) -> None:
        """A legacy session of ``subject`` opened."""
        if subject is not None:
            self.sessions[subject] += 1

    def closed(self, subject: str | None) -> None:
        """A legacy session of ``subject`` ended."""
        if subject is not None:
            self._drop(self.sessions, subject)

    @staticmethod
    def _drop(counts: Counter[str], subject: str) -> None:
        counts[subject] -= 1
        if counts[subject] <= 0:
            del counts[subject]  # no entry per identity ever seen: the map stays small
