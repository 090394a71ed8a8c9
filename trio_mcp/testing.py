"""Test a server in memory: ``async with connect(server) as client: ...``.

The client speaks real JSON-RPC lines to the real runtime over Trio memory
streams: no subprocess, no mocks. It works under pytest-trio and
``trio.testing.MockClock(autojump_threshold=0)``, so a 60-second timeout is
tested in zero wall time::

    from trio_mcp.testing import connect

    async def test_add():
        async with connect(server) as client:
            result = await client.call_tool("add", {"a": 1, "b": 2})
            assert result["content"][0]["text"] == "3.0"

For end-to-end tests, :func:`connect_process` spawns the server as a
subprocess and speaks to it over real stdio. Nothing in ``trio_mcp`` imports
this module.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any, Literal

import trio
import trio.testing

from ._app import Server
from ._protocol import LATEST_LEGACY, LATEST_MODERN
from .client import Client
from .client import open_process_client as connect_process

__all__ = ["Client", "connect", "connect_process"]


@asynccontextmanager
async def connect(
    server: Server,
    *,
    era: Literal["legacy", "modern"] = "legacy",
    version: str | None = None,
    capabilities: dict[str, Any] | None = None,
    initialize: bool = True,
    responders: dict[str, Callable[[dict[str, Any]], dict[str, Any]]] | None = None,
) -> AsyncIterator[Client]:
    """Serve ``server`` over in-memory streams and yield a connected :class:`Client`.

    In the legacy era the ``initialize`` handshake is done first (unless
    ``initialize=False``). On exit the client closes its side (EOF) and waits
    for the server to drain and return, as a real client would.
    """
    client_stream, server_stream = trio.testing.memory_stream_pair()
    default_version = LATEST_MODERN if era == "modern" else LATEST_LEGACY
    client = Client(
        client_stream,
        era=era,
        version=version or default_version,
        capabilities=capabilities or {},
        responders=responders or {},
    )
    async with trio.open_nursery() as nursery:
        client._nursery = nursery
        client.connection = await nursery.start(server.serve, server_stream)
        nursery.start_soon(client._read)
        if era == "legacy" and initialize:
            await client.initialize()
        try:
            yield client
        finally:
            await client_stream.send_stream.aclose()  # EOF to the server
