"""Fixtures of the OpenTelemetry tests: an SDK tracer provider with an in-memory exporter, given
to ``rpcgen.otel.instrument`` for the test and taken out after it (the global provider is left
alone), and both transports for the tests that take ``rpc_uri``."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import rpcgen.otel
from rpcgen.runtime.testing.memory import TRANSPORTS

from tests.otel.recording import Spans


@pytest.fixture(params=TRANSPORTS)
def rpc_transport(request: pytest.FixtureRequest) -> str:
    """Tests that take ``rpc_uri`` run on both transports: the seam is in the parts they share."""
    return str(request.param)


@pytest.fixture
def spans() -> Iterator[Spans]:
    """rpcgen instrumented with an in-memory exporter for this test."""
    recorded = Spans()
    rpcgen.otel.instrument(tracer_provider=recorded.provider)
    try:
        yield recorded
    finally:
        rpcgen.otel.uninstrument()
        recorded.provider.shutdown()
