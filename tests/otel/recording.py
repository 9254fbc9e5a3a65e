"""What the OpenTelemetry tests read: the spans an in-memory exporter got, and span ids."""

from __future__ import annotations

from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from tests.waiting import wait_until


class Spans:
    """The spans finished during a test, and a tracer to start the test's own root spans."""

    def __init__(self) -> None:
        self.exporter = InMemorySpanExporter()
        self.provider = TracerProvider()
        self.provider.add_span_processor(SimpleSpanProcessor(self.exporter))
        self.tracer = self.provider.get_tracer("tests.otel")

    def finished(self) -> list[ReadableSpan]:
        return list(self.exporter.get_finished_spans())

    def wait_for(self, count: int, timeout: float = 10.0) -> list[ReadableSpan]:
        """At least ``count`` finished spans (a server span may end just after its reply)."""

        def enough() -> list[ReadableSpan]:
            spans = self.finished()
            return spans if len(spans) >= count else []

        return wait_until(
            enough,
            timeout,
            what=f"{count} finished spans",
            describe=lambda: [s.name for s in self.finished()],
        )

    def named(self, name: str, spans: list[ReadableSpan] | None = None) -> ReadableSpan:
        found = [s for s in (self.finished() if spans is None else spans) if s.name == name]
        assert len(found) == 1, (name, [s.name for s in self.finished()])
        return found[0]


def parent_id(span: ReadableSpan) -> int | None:
    """The span id of ``span``'s parent, or None for a root."""
    return None if span.parent is None else span.parent.span_id


def span_id(span: ReadableSpan) -> int:
    ctx = span.get_span_context()
    assert ctx is not None
    return ctx.span_id


def trace_id(span: ReadableSpan) -> int:
    ctx = span.get_span_context()
    assert ctx is not None
    return ctx.trace_id
