"""The connection to Redis that the shared stores use (the ``redis`` extra: coredis).

coredis is built on anyio and runs natively under ``trio.run``: no asyncio loop and
no thread (``tests/transports/test_redis.py`` runs its commands, Lua scripts and
pub/sub under ``trio.run`` against a real ``redis-server``, across a restart).
It is imported only when ``TRIO_MCP_REDIS_URL`` is set: ``import trio_mcp`` never
loads it.

Contracts:

* :func:`connect` is an async context manager that enters the coredis client
  (its connection pool lives in the caller's task) and sends ``PING``. The URL
  says which client: ``redis://``, ``rediss://`` (TLS) or ``unix://`` one node;
  ``redis+sentinel://[[user]:password@]host[:port][,host[:port]...]/<service>[/<db>]``
  the primary of ``<service>`` as Redis Sentinel names it (port 26379 by
  default; ``?sentinel_password=`` when the Sentinels have their own). Through
  Sentinel every new connection asks for the primary, so after a failover the
  next call (or resubscription) goes to the promoted replica; calls made during
  the gap fail as below. :func:`url_problem` checks a URL without connecting
  (Redis Cluster is refused there, with the reason). Redis
  unreachable raises :class:`RedisUnreachable` (a :class:`ConnectionError`) whose
  one-line message names the URL, password hidden; ``trio-mcp`` prints it as
  ``trio-mcp: error: ...``.
* :meth:`RedisLink.call` awaits one Redis command (or script, or pipeline) under
  ``trio.fail_after(timeout)``, in the caller's task and so inside the request's
  cancel scope. A timeout or a lost connection raises
  :class:`~trio_mcp._errors.StoreUnavailable` (``-32603``, HTTP 503 with
  ``Retry-After``), and so does an error reply of a Redis that refuses for now
  (:data:`REFUSALS`: ``OOM`` under ``maxmemory``, ``BUSY``, ``MISCONF``...); cancellation propagates untouched; any other Redis error
  (a bug here, such as a bad script) propagates as itself.
* :meth:`RedisLink.listen` keeps one pub/sub subscription alive for as long as it
  runs, resubscribing after Redis comes back (messages published meanwhile are
  lost: callers reconcile; see the task store's heartbeat).
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AsyncExitStack, asynccontextmanager
from typing import Any, TypeVar
from urllib.parse import parse_qs, unquote, urlsplit, urlunsplit

import attrs
import trio

from .._errors import StoreUnavailable

__all__ = ["RedisLink", "RedisUnreachable", "connect", "redacted", "url_problem"]

log = logging.getLogger("trio_mcp")
T = TypeVar("T")

#: Seconds one Redis call may take before the request gets "store unavailable".
DEFAULT_TIMEOUT = 2.0


class RedisUnreachable(ConnectionError):
    """Redis did not answer ``PING`` at start. The message names the URL (no password)."""


#: The schemes :func:`connect` takes: one node, or the primary Sentinel names.
SCHEMES = ("redis", "rediss", "unix", SENTINEL := "redis+sentinel")
#: Why Redis Cluster is refused (one line; docs/how-to/scale-out.md says more).
NO_CLUSTER = (
    "Redis Cluster is not supported: the stores' scripts and the stream reader use keys"
    " of many hash slots in one call; use one node or Sentinel (redis+sentinel://)"
)


def redacted(url: str) -> str:
    """``url`` with its passwords (``user:password@``, ``sentinel_password=``) as ``***``."""
    parts = urlsplit(url)
    userinfo, at, hosts = parts.netloc.rpartition("@")
    if at and ":" in userinfo:
        parts = parts._replace(netloc=f"{userinfo.partition(':')[0]}:***@{hosts}")
    if "sentinel_password=" in parts.query:
        query = "&".join(
            "sentinel_password=***" if q.startswith("sentinel_password=") else q
            for q in parts.query.split("&")
        )
        parts = parts._replace(query=query)
    return urlunsplit(parts)


@attrs.frozen
class SentinelUrl:
    """A ``redis+sentinel://`` URL, parsed (see the module docstring)."""

    sentinels: list[tuple[str, int]]
    service: str
    db: int = 0
    username: str | None = None
    password: str | None = None
    sentinel_password: str | None = None

    @classmethod
    def parse(cls, url: str) -> SentinelUrl:
        """Raises: ValueError: a part is missing or malformed (the message says which)."""
        parts = urlsplit(url)
        userinfo, at, hosts = parts.netloc.rpartition("@")
        user, _, password = userinfo.partition(":")
        sentinels = []
        for item in hosts.split(","):
            if item.startswith("["):  # [IPv6 address][:port]
                host, _, rest = item[1:].partition("]")
                port = rest[1:] if rest.startswith(":") else rest or "26379"
            else:
                host, colon, port = item.partition(":")
                port = port if colon else "26379"
            if not host or not port.isdigit() or not 0 < int(port) < 65536:
                raise ValueError(f"a Sentinel is host[:port], got {item!r}")
            sentinels.append((host, int(port)))
        path = [unquote(p) for p in parts.path.split("/") if p]
        if not path or len(path) > 2 or (len(path) == 2 and not path[1].isdigit()):
            raise ValueError("a Sentinel URL ends with /<service>[/<db>]")
        query = parse_qs(parts.query)
        found = query.get("sentinel_password")
        return cls(
            sentinels,
            path[0],
            int(path[1]) if len(path) == 2 else 0,
            unquote(user) or None if at else None,
            unquote(password) or None if at else None,
            found[0] if found else None,
        )


def url_problem(url: str) -> str | None:
    """What is wrong with ``url`` for :func:`connect` (``None``: nothing), without connecting."""
    scheme = url.split("://", 1)[0] if "://" in url else ""
    if scheme.endswith("+cluster"):
        return NO_CLUSTER
    if scheme not in SCHEMES:
        names = [s + "://" for s in SCHEMES]
        return f"expected a {', '.join(names[:-1])} or {names[-1]} URL, got {redacted(url)!r}"
    if scheme == SENTINEL:
        try:
            SentinelUrl.parse(url)
        except ValueError as exc:
            return f"{exc}: {redacted(url)!r}"
    return None


def _failures() -> tuple[type[BaseException], ...]:
    """A lost connection, a timeout, a read-only replica or no primary (failover); and anyio's
    closed streams, which coredis lets out when its connection dies under a cancel."""
    from anyio import BrokenResourceError, ClosedResourceError, EndOfStream
    from coredis.exceptions import ConnectionError as RedisConnectionError
    from coredis.exceptions import PrimaryNotFoundError, ReadOnlyError, StalePrimaryError

    return (
        RedisConnectionError,
        ReadOnlyError,
        PrimaryNotFoundError,  # Sentinel: none answers, or none knows a primary (yet)
        StalePrimaryError,  # Sentinel: the node it named is a replica by now
        TimeoutError,
        OSError,
        trio.TooSlowError,
        BrokenResourceError,
        ClosedResourceError,
        EndOfStream,
    )


#: Error replies of a Redis that is there but refuses for now (out of memory under
#: ``maxmemory``, a script running too long, a failing disk, a replica without its
#: primary): unavailable, as when it is away, never a crash.
REFUSALS = ("OOM ", "BUSY ", "MISCONF ", "MASTERDOWN ", "NOREPLICAS ", "TRYAGAIN ")


def _rest(exc: BaseException, failures: tuple[type[BaseException], ...]) -> BaseException | None:
    """``exc`` without its connection failures (``None`` if nothing else is left).

    coredis's task groups can end with a cancellation *and* the closed stream it
    caused; the cancellation must go on, the consequence is dropped.
    """

    def failed(e: BaseException) -> bool:
        if isinstance(e, failures):
            return True
        from coredis.exceptions import ResponseError

        return isinstance(e, ResponseError) and str(e).startswith(REFUSALS)

    if isinstance(exc, BaseExceptionGroup):
        return exc.split(failed)[1]
    return None if failed(exc) else exc


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
    problem = url_problem(url)
    if problem is not None:
        raise ValueError(f"TRIO_MCP_REDIS_URL: {problem}")
    # coredis logs every retry at INFO (with an empty traceback): our warnings say it once.
    logging.getLogger("coredis").setLevel(max(logging.WARNING, logging.getLogger("coredis").level))
    timeouts: dict[str, Any] = {"stream_timeout": call_timeout, "connect_timeout": call_timeout}
    sentinel: Any = None
    if url.startswith(SENTINEL + "://"):
        from coredis.exceptions import ConnectionError as RedisConnectionError
        from coredis.retry import ConstantRetryPolicy

        parsed = SentinelUrl.parse(url)
        # The retries Redis.from_url gives a single node, so both behave alike.
        retry = ConstantRetryPolicy((RedisConnectionError, TimeoutError), retries=2, delay=0.01)
        sentinel = coredis.Sentinel(
            [coredis.connection.TCPLocation(h, p) for h, p in parsed.sentinels],
            sentinel_kwargs={**timeouts, "password": parsed.sentinel_password},
            retry_policy=retry,
            db=parsed.db,
            username=parsed.username,
            password=parsed.password,
            **timeouts,
        )
        client = sentinel.primary_for(parsed.service)
    else:
        client = coredis.Redis.from_url(url, decode_responses=False, **timeouts)
    link = RedisLink(client, url, call_timeout)
    where = f"cannot reach Redis at {redacted(url)} (TRIO_MCP_REDIS_URL)"
    ready = False
    try:
        async with AsyncExitStack() as stack:
            if sentinel is not None:
                await stack.enter_async_context(sentinel)
            await stack.enter_async_context(client)
            with trio.fail_after(call_timeout):
                await client.ping()
            link.calls += 1
            ready = True
            yield link
    except (Exception, BaseExceptionGroup) as exc:
        if not ready and _rest(exc, link._failures) is None:
            raise RedisUnreachable(f"{where}: {_reason(exc)}") from None
        raise
