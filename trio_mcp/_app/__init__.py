"""The user-facing API."""

from ._cache import TTLCache
from ._context import ClientCapabilityMissing, Context, ElicitResult
from ._depends import Depends
from ._messages import Message
from ._registry import Completion, CompletionRequest
from ._resources import ResourceContents
from ._server import Server
from ._settings import Settings, SettingsError
from ._tools import Tool

__all__ = [
    "ClientCapabilityMissing",
    "Completion",
    "CompletionRequest",
    "Context",
    "Depends",
    "ElicitResult",
    "Message",
    "ResourceContents",
    "Server",
    "Settings",
    "SettingsError",
    "TTLCache",
    "Tool",
]
