"""Content blocks a tool (or prompt) may return, as attrs values with a wire form."""

from __future__ import annotations

import base64
from typing import Any, TypeAlias

import attrs

__all__ = [
    "AudioContent",
    "Content",
    "EmbeddedResource",
    "ImageContent",
    "ResourceLink",
    "TextContent",
    "ToolResult",
]


def _b64(data: bytes | str) -> str:
    return data if isinstance(data, str) else base64.b64encode(data).decode("ascii")


def _extra(
    out: dict[str, Any], annotations: dict[str, Any] | None, meta: dict[str, Any] | None
) -> dict[str, Any]:
    if annotations:
        out["annotations"] = annotations
    if meta:
        out["_meta"] = meta
    return out


@attrs.frozen
class TextContent:
    """Plain text."""

    text: str
    annotations: dict[str, Any] | None = None
    meta: dict[str, Any] | None = None

    def to_wire(self) -> dict[str, Any]:
        return _extra({"type": "text", "text": self.text}, self.annotations, self.meta)


@attrs.frozen
class ImageContent:
    """An image. ``data`` is raw bytes (base64-encoded for you) or a base64 string."""

    data: bytes | str
    mime_type: str = "image/png"
    annotations: dict[str, Any] | None = None
    meta: dict[str, Any] | None = None

    def to_wire(self) -> dict[str, Any]:
        out = {"type": "image", "data": _b64(self.data), "mimeType": self.mime_type}
        return _extra(out, self.annotations, self.meta)


@attrs.frozen
class AudioContent:
    """Audio. ``data`` is raw bytes or a base64 string."""

    data: bytes | str
    mime_type: str = "audio/wav"
    annotations: dict[str, Any] | None = None
    meta: dict[str, Any] | None = None

    def to_wire(self) -> dict[str, Any]:
        out = {"type": "audio", "data": _b64(self.data), "mimeType": self.mime_type}
        return _extra(out, self.annotations, self.meta)


@attrs.frozen
class ResourceLink:
    """A link to a resource the client may read (2025-06-18+)."""

    uri: str
    name: str
    title: str | None = None
    description: str | None = None
    mime_type: str | None = None
    size: int | None = None
    annotations: dict[str, Any] | None = None
    meta: dict[str, Any] | None = None

    def to_wire(self) -> dict[str, Any]:
        out: dict[str, Any] = {"type": "resource_link", "uri": self.uri, "name": self.name}
        for key, value in (
            ("title", self.title),
            ("description", self.description),
            ("mimeType", self.mime_type),
            ("size", self.size),
        ):
            if value is not None:
                out[key] = value
        return _extra(out, self.annotations, self.meta)


@attrs.frozen
class EmbeddedResource:
    """A resource's contents embedded in a result: ``text`` or binary ``blob``."""

    uri: str
    text: str | None = None
    blob: bytes | None = None
    mime_type: str | None = None
    annotations: dict[str, Any] | None = None
    meta: dict[str, Any] | None = None

    def to_wire(self) -> dict[str, Any]:
        res: dict[str, Any] = {"uri": self.uri}
        if self.mime_type:
            res["mimeType"] = self.mime_type
        if self.blob is not None:
            res["blob"] = _b64(self.blob)
        else:
            res["text"] = self.text or ""
        return _extra({"type": "resource", "resource": res}, self.annotations, self.meta)


Content: TypeAlias = TextContent | ImageContent | AudioContent | ResourceLink | EmbeddedResource
CONTENT_TYPES = (TextContent, ImageContent, AudioContent, ResourceLink, EmbeddedResource)


@attrs.frozen
class ToolResult:
    """A complete tool result, for full control over what is sent.

    Attributes:
        content: The content blocks.
        structured: ``structuredContent`` (must match the tool's output schema).
        is_error: Report a tool-level failure the model should see.
        meta: ``_meta`` passed through to the client.
    """

    content: list[Content] = attrs.field(factory=list)
    structured: Any = None
    is_error: bool = False
    meta: dict[str, Any] | None = None
