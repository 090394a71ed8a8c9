"""The real HTTP server with ``auth=``, and modern-era calls to it, for the auth tests."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
import trio

from trio_mcp import BearerAuth, Context, Server
from trio_mcp.lowlevel import HttpTransport

from .auth import RESOURCE
from .messages import MODERN, MODERN_META

ACCEPT = "application/json, text/event-stream"


def whoami_server() -> Server:
    """A server whose ``whoami`` tool answers what ``ctx.access_token`` holds."""
    server = Server("auth-test", "1.0")

    @server.tool()
    async def whoami(ctx: Context) -> dict[str, Any]:
        token = ctx.access_token
        assert token is not None
        return {"subject": token.subject, "scopes": sorted(token.scopes), "claims": token.claims}

    return server


@asynccontextmanager
async def serving(server: Server, auth: BearerAuth) -> AsyncIterator[HttpTransport]:
    """``server.serve_http`` on 127.0.0.1:0 with ``auth``; stopped on exit."""
    async with trio.open_nursery() as nursery:
        transport: HttpTransport = await nursery.start(
            lambda task_status: server.serve_http(
                "127.0.0.1", 0, task_status=task_status, auth=auth
            )
        )
        try:
            yield transport
        finally:
            transport.stop()


def bearer(verify: Any, required: tuple[str, ...] = ("mcp:tools",), **options: Any) -> BearerAuth:
    return BearerAuth(
        verify=verify,
        resource=RESOURCE,
        authorization_servers=["https://idp.test/"],
        required_scopes=required,
        **options,
    )


async def call(url: str, token: str | None, tool: str = "whoami") -> httpx.Response:
    """One modern-era ``tools/call`` on a fresh connection (``token``: the bearer, if any)."""
    headers = {"accept": ACCEPT, "mcp-protocol-version": MODERN, "mcp-method": "tools/call"}
    headers["mcp-name"] = tool
    if token is not None:
        headers["authorization"] = f"Bearer {token}"
    body = {
        "jsonrpc": "2.0",
        "id": 1,
        "method": "tools/call",
        "params": {"name": tool, "arguments": {}, "_meta": MODERN_META},
    }
    async with httpx.AsyncClient() as client:
        return await client.post(url, json=body, headers=headers)


def challenge(response: httpx.Response) -> dict[str, str]:
    """The ``WWW-Authenticate: Bearer k="v", ...`` parameters of a response."""
    value = response.headers["www-authenticate"]
    assert value.startswith("Bearer"), value
    return dict(re.findall(r'(\w+)="([^"]*)"', value))


def structured(response: httpx.Response) -> dict[str, Any]:
    assert response.status_code == 200, (response.status_code, response.text)
    result: dict[str, Any] = response.json()["result"]
    assert not result.get("isError"), result
    return result["structuredContent"]  # type: ignore[no-any-return]
