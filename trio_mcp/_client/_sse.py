"""Server-sent events, as the Streamable HTTP transport receives them (no I/O here).

The parser follows the WHATWG event-stream rules that matter to MCP: ``data``
lines are joined with newlines, ``id`` and ``retry`` are remembered, comment
lines (``:`` keep-alives) are ignored, and a blank line ends an event.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator, AsyncIterable

import attrs

__all__ = ["SseEvent", "sse_events"]


@attrs.frozen
class SseEvent:
    event: str = "message"
    data: str = ""
    id: str | None = None
    retry: int | None = None


async def sse_events(lines: AsyncIterable[str]) -> AsyncGenerator[SseEvent, None]:
    """The events in a stream of lines (line endings already removed)."""
    data: list[str] = []
    event: str | None = None
    event_id: str | None = None
    retry: int | None = None
    async for raw in lines:
        line = raw.rstrip("\r\n")
        if not line:
            if data or event_id is not None or retry is not None:
                yield SseEvent(event or "message", "\n".join(data), event_id, retry)
            data, event, event_id, retry = [], None, None, None
            continue
        if line.startswith(":"):
            continue
        field, _, value = line.partition(":")
        value = value[1:] if value.startswith(" ") else value
        if field == "data":
            data.append(value)
        elif field == "event":
            event = value
        elif field == "id" and "\x00" not in value:
            event_id = value
        elif field == "retry" and value.isdigit():
            retry = int(value)
    if data:
        yield SseEvent(event or "message", "\n".join(data), event_id, retry)
