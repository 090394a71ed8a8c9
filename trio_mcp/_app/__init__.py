"""The user-facing API."""

from ._cache import TTLCache
from ._context import Context
from ._server import Server
from ._tools import Tool

__all__ = ["Context", "Server", "TTLCache", "Tool"]
