"""The connection to Redis that the shared stores use (the ``redis`` extra: coredis).

coredis is built on anyio and runs natively under ``trio.run``: no asyncio loop and
no thread (``tests/transports/test_redis.py`` runs its commands, Lua scripts and
pub/sub under ``trio.run`` against a real ``redis-server``, across a restart).
It is imported only when ``TRIO_MCP_REDIS_URL`` is set: ``import trio_mcp`` never
loads it.

Contracts:

* :func:`connect` is an async context manager that enters the coredis client
  (its connection pool lives in the caller's task) and sends ``PING``. Redis
  unreachable raises :class:`RedisUnreachable` (a :class:`ConnectionError`) whose
  one-line message names the URL, password hidden; ``trio-mcp`` prints it as
  ``trio-mcp: error: ...``.
* :meth:`RedisLink.call` awaits one Redis command (or script, or pipeline) under
  ``trio.fail_after(timeout)``, in the caller's task and so inside the request's
  cancel scope. A timeout or a lost connection raises
  :class:`~trio_mcp._errors.StoreUnavailable` (``-32603``, HTTP 503 with
  ``Retry-After``); cancellation propagates untouched; any other Redis error
  (a bug here, such as a bad script) propagates as itself.
* :meth:`RedisLink.listen` keeps one pub/sub subscription alive for as long as it
  runs, resubscribing after Redis comes back (messages published meanwhile are
  lost: callers reconcile; see the task store's heartbeat).
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any, TypeVar
from urllib.parse import urlsplit, urlunsplit

import attrs
import trio

from .._errors import StoreUnavailable

__all__ = ["RedisLink", "RedisUnreachable", "connect", "redacted"]

log = logging.getLogger("trio_mcp")
T = TypeVar("T")

#: Seconds one Redis call may take before the request gets "store unavailable".
DEFAULT_TIMEOUT = 2.0


class RedisUnreachable(ConnectionError):
    """Redis did not answer ``PING`` at start. The message names the URL (no password)."""


def redacted(url: str) -> str:
    """``url`` with its password replaced by ``***``."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    host = parts.hostname or ""
    netloc = f"{parts.username or ''}:***@{host}" + (f":{parts.port}" if parts.port else "")
    return urlunsplit(parts._replace(netloc=netloc))


def _failures() -> tuple[type[BaseException], ...]:
    """A lost connection, a timeout, a read-only replica (failover); and anyio's
    closed streams, which coredis lets out when its connection dies under a cancel."""
    from anyio import BrokenResourceError, ClosedResourceError, EndOfStream
    from coredis.exceptions import ConnectionError as RedisConnectionError
    from coredis.exceptions import ReadOnlyError

    return (
        RedisConnectionError,
        ReadOnlyError,
        TimeoutError,
        OSError,
        trio.TooSlowError,
        BrokenResourceError,
        ClosedResourceError,
        EndOfStream,
    )


def _rest(exc: BaseException, failures: tuple[type[BaseException], ...]) -> BaseException | None:
    """``exc`` without its connection failures (``None`` if nothing else is left).

    coredis's task groups can end with a cancellation *and* the closed stream it
    caused; the cancellation must go on, the consequence is dropped.
    """
    if isinstance(exc, BaseExceptionGroup):
        return exc.split(failures)[1]
    return None if isinstance(exc, failures) else exc


@attrs.define(eq=False)
class RedisLink:
    """One coredis client shared by the stores of one server, with a timeout per call.

    Attributes:
        client: The coredis client (bytes responses), entered by :func:`connect`.
        url: The URL it was made from (for messages; see :func:`redacted`).
        timeout: Seconds each :meth:`call` may take.
        calls: Redis calls made so far (round trips: the benchmark reads it).
    """

    client: Any
    url: str
    timeout: float = DEFAULT_TIMEOUT
    calls: int = 0
    _failures: tuple[type[BaseException], ...] = attrs.field(factory=_failures)

    async def call(
        self, make: Callable[[], Awaitable[T]], store: str = "task", limit: float | None = None
    ) -> T:
        """Await ``make()`` (one round trip) under the timeout (``limit``: another one, in seconds).

        Raises:
            StoreUnavailable: Redis did not answer within ``timeout``, or the connection
                failed (``store`` names the store in the message).
        """
        self.calls += 1
        try:
            with trio.fail_after(self.timeout if limit is None else limit):
                return await make()
        except (Exception, BaseExceptionGroup) as exc:
            rest = _rest(exc, self._failures)
            if rest is None:
                log.warning("trio_mcp: Redis at %s: %s", redacted(self.url), _reason(exc))
                raise StoreUnavailable(store) from None
            if rest is exc:
                raise
            raise rest from None

    async def listen(
        self,
        channel: str | list[str],
        handle: Callable[[bytes], None],
        *,
        resubscribed: Callable[[], None] | None = None,
        task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED,
    ) -> None:
        """Call ``handle(data)`` for every message on ``channel`` (or channels), until cancelled.

        Started once the first subscription is acknowledged. A lost connection is
        logged and the subscription made again (backing off up to 2 s), then
        ``resubscribed()`` is called: what was published meanwhile is lost.
        """
        from coredis.retry import NoRetryPolicy

        delay, started = 0.05, False
        channels = [channel] if isinstance(channel, str) else list(channel)
        while True:
            try:
                async with self.client.pubsub(
                    channels=channels, ignore_subscribe_messages=True, retry_policy=NoRetryPolicy()
                ) as pubsub:
                    if not started:
                        task_status.started()
                        started = True
                    elif resubscribed is not None:
                        resubscribed()
                    delay = 0.05
                    async for message in pubsub:
                        if message.get("type") == "message":
                            handle(message["data"])
            except (Exception, BaseExceptionGroup) as exc:
                rest = _rest(exc, self._failures)
                if rest is exc:
                    raise
                if rest is not None:
                    raise rest from None
                log.warning("trio_mcp: Redis pub/sub at %s: %s", redacted(self.url), _reason(exc))
            await trio.sleep(delay)
            delay = min(2.0, delay * 2)


def _reason(exc: BaseException) -> str:
    while isinstance(exc, BaseExceptionGroup) and exc.exceptions:
        exc = exc.exceptions[0]
    if isinstance(exc, trio.TooSlowError):
        return "no answer in time"
    return str(exc) or type(exc).__name__


@asynccontextmanager
async def connect(url: str, call_timeout: float = DEFAULT_TIMEOUT) -> AsyncIterator[RedisLink]:
    """A :class:`RedisLink` to ``url`` for the duration of the block (``call_timeout`` per call).

    Raises:
        RedisUnreachable: no ``PING`` answer within ``call_timeout`` (message names the URL).
        ImportError: coredis is not installed (the message names the extra).
    """
    try:
        import coredis
    except ImportError as exc:  # pragma: no cover - the dev extra has it
        raise ImportError(
            "TRIO_MCP_REDIS_URL needs coredis: pip install 'trio-mcp[redis]'"
        ) from exc
    # coredis logs every retry at INFO (with an empty traceback): our warnings say it once.
    logging.getLogger("coredis").setLevel(max(logging.WARNING, logging.getLogger("coredis").level))
    client = coredis.Redis.from_url(
        url, stream_timeout=call_timeout, connect_timeout=call_timeout, decode_responses=False
    )
    link = RedisLink(client, url, call_timeout)
    where = f"cannot reach Redis at {redacted(url)} (TRIO_MCP_REDIS_URL)"
    ready = False
    try:
        async with client:
            with trio.fail_after(call_timeout):
                await client.ping()
            link.calls += 1
            ready = True
            yield link
    except (Exception, BaseExceptionGroup) as exc:
        if not ready and _rest(exc, link._failures) is None:
            raise RedisUnreachable(f"{where}: {_reason(exc)}") from None
        raise
