"""Asyncio handlers, through trio-asyncio: ``@server.tool(asyncio=True)``.

Such a tool is an ``async def`` written for asyncio (aiohttp, asyncpg,
redis.asyncio...). It runs on an asyncio loop that trio-asyncio drives from
inside Trio. The loop is opened only if the server has such a tool, when the
server starts, and closed when it stops.

Cancellation crosses the bridge both ways: a Trio deadline or a client's cancel
cancels the asyncio task (it sees ``asyncio.CancelledError``); an asyncio task
cancelled from the asyncio side surfaces as :class:`AsyncioCancelled`, an
ordinary error that becomes the tool's ``isError`` result.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any

__all__ = ["AsyncioCancelled", "asyncio_loop", "call_asyncio"]


class AsyncioCancelled(RuntimeError):
    """The asyncio side cancelled a call that Trio did not cancel."""


async def call_asyncio(fn: Callable[..., Awaitable[Any]], kwargs: dict[str, Any]) -> Any:
    """Await an asyncio coroutine function from Trio."""
    import asyncio

    import trio_asyncio

    if trio_asyncio.current_loop.get() is None:
        raise RuntimeError(
            "asyncio tools need the server's asyncio loop: register them before the server starts"
        )
    try:
        return await trio_asyncio.aio_as_trio(fn)(**kwargs)
    except asyncio.CancelledError:
        raise AsyncioCancelled("the asyncio side cancelled this call") from None


@asynccontextmanager
async def asyncio_loop(needed: bool) -> AsyncIterator[None]:
    """Run an asyncio loop (trio-asyncio) for the duration, if ``needed``."""
    if not needed:
        yield
        return
    try:
        import trio_asyncio
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise RuntimeError(
            "asyncio tools need trio-asyncio (the 'asyncio' extra): pip install trio-asyncio"
        ) from exc
    async with trio_asyncio.open_loop():
        yield
