"""Retrying a flaky call inside a handler, within the request's deadline."""

from __future__ import annotations

import functools
import logging
import random
from collections.abc import Awaitable, Callable
from typing import ParamSpec, TypeVar

import trio

__all__ = ["retry", "retrying"]

log = logging.getLogger("trio_mcp")

T = TypeVar("T")
P = ParamSpec("P")


async def retry(
    fn: Callable[[], Awaitable[T]],
    *,
    attempts: int = 3,
    retry_on: type[Exception] | tuple[type[Exception], ...] = Exception,
    backoff: float = 0.1,
    max_backoff: float = 5.0,
    jitter: bool = True,
) -> T:
    """Await ``fn()`` until it succeeds, at most ``attempts`` times.

    Between attempts it sleeps ``backoff * 2**(n-1)`` seconds (at most
    ``max_backoff``; with ``jitter``, a random 50-100% of that). The sleeps
    are Trio sleeps in the caller's task: a cancel or the request's deadline
    stops the retrying at once. When the next sleep would end past the
    deadline, the last error is raised now instead of a timeout later.

    Only exceptions of ``retry_on`` are retried; ``trio.Cancelled`` and MRTR
    input requests are never caught (they are not ``Exception``).

    Raises:
        Exception: the last attempt's exception, or the first one not in ``retry_on``.
        ValueError: ``attempts`` is less than 1.
    """
    if attempts < 1:
        raise ValueError("attempts must be at least 1")
    for attempt in range(1, attempts + 1):
        try:
            return await fn()
        except retry_on as exc:
            if attempt == attempts:
                raise
            delay = min(max_backoff, backoff * 2 ** (attempt - 1))
            if jitter:
                delay *= random.uniform(0.5, 1.0)
            if trio.current_time() + delay >= trio.current_effective_deadline():
                raise  # no time left for another attempt
            log.debug("trio_mcp: attempt %d failed (%r); retrying in %.3fs", attempt, exc, delay)
            await trio.sleep(delay)
    raise AssertionError("unreachable")


def retrying(
    *,
    attempts: int = 3,
    retry_on: type[Exception] | tuple[type[Exception], ...] = Exception,
    backoff: float = 0.1,
    max_backoff: float = 5.0,
    jitter: bool = True,
) -> Callable[[Callable[P, Awaitable[T]]], Callable[P, Awaitable[T]]]:
    """Decorator form of :func:`retry` for an ``async def``: each call is retried."""

    def decorate(fn: Callable[P, Awaitable[T]]) -> Callable[P, Awaitable[T]]:
        @functools.wraps(fn)
        async def wrapper(*args: P.args, **kwargs: P.kwargs) -> T:
            return await retry(
                lambda: fn(*args, **kwargs),
                attempts=attempts,
                retry_on=retry_on,
                backoff=backoff,
                max_backoff=max_backoff,
                jitter=jitter,
            )

        return wrapper

    return decorate
