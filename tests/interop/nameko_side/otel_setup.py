"""OpenTelemetry in a Nameko process, as a Nameko team sets it up: an SDK tracer provider (global)
and ``opentelemetry-instrumentation-nameko``'s ``NamekoInstrumentor``.

Runs in the ``.venv-nameko-otel`` virtualenv (Nameko 3.0.0rc11 with the instrumentation, see
scripts/_setup.sh). Finished spans are appended as JSON lines to the file named by
``TRACED_SPANS_FILE``, so the test in the pytest process can read them: one object per span
with ``name``, ``kind``, ``trace_id``, ``span_id``, ``parent_id`` (hex, or null), ``attributes``
and ``status``.
"""

import json
import os

from nameko_opentelemetry import NamekoInstrumentor
from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor, SpanExporter, SpanExportResult


class JsonLinesExporter(SpanExporter):
    """Appends each finished span to a file, one JSON object a line."""

    def __init__(self, path):
        self.path = path

    def export(self, spans):
        with open(self.path, "a") as out:
            for span in spans:
                ctx = span.get_span_context()
                out.write(
                    json.dumps(
                        {
                            "name": span.name,
                            "kind": span.kind.name,
                            "trace_id": f"{ctx.trace_id:032x}",
                            "span_id": f"{ctx.span_id:016x}",
                            "parent_id": None
                            if span.parent is None
                            else f"{span.parent.span_id:016x}",
                            "attributes": {k: str(v) for k, v in (span.attributes or {}).items()},
                            "status": span.status.status_code.name,
                        }
                    )
                    + "\n"
                )
        return SpanExportResult.SUCCESS

    def shutdown(self):
        pass


def setup():
    """Install the provider and the Nameko instrumentation (once per process)."""
    provider = TracerProvider()
    provider.add_span_processor(
        SimpleSpanProcessor(JsonLinesExporter(os.environ["TRACED_SPANS_FILE"]))
    )
    trace.set_tracer_provider(provider)
    NamekoInstrumentor().instrument()
    return provider
