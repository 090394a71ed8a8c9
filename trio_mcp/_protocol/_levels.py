"""Log levels (RFC 5424 names) and recovering the id of a line too long to parse."""

from __future__ import annotations

import re

from .._errors import ProtocolError
from .._wire import Id, decode

__all__ = ["LOG_LEVELS", "log_enabled", "sniff_id"]

LOG_LEVELS = ("debug", "info", "notice", "warning", "error", "critical", "alert", "emergency")
_LOG_RANK = {name: i for i, name in enumerate(LOG_LEVELS)}


_ID_RE = re.compile(rb'"id"\s*:\s*(-?\d{1,18}(?![\d.eE])|"(?:[^"\\]|\\.){0,128}")')


def sniff_id(head: bytes) -> Id | None:
    """Recover a request id from the start of a line too long to parse whole.

    Only a top-level-looking ``"id"`` that is an integer or a simple string is
    trusted; anything else answers with ``id: null``, as JSON-RPC prescribes
    when the id cannot be determined.
    """
    m = _ID_RE.search(head)
    if m is None or head.count(b"{", 0, m.start()) != 1:
        return None  # absent, or inside a nested object: not the request's id
    raw = m.group(1)
    try:
        value = decode(raw)
    except ProtocolError:
        return None
    return value if type(value) in (int, str) else None


def log_enabled(threshold: str | None, level: str) -> bool:
    """True if a message at ``level`` passes a client's ``threshold`` (``None``: off)."""
    if threshold is None:
        return False
    return _LOG_RANK.get(level, 0) >= _LOG_RANK[threshold]
