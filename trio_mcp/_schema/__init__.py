"""MCP value types, the private cattrs converter, and annotations -> JSON Schema."""

from ._constraints import Pattern
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
from ._jsonschema import McpHeader, UnsupportedType, describe, is_model_class, schema_for

__all__ = [
    "AudioContent",
    "Content",
    "EmbeddedResource",
    "ImageContent",
    "McpHeader",
    "Pattern",
    "ResourceLink",
    "TextContent",
    "ToolResult",
    "TypeMismatch",
    "UnsupportedType",
    "describe",
    "error_paths",
    "is_model_class",
    "make_converter",
    "schema_for",
]
