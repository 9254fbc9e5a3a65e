"""The extra is optional: nothing imports OpenTelemetry unless the user does, and importing
``rpcgen.otel`` changes nothing until ``instrument()`` is called."""

from __future__ import annotations

import subprocess
import sys

_PROBE = """
import sys
import rpcgen, rpcgen.runtime, rpcgen.runtime.testing, rpcgen.cli
import generated.hello, generated.shop
from rpcgen.runtime import _tracing
assert not [m for m in sys.modules if m.startswith("opentelemetry")], "imported opentelemetry"
assert _tracing.tracer is None
from opentelemetry import propagate, trace
provider, propagator = trace.get_tracer_provider(), propagate.get_global_textmap()
import rpcgen.otel
assert _tracing.tracer is None and not rpcgen.otel.is_instrumented()
assert trace.get_tracer_provider() is provider and propagate.get_global_textmap() is propagator
rpcgen.otel.instrument()
assert rpcgen.otel.is_instrumented()
rpcgen.otel.uninstrument()
assert _tracing.tracer is None
print("ok")
"""


def test_only_rpcgen_otel_imports_opentelemetry_and_only_instrument_installs_it() -> None:
    done = subprocess.run(
        [sys.executable, "-c", _PROBE], capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "ok"
