"""The MCP client: ``trio_mcp.Client`` and what it is made of (see ``trio_mcp.client``).

Layering: this package imports ``_errors``, ``_wire``, ``_schema`` and
``_protocol`` (version and ``_meta`` constants) and trio, never ``_runtime``,
``_transports`` or ``_app``: a client does not need the server. httpx is
imported only when an HTTP target is used (``_http.py``); authlib only when
OAuth is (``_oauth.py``).
"""

from ._client import Client, ToolTask
from ._core import DEFAULT, ClientCore, transport_for
from ._errors import (
    AuthorizationError,
    ClientError,
    ConnectionClosed,
    HttpError,
    InvalidAnswer,
    RequestTimeout,
    ServerMisbehaved,
    unwrap_group,
)
from ._handlers import Root, check_elicitation
from ._process import Subprocess
from ._session import Session, Waiter, error_from_wire
from ._transport import ByteStream, InMemory, LineTransport, Sink, Transport
from ._types import (
    CallToolResult,
    Completion,
    ElicitationRequest,
    GetPromptResult,
    Implementation,
    LogMessage,
    Prompt,
    PromptArgument,
    PromptMessage,
    ReadResourceResult,
    Resource,
    ResourceContents,
    ResourceTemplate,
    SamplingRequest,
    TaskState,
    Tool,
)

__all__ = [
    "DEFAULT",
    "AuthorizationError",
    "ByteStream",
    "CallToolResult",
    "Client",
    "ClientCore",
    "ClientError",
    "Completion",
    "ConnectionClosed",
    "ElicitationRequest",
    "GetPromptResult",
    "HttpError",
    "Implementation",
    "InMemory",
    "InvalidAnswer",
    "LineTransport",
    "LogMessage",
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
    "Session",
    "Sink",
    "Subprocess",
    "TaskState",
    "Tool",
    "ToolTask",
    "Transport",
    "Waiter",
    "check_elicitation",
    "error_from_wire",
    "transport_for",
    "unwrap_group",
]
