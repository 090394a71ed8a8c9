"""Middleware: a chain around every request, and the built-in ones.

Add them with ``Server(middleware=[...])`` or ``server.add_middleware(mw)``;
the first added is the outermost. A middleware is an
``async def mw(ctx, call_next)`` or a :class:`Middleware` with a hook per
family. See docs/how-to/middleware.md.

Built in:

* :class:`RequestLogging`: one structured record per request.
* :class:`Timing`: ``ctx.timings`` and per-method stats.
* :class:`RateLimit`: a token bucket per caller (``-32050``; HTTP 429).
* :class:`ResponseCache`: list and read answers, for a TTL, dropped on change.
* :class:`ErrorMasking`: internal detail stays in the log.
* :func:`retry` / :func:`retrying`: retry a flaky call inside a handler.
"""

from ._app._middleware import CallNext as CallNext
from ._app._middleware import Middleware as Middleware
from ._app._middleware import MiddlewareFunction as MiddlewareFunction
from ._app._middleware import Notification as Notification
from ._app._middleware import NotifyNext as NotifyNext
from ._exports import fixup_module_metadata
from ._middleware.cache import CACHEABLE as CACHEABLE
from ._middleware.cache import ResponseCache as ResponseCache
from ._middleware.observe import ErrorMasking as ErrorMasking
from ._middleware.observe import RequestLogging as RequestLogging
from ._middleware.observe import Timing as Timing
from ._middleware.observe import TimingStats as TimingStats
from ._middleware.ratelimit import RateLimit as RateLimit
from ._middleware.ratelimit import caller_key as caller_key
from ._middleware.retry import retry as retry
from ._middleware.retry import retrying as retrying

__all__ = [
    "CACHEABLE",
    "CallNext",
    "ErrorMasking",
    "Middleware",
    "MiddlewareFunction",
    "Notification",
    "NotifyNext",
    "RateLimit",
    "RequestLogging",
    "ResponseCache",
    "Timing",
    "TimingStats",
    "caller_key",
    "retry",
    "retrying",
]

fixup_module_metadata(__name__, globals(), __all__)
del fixup_module_metadata
