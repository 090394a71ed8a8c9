"""The ``logging`` bridge: records emitted while a request runs go to that request's client.

``Server.forward_logging()`` installs a :class:`ClientLogHandler`; it finds the
request through :data:`~._context.current_context` and sends the record as a
``notifications/message`` (subject to the client's level), never waiting.
"""

from __future__ import annotations

import logging

from ._context import current_context

__all__ = ["ClientLogHandler"]

_LEVELS = {
    logging.DEBUG: "debug",
    logging.INFO: "info",
    logging.WARNING: "warning",
    logging.ERROR: "error",
    logging.CRITICAL: "critical",
}


class ClientLogHandler(logging.Handler):
    """Forwards records emitted during a request to that request's client."""

    def emit(self, record: logging.LogRecord) -> None:
        ctx = current_context.get()
        if ctx is None:
            return
        level = _LEVELS.get(record.levelno) or (
            "debug" if record.levelno < logging.INFO else "info"
        )
        try:
            ctx.log_nowait(level, self.format(record), logger=record.name)
        except Exception:
            self.handleError(record)
