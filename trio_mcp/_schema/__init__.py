"""MCP value types, the private cattrs converter, and annotations -> JSON Schema."""

from ._content import (
    AudioContent,
    Content,
    EmbeddedResource,
    ImageContent,
    ResourceLink,
    TextContent,
    ToolResult,
)
from ._converter import TypeMismatch, error_paths, make_converter
from ._jsonschema import McpHeader, UnsupportedType, describe, schema_for

__all__ = [
    "AudioContent",
    "Content",
    "EmbeddedResource",
    "ImageContent",
    "McpHeader",
    "ResourceLink",
    "TextContent",
    "ToolResult",
    "TypeMismatch",
    "UnsupportedType",
    "describe",
    "error_paths",
    "make_converter",
    "schema_for",
]
