"""An OpenTelemetry SDK tracer provider whose spans the test reads (the in-memory exporter).

``Spans()`` holds a ``TracerProvider`` of its own (never the global one: a test
process sets that at most once, and ``tracing="auto"`` would then trace every
later test) and an ``InMemorySpanExporter``; hand ``spans.provider`` to
``server.enable_tracing``.
"""

from __future__ import annotations

from typing import Any

from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind

TRACE_ID = "0af7651916cd43dd8448eb211c80319c"
PARENT_ID = "b7ad6b7169203331"
TRACEPARENT = f"00-{TRACE_ID}-{PARENT_ID}-01"


class Spans:
    """The finished spans of one provider."""

    def __init__(self) -> None:
        self.exporter = InMemorySpanExporter()
        self.provider = TracerProvider()
        self.provider.add_span_processor(SimpleSpanProcessor(self.exporter))

    def all(self) -> list[ReadableSpan]:
        return list(self.exporter.get_finished_spans())

    def servers(self) -> list[ReadableSpan]:
        """The SERVER spans (one per request or notification), in the order they ended."""
        return [s for s in self.all() if s.kind is SpanKind.SERVER]

    def one(self, name: str) -> ReadableSpan:
        """The only finished span called ``name``."""
        found = [s for s in self.all() if s.name == name]
        assert len(found) == 1, (name, [s.name for s in self.all()])
        return found[0]

    def attributes(self, name: str) -> dict[str, Any]:
        return dict(self.one(name).attributes or {})


def parent_of(span: ReadableSpan) -> int | None:
    """The span id of ``span``'s parent, if it has one."""
    return span.parent.span_id if span.parent is not None else None


def span_id(span: ReadableSpan) -> int:
    assert span.context is not None
    return span.context.span_id


def trace_id(span: ReadableSpan) -> int:
    assert span.context is not None
    return span.context.trace_id
