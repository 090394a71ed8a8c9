"""The seed guide's "cached API call", with an asyncio-only HTTP client.

aiohttp runs only on asyncio. ``@server.tool(asyncio=True)`` runs the tool on
an asyncio loop that trio-asyncio drives inside the Trio server, so the tool is
ordinary aiohttp code, and still:

* a Trio deadline (the tool's ``timeout``) or the client's
  ``notifications/cancelled`` cancels the asyncio task, which aborts the HTTP
  request (aiohttp closes the connection);
* an aiohttp error becomes the tool's ``isError`` result;
* answers are kept in the server's ``TTLCache`` (``ctx.cache``) for
  ``CACHE_TTL`` seconds, so a second call for the same path makes no request.

One ``aiohttp.ClientSession`` (one connection pool) is opened by the server's
lifespan and closed at shutdown; the tool finds it as ``ctx.state``.

Configuration comes from the environment: ``API_ENDPOINT`` (the base URL,
default ``https://api.example.com``), ``API_KEY`` (optional, sent as a bearer
token), ``CACHE_TTL`` (seconds, default 300), ``API_TIMEOUT`` (seconds, default
10).

Run it (needs ``pip install 'trio_mcp[examples]'``)::

    API_ENDPOINT=https://httpbin.org python examples/asyncio_http.py
    trio-mcp call examples/asyncio_http.py api_get path=get
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Annotated

import aiohttp
import attrs
import trio_asyncio

from trio_mcp import Context, Server

DEFAULT_ENDPOINT = "https://api.example.com"


@attrs.frozen
class Config:
    """Where the API is and how long its answers are kept."""

    base_url: str = DEFAULT_ENDPOINT
    api_key: str | None = attrs.field(default=None, repr=False)
    cache_ttl: float = 300.0
    timeout: float = 10.0

    @classmethod
    def from_env(cls) -> Config:
        return cls(
            base_url=os.environ.get("API_ENDPOINT", DEFAULT_ENDPOINT).rstrip("/"),
            api_key=os.environ.get("API_KEY") or None,
            cache_ttl=float(os.environ.get("CACHE_TTL", "300")),
            timeout=float(os.environ.get("API_TIMEOUT", "10")),
        )


def build(config: Config | None = None) -> Server:
    config = config or Config.from_env()

    @asynccontextmanager
    async def lifespan(server: Server) -> AsyncIterator[aiohttp.ClientSession]:
        # The server opened its asyncio loop before the lifespan (it has an
        # asyncio tool), so asyncio code can run here through trio-asyncio.
        session = await trio_asyncio.aio_as_trio(_open_session)(config)
        try:
            yield session
        finally:
            await trio_asyncio.aio_as_trio(session.close)()

    server = Server("asyncio-http", version="1.0.0", lifespan=lifespan)

    @server.tool(
        asyncio=True,
        timeout=config.timeout,
        annotations={"readOnlyHint": True, "openWorldHint": True},
    )
    async def api_get(path: Annotated[str, "Path under the API endpoint"], ctx: Context) -> str:
        """GET a path of the configured API (answers cached for CACHE_TTL seconds)"""
        url = f"{config.base_url}/{path.lstrip('/')}"
        key = ("api_get", url)
        cached = ctx.cache.get(key)
        if cached is not None:
            return str(cached)
        session: aiohttp.ClientSession = ctx.state
        try:
            async with session.get(url) as response:
                body = await response.text()
                if response.status >= 400:
                    raise RuntimeError(f"API error {response.status} for {url}")
        except aiohttp.ClientError as exc:
            raise RuntimeError(f"API unreachable at {url}: {exc}") from None
        ctx.cache.set(key, body, ttl=config.cache_ttl)
        return body

    return server


async def _open_session(config: Config) -> aiohttp.ClientSession:
    headers = {"Authorization": f"Bearer {config.api_key}"} if config.api_key else {}
    # No aiohttp timeout of its own: the tool's Trio deadline bounds each call.
    return aiohttp.ClientSession(headers=headers, timeout=aiohttp.ClientTimeout(total=None))


server = build()

if __name__ == "__main__":
    server.run()
