"""What the client hands back: MCP results as attrs values, each keeping its ``raw`` dict.

They are structured from the wire by one private cattrs converter
(:func:`parse`): camelCase keys renamed, unknown keys kept only in ``raw``
(servers add fields; a client must not break on them). Content blocks are
trio_mcp's own :class:`~trio_mcp.TextContent`, :class:`~trio_mcp.ImageContent`...
(a block of a type this version does not know stays a ``dict``).
"""

from __future__ import annotations

import base64
from typing import Any, Final, TypeVar

import attrs
import cattrs
from cattrs.gen import make_dict_structure_fn, override

from .._schema import (
    AudioContent,
    Content,
    EmbeddedResource,
    ImageContent,
    ResourceLink,
    TextContent,
)
from ._errors import ServerMisbehaved

__all__ = [
    "CallToolResult",
    "Completion",
    "ElicitationRequest",
    "GetPromptResult",
    "Implementation",
    "LogMessage",
    "Prompt",
    "PromptArgument",
    "PromptMessage",
    "ReadResourceResult",
    "Resource",
    "ResourceContents",
    "ResourceTemplate",
    "SamplingRequest",
    "TaskState",
    "Tool",
    "content_from_wire",
    "parse",
]

T = TypeVar("T")
Block = Content | dict[str, Any]


@attrs.frozen
class Implementation:
    """Who a peer says it is (``serverInfo``)."""

    name: str
    version: str = ""
    title: str | None = None
    raw: dict[str, Any] = attrs.field(factory=dict, repr=False, eq=False)


@attrs.frozen
class Tool:
    """A tool as listed by ``tools/list``."""

    name: str
    description: str | None = None
    input_schema: dict[str, Any] = attrs.field(factory=dict)
    output_schema: dict[str, Any] | None = None
    title: str | None = None
    annotations: dict[str, Any] | None = None
    icons: list[dict[str, Any]] | None = None
    execution: dict[str, Any] | None = None
    meta: dict[str, Any] | None = None
    raw: dict[str, Any] = attrs.field(factory=dict, repr=False, eq=False)

    @property
    def task_support(self) -> str:
        """``"forbidden"``, ``"optional"`` or ``"required"`` (``execution.taskSupport``)."""
        value = (self.execution or {}).get("taskSupport")
        return value if value in ("optional", "required") else "forbidden"


@attrs.frozen
class Resource:
    """A resource as listed by ``resources/list``."""

    uri: str
    name: str = ""
    title: str | None = None
    description: str | None = None
    mime_type: str | None = None
    size: int | None = None
    annotations: dict[str, Any] | None = None
    meta: dict[str, Any] | None = None
    raw: dict[str, Any] = attrs.field(factory=dict, repr=False, eq=False)


@attrs.frozen
class ResourceTemplate:
    """A URI template as listed by ``resources/templates/list``."""

    uri_template: str
    name: str = ""
    title: str | None = None
    description: str | None = None
    mime_type: str | None = None
    annotations: dict[str, Any] | None = None
    meta: dict[str, Any] | None = None
    raw: dict[str, Any] = attrs.field(factory=dict, repr=False, eq=False)


@attrs.frozen
class PromptArgument:
    name: str
    description: str | None = None
    required: bool = False


@attrs.frozen
class Prompt:
    """A prompt as listed by ``prompts/list``."""

    name: str
    title: str | None = None
    description: str | None = None
    arguments: list[PromptArgument] = attrs.field(factory=list)
    meta: dict[str, Any] | None = None
    raw: dict[str, Any] = attrs.field(factory=dict, repr=False, eq=False)


@attrs.frozen
class CallToolResult:
    """What ``tools/call`` returned. ``is_error`` results are returned, not raised."""

    content: list[Block] = attrs.field(factory=list)
    structured_content: Any = None
    is_error: bool = False
    meta: dict[str, Any] | None = None
    raw: dict[str, Any] = attrs.field(factory=dict, repr=False, eq=False)

    @property
    def text(self) -> str:
        """The text blocks, joined by newlines."""
        return "\n".join(b.text for b in self.content if isinstance(b, TextContent))


@attrs.frozen
class ResourceContents:
    """One item of ``resources/read``: ``text``, or ``blob`` (decoded bytes)."""

    uri: str
    text: str | None = None
    blob: bytes | None = None
    mime_type: str | None = None
    meta: dict[str, Any] | None = None
    raw: dict[str, Any] = attrs.field(factory=dict, repr=False, eq=False)


@attrs.frozen
class ReadResourceResult:
    contents: list[ResourceContents] = attrs.field(factory=list)
    meta: dict[str, Any] | None = None
    raw: dict[str, Any] = attrs.field(factory=dict, repr=False, eq=False)

    @property
    def text(self) -> str:
        """The text contents, joined by newlines."""
        return "\n".join(c.text for c in self.contents if c.text is not None)


@attrs.frozen
class PromptMessage:
    role: str
    content: Block


@attrs.frozen
class GetPromptResult:
    messages: list[PromptMessage] = attrs.field(factory=list)
    description: str | None = None
    meta: dict[str, Any] | None = None
    raw: dict[str, Any] = attrs.field(factory=dict, repr=False, eq=False)


@attrs.frozen
class Completion:
    """``completion/complete``'s ``completion``."""

    values: list[str] = attrs.field(factory=list)
    total: int | None = None
    has_more: bool | None = None
    raw: dict[str, Any] = attrs.field(factory=dict, repr=False, eq=False)


@attrs.frozen
class TaskState:
    """A task's state (``tasks/get``, or the handle a task-augmented call returned).

    ``ttl_ms``/``poll_interval_ms`` read either era's names (``ttl``/``pollInterval``
    in 2025-11-25, ``ttlMs``/``pollIntervalMs`` in the extension).
    """

    task_id: str
    status: str
    status_message: str | None = None
    created_at: str | None = None
    last_updated_at: str | None = None
    ttl_ms: int | None = None
    poll_interval_ms: int | None = None
    raw: dict[str, Any] = attrs.field(factory=dict, repr=False, eq=False)

    @property
    def terminal(self) -> bool:
        return self.status in ("completed", "failed", "cancelled")


@attrs.frozen
class LogMessage:
    """A ``notifications/message`` log record from the server."""

    level: str
    data: Any = None
    logger: str | None = None
    raw: dict[str, Any] = attrs.field(factory=dict, repr=False, eq=False)


@attrs.frozen
class SamplingRequest:
    """``sampling/createMessage``: the server asks the client's model for a completion."""

    messages: list[dict[str, Any]]
    max_tokens: int | None = None
    system_prompt: str | None = None
    temperature: float | None = None
    stop_sequences: list[str] | None = None
    model_preferences: dict[str, Any] | None = None
    include_context: str | None = None
    metadata: dict[str, Any] | None = None
    raw: dict[str, Any] = attrs.field(factory=dict, repr=False, eq=False)


@attrs.frozen
class ElicitationRequest:
    """``elicitation/create``: the server asks the user for input.

    ``mode`` is ``"form"`` (answer with content matching ``requested_schema``)
    or ``"url"`` (send the user to ``url``; answer with the action only).
    """

    message: str = ""
    requested_schema: dict[str, Any] = attrs.field(factory=dict)
    mode: str = "form"
    url: str | None = None
    elicitation_id: str | None = None
    raw: dict[str, Any] = attrs.field(factory=dict, repr=False, eq=False)


_RENAMES: Final = {"meta": "_meta", "structured_content": "structuredContent"}


def _camel(name: str) -> str:
    if name in _RENAMES:
        return _RENAMES[name]
    head, *rest = name.split("_")
    return head + "".join(part.title() for part in rest)


def content_from_wire(block: Any) -> Block:
    """A content block as trio_mcp's content class (a dict when its type is unknown)."""
    if type(block) is not dict:
        raise ValueError(f"a content block must be an object, got {type(block).__name__}")
    kind, ann, meta = block.get("type"), block.get("annotations"), block.get("_meta")
    if kind == "text":
        return TextContent(str(block.get("text", "")), ann, meta)
    if kind == "image":
        return ImageContent(str(block.get("data", "")), str(block.get("mimeType", "")), ann, meta)
    if kind == "audio":
        return AudioContent(str(block.get("data", "")), str(block.get("mimeType", "")), ann, meta)
    if kind == "resource_link":
        return ResourceLink(
            str(block.get("uri", "")),
            str(block.get("name", "")),
            title=block.get("title"),
            description=block.get("description"),
            mime_type=block.get("mimeType"),
            size=block.get("size"),
            annotations=ann,
            meta=meta,
        )
    if kind == "resource" and type(block.get("resource")) is dict:
        res = block["resource"]
        blob = base64.b64decode(res["blob"]) if isinstance(res.get("blob"), str) else None
        return EmbeddedResource(
            str(res.get("uri", "")),
            text=res.get("text"),
            blob=blob,
            mime_type=res.get("mimeType"),
            annotations=ann,
            meta=meta,
        )
    return block


def _make_converter() -> cattrs.Converter:
    conv = cattrs.Converter(forbid_extra_keys=False)
    conv.register_structure_hook_func(lambda t: t == Block, lambda v, _: content_from_wire(v))
    conv.register_structure_hook(
        bytes, lambda v, _: base64.b64decode(v) if isinstance(v, str) else bytes(v)
    )

    def register(cls: type[Any]) -> None:
        fields = attrs.fields(cls)
        overrides = {f.name: override(rename=_camel(f.name)) for f in fields if f.name != "raw"}
        if any(f.name == "raw" for f in fields):
            overrides["raw"] = override(omit=True)
        base = make_dict_structure_fn(cls, conv, **overrides)  # type: ignore[arg-type]

        def hook(value: Any, _: Any) -> Any:
            if type(value) is not dict:
                raise ValueError(f"expected an object, got {type(value).__name__}")
            obj = base(value, cls)
            if "raw" in overrides:
                object.__setattr__(obj, "raw", value)
            return obj

        conv.register_structure_hook(cls, hook)

    for cls in (
        Implementation,
        Tool,
        Resource,
        ResourceTemplate,
        PromptArgument,
        Prompt,
        CallToolResult,
        ResourceContents,
        ReadResourceResult,
        PromptMessage,
        GetPromptResult,
        Completion,
        LogMessage,
        SamplingRequest,
        ElicitationRequest,
    ):
        register(cls)

    def task_state(value: Any, _: Any) -> TaskState:
        if type(value) is not dict or type(value.get("taskId")) is not str:
            raise ValueError("a task needs a string taskId")
        ttl = value.get("ttlMs", value.get("ttl"))
        poll = value.get("pollIntervalMs", value.get("pollInterval"))
        return TaskState(
            value["taskId"],
            str(value.get("status", "")),
            value.get("statusMessage"),
            value.get("createdAt"),
            value.get("lastUpdatedAt"),
            ttl if type(ttl) is int else None,
            poll if type(poll) is int else None,
            raw=value,
        )

    conv.register_structure_hook(TaskState, task_state)
    return conv


_converter: Final = _make_converter()


def parse(cls: type[T], value: Any, what: str) -> T:
    """Structure ``value`` (from the server) as ``cls``.

    Raises:
        ServerMisbehaved: it does not have the shape of ``what``.
    """
    try:
        return _converter.structure(value, cls)
    except (cattrs.BaseValidationError, ValueError, TypeError, KeyError) as exc:
        if isinstance(exc, cattrs.BaseValidationError):
            detail = "; ".join(cattrs.transform_error(exc, path="$"))
        else:
            detail = str(exc)
        raise ServerMisbehaved(f"the server sent a malformed {what}: {detail}") from None
