"""The MCP client: ``async with trio_mcp.Client(target) as client: ...``.

Connect to a server anywhere, in either protocol era, and call it with typed
results::

    import trio
    from trio_mcp import Client

    async def main():
        async with Client("python examples/hello.py") as client:   # a subprocess over stdio
            names = [tool.name for tool in await client.list_tools()]  # ["add", "echo"]
            result = await client.call_tool("add", {"a": 1, "b": 2}, timeout=10)
            assert result.text == "3.0"

    trio.run(main)

A target is a command line (a subprocess over stdio, supervised: it dies
with the client), an ``http(s)://`` URL (Streamable HTTP, both eras; needs
httpx: the ``client-http`` extra, or ``pip install httpx``), a :class:`~trio_mcp.Server`
(in memory, for tests), any ``trio.abc.Stream``, or one of the transports
below. Sampling, elicitation and roots handlers, log and progress callbacks
work unchanged in both eras.

OAuth 2.1 (an HTTP target that asks for authorization):
``Client(url, auth=OAuth(authorize=...))`` discovers the authorization server,
registers, runs the authorization code flow with PKCE, refreshes and steps up
scopes; needs ``pip install 'trio_mcp[oauth]'`` (see :class:`OAuth`).

Errors: :class:`~trio_mcp.McpError` for the server's JSON-RPC errors;
:class:`ConnectionClosed`, :class:`ServerMisbehaved`, :class:`HttpError`,
:class:`RequestTimeout`, :class:`InvalidAnswer` and :class:`AuthorizationError`
(all :class:`ClientError`) for the rest, each with a one-line message naming the cause.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ._client import (
    DEFAULT,
    AuthorizationError,
    ByteStream,
    CallToolResult,
    Client,
    ClientError,
    Completion,
    ConnectionClosed,
    ElicitationRequest,
    GetPromptResult,
    HttpError,
    Implementation,
    InMemory,
    InvalidAnswer,
    LogMessage,
    Prompt,
    PromptArgument,
    PromptMessage,
    ReadResourceResult,
    RequestTimeout,
    Resource,
    ResourceContents,
    ResourceTemplate,
    Root,
    SamplingRequest,
    ServerMisbehaved,
    Subprocess,
    TaskState,
    Tool,
    ToolTask,
    Transport,
)

if TYPE_CHECKING:
    from ._client._http import StreamableHttp
    from ._client._oauth import MemoryStorage, OAuth, TokenStorage

__all__ = [
    "DEFAULT",
    "AuthorizationError",
    "ByteStream",
    "CallToolResult",
    "Client",
    "ClientError",
    "Completion",
    "ConnectionClosed",
    "ElicitationRequest",
    "GetPromptResult",
    "HttpError",
    "Implementation",
    "InMemory",
    "InvalidAnswer",
    "LogMessage",
    "MemoryStorage",
    "OAuth",
    "Prompt",
    "PromptArgument",
    "PromptMessage",
    "ReadResourceResult",
    "RequestTimeout",
    "Resource",
    "ResourceContents",
    "ResourceTemplate",
    "Root",
    "SamplingRequest",
    "ServerMisbehaved",
    "StreamableHttp",
    "Subprocess",
    "TaskState",
    "TokenStorage",
    "Tool",
    "ToolTask",
    "Transport",
]


def __getattr__(name: str) -> Any:
    if name == "StreamableHttp":  # imports httpx: only when asked for
        from ._client._http import StreamableHttp

        return StreamableHttp
    if name in ("OAuth", "MemoryStorage", "TokenStorage"):  # imports authlib and httpx
        from ._client import _oauth

        return getattr(_oauth, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
