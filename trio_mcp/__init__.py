"""trio_mcp: a Trio-native framework for Model Context Protocol servers.

Write a server::

    from trio_mcp import Server

    server = Server("demo", version="0.1.0")

    @server.tool()
    async def add(a: float, b: float) -> float:
        \"\"\"Add two numbers.\"\"\"
        return a + b

    if __name__ == "__main__":
        server.run()

Two tiers: this namespace is what a server is written with (``Server``, ``Context``,
content, errors, settings). The plumbing it is built from (the runtime's
``Connection``, the sans-IO session, the HTTP transport, event stores, the protocol
``Era``) is in :mod:`trio_mcp.lowlevel`.
"""

from . import lowlevel as lowlevel
from ._app import ClientCapabilityMissing as ClientCapabilityMissing
from ._app import Completion as Completion
from ._app import CompletionRequest as CompletionRequest
from ._app import Context as Context
from ._app import Depends as Depends
from ._app import ElicitResult as ElicitResult
from ._app import Message as Message
from ._app import ResourceContents as ResourceContents
from ._app import Server as Server
from ._app import Settings as Settings
from ._app import SettingsError as SettingsError
from ._app import Tool as Tool
from ._app import TTLCache as TTLCache
from ._client import Client as Client
from ._errors import InsufficientScope as InsufficientScope
from ._errors import InternalError as InternalError
from ._errors import InvalidParams as InvalidParams
from ._errors import InvalidRequest as InvalidRequest
from ._errors import LocalProtocolError as LocalProtocolError
from ._errors import McpError as McpError
from ._errors import MethodNotFound as MethodNotFound
from ._errors import ParseError as ParseError
from ._errors import ProtocolError as ProtocolError
from ._errors import RateLimited as RateLimited
from ._errors import ResourceNotFound as ResourceNotFound
from ._errors import UnsupportedProtocolVersion as UnsupportedProtocolVersion
from ._exports import fixup_module_metadata
from ._protocol import LEGACY_VERSIONS as LEGACY_VERSIONS
from ._protocol import MODERN_VERSIONS as MODERN_VERSIONS
from ._proxy import proxy as proxy
from ._runtime import AccessToken as AccessToken
from ._runtime import HttpRequestInfo as HttpRequestInfo
from ._schema import AudioContent as AudioContent
from ._schema import EmbeddedResource as EmbeddedResource
from ._schema import ImageContent as ImageContent
from ._schema import McpHeader as McpHeader
from ._schema import Pattern as Pattern
from ._schema import ResourceLink as ResourceLink
from ._schema import TextContent as TextContent
from ._schema import ToolResult as ToolResult
from ._transports import BearerAuth as BearerAuth
from ._transports import HttpOptions as HttpOptions
from ._transports import HttpRequest as HttpRequest
from ._transports import HttpResponse as HttpResponse

__all__ = [
    "LEGACY_VERSIONS",
    "MODERN_VERSIONS",
    "AccessToken",
    "AudioContent",
    "BearerAuth",
    "Client",
    "ClientCapabilityMissing",
    "Completion",
    "CompletionRequest",
    "Context",
    "Depends",
    "ElicitResult",
    "EmbeddedResource",
    "HttpOptions",
    "HttpRequest",
    "HttpRequestInfo",
    "HttpResponse",
    "ImageContent",
    "InsufficientScope",
    "InternalError",
    "InvalidParams",
    "InvalidRequest",
    "LocalProtocolError",
    "McpError",
    "McpHeader",
    "Message",
    "MethodNotFound",
    "ParseError",
    "Pattern",
    "ProtocolError",
    "RateLimited",
    "ResourceContents",
    "ResourceLink",
    "ResourceNotFound",
    "Server",
    "Settings",
    "SettingsError",
    "TTLCache",
    "TextContent",
    "Tool",
    "ToolResult",
    "UnsupportedProtocolVersion",
    "proxy",
]

__version__ = "0.1.0"

fixup_module_metadata(__name__, globals(), __all__)
del fixup_module_metadata
